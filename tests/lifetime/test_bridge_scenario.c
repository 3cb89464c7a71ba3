/*
 * The nested-bridge scenario of docs/pci-bridge.md, "Tests" (BR-9 to BR-13
 * and BR-16): root bus -> B1 -> B2, with D2's
 * I/O BAR behind B2. Every step is checked against the expected table: the
 * three I/O views, their flat-roots by identity, and after each step the
 * live-view, cache and owner counters (docs/lifetimes.md, "Who holds
 * references").
 *
 * Steps 1 and 5 finalise the alias that is, at that moment, the flat-root
 * of B1's I/O view (the situation of the seed patch). The bridge's test
 * hooks poison the alias storage between finalisation and
 * re-initialisation, and check, while it is poisoned, that the cache entry
 * is gone and that the still-published view answers lookups.
 *
 * "A reader holding the view" takes a counted reference on it
 * (mt_view_ref) before the write and drops it after the commit and a
 * reclaim; until then the view must stay fully usable.
 */
#include "test_bridge_common.h"

typedef struct scenario {
    mt_test_env *e;
    bt_root root;
    bt_bridge *B1, *B2;
    mt_owner *D1, *D2;       /* the test's O2 and O3 */
    mt_region *d1_mmio, *d2_io, *d2_mmio;
    bt_poison poison;
    bool in_place;
    int step;
    /* identities of B2's I/O window alias seen as a flat-root */
    uint64_t win_id[8];
} scenario;

/* ---- building and checking ------------------------------------------------------------- */

static mt_region *win_io(bt_bridge *bb)
{
    return mt_pci_bridge_window_region(&bb->b, MT_PCI_BRIDGE_WIN_IO);
}

static void scenario_init(scenario *s, mt_test_env *e, bool in_place)
{
    memset(s, 0, sizeof(*s));
    s->e = e;
    s->in_place = in_place;
    s->D1 = e->O2;
    s->D2 = e->O3;
    s->root = bt_root_new(e);
    mt_pci_bridge_options o = {
        .update = in_place ? MT_PCI_BRIDGE_UPDATE_IN_PLACE : MT_PCI_BRIDGE_UPDATE_FINALIZE,
    };
    s->B1 = bt_bridge_new(e, "dev id=b1", &o);
    s->B2 = bt_bridge_new(e, "dev id=b2", &o);
    bt_realize(e, s->B1, s->root.pci, s->root.io);
    bt_realize(e, s->B2, mt_pci_bridge_sec_mem(&s->B1->b), mt_pci_bridge_sec_io(&s->B1->b));
    /* D1's BAR and D2's memory BAR stay unmapped: only BR-14 moves them */
    s->d1_mmio = mt_test_io(e, s->D1, "d1-mmio", 0x1000);
    s->d2_io = mt_test_io(e, s->D2, "d2-io", 0x40);
    s->d2_mmio = mt_test_io(e, s->D2, "d2-mmio", 0x1000);
    if (!in_place)
        bt_poison_install(&s->B2->b, &s->poison);
}

/* The unmapped top containers, for walking container links. */
static size_t tops(scenario *s, mt_region **t)
{
    size_t n = 0;
    t[n++] = s->root.pci;
    t[n++] = s->root.io;
    if (s->B1) {
        t[n++] = mt_pci_bridge_sec_mem(&s->B1->b);
        t[n++] = mt_pci_bridge_sec_io(&s->B1->b);
    }
    if (s->B2) {
        t[n++] = mt_pci_bridge_sec_mem(&s->B2->b);
        t[n++] = mt_pci_bridge_sec_io(&s->B2->b);
    }
    return n;
}

/* After a reclaim: one live view and one cache entry per distinct
 * flat-root, and every owner count exactly as 8.3 predicts. */
static void check_counters(scenario *s)
{
    mt_context *ctx = s->e->ctx;
    bt_assert_one_view_per_flat_root(s->e);
    mt_region *t[6];
    size_t nt = tops(s, t);
    bt_assert_refs(ctx, s->e->O1, 1, t, nt);
    bt_assert_refs(ctx, s->D1, 1, t, nt);
    bt_assert_refs(ctx, s->D2, 1, t, nt);
    if (s->B1)
        bt_assert_refs(ctx, mt_pci_bridge_owner(&s->B1->b), 1, t, nt);
    if (s->B2)
        bt_assert_refs(ctx, mt_pci_bridge_owner(&s->B2->b), 1, t, nt);
}

static const char *io_full = "  0000000000000000-000000000000ffff (prio 0, i/o): io\n";
static const char *d2_at_1000 = "  0000000000001000-000000000000103f (prio 1, i/o): d2-io\n";
static const char *d2_at_0 = "  0000000000000000-000000000000003f (prio 1, i/o): d2-io\n";

/* The table of 8.3 (and 8.4 for steps 6 and 7). */
static void check_step(scenario *s)
{
    mt_address_space *b1io = mt_pci_bridge_io_as(&s->B1->b);
    mt_address_space *b2io = mt_pci_bridge_io_as(&s->B2->b);
    mt_view *v1 = mt_address_space_view(b1io), *v2 = mt_address_space_view(b2io);
    mt_region *b1_sec_io = mt_pci_bridge_sec_io(&s->B1->b);
    mt_region *b2_sec_io = mt_pci_bridge_sec_io(&s->B2->b);
    int k = s->step;

    assert_ptr_equal(mt_view_root(mt_address_space_view(s->root.io_as)), s->root.io);
    if (k == 3)
        mt_assert_view(s->root.io_as,
                       "  0000000000000000-0000000000000fff (prio 0, i/o): io\n"
                       "  0000000000001000-000000000000103f (prio 1, i/o): d2-io\n"
                       "  0000000000001040-000000000000ffff (prio 0, i/o): io @0000000000001040\n");
    else
        mt_assert_view(s->root.io_as, io_full);

    /* B1.io-as */
    bool root_is_window = k == 0 || (k >= 4 && k <= 6);
    mt_assert_view(b1io, k <= 1 ? "" : k <= 3 ? d2_at_1000 : d2_at_0);
    assert_ptr_equal(mt_view_root(v1), root_is_window ? win_io(s->B2) : b1_sec_io);
    assert_string_equal(mt_view_root_name(v1), "pci_bridge_io");
    if (root_is_window) {
        /* the window's current identity, new after every update of the
         * finalising flow and kept by the in-place one */
        uint64_t id = mt_region_id(win_io(s->B2));
        s->win_id[k] = id;
        for (int j = 0; j < k; j++) {
            if (!s->win_id[j])
                continue;
            if (s->in_place)
                assert_int_equal(s->win_id[j], id);
            else
                assert_true(s->win_id[j] != id);
        }
    }

    /* B2.io-as */
    if (k <= 1) {
        assert_true(mt_view_is_empty_view(v2));
    } else if (k <= 3) {
        assert_ptr_equal(mt_view_root(v2), b2_sec_io);
        mt_assert_view(b2io, d2_at_1000);
    } else {
        assert_ptr_equal(mt_view_root(v2), s->d2_io);
        mt_assert_view(b2io, d2_at_0);
    }

    /* B2's memory address space: nothing is behind B2's memory windows */
    assert_true(mt_view_is_empty_view(mt_address_space_view(mt_pci_bridge_mem_as(&s->B2->b))));
    if (k == 7) {
        assert_ptr_equal(mt_region_container(mt_pci_bridge_vga_io_lo(&s->B2->b)), b1_sec_io);
        assert_ptr_equal(mt_region_container(mt_pci_bridge_vga_io_hi(&s->B2->b)), b1_sec_io);
        assert_ptr_equal(mt_region_container(mt_pci_bridge_vga_mem(&s->B2->b)),
                         mt_pci_bridge_sec_mem(&s->B1->b));
        assert_true(mt_region_enabled(mt_pci_bridge_vga_io_lo(&s->B2->b)));
        assert_true(mt_region_enabled(mt_pci_bridge_vga_mem(&s->B2->b)));
    }
    bt_check_views(s->e->ctx);
    check_counters(s);
}

/* ---- the steps --------------------------------------------------------------------------- */

static void step_1(scenario *s)
{
    bt_write(s->e, s->B2, 0x1c, 0x1010, 2);
}

static void step_2(scenario *s)
{
    bt_write(s->e, s->B2, MT_PCI_BRIDGE_COMMAND, 0x0001, 2);
    mt_test_map_prio(mt_pci_bridge_sec_io(&s->B2->b), 0x1000, s->d2_io, 1);
}

static void step_3(scenario *s)
{
    bt_write(s->e, s->B1, 0x1c, 0x2010, 2);
    bt_write(s->e, s->B1, MT_PCI_BRIDGE_COMMAND, 0x0001, 2);
}

static void step_4(scenario *s)
{
    bt_write(s->e, s->B2, 0x1c, 0x0000, 2);
    assert_int_equal(mt_region_set_address(s->d2_io, 0), 0);
}

static void step_5(scenario *s)
{
    bt_write(s->e, s->B2, MT_PCI_BRIDGE_COMMAND, 0x0003, 2);
    for (int k = MT_PCI_BRIDGE_WIN_MEM; k <= MT_PCI_BRIDGE_WIN_PREF; k++) {
        mt_pci_bridge_window w = mt_pci_bridge_get_window(&s->B2->b, (mt_pci_bridge_window_kind)k);
        assert_int_equal(w.base, 0);
        assert_int_equal(w.size, 0x100000);
    }
}

/* Step 6 at a nesting depth: B1.io-as's flat-root alias is re-initialised
 * inside the caller's transaction, then an address space is created on
 * it before the commit. */
static void step_6(scenario *s, int depth)
{
    mt_test_env *e = s->e;
    mt_address_space *b1io = mt_pci_bridge_io_as(&s->B1->b);
    mt_view *committed = mt_address_space_view(b1io);
    uint64_t old_id = mt_region_id(win_io(s->B2));
    for (int i = 0; i < depth; i++)
        mt_transaction_begin(e->ctx);
    bt_write(e, s->B2, 0x1c, 0x0000, 2);
    bt_write(e, s->B1, MT_PCI_BRIDGE_COMMAND, 0x0001, 2);
    mt_address_space *probe = mt_test_as(e, mt_pci_bridge_sec_io(&s->B1->b), "probe");
    mt_view *pv = mt_address_space_view(probe);
    if (!s->in_place) {
        /* a view of the new identity, rendered from the uncommitted tree */
        assert_true(mt_region_id(win_io(s->B2)) != old_id);
        assert_ptr_equal(mt_view_root(pv), win_io(s->B2));
        assert_ptr_not_equal(pv, committed);
        /* the committed view lost its root link but keeps its name */
        assert_null(mt_view_root(committed));
        assert_string_equal(mt_view_root_name(committed), "pci_bridge_io");
        assert_ptr_equal(mt_address_space_view(b1io), committed);
    } else {
        /* nothing was finalised: the cached view is shared, as in QEMU */
        assert_ptr_equal(pv, committed);
    }
    mt_assert_view_of(pv, d2_at_0);
    assert_int_equal(mt_transaction_depth(e->ctx), (unsigned)depth);
    for (int i = 0; i < depth; i++)
        assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_ptr_equal(mt_address_space_view(probe), mt_address_space_view(b1io));
    mt_test_as_destroy(e, probe);
}

static void step_7(scenario *s)
{
    bt_write(s->e, s->B2, MT_PCI_BRIDGE_CONTROL, MT_PCI_BRIDGE_CTL_VGA, 2);
}

static void run_step(scenario *s, int k, int depth)
{
    s->step = k;
    switch (k) {
    case 0: break;
    case 1: step_1(s); break;
    case 2: step_2(s); break;
    case 3: step_3(s); break;
    case 4: step_4(s); break;
    case 5: step_5(s); break;
    case 6: step_6(s, depth); break;
    case 7: step_7(s); break;
    }
    check_step(s);
}

/* BR-16's removal flow for D2, then B2, then B1. */
static void remove_all(scenario *s)
{
    mt_test_env *e = s->e;
    /* D2 goes: its BARs leave the bus, and after the grace period it dies */
    mt_region *b2_sec_io = mt_pci_bridge_sec_io(&s->B2->b);
    if (mt_region_container(s->d2_io) == b2_sec_io)
        mt_test_unmap(b2_sec_io, s->d2_io);
    mt_test_reclaim(e);
    assert_int_equal(mt_test_finalize(e, s->d2_io), 0);
    assert_int_equal(mt_test_finalize(e, s->d2_mmio), 0);
    mt_assert_view(mt_pci_bridge_io_as(&s->B1->b), "");
    assert_null(mt_view_find_range(mt_address_space_view(mt_pci_bridge_io_as(&s->B1->b)), 0));
    mt_assert_view(s->root.io_as, io_full);
    const mt_range *r = mt_view_find_range(mt_address_space_view(s->root.io_as), 0x1000);
    assert_non_null(r);
    assert_ptr_equal(r->region, s->root.io);
    check_counters(s);

    bt_unplug(e, s->B2);
    s->B2 = NULL;
    bt_check_views(e->ctx);
    check_counters(s);
    mt_assert_view(s->root.io_as, io_full);

    bt_unplug(e, s->B1);
    s->B1 = NULL;
    bt_check_views(e->ctx);
    check_counters(s);
    mt_assert_view(s->root.memory, "");
}

/* ---- BR-9: reset state ----------------------------------------------------------------------- */

static void br9_reset_state(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    run_step(&s, 0, 0);
    mt_view *v1 = mt_address_space_view(mt_pci_bridge_io_as(&s.B1->b));
    /* the seed's situation: B1's I/O view is rooted at B2's window alias */
    assert_ptr_equal(mt_view_root(v1), win_io(s.B2));
    assert_int_equal(mt_region_size(win_io(s.B2)), 0);
    assert_int_equal(mt_view_range_count(v1), 0);
    assert_false(mt_view_is_empty_view(v1));

    char *flat = mt_test_dump(s.e->ctx, MT_DUMP_FLAT);
    mt_assert_contains(flat, " Root memory region: pci_bridge_io\n"
                             "  No rendered FlatView\n");
    /* B2's two address spaces share the empty view */
    mt_assert_contains(flat, " AS \"pci_bridge_pci_mem\", root: pci_bridge_pci\n"
                             " AS \"pci_bridge_pci_io\", root: pci_bridge_io\n"
                             " Root memory region: (none)\n"
                             "  No rendered FlatView\n");
    free(flat);
    assert_true(mt_view_is_empty_view(mt_address_space_view(mt_pci_bridge_mem_as(&s.B2->b))));
    remove_all(&s);
}

/* ---- BR-10: programming sequence ------------------------------------------------------------- */

static void br10_programming_sequence(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    for (int k = 0; k <= 4; k++)
        run_step(&s, k, 0);
    remove_all(&s);
}

/* ---- BR-11: re-programming a window alias that is a flat-root --------------------------------- */

typedef struct held {
    scenario *s;
    mt_view *view;           /* B1.io-as's view, held across the write */
    uint64_t cache_before;
    const mt_region *expect; /* what the held view shows at 0x1000 / 0 */
    uint64_t at;
    unsigned checks;
} held;

/* Runs while B2's six aliases are finalised and poisoned. */
static void while_poisoned(mt_pci_bridge *b, void *arg)
{
    (void)b;
    held *h = arg;
    mt_context *ctx = h->s->e->ctx;
    mt_address_space *b1io = mt_pci_bridge_io_as(&h->s->B1->b);
    /* the entry keyed by the finalised alias went, and released its view */
    assert_int_equal(mt_test_stats(ctx).cache_entries, h->cache_before - 1);
    /* the view is still published for readers, without its root link */
    assert_ptr_equal(mt_address_space_view(b1io), h->view);
    assert_null(mt_view_root(h->view));
    assert_string_equal(mt_view_root_name(h->view), "pci_bridge_io");
    const mt_range *r = mt_view_find_range(h->view, h->at);
    assert_ptr_equal(r ? r->region : NULL, h->expect);
    /* dumps must not look at the dead storage either */
    mt_assert_dump_contains(ctx, MT_DUMP_FLAT, " Root memory region: pci_bridge_io\n");
    char *tree = mt_test_dump(ctx, MT_DUMP_DISABLED | MT_DUMP_OWNER);
    free(tree);
    h->checks++;
}

static void reprogram_flat_root(scenario *s, int k)
{
    mt_address_space *b1io = mt_pci_bridge_io_as(&s->B1->b);
    held h = {
        .s = s,
        .view = mt_address_space_view(b1io),
        .cache_before = mt_test_stats(s->e->ctx).cache_entries,
        .expect = k == 1 ? NULL : s->d2_io,
        .at = k == 1 ? 0x1000 : 0,
    };
    assert_ptr_equal(mt_view_root(h.view), win_io(s->B2));
    assert_true(mt_view_ref(h.view)); /* the reader enters */
    s->poison.check = while_poisoned;
    s->poison.check_arg = &h;
    unsigned rounds = s->poison.rounds;
    s->step = k;
    if (k == 1)
        step_1(s);
    else
        step_5(s);
    s->poison.check = NULL;
    assert_int_equal(s->poison.rounds, rounds + 1);
    assert_int_equal(h.checks, 1);
    /* committed: B1.io-as moved on; the held view survives a grace period
     * and still answers, until the reader leaves */
    assert_ptr_not_equal(mt_address_space_view(b1io), h.view);
    mt_test_reclaim(s->e);
    const mt_range *r = mt_view_find_range(h.view, h.at);
    assert_ptr_equal(r ? r->region : NULL, h.expect);
    assert_null(mt_view_root(h.view));
    assert_string_equal(mt_view_root_name(h.view), "pci_bridge_io");
    assert_int_equal(mt_test_stats(s->e->ctx).live_views,
                     bt_distinct_flat_roots(s->e->ctx) + 1);
    mt_view_unref(h.view); /* the reader leaves */
    check_step(s); /* reclaims, then live views == distinct flat-roots */
}

static void br11_reprogram_flat_root(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    run_step(&s, 0, 0);
    reprogram_flat_root(&s, 1);
    for (int k = 2; k <= 4; k++)
        run_step(&s, k, 0);
    reprogram_flat_root(&s, 5);
    assert_true(s.win_id[0] != s.win_id[5] && s.win_id[4] != s.win_id[5]);
    remove_all(&s);
}

/* ---- BR-12: nested transaction and address-space creation ------------------------------------ */

static void br12_nested(scenario *s, int depth)
{
    for (int k = 0; k <= 6; k++)
        run_step(s, k, depth);
    remove_all(s);
}

static void br12_depth_1(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    br12_nested(&s, 1);
}

static void br12_depth_2(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    br12_nested(&s, 2);
}

static void br12_depth_3(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    br12_nested(&s, 3);
}

/* ---- BR-13: the in-place variant --------------------------------------------------------------- */

/* Ranges and flat-root names of every address space, in creation order. */
static char *all_views(mt_context *ctx)
{
    char *out = calloc(1, 1);
    size_t len = 0;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        char *one = bt_as_summary(as);
        size_t n = strlen(one);
        out = realloc(out, len + n + 1);
        memcpy(out + len, one, n + 1);
        len += n;
        free(one);
    }
    return out;
}

static void br13_in_place_variant(void **state)
{
    char *finalising[8], *in_place[8];
    for (int variant = 0; variant < 2; variant++) {
        /* each variant in its own context, so the texts compare whole */
        mt_test_env *e = variant == 0 ? *state : mt_test_env_new();
        scenario s;
        scenario_init(&s, e, variant == 1);
        for (int k = 0; k <= 7; k++) {
            run_step(&s, k, 1);
            (variant ? in_place : finalising)[k] = all_views(e->ctx);
        }
        if (variant == 0)
            assert_int_equal(s.poison.rounds, mt_pci_bridge_update_count(&s.B2->b));
        remove_all(&s);
        if (variant == 1)
            assert_int_equal(mt_test_env_free(e), 0);
    }
    for (int k = 0; k <= 7; k++) {
        mt_assert_text(in_place[k], finalising[k]);
        free(finalising[k]);
    }
}

/* ---- BR-16: bridge removal ------------------------------------------------------------------------ */

static void br16_bridge_removal(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    for (int k = 0; k <= 7; k++)
        run_step(&s, k, 1);
    remove_all(&s);
}

/* Beyond the BR scenarios: the parent bridge unplugged while the child is still
 * plugged. B1's teardown finalises its containers, which unmaps B2's
 * windows from them; B2 must then still exit cleanly, and nothing may
 * touch B1's dead storage. */
static void br16_parent_first(void **state)
{
    scenario s;
    scenario_init(&s, *state, false);
    for (int k = 0; k <= 7; k++)
        run_step(&s, k, 1);
    mt_test_env *e = s.e;
    mt_test_unmap(mt_pci_bridge_sec_io(&s.B2->b), s.d2_io);
    bt_unplug(e, s.B1);
    s.B1 = NULL;
    for (int k = 0; k < 3; k++)
        assert_null(mt_region_container(
            mt_pci_bridge_window_region(&s.B2->b, (mt_pci_bridge_window_kind)k)));
    assert_null(mt_region_container(mt_pci_bridge_vga_io_lo(&s.B2->b)));
    bt_check_views(e->ctx);
    mt_assert_view(s.root.io_as, io_full);
    bt_unplug(e, s.B2);
    s.B2 = NULL;
    check_counters(&s);
}

MT_TEST_MAIN(
    MT_TEST(br9_reset_state),
    MT_TEST(br10_programming_sequence),
    MT_TEST(br11_reprogram_flat_root),
    MT_TEST(br12_depth_1),
    MT_TEST(br12_depth_2),
    MT_TEST(br12_depth_3),
    MT_TEST(br13_in_place_variant),
    MT_TEST(br16_bridge_removal),
    MT_TEST(br16_parent_first))
