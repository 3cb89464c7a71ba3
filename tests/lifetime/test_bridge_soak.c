/*
 * BR-14: the nested-bridge topology of docs/pci-bridge.md, "Tests",
 * driven by 10,000 random steps: config writes to both bridges
 * (values chosen to hit base 0, base above limit, decoding off, VGA on and
 * off, 2^64 windows), BAR moves, resets, secondary bus resets, switches
 * between the finalising and in-place update flows, and several of these
 * at a time inside caller transactions of random depth. After every step
 * each address space's view must equal a from-scratch render by the
 * reference renderer; every 100 steps, after a reclaim, the live views and
 * cache entries must match the distinct flat-roots and every owner count
 * must be what docs/lifetimes.md predicts. All alias storage is poisoned
 * between finalisation and re-initialisation throughout.
 */
#include "test_bridge_common.h"

#ifdef BT_ASAN
#include "internal.h"

/* from the sanitizer runtime; GCC ships no header declaring it */
size_t __sanitizer_get_current_allocated_bytes(void);

/*
 * The heap in use once the grace-period thread has run every callback
 * queued so far (the empty shells of the batches mt_context_reclaim took).
 * The pauses of that thread are up to 10 ms: a count read when it had not
 * changed for 2 ms was a few hundred bytes high now and then.
 */
static size_t settled_heap(void)
{
    mt__grace_barrier();
    return __sanitizer_get_current_allocated_bytes();
}
#endif

#define STEPS 10000
#define RECLAIM_EVERY 100

enum { BAR_D1_MMIO, BAR_D2_IO, BAR_D2_MMIO, NR_BARS };

typedef struct world {
    mt_test_env *e;
    bt_root root;
    bt_bridge *B[2];
    bt_poison poison[2];
    mt_region *bar[NR_BARS];
    bool in_place[2];
    uint64_t rng;
    unsigned bus_resets, variant_switches, outer_txns, max_depth;
} world;

static uint64_t next_rand(world *w)
{
    /* xorshift64*: the same sequence on every platform */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t pick(world *w, uint64_t n)
{
    return next_rand(w) % n;
}

static uint64_t pick_of(world *w, const uint64_t *v, size_t n)
{
    return v[pick(w, n)];
}
#define PICK(w, ...)                                                                      \
    pick_of((w), (const uint64_t[]){__VA_ARGS__},                                         \
            sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

/* The bus a BAR sits on: D1 behind B1, D2 behind B2. */
static mt_region *bar_bus(world *w, int bar)
{
    mt_pci_bridge *b = &w->B[bar == BAR_D1_MMIO ? 0 : 1]->b;
    return bar == BAR_D2_IO ? mt_pci_bridge_sec_io(b) : mt_pci_bridge_sec_mem(b);
}

static void bar_unmap(world *w, int bar)
{
    mt_region *bus = bar_bus(w, bar);
    if (mt_region_container(w->bar[bar]) == bus)
        mt_test_unmap(bus, w->bar[bar]);
}

/*
 * The embedder's secondary bus reset: the devices behind the bridge are
 * reset. Behind B1 that is D1 and bridge B2 (whose own reset also resets
 * D2, behind it); behind B2, D2.
 */
static void on_bus_reset(mt_pci_bridge *b, void *opaque)
{
    world *w = opaque;
    w->bus_resets++;
    if (b == &w->B[0]->b) {
        bar_unmap(w, BAR_D1_MMIO);
        assert_int_equal(mt_pci_bridge_reset(&w->B[1]->b, MT_PCI_BRIDGE_RESET_DEFAULT), 0);
    }
    bar_unmap(w, BAR_D2_IO);
    bar_unmap(w, BAR_D2_MMIO);
}

static void world_init(world *w, mt_test_env *e)
{
    memset(w, 0, sizeof(*w));
    w->e = e;
    w->rng = 0x9e3779b97f4a7c15ull;
    w->root = bt_root_new(e);
    mt_pci_bridge_options o = {.secondary_reset = on_bus_reset, .opaque = w};
    w->B[0] = bt_bridge_new(e, "dev id=b1", &o);
    /* B2 decodes 32-bit I/O, so its window can reach the full 4 GiB of
     * B1's I/O container and the flat-root descent can pass through it */
    o.io_32bit = true;
    w->B[1] = bt_bridge_new(e, "dev id=b2", &o);
    bt_realize(e, w->B[0], w->root.pci, w->root.io);
    bt_realize(e, w->B[1], mt_pci_bridge_sec_mem(&w->B[0]->b),
               mt_pci_bridge_sec_io(&w->B[0]->b));
    for (int i = 0; i < 2; i++)
        bt_poison_install(&w->B[i]->b, &w->poison[i]);
    w->bar[BAR_D1_MMIO] = mt_test_io(e, e->O2, "d1-mmio", 0x1000);
    w->bar[BAR_D2_IO] = mt_test_io(e, e->O3, "d2-io", 0x40);
    w->bar[BAR_D2_MMIO] = mt_test_io(e, e->O3, "d2-mmio", 0x1000);
}

/* ---- random operations ------------------------------------------------------------------ */

static void random_write(world *w)
{
    bt_bridge *bb = w->B[pick(w, 2)];
    unsigned off, size;
    uint64_t v;
    switch (pick(w, 14)) {
    case 0: off = 0x04; size = 2; v = PICK(w, 0, 1, 2, 3, 7, pick(w, 8)); break;
    case 1: off = 0x1c; size = 1; v = PICK(w, 0, 1, 2, 0xf, pick(w, 16)) << 4; break;
    case 2: off = 0x1d; size = 1; v = PICK(w, 0, 1, 2, 0xf, pick(w, 16)) << 4; break;
    case 3:
        /* base and limit at once, as firmware does */
        off = 0x1c; size = 2;
        v = PICK(w, 0x0000, 0x1010, 0x2010, 0x00f0, 0xf0f0, 0xf000, pick(w, 0x10000));
        break;
    case 4: case 5: case 6: case 7:
        off = 0x20 + 2 * (unsigned)pick(w, 4); size = 2;
        v = PICK(w, 0x0000, 0x0010, 0x0ff0, 0xfff0, 0xfe00, pick(w, 0x10000));
        break;
    case 8: off = 0x28; size = 4; v = PICK(w, 0, 1, 8, 0xffffffff); break;
    case 9: off = 0x2c; size = 4; v = PICK(w, 0, 1, 8, 0xffffffff); break;
    case 10: off = 0x30; size = 2; v = PICK(w, 0, 1, 0xffff); break;
    case 11: off = 0x32; size = 2; v = PICK(w, 0, 1, 0xffff); break;
    case 12:
        off = 0x3e; size = 2;
        v = PICK(w, 0, 0x08, 0x04, 0x0c, 0x08, 0x40, 0x48);
        break;
    default:
        /* a wide write across several registers */
        off = (unsigned)PICK(w, 0x1c, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x04);
        size = 4;
        v = next_rand(w) & 0xffffffff;
        if (pick(w, 2))
            v &= 0x0f0f0f0f; /* small bases and limits */
        break;
    }
    bt_write(w->e, bb, off, (uint32_t)v, size);
}

static void random_bar_move(world *w)
{
    int bar = (int)pick(w, NR_BARS);
    mt_region *r = w->bar[bar], *bus = bar_bus(w, bar);
    uint64_t addr;
    if (bar == BAR_D2_IO)
        addr = PICK(w, 0, 0x1000, 0x2000, 0xf000, 0x3c0, pick(w, 0x100) * 0x40);
    else
        addr = PICK(w, 0, 0xa0000, 0x100000, 0xfff000, 0xfe000000, pick(w, 0x200) * 0x1000);
    if (mt_region_container(r) == bus) {
        if (pick(w, 4) == 0)
            mt_test_unmap(bus, r);
        else
            assert_int_equal(mt_region_set_address(r, addr), 0);
    } else {
        mt_test_map_prio(bus, addr, r, 1);
    }
}

static void random_op(world *w)
{
    uint64_t k = pick(w, 100);
    if (k < 70) {
        random_write(w);
    } else if (k < 88) {
        random_bar_move(w);
    } else if (k < 94) {
        mt_pci_bridge_reset_kind kind = pick(w, 2) ? MT_PCI_BRIDGE_RESET_DEFAULT
                                                   : MT_PCI_BRIDGE_RESET_FORWARDING_DISABLED;
        assert_int_equal(mt_pci_bridge_reset(&w->B[pick(w, 2)]->b, kind), 0);
    } else {
        int i = (int)pick(w, 2);
        w->in_place[i] = !w->in_place[i];
        mt_pci_bridge_set_update(&w->B[i]->b, w->in_place[i] ? MT_PCI_BRIDGE_UPDATE_IN_PLACE
                                                             : MT_PCI_BRIDGE_UPDATE_FINALIZE);
        w->variant_switches++;
    }
}

/* One step: a single operation, or several inside caller transactions. */
static void random_step(world *w)
{
    if (pick(w, 4)) {
        random_op(w);
    } else {
        unsigned depth = 1 + (unsigned)pick(w, 3), ops = 2 + (unsigned)pick(w, 4);
        w->outer_txns++;
        if (depth > w->max_depth)
            w->max_depth = depth;
        for (unsigned i = 0; i < depth; i++)
            mt_transaction_begin(w->e->ctx);
        for (unsigned i = 0; i < ops; i++)
            random_op(w);
        for (unsigned i = 0; i < depth; i++)
            assert_int_equal(mt_transaction_commit(w->e->ctx), 0);
    }
    assert_int_equal(mt_transaction_depth(w->e->ctx), 0);
}

/* ---- checks ------------------------------------------------------------------------------- */

static void check_counters(world *w)
{
    mt_context *ctx = w->e->ctx;
    bt_assert_one_view_per_flat_root(w->e);
    assert_int_equal(mt_test_stats(ctx).retired_views, 0);
    mt_region *tops[6] = {
        w->root.pci, w->root.io,
        mt_pci_bridge_sec_mem(&w->B[0]->b), mt_pci_bridge_sec_io(&w->B[0]->b),
        mt_pci_bridge_sec_mem(&w->B[1]->b), mt_pci_bridge_sec_io(&w->B[1]->b),
    };
    bt_assert_refs(ctx, w->e->O1, 1, tops, 6);
    bt_assert_refs(ctx, w->e->O2, 1, tops, 6);
    bt_assert_refs(ctx, w->e->O3, 1, tops, 6);
    bt_assert_refs(ctx, mt_pci_bridge_owner(&w->B[0]->b), 1, tops, 6);
    bt_assert_refs(ctx, mt_pci_bridge_owner(&w->B[1]->b), 1, tops, 6);
    assert_int_equal(w->e->diag.count, 0);
}

typedef struct snapshot {
    mt_stats st;
    uint32_t refs[5];
    size_t heap;
} snapshot;

/* A fixed state reached from anywhere: both bridges reset with the
 * finalising flow, no BAR mapped. Comparing the counters in it at two
 * points of the run shows that nothing accumulates in between. */
static snapshot canonical(world *w)
{
    snapshot s;
    for (int i = 0; i < NR_BARS; i++)
        bar_unmap(w, i);
    for (int i = 0; i < 2; i++) {
        w->in_place[i] = false;
        mt_pci_bridge_set_update(&w->B[i]->b, MT_PCI_BRIDGE_UPDATE_FINALIZE);
        assert_int_equal(mt_pci_bridge_reset(&w->B[i]->b, MT_PCI_BRIDGE_RESET_DEFAULT), 0);
    }
    bt_check_views(w->e->ctx);
    check_counters(w);
    s.st = mt_test_stats(w->e->ctx);
    mt_owner *o[5] = {w->e->O1, w->e->O2, w->e->O3, mt_pci_bridge_owner(&w->B[0]->b),
                      mt_pci_bridge_owner(&w->B[1]->b)};
    for (int i = 0; i < 5; i++)
        s.refs[i] = mt_owner_refcount(o[i]);
#ifdef BT_ASAN
    /* mt_context_reclaim frees what the batches it took held, and leaves
     * their empty shells to the grace-period thread: let it run them */
    s.heap = settled_heap();
#else
    s.heap = 0;
#endif
    return s;
}

static void br14_soak(void **state)
{
    mt_test_env *e = *state;
    world w;
    world_init(&w, e);

    /* the seed's situation, before anything is programmed */
    mt_view *v = mt_address_space_view(mt_pci_bridge_io_as(&w.B[0]->b));
    assert_ptr_equal(mt_view_root(v), mt_pci_bridge_window_region(&w.B[1]->b,
                                                                    MT_PCI_BRIDGE_WIN_IO));
    bt_check_views(e->ctx);
    check_counters(&w);

    snapshot half = {0};
    unsigned rooted_at_window = 0;
    for (unsigned step = 1; step <= STEPS; step++) {
        random_step(&w);
        bt_check_views(e->ctx);
        /* how often the seed's situation came back */
        v = mt_address_space_view(mt_pci_bridge_io_as(&w.B[0]->b));
        rooted_at_window += mt_view_root(v) ==
                            mt_pci_bridge_window_region(&w.B[1]->b, MT_PCI_BRIDGE_WIN_IO);
        if (step % RECLAIM_EVERY == 0)
            check_counters(&w);
        if (step == STEPS / 2)
            half = canonical(&w);
    }
    snapshot end = canonical(&w);
    assert_int_equal(half.st.live_views, end.st.live_views);
    assert_int_equal(half.st.cache_entries, end.st.cache_entries);
    assert_int_equal(half.st.live_regions, end.st.live_regions);
    assert_int_equal(half.st.address_spaces, end.st.address_spaces);
    assert_memory_equal(half.refs, end.refs, sizeof(half.refs));
    if (half.heap != end.heap)
        fail_msg("heap in use went from %zu to %zu bytes over the last %u steps", half.heap,
                 end.heap, STEPS / 2);

    unsigned flows = w.poison[0].rounds + w.poison[1].rounds;
    print_message("soak: %u poisoned update flows, %u steps with B1's I/O view rooted at "
                  "B2's window, %u caller transactions (depth up to %u), %u bus resets, "
                  "%u variant switches, %" PRIu64 " renders\n",
                  flows, rooted_at_window, w.outer_txns, w.max_depth, w.bus_resets,
                  w.variant_switches, mt_test_stats(e->ctx).renders);
    /* the run must actually have exercised the interesting cases */
    assert_true(flows > STEPS / 2);
    assert_true(rooted_at_window > 100);
    assert_true(w.bus_resets > 10);

    mt_pci_bridge_set_hooks(&w.B[0]->b, NULL);
    mt_pci_bridge_set_hooks(&w.B[1]->b, NULL);
    bt_unplug(e, w.B[1]);
    bt_unplug(e, w.B[0]);
}

MT_TEST_MAIN(
    MT_TEST(br14_soak))
