/*
 * Scenario `commit`: what one commit costs in a big machine (issue 14),
 * the default mode (only the views an edit reaches render again) beside
 * the reference mode (MT_RENDER_FULL: every view from scratch), measured
 * alternately on the same machine in the same run. No listeners, but for
 * the listener_* rows.
 *
 * For n = 10,000, 100,000 and 1,000,000 regions of 4 KiB in one system
 * memory (one flat-root):
 *   single_change_us      median cost of one commit that maps, moves or
 *                         unmaps one region (render, index, publication)
 *   single_change_p99_us  its 99th percentile (the maximum when there are
 *                         fewer than 100 samples: 1,000,000)
 *   full_single_change_us the same in the reference mode
 *   ratio_full_render     reference median / default median
 *   steady_single_change_us, steady_single_change_p99_us
 *                         the same commits in the default mode alone: in
 *                         the rows above each follows a reference render,
 *                         which leaves the caches cold (at 1,000,000 its
 *                         ranges alone take 48 MB)
 *   listener_single_change_us, listener_full_single_change_us
 *                         the same medians with a listener registered
 *                         (region add/del and eventfd callbacks, a
 *                         hypervisor's memory-slot listener)
 *   far_move_us, far_move_p99_us
 *                         median and 99th percentile of a commit that
 *                         moves one region from the middle of the machine
 *                         to past its end, or back (a BAR reprogrammed far
 *                         away: the two places render again, not the half
 *                         of the machine between them), the default mode
 *                         alone
 *   listener_far_move_us  its median with the listener below
 *   spread16_us           median cost of one transaction that moves 16
 *                         regions spread evenly over the machine, each by
 *                         a page (a device's or a firmware's remaps in one
 *                         transaction): 16 parts rendered apart, the
 *                         default mode alone
 *   hole_bar_move_us      median cost of a commit that moves a BAR on a
 *                         PCI bus shown past the machine's end through an
 *                         alias (a PC's PCI hole), the default mode alone:
 *                         the alias passes up the part its window shows
 *   aliased_bar_move_us   the same for a BAR that a window alias also shows
 *                         (video RAM): the window shows the same bytes
 *                         wherever the BAR is, so it renders nothing again
 *   listener_eventfd_change_us, listener_full_eventfd_change_us
 *                         median cost of a commit that adds or removes
 *                         one ioeventfd of one region, with that listener
 *                         (a virtio queue's notifier coming and going)
 * The same n spread over 64 address spaces, each with a flat-root of its
 * own (a machine with many device address spaces), one region changed:
 *   as64_single_change_us, as64_full_single_change_us, as64_ratio_full_render
 * Building a machine one commit per region (build_total_s) is measured
 * at 16,384 regions in both modes (the reference mode is quadratic: each
 * commit renders the whole flat-root), and at 1,000,000 in the default
 * mode alone.
 * virtio_topology_ms (n = 24 devices): one transaction that adds 8
 * virtio-net devices with 16 queue pairs and 16 virtio-blk devices with 4
 * queues (BARs, notify regions, an ioeventfd per queue, each device's
 * bus-master address space) to a machine of 10,000 regions, commit included.
 */
#include "bench_world.h"

#include <stdio.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void check(int rc, const char *what)
{
    if (rc)
        world_die("bench_commit", what, rc);
}

/* Median and 99th percentile of `n` samples (sorted in place), in us. */
static void quantiles(uint64_t *s, size_t n, double *median, double *p99)
{
    qsort(s, n, sizeof(*s), cmp_u64);
    *median = (double)s[n / 2] / 1e3;
    size_t k = n >= 100 ? (n * 99) / 100 : n - 1;
    *p99 = (double)s[k] / 1e3;
}

/*
 * `samples` single-change commits in each mode, alternating, on the
 * machine of `w`: map `extra` (a reservation outside the n regions) into
 * `into`, move it, unmap it, in turn. Without `full`, the default mode's
 * alone: no reference render between them evicts the machine from the
 * caches.
 */
static void measure_changes(mt_context *ctx, mt_region *into, mt_region *extra,
                            uint64_t base, size_t samples, uint64_t *incr, uint64_t *full)
{
    for (size_t i = 0; i < 2 * samples; i++) {
        bool reference = full && (i & 1);
        check(mt_context_set_render_mode(ctx, reference ? MT_RENDER_FULL
                                                        : MT_RENDER_INCREMENTAL), "mode");
        uint64_t t0 = mt_bench_now_ns();
        /* modes alternate per commit, operations cycle by three: over six
         * commits each mode maps, moves and unmaps once */
        switch (i % 3) {
        case 0: check(mt_region_add_subregion(into, base, extra), "map"); break;
        case 1: check(mt_region_set_address(extra, base + (i % 6 == 1 ? 1 : 2) * WORLD_PAGE), "move"); break;
        default: check(mt_region_del_subregion(into, extra), "unmap"); break;
        }
        uint64_t dt = mt_bench_now_ns() - t0;
        if (full)
            (reference ? full : incr)[i / 2] = dt;
        else
            incr[i] = dt;
        /* A view is retired per commit. The default mode alone leaves
         * them to the library, as an embedder would: the writer's next
         * entries free them once the grace-period thread has seen readers
         * leave, inside the commits timed. With the modes alternating,
         * after each default commit, which retires the reference render's
         * view: that takes O(n) to free, and would otherwise land in
         * whichever commit of either mode came next. (After every commit,
         * each default commit would follow a reclaim rather than a
         * reference render: 18-24 us against 15-23 at 100,000 regions,
         * and 31-51 against 23-28 over 64 address spaces.) */
        if (full && !reference)
            mt_context_reclaim(ctx);
    }
    /* leave it unmapped */
    if (mt_region_container(extra))
        check(mt_region_del_subregion(into, extra), "unmap");
    check(mt_context_set_render_mode(ctx, MT_RENDER_INCREMENTAL), "mode");
    mt_context_reclaim(ctx);
}

/* `samples` commits in the default mode alone, each moving `r` between
 * `a` and `b` in turn. */
static void measure_far_moves(mt_context *ctx, mt_region *r, uint64_t a, uint64_t b,
                              size_t samples, uint64_t *out)
{
    for (size_t i = 0; i < samples; i++) {
        uint64_t t0 = mt_bench_now_ns();
        check(mt_region_set_address(r, i & 1 ? a : b), "far move");
        out[i] = mt_bench_now_ns() - t0;
    }
    if (mt_region_addr(r) != a)
        check(mt_region_set_address(r, a), "far move back");
    mt_context_reclaim(ctx);
}

/* Like measure_far_moves, for one transaction that moves SPREAD regions
 * evenly spread over the machine (regs[1..n]) into the free page after
 * each, or back. */
#define SPREAD 16
static void measure_spread_moves(mt_context *ctx, mt_region *regs, uint64_t n, size_t samples,
                                 uint64_t *out)
{
    for (size_t i = 0; i < samples; i++) {
        uint64_t t0 = mt_bench_now_ns();
        mt_transaction_begin(ctx);
        for (uint64_t j = 0; j < SPREAD; j++) {
            uint64_t at = n / SPREAD * j + n / (2 * SPREAD); /* regs[at + 1] */
            check(mt_region_set_address(&regs[at + 1], world_addr(at) + (i & 1 ? 0 : WORLD_PAGE)),
                  "spread move");
        }
        check(mt_transaction_commit(ctx), "spread commit");
        out[i] = mt_bench_now_ns() - t0;
    }
    mt_context_reclaim(ctx);
}

static size_t samples_for(uint64_t n)
{
    return n <= 10000 ? 300 : n <= 100000 ? 60 : 15;
}

struct slot_listener {
    mt_listener l; /* first: callbacks cast back */
    uint64_t calls;
};

static void slot_add(mt_listener *l, const mt_section *s)
{
    (void)s;
    ((struct slot_listener *)l)->calls++;
}

static void slot_del(mt_listener *l, const mt_section *s)
{
    (void)s;
    ((struct slot_listener *)l)->calls++;
}

static void slot_fd(mt_listener *l, uint64_t addr, unsigned size, bool match, uint64_t data,
                    mt_event_notifier *e)
{
    (void)addr, (void)size, (void)match, (void)data, (void)e;
    ((struct slot_listener *)l)->calls++;
}

/* An ioeventfd's notifier: nothing rings it here. */
static void queue_kick(mt_event_notifier *n)
{
    (void)n;
}
static mt_event_notifier queue_notifier = {.signal = queue_kick};

/* Like measure_changes, for one eventfd of `r` added and removed: over
 * four commits each mode adds once and removes once. */
static void measure_eventfd_changes(mt_context *ctx, mt_region *r, size_t samples,
                                    uint64_t *incr, uint64_t *full)
{
    for (size_t i = 0; i < 4 * samples; i++) {
        bool reference = i & 1;
        bool add = i % 4 == 0 || i % 4 == 2;
        check(mt_context_set_render_mode(ctx, reference ? MT_RENDER_FULL
                                                        : MT_RENDER_INCREMENTAL), "mode");
        uint64_t t0 = mt_bench_now_ns();
        if (add)
            check(mt_region_add_eventfd(r, 0x10, 4, true, 1, &queue_notifier), "add eventfd");
        else
            check(mt_region_del_eventfd(r, 0x10, 4, true, 1, &queue_notifier), "del eventfd");
        (reference ? full : incr)[i / 2] = mt_bench_now_ns() - t0;
        if (!reference)
            mt_context_reclaim(ctx); /* as in measure_changes */
    }
    check(mt_context_set_render_mode(ctx, MT_RENDER_INCREMENTAL), "mode");
    mt_context_reclaim(ctx);
}

static void one_root(uint64_t n)
{
    world w;
    uint64_t t0 = mt_bench_now_ns();
    world_build(&w, n, WORLD_RESERVED, NULL, NULL);
    mt_bench_progress("commit: %llu regions built in %.1f s", (unsigned long long)n,
                      (double)(mt_bench_now_ns() - t0) / 1e9);
    mt_region extra;
    check(mt_region_init_reservation(&extra, w.ctx, NULL, "extra", WORLD_PAGE), "init");
    size_t k = samples_for(n);
    uint64_t *incr = calloc(k, sizeof(*incr)), *full = calloc(k, sizeof(*full));
    measure_changes(w.ctx, &w.regs[0], &extra, world_addr(n) + WORLD_STRIDE, k, incr, full);
    double med, p99, fmed, fp99;
    quantiles(incr, k, &med, &p99);
    quantiles(full, k, &fmed, &fp99);
    mt_bench_result("commit", n, "single_change_us", med, "us");
    mt_bench_result("commit", n, "single_change_p99_us", p99, "us");
    mt_bench_result("commit", n, "full_single_change_us", fmed, "us");
    mt_bench_result("commit", n, "full_single_change_p99_us", fp99, "us");
    mt_bench_result("commit", n, "ratio_full_render", med > 0 ? fmed / med : 0, "x");

    /* The default mode alone (as many commits as both modes above made):
     * what a commit costs while the machine stays in the caches */
    uint64_t *steady = calloc(2 * k, sizeof(*steady));
    measure_changes(w.ctx, &w.regs[0], &extra, world_addr(n) + WORLD_STRIDE, k, steady, NULL);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "steady_single_change_us", med, "us");
    mt_bench_result("commit", n, "steady_single_change_p99_us", p99, "us");

    /* regs[i] is at world_addr(i - 1); past the end is free */
    mt_region *bar = &w.regs[n / 2];
    uint64_t home = world_addr(n / 2 - 1), away = world_addr(n + 2);
    measure_far_moves(w.ctx, bar, home, away, 2 * k, steady);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "far_move_us", med, "us");
    mt_bench_result("commit", n, "far_move_p99_us", p99, "us");

    measure_spread_moves(w.ctx, w.regs, n, 2 * k, steady);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "spread16_us", med, "us");

    /* a PCI bus behind a hole past the end, one BAR on it moving */
    mt_region pci, hole, pci_bar;
    uint64_t hole_at = world_addr(n + 4);
    check(mt_region_init_container(&pci, w.ctx, NULL, "pci", UINT64_MAX), "init pci");
    check(mt_region_init_reservation(&pci_bar, w.ctx, NULL, "bar", WORLD_PAGE), "init bar");
    check(mt_region_add_subregion(&pci, hole_at, &pci_bar), "map bar");
    check(mt_region_init_alias(&hole, w.ctx, NULL, "pci-hole", &pci, hole_at, 1u << 24),
          "init hole");
    check(mt_region_add_subregion(&w.regs[0], hole_at, &hole), "map hole");
    measure_far_moves(w.ctx, &pci_bar, hole_at, hole_at + 0x100000, 2 * k, steady);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "hole_bar_move_us", med, "us");
    check(mt_region_del_subregion(&w.regs[0], &hole), "unmap hole");
    mt_context_reclaim(w.ctx);
    check(mt_region_finalize(&hole), "finalize hole");
    check(mt_region_del_subregion(&pci, &pci_bar), "unmap bar");
    check(mt_region_finalize(&pci_bar), "finalize bar");
    check(mt_region_finalize(&pci), "finalize pci");

    /* video RAM as a BAR past the end, moving, with a window onto it */
    mt_region vram, window;
    check(mt_region_init_reservation(&vram, w.ctx, NULL, "vram", 16 * WORLD_PAGE), "init vram");
    check(mt_region_add_subregion(&w.regs[0], hole_at, &vram), "map vram");
    check(mt_region_init_alias(&window, w.ctx, NULL, "vram-window", &vram, 0, WORLD_PAGE),
          "init window");
    check(mt_region_add_subregion(&w.regs[0], world_addr(n + 3), &window), "map window");
    measure_far_moves(w.ctx, &vram, hole_at, hole_at + 0x100000, 2 * k, steady);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "aliased_bar_move_us", med, "us");
    check(mt_region_del_subregion(&w.regs[0], &window), "unmap window");
    check(mt_region_del_subregion(&w.regs[0], &vram), "unmap vram");
    mt_context_reclaim(w.ctx);
    check(mt_region_finalize(&window), "finalize window");
    check(mt_region_finalize(&vram), "finalize vram");

    /* A hypervisor's slot listener on the same address space: the diff
     * and the eventfd set of a commit then cost what changed, too. */
    struct slot_listener sl = {.l = {.region_add = slot_add, .region_del = slot_del,
                                     .eventfd_add = slot_fd, .eventfd_del = slot_fd}};
    check(mt_listener_register(&sl.l, w.as), "listener");
    measure_changes(w.ctx, &w.regs[0], &extra, world_addr(n) + WORLD_STRIDE, k, incr, full);
    quantiles(incr, k, &med, &p99);
    quantiles(full, k, &fmed, &fp99);
    mt_bench_result("commit", n, "listener_single_change_us", med, "us");
    mt_bench_result("commit", n, "listener_full_single_change_us", fmed, "us");
    uint64_t calls_before_moves = sl.calls;
    measure_far_moves(w.ctx, bar, home, away, 2 * k, steady);
    if (sl.calls != calls_before_moves + 2 * 2 * k)
        world_die("bench_commit", "the listener did not hear each move as one del, one add",
                  -EINVAL);
    quantiles(steady, 2 * k, &med, &p99);
    mt_bench_result("commit", n, "listener_far_move_us", med, "us");
    free(steady);
    uint64_t *fincr = calloc(2 * k, sizeof(*fincr)), *ffull = calloc(2 * k, sizeof(*ffull));
    uint64_t calls = sl.calls;
    measure_eventfd_changes(w.ctx, &w.regs[n / 2], k, fincr, ffull);
    if (sl.calls != calls + 4 * k)
        world_die("bench_commit", "the listener did not hear each eventfd once", -EINVAL);
    quantiles(fincr, 2 * k, &med, &p99);
    quantiles(ffull, 2 * k, &fmed, &fp99);
    mt_bench_result("commit", n, "listener_eventfd_change_us", med, "us");
    mt_bench_result("commit", n, "listener_full_eventfd_change_us", fmed, "us");
    free(fincr);
    free(ffull);
    mt_listener_unregister(&sl.l);
    if (sl.calls == 0)
        world_die("bench_commit", "the listener heard nothing", -EINVAL);
    free(incr);
    free(full);
    check(mt_region_finalize(&extra), "finalize");
    world_free(&w);
}

/* n regions over 64 address spaces, each rooted at a container of its own. */
#define SPACES 64
static void many_roots(uint64_t n)
{
    mt_context *ctx = mt_context_new();
    mt_region *roots = calloc(SPACES, sizeof(*roots));
    mt_region *regs = calloc(n, sizeof(*regs));
    mt_address_space *as[SPACES];
    mt_transaction_begin(ctx);
    for (int s = 0; s < SPACES; s++) {
        check(mt_region_init_container(&roots[s], ctx, NULL, "dev", UINT64_MAX), "init");
        as[s] = mt_address_space_new(ctx, &roots[s], "dev-as");
    }
    for (uint64_t i = 0; i < n; i++) {
        check(mt_region_init_reservation(&regs[i], ctx, NULL, "res", WORLD_PAGE), "init");
        check(mt_region_add_subregion(&roots[i % SPACES], world_addr(i / SPACES), &regs[i]),
              "map");
    }
    check(mt_transaction_commit(ctx), "commit");
    mt_region extra;
    check(mt_region_init_reservation(&extra, ctx, NULL, "extra", WORLD_PAGE), "init");
    size_t k = samples_for(n) * 2;
    uint64_t *incr = calloc(k, sizeof(*incr)), *full = calloc(k, sizeof(*full));
    measure_changes(ctx, &roots[0], &extra, world_addr(n / SPACES + 1), k, incr, full);
    double med, p99, fmed, fp99;
    quantiles(incr, k, &med, &p99);
    quantiles(full, k, &fmed, &fp99);
    mt_bench_result("commit", n, "as64_single_change_us", med, "us");
    mt_bench_result("commit", n, "as64_full_single_change_us", fmed, "us");
    mt_bench_result("commit", n, "as64_ratio_full_render", med > 0 ? fmed / med : 0, "x");
    free(incr);
    free(full);
    for (int s = 0; s < SPACES; s++)
        mt_address_space_destroy(as[s]);
    mt_context_reclaim(ctx);
    check(mt_region_finalize(&extra), "finalize");
    for (int s = 0; s < SPACES; s++)
        check(mt_region_finalize(&roots[s]), "finalize");
    for (uint64_t i = 0; i < n; i++)
        check(mt_region_finalize(&regs[i]), "finalize");
    mt_context_free(ctx);
    free(roots);
    free(regs);
}

/* n regions mapped one commit each, in the given mode. */
static double build_one_by_one(uint64_t n, mt_render_mode mode)
{
    mt_context *ctx = mt_context_new();
    mt_region *regs = calloc(n + 1, sizeof(*regs));
    check(mt_context_set_render_mode(ctx, mode), "mode");
    check(mt_region_init_container(&regs[0], ctx, NULL, "system", UINT64_MAX), "init");
    mt_address_space *as = mt_address_space_new(ctx, &regs[0], "memory");
    uint64_t t0 = mt_bench_now_ns();
    for (uint64_t i = 1; i <= n; i++) {
        check(mt_region_init_reservation(&regs[i], ctx, NULL, "res", WORLD_PAGE), "init");
        check(mt_region_add_subregion(&regs[0], world_addr(i - 1), &regs[i]), "map");
        if (i % 256 == 0)
            mt_context_reclaim(ctx);
    }
    double s = (double)(mt_bench_now_ns() - t0) / 1e9;
    if (mt_view_range_count(mt_address_space_view(as)) != n)
        world_die("bench_commit", "build: wrong range count", -EINVAL);
    mt_address_space_destroy(as);
    mt_context_reclaim(ctx);
    for (uint64_t i = 0; i <= n; i++)
        check(mt_region_finalize(&regs[i]), "finalize");
    mt_context_free(ctx);
    free(regs);
    return s;
}

/* ---- the virtio topology ------------------------------------------------------ */

/* One PCI function: a modern virtio BAR (common, isr, device, notify
 * with one ioeventfd per queue), an MSI-X BAR (table, PBA), a bus-master
 * address space (container + alias of system memory). */
struct vdev {
    mt_region bar, common, isr, device, notify, msix, table, pba, bm, bm_alias;
    mt_address_space *as;
};

static void vdev_add(mt_context *ctx, mt_region *sysmem, struct vdev *d, uint64_t addr,
                     int queues)
{
    check(mt_region_init_container(&d->bar, ctx, NULL, "virtio-pci", 0x4000), "bar");
    check(mt_region_init_io(&d->common, ctx, NULL, NULL, NULL, "virtio-pci-common", 0x1000), "io");
    check(mt_region_init_io(&d->isr, ctx, NULL, NULL, NULL, "virtio-pci-isr", 0x1000), "io");
    check(mt_region_init_io(&d->device, ctx, NULL, NULL, NULL, "virtio-pci-device", 0x1000), "io");
    check(mt_region_init_io(&d->notify, ctx, NULL, NULL, NULL, "virtio-pci-notify", 0x1000), "io");
    check(mt_region_add_subregion(&d->bar, 0x0000, &d->common), "map");
    check(mt_region_add_subregion(&d->bar, 0x1000, &d->isr), "map");
    check(mt_region_add_subregion(&d->bar, 0x2000, &d->device), "map");
    check(mt_region_add_subregion(&d->bar, 0x3000, &d->notify), "map");
    for (int q = 0; q < queues; q++)
        check(mt_region_add_eventfd(&d->notify, (uint64_t)q * 4, 2, true, (uint64_t)q,
                                    &queue_notifier), "eventfd");
    check(mt_region_init_container(&d->msix, ctx, NULL, "msix", 0x1000), "bar");
    check(mt_region_init_io(&d->table, ctx, NULL, NULL, NULL, "msix-table", 0x800), "io");
    check(mt_region_init_io(&d->pba, ctx, NULL, NULL, NULL, "msix-pba", 0x800), "io");
    check(mt_region_add_subregion(&d->msix, 0, &d->table), "map");
    check(mt_region_add_subregion(&d->msix, 0x800, &d->pba), "map");
    check(mt_region_add_subregion(sysmem, addr, &d->bar), "map");
    check(mt_region_add_subregion(sysmem, addr + 0x4000, &d->msix), "map");
    check(mt_region_init_container(&d->bm, ctx, NULL, "bus master container", UINT64_MAX), "bm");
    check(mt_region_init_alias(&d->bm_alias, ctx, NULL, "bus master alias", sysmem, 0,
                               UINT64_MAX), "alias");
    check(mt_region_add_subregion(&d->bm, 0, &d->bm_alias), "map");
    d->as = mt_address_space_new(ctx, &d->bm, "virtio");
}

static void vdev_free(struct vdev *d)
{
    mt_region *order[] = {&d->bm, &d->bm_alias, &d->bar, &d->msix, &d->common, &d->isr,
                          &d->device, &d->notify, &d->table, &d->pba};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        check(mt_region_finalize(order[i]), "finalize");
}

static double virtio_topology(mt_render_mode mode)
{
    world w;
    world_build(&w, 10000, WORLD_RESERVED, NULL, NULL);
    check(mt_context_set_render_mode(w.ctx, mode), "mode");
    struct vdev *d = calloc(24, sizeof(*d));
    uint64_t base = 0x100000000ull;
    uint64_t t0 = mt_bench_now_ns();
    mt_transaction_begin(w.ctx);
    for (int i = 0; i < 24; i++)
        vdev_add(w.ctx, &w.regs[0], &d[i], base + (uint64_t)i * 0x10000, i < 8 ? 2 * 16 : 4);
    check(mt_transaction_commit(w.ctx), "commit");
    double ms = (double)(mt_bench_now_ns() - t0) / 1e6;
    mt_transaction_begin(w.ctx);
    for (int i = 0; i < 24; i++) {
        mt_address_space_destroy(d[i].as);
        check(mt_region_del_subregion(&w.regs[0], &d[i].bar), "unmap");
        check(mt_region_del_subregion(&w.regs[0], &d[i].msix), "unmap");
    }
    check(mt_transaction_commit(w.ctx), "commit");
    mt_context_reclaim(w.ctx);
    for (int i = 0; i < 24; i++)
        vdev_free(&d[i]);
    free(d);
    world_free(&w);
    return ms;
}

int main(int argc, char **argv)
{
    mt_bench_opts o;
    if (mt_bench_parse(argc, argv, &o))
        return 2;
    static const uint64_t sizes[] = {10000, 100000, 1000000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t n = sizes[i];
        if (o.max_n && n > o.max_n)
            n = o.max_n; /* a smoke run still runs each part once */
        one_root(n);
        many_roots(n);
        if (o.max_n && sizes[i] >= o.max_n)
            break;
    }
    uint64_t bn = o.max_n && o.max_n < 16384 ? o.max_n : 16384;
    double bi = build_one_by_one(bn, MT_RENDER_INCREMENTAL);
    double bf = build_one_by_one(bn, MT_RENDER_FULL);
    mt_bench_result("commit", bn, "build_total_s", bi, "s");
    mt_bench_result("commit", bn, "full_build_total_s", bf, "s");
    /* the default mode at 1,000,000 too: the reference would take hours */
    if (!o.max_n || o.max_n >= 1000000)
        mt_bench_result("commit", 1000000, "build_total_s",
                        build_one_by_one(1000000, MT_RENDER_INCREMENTAL), "s");
    double vi = 1e30, vf = 1e30;
    for (int r = 0; r < (o.runs ? o.runs : 5); r++) {
        double a = virtio_topology(MT_RENDER_INCREMENTAL), b = virtio_topology(MT_RENDER_FULL);
        vi = a < vi ? a : vi;
        vf = b < vf ? b : vf;
    }
    mt_bench_result("commit", 24, "virtio_topology_ms", vi, "ms");
    mt_bench_result("commit", 24, "full_virtio_topology_ms", vf, "ms");
    return 0;
}
