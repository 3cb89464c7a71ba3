/*
 * Re-entrant device models under load (issue 12). Four vCPU-like reader
 * threads write to their own control registers (MMIO); each write's
 * callback takes the embedder's big lock and remaps memory: maps, unmaps
 * and moves BARs, enables and disables them, switches a bank window
 * (set_alias_offset), runs nested transactions, and fires an IOMMU
 * notifier that remaps too. It then checks, still inside the access that
 * called it, what its BARs and the window read through the address space.
 * Meanwhile the main thread, as the writer, reprograms two nested PCI
 * bridges (devices/pci_bridge.h) under the same lock, and a listener whose
 * region_add of BAR 0 moves a shadow window commits from inside other
 * commits. Between writes the readers also read at random, lock-free.
 *
 * Afterwards every view equals a from-scratch render, every mirror
 * listener's add/del log replays to its final view, and views retired
 * during the run are freed by ordinary writer calls once the readers are
 * gone, without mt_context_reclaim: reclamation is bounded by the readers,
 * not by a count. The environment's teardown then checks that nothing
 * leaks. Runs for MT_STRESS_SECONDS (default 3) seconds.
 */
#include "../lifetime/test_bridge_common.h"
#include "mt_mirror.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define READERS 4
#define BARS_PER_READER 2
#define BARS (READERS * BARS_PER_READER)
#define SLOTS_PER_BAR 8
#define PAGE 0x1000u
#define CTL_AT(i) (0x10000000u + (uint64_t)(i) * 0x100u)
#define BAR_SLOT(k, s) (0x20000000u + ((uint64_t)(k) * SLOTS_PER_BAR + (s)) * PAGE)
#define WINDOW_AT(i) (0x30000000u + (uint64_t)(i) * 0x10000u)
#define BANK_PAGES 16
#define SHADOW_AT(s) (0x40000000u + (uint64_t)(s) * PAGE)

/* ---- the big lock: the embedder serialises writer calls ------------------------ */

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local unsigned big_lock_depth; /* callbacks nest on one thread */

static void lock(void)
{
    if (big_lock_depth++ == 0)
        pthread_mutex_lock(&big_lock);
}

static void unlock(void)
{
    if (--big_lock_depth == 0)
        pthread_mutex_unlock(&big_lock);
}

/* ---- the device ------------------------------------------------------------------ */

struct bar {
    mt_region *r;
    unsigned slot;
    bool mapped, enabled;
};

struct world;

struct vcpu {
    struct world *w;
    int index;
    mt_region *ctl, *window, *bank, *iommu;
    mt_iommu_notifier notifier;
    struct bar bars[BARS_PER_READER];
    unsigned bank_page;
    uint64_t seed;
    uint64_t writes, edits, reads, checks;
    char failure[256];
};

struct world {
    mt_test_env *e;
    mt_region *pci;
    mt_address_space *as;
    mt_region *shadow;
    unsigned shadow_slot, shadow_moves;
    struct vcpu vcpus[READERS];
    atomic_bool stop;
};

static uint8_t bar_byte(int k, uint64_t offset)
{
    return (uint8_t)(k * 37 + offset * 13 + 1);
}

static uint8_t bank_byte(int i, uint64_t offset)
{
    return (uint8_t)(i * 71 + (offset >> 12) * 29 + (offset & 0xfff) + 7);
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Under the lock, from a callback: what this vCPU's regions read now. */
static void check_own(struct vcpu *c)
{
    mt_address_space *as = c->w->as;
    c->checks++;
    for (int j = 0; j < BARS_PER_READER; j++) {
        const struct bar *b = &c->bars[j];
        int k = c->index * BARS_PER_READER + j;
        for (unsigned s = 0; s < SLOTS_PER_BAR; s++) {
            mt_translation t;
            uint64_t at = BAR_SLOT(k, s) + 0x10;
            if (mt_address_space_translate(as, at, 1, false, MT_ATTRS_UNSPECIFIED, &t) != 0) {
                mt_note_fail(c->failure, sizeof(c->failure), "translate failed");
                return;
            }
            bool there = b->mapped && b->enabled && b->slot == s;
            if (there != (t.region == b->r)) {
                mt_note_fail(c->failure, sizeof(c->failure),
                             "bar %d: slot %u %s it (mapped %d enabled %d slot %u)", k, s,
                             there ? "lacks" : "shows", b->mapped, b->enabled, b->slot);
                return;
            }
            if (!there)
                continue;
            uint8_t buf[8];
            mt_address_space_read(as, at, MT_ATTRS_UNSPECIFIED, buf, sizeof(buf));
            for (unsigned i = 0; i < sizeof(buf); i++)
                if (buf[i] != bar_byte(k, 0x10 + i))
                    mt_note_fail(c->failure, sizeof(c->failure), "bar %d: byte %u is %02x", k,
                                 i, buf[i]);
        }
    }
    uint8_t buf[8];
    mt_address_space_read(as, WINDOW_AT(c->index) + 0x20, MT_ATTRS_UNSPECIFIED, buf, 8);
    for (unsigned i = 0; i < sizeof(buf); i++)
        if (buf[i] != bank_byte(c->index, (uint64_t)c->bank_page * PAGE + 0x20 + i))
            mt_note_fail(c->failure, sizeof(c->failure), "window %d page %u: byte %u is %02x",
                         c->index, c->bank_page, i, buf[i]);
}

static void bar_move(struct vcpu *c, struct bar *b, unsigned slot)
{
    int k = (int)(b - c->bars) + c->index * BARS_PER_READER;
    if (b->mapped) {
        if (mt_region_set_address(b->r, BAR_SLOT(k, slot)) != 0)
            mt_note_fail(c->failure, sizeof(c->failure), "set_address failed");
    }
    b->slot = slot;
}

static void bar_toggle_mapped(struct vcpu *c, struct bar *b)
{
    int k = (int)(b - c->bars) + c->index * BARS_PER_READER;
    int rc = b->mapped ? mt_region_del_subregion(c->w->pci, b->r)
                       : mt_region_add_subregion(c->w->pci, BAR_SLOT(k, b->slot), b->r);
    if (rc != 0)
        mt_note_fail(c->failure, sizeof(c->failure), "map/unmap failed");
    b->mapped = !b->mapped;
}

static void bar_toggle_enabled(struct vcpu *c, struct bar *b)
{
    if (mt_region_set_enabled(b->r, !b->enabled) != 0)
        mt_note_fail(c->failure, sizeof(c->failure), "set_enabled failed");
    b->enabled = !b->enabled;
}

static void bank_switch(struct vcpu *c, unsigned page)
{
    if (mt_region_set_alias_offset(c->window, (uint64_t)page * PAGE) != 0)
        mt_note_fail(c->failure, sizeof(c->failure), "set_alias_offset failed");
    c->bank_page = page;
}

/* The IOMMU notifier's edit: switch the bank to the page in the iova. */
static void notified(mt_iommu_notifier *n, const mt_iommu_event *ev)
{
    struct vcpu *c = (struct vcpu *)((char *)n - offsetof(struct vcpu, notifier));
    bank_switch(c, (unsigned)(ev->entry.iova / PAGE) % BANK_PAGES);
    c->edits++;
}

/* What a register write does: one remap, chosen by the value. */
static void ctl_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)offset, (void)size;
    struct vcpu *c = opaque;
    lock();
    struct bar *b = &c->bars[(value >> 4) % BARS_PER_READER];
    unsigned arg = (unsigned)(value >> 8);
    switch (value % 6) {
    case 0: bar_toggle_mapped(c, b); break;
    case 1: bar_move(c, b, arg % SLOTS_PER_BAR); break;
    case 2: bar_toggle_enabled(c, b); break;
    case 3: bank_switch(c, arg % BANK_PAGES); break;
    case 4:
        /* nested transactions: nothing shows until the outer commit */
        mt_transaction_begin(c->w->e->ctx);
        bar_move(c, b, arg % SLOTS_PER_BAR);
        mt_transaction_begin(c->w->e->ctx);
        bank_switch(c, (arg >> 4) % BANK_PAGES);
        bar_toggle_enabled(c, b);
        mt_transaction_commit(c->w->e->ctx);
        mt_transaction_commit(c->w->e->ctx);
        break;
    default: {
        mt_iommu_event ev = {.type = MT_IOMMU_NOTIFY_UNMAP,
                             .entry = {.iova = (uint64_t)(arg % BANK_PAGES) * PAGE,
                                       .addr_mask = PAGE - 1, .perm = MT_IOMMU_NONE}};
        if (mt_iommu_notify(c->iommu, 0, &ev) != 1)
            mt_note_fail(c->failure, sizeof(c->failure), "the notifier was not called");
        c->edits--; /* counted by the notifier */
        break;
    }
    }
    c->edits++;
    check_own(c);
    unlock();
}

static const mt_region_ops ctl_ops = {
    .read = mt_test_read_zero,
    .write = ctl_write,
    .endianness = MT_ENDIAN_LITTLE,
    .valid = {.min_access_size = 4, .max_access_size = 4},
};

/* ---- the reader threads ----------------------------------------------------------- */

static void *vcpu_thread(void *arg)
{
    struct vcpu *c = arg;
    mt_reader_register();
    while (!atomic_load_explicit(&c->w->stop, memory_order_relaxed) && !c->failure[0]) {
        uint32_t value = (uint32_t)next_rand(&c->seed);
        mt_result res = mt_address_space_write(c->w->as, CTL_AT(c->index),
                                               MT_ATTRS_UNSPECIFIED, &value, 4);
        if (res != MT_RESULT_OK)
            mt_note_fail(c->failure, sizeof(c->failure), "ctl write: result %d", (int)res);
        c->writes++;
        /* lock-free reads anywhere in the BAR area: any byte of any BAR,
         * or nothing there */
        for (int i = 0; i < 8; i++) {
            uint64_t r = next_rand(&c->seed);
            int k = (int)(r % BARS);
            uint64_t at = BAR_SLOT(k, (r >> 8) % SLOTS_PER_BAR) + ((r >> 16) % (PAGE - 8));
            uint8_t buf[8] = {0};
            res = mt_address_space_read(c->w->as, at, MT_ATTRS_UNSPECIFIED, buf, 8);
            c->reads++;
            if (res == MT_RESULT_OK && buf[0] != bar_byte(k, at % PAGE))
                mt_note_fail(c->failure, sizeof(c->failure), "read at %llx: %02x",
                             (unsigned long long)at, buf[0]);
        }
    }
    mt_reader_unregister();
    return NULL;
}

/* ---- the listener whose region_add commits --------------------------------------- */

static void move_shadow(mt_mirror *m, const mt_section *s)
{
    struct world *w = m->opaque;
    if (s->region != w->vcpus[0].bars[0].r)
        return;
    unsigned next = (w->shadow_slot + 1) % 4;
    mt_transaction_begin(w->e->ctx);
    if (mt_region_set_address(w->shadow, SHADOW_AT(next)) != 0)
        mt_note_fail(m->failure, sizeof(m->failure), "moving the shadow failed");
    mt_transaction_commit(w->e->ctx);
    w->shadow_slot = next;
    w->shadow_moves++;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Every address space's view is what a from-scratch render gives. */
static void check_views(mt_context *ctx)
{
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        char why[256] = "";
        if (!ref_render_matches(ref_flat_root(mt_address_space_root(as)),
                                mt_address_space_view(as), why, sizeof(why)))
            fail_msg("address space '%s': %s", mt_address_space_name(as), why);
    }
}

static void reentrant_callbacks_under_load(void **state)
{
    mt_test_env *e = *state;
    double seconds = getenv("MT_STRESS_SECONDS") ? atof(getenv("MT_STRESS_SECONDS")) : 3.0;
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->e = e;
    bt_root root = bt_root_new(e);
    w->pci = root.pci;
    w->as = root.memory;
    bt_bridge *b1 = bt_bridge_new(e, "dev id=b1", NULL);
    bt_realize(e, b1, root.pci, root.io);
    mt_pci_bridge_options o2 = {.io_32bit = true, .update = MT_PCI_BRIDGE_UPDATE_IN_PLACE};
    bt_bridge *b2 = bt_bridge_new(e, "dev id=b2", &o2);
    bt_realize(e, b2, mt_pci_bridge_sec_mem(&b1->b), mt_pci_bridge_sec_io(&b1->b));

    for (int i = 0; i < READERS; i++) {
        struct vcpu *c = &w->vcpus[i];
        c->w = w;
        c->index = i;
        c->seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        c->ctl = mt_test_io_ops(e, e->O2, &ctl_ops, c, "ctl", 8);
        mt_test_map(root.pci, CTL_AT(i), c->ctl);
        c->bank = mt_test_ram(e, e->O2, "bank", BANK_PAGES * PAGE);
        uint8_t *bank = mt_region_ram_ptr(c->bank);
        for (uint64_t x = 0; x < BANK_PAGES * PAGE; x++)
            bank[x] = bank_byte(i, x);
        c->window = mt_test_alias(e, e->O2, "window", c->bank, 0, PAGE);
        mt_test_map(root.pci, WINDOW_AT(i), c->window);
        for (int j = 0; j < BARS_PER_READER; j++) {
            int k = i * BARS_PER_READER + j;
            struct bar *b = &c->bars[j];
            b->r = mt_test_ram(e, e->O3, "bar", PAGE);
            uint8_t *ram = mt_region_ram_ptr(b->r);
            for (uint64_t x = 0; x < PAGE; x++)
                ram[x] = bar_byte(k, x);
            b->enabled = true;
            b->mapped = true;
            mt_test_map(root.pci, BAR_SLOT(k, 0), b->r);
        }
        c->iommu = calloc(1, sizeof(mt_region));
        assert_int_equal(mt_region_init_iommu(c->iommu, e->ctx, NULL,
                                              &mt_test_unmapped_iommu_ops, NULL, "iommu",
                                              BANK_PAGES * PAGE), 0);
        mt_iommu_notifier_init(&c->notifier, notified, MT_IOMMU_NOTIFY_MAP_UNMAP, 0,
                               BANK_PAGES * PAGE - 1, 0);
        assert_int_equal(mt_iommu_notifier_register(c->iommu, &c->notifier), 0);
    }
    w->shadow = mt_test_ram(e, e->O3, "shadow", PAGE);
    mt_test_map(root.pci, SHADOW_AT(0), w->shadow);

    mt_mirror mem, io;
    mt_mirror_init(&mem);
    mem.on_add = move_shadow;
    mem.opaque = w;
    mt_mirror_init(&io);
    assert_int_equal(mt_listener_register(&mem.l, root.memory), 0);
    assert_int_equal(mt_listener_register(&io.l, mt_pci_bridge_io_as(&b1->b)), 0);

    pthread_t th[READERS];
    atomic_store(&w->stop, false);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, vcpu_thread, &w->vcpus[i]), 0);

    /* the writer: bridge reprogramming, sometimes nested, under the lock */
    static const uint16_t io_windows[] = {0x0000, 0x1010, 0x2010, 0x00f0, 0x1000, 0x0101};
    static const uint32_t mem_windows[] = {0x00000000, 0x5ff05000, 0x50f05000, 0x60106000};
    uint64_t seed = 42, steps = 0, peak_retired = 0;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    while (now_ns() < end) {
        next_rand(&seed);
        bt_bridge *b = seed & 1 ? b1 : b2;
        lock();
        bool nested = (seed >> 1) % 4 == 0;
        if (nested)
            mt_transaction_begin(e->ctx);
        switch ((seed >> 3) % 4) {
        case 0: bt_write(e, b, 0x1c, io_windows[(seed >> 8) % 6], 2); break;
        case 1: bt_write(e, b, 0x04, (uint32_t)((seed >> 8) % 8), 2); break;
        case 2: bt_write(e, b, 0x20, mem_windows[(seed >> 8) % 4], 4); break;
        default: bt_write(e, b, 0x3e, (seed >> 8) & 1 ? 0x08 : 0, 2); break;
        }
        if (nested) {
            bt_write(e, seed & 1 ? b2 : b1, 0x04, 3, 2);
            assert_int_equal(mt_transaction_commit(e->ctx), 0);
        }
        mt_stats st = mt_test_stats(e->ctx);
        if (st.retired_views > peak_retired)
            peak_retired = st.retired_views;
        unlock();
        /* A mutex is not fair: without a pause the writer would keep the
         * lock, and the vCPUs waiting for it inside their accesses' read
         * sections would hold every grace period back (so would QEMU's
         * vCPUs waiting for its big lock). */
        if (++steps % 8 == 0) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&w->stop, true);
    uint64_t writes = 0, edits = 0, reads = 0, checks = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        struct vcpu *c = &w->vcpus[i];
        if (c->failure[0])
            fail_msg("vcpu %d: %s", i, c->failure);
        writes += c->writes;
        edits += c->edits;
        reads += c->reads;
        checks += c->checks;
    }
    if (mem.failure[0] || io.failure[0])
        fail_msg("listener: %s%s", mem.failure, io.failure);

    /* The bound: once the readers are gone, ordinary writer entries free
     * every retired view; no call waits for a grace period. */
    mt_stats st = mt_test_stats(e->ctx);
    uint64_t grace_periods = st.grace_periods, left = st.retired_views;
    for (int i = 0; i < 2000 && left; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        mt_transaction_begin(e->ctx);
        mt_transaction_commit(e->ctx);
        left = mt_test_stats(e->ctx).retired_views;
    }
    fprintf(stderr, "reentrant stress: %llu bridge steps, %llu register writes, %llu "
            "callback edits, %llu checks, %llu lock-free reads, %u shadow moves; peak %llu "
            "retired views, %llu left after the readers\n",
            (unsigned long long)steps, (unsigned long long)writes, (unsigned long long)edits,
            (unsigned long long)checks, (unsigned long long)reads, w->shadow_moves,
            (unsigned long long)peak_retired, (unsigned long long)left);
    assert_int_equal(left, 0);
    assert_int_equal(mt_test_stats(e->ctx).grace_periods, grace_periods);
    assert_true(steps > 100 && writes > 1000 && edits > 1000);
    assert_true(w->shadow_moves > 0);

    check_views(e->ctx);
    char why[256] = "";
    if (!mt_mirror_matches(&mem, mt_address_space_view(root.memory), why, sizeof(why)) ||
        !mt_mirror_matches(&io, mt_address_space_view(mt_pci_bridge_io_as(&b1->b)), why,
                           sizeof(why)))
        fail_msg("a listener's log does not replay to its view: %s", why);
    mt_listener_unregister(&mem.l);
    mt_listener_unregister(&io.l);
    assert_int_equal(mem.n, 0);
    assert_int_equal(io.n, 0);

    for (int i = 0; i < READERS; i++) {
        struct vcpu *c = &w->vcpus[i];
        assert_int_equal(mt_iommu_notifier_unregister(&c->notifier), 0);
        assert_int_equal(mt_region_finalize(c->iommu), 0);
        free(c->iommu);
        for (int j = 0; j < BARS_PER_READER; j++)
            if (c->bars[j].mapped)
                mt_test_unmap(root.pci, c->bars[j].r);
    }
    bt_unplug(e, b2);
    bt_unplug(e, b1);
    free(w);
}

MT_TEST_MAIN(
    MT_TEST(reentrant_callbacks_under_load))
