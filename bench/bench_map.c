/*
 * Scenario `map`: building a memory map one region at a time, each change
 * committed on its own (a guest programming BARs one by one), and taking it
 * down again; memtree against Unicorn 2 in the same run.
 *
 * For n = 256, 1024, 4095 and 16384 pages of 4 KiB, one page apart:
 *   map_total (ms)      n times: initialise a 4 KiB RAM region and map it
 *                       (its own commit) | uc_mem_map
 *   map_us_per_map      the same per map
 *   map_marginal_us     the mean of the last n/16 maps: one more map when
 *                       the map already holds nearly n regions
 *   unmap_total (ms)    n times: unmap (its own commit), then one reclaim
 *                       and the finalisations | uc_mem_unmap
 * Each is followed by unicorn_<metric> and ratio_<metric> (Unicorn's cost /
 * memtree's). At n = 1024 also, memtree alone (issue 12):
 *   remap_us              moving one BAR of the n (set_address, its commit)
 *   remap_from_callback_us  the same move made by an MMIO write's callback,
 *                       inside the access's read-side section: the access,
 *                       the commit, and the view it retires going to
 *                       reclamation without waiting for readers
 * Above 4095 regions Unicorn aborts: only `unicorn_limit` is printed there,
 * and memtree goes on. Unicorn needs over a minute for the
 * 4095 maps, so this scenario takes a few minutes.
 *
 * Target (issue 4): mapping 4095 regions at least 100 times faster than
 * Unicorn. One run per size (the large ones are long).
 */
#include "bench_world.h"

#ifdef MT_BENCH_UNICORN
#include <unicorn/unicorn.h>
#endif

struct costs {
    double map_ms, marginal_us, unmap_ms;
};

static void fail(const char *what)
{
    fprintf(stderr, "bench_map: %s\n", what);
    exit(1);
}

/* The mean of the last n/16 entries of per-map times, in microseconds. */
static double tail_mean_us(const uint64_t *each, uint64_t n)
{
    uint64_t k = n / 16 ? n / 16 : 1, sum = 0;
    for (uint64_t i = n - k; i < n; i++)
        sum += each[i];
    return (double)sum / (double)k / 1e3;
}

static void memtree_map(uint64_t n, uint64_t *each, struct costs *c)
{
    mt_context *ctx = mt_context_new();
    mt_region *regs = calloc(n + 1, sizeof(*regs));
    if (!ctx || !regs)
        fail("out of memory");
    if (mt_region_init_container(&regs[0], ctx, NULL, "system", UINT64_MAX))
        fail("init root");
    mt_address_space *as = mt_address_space_new(ctx, &regs[0], "memory");

    uint64_t t0 = mt_bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t s = mt_bench_now_ns();
        if (mt_region_init_ram(&regs[i + 1], ctx, NULL, "ram", WORLD_PAGE) ||
            mt_region_add_subregion(&regs[0], world_addr(i), &regs[i + 1]))
            fail("memtree map failed");
        each[i] = mt_bench_now_ns() - s;
    }
    uint64_t t1 = mt_bench_now_ns();
    if (mt_view_range_count(mt_address_space_view(as)) != n)
        fail("memtree view has the wrong number of ranges");
    uint32_t v = 0x12345678, back = 0;
    mt_address_space_write(as, world_addr(n - 1) + 8, MT_ATTRS_UNSPECIFIED, &v, 4);
    mt_address_space_read(as, world_addr(n - 1) + 8, MT_ATTRS_UNSPECIFIED, &back, 4);
    if (back != v)
        fail("memtree read back a wrong value");

    uint64_t t2 = mt_bench_now_ns();
    for (uint64_t i = n; i > 0; i--)
        if (mt_region_del_subregion(&regs[0], &regs[i]))
            fail("memtree unmap failed");
    mt_context_reclaim(ctx);
    for (uint64_t i = n; i > 0; i--)
        if (mt_region_finalize(&regs[i]))
            fail("memtree finalize failed");
    uint64_t t3 = mt_bench_now_ns();

    c->map_ms = (double)(t1 - t0) / 1e6;
    c->marginal_us = tail_mean_us(each, n);
    c->unmap_ms = (double)(t3 - t2) / 1e6;
    mt_address_space_destroy(as);
    mt_context_reclaim(ctx);
    if (mt_region_finalize(&regs[0]))
        fail("memtree finalize of the root failed");
    mt_context_free(ctx);
    free(regs);
}

/* A device register whose write moves the BAR to the written address. */
struct bar_reg {
    mt_region *bar;
    int failed;
};

static void bar_reg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)offset, (void)size;
    struct bar_reg *b = opaque;
    b->failed |= mt_region_set_address(b->bar, value);
}

static uint64_t bar_reg_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    return 0;
}

static const mt_region_ops bar_reg_ops = {
    .read = bar_reg_read,
    .write = bar_reg_write,
    .endianness = MT_ENDIAN_LITTLE,
    .valid = {.min_access_size = 8, .max_access_size = 8},
    .impl = {.min_access_size = 8, .max_access_size = 8},
};

/* Microseconds per move of one BAR among n regions: set_address from the
 * writer, then the same moves made by a register write's callback. */
static void memtree_remap(uint64_t n, double *direct_us, double *callback_us)
{
    static uint8_t page[WORLD_PAGE];
    world w;
    world_build(&w, n, WORLD_RAM_SHARED, NULL, page);
    struct bar_reg reg = {.bar = &w.regs[n / 2]};
    mt_region ctl;
    if (mt_region_init_io(&ctl, w.ctx, NULL, &bar_reg_ops, &reg, "ctl", 8) ||
        mt_region_add_subregion(&w.regs[0], world_addr(n), &ctl))
        fail("memtree: the control register");
    /* between its own slot and a free one past the end, so the map keeps
     * n ranges and each move changes the view */
    uint64_t at[2] = {world_addr(n / 2 - 1), world_addr(n + 1)};
    const unsigned moves = 4000;
    uint64_t t0 = mt_bench_now_ns();
    for (unsigned i = 0; i < moves; i++)
        reg.failed |= mt_region_set_address(reg.bar, at[i & 1]);
    uint64_t t1 = mt_bench_now_ns();
    for (unsigned i = 0; i < moves; i++) {
        uint64_t value = at[i & 1];
        if (mt_address_space_write(w.as, world_addr(n), MT_ATTRS_UNSPECIFIED, &value, 8) !=
            MT_RESULT_OK)
            fail("memtree: the register write");
    }
    uint64_t t2 = mt_bench_now_ns();
    if (reg.failed || mt_region_addr(reg.bar) != at[1])
        fail("memtree: a move failed");
    *direct_us = (double)(t1 - t0) / 1e3 / moves;
    *callback_us = (double)(t2 - t1) / 1e3 / moves;
    if (mt_region_del_subregion(&w.regs[0], &ctl))
        fail("memtree: unmapping the register");
    mt_context_reclaim(w.ctx);
    if (mt_region_finalize(&ctl))
        fail("memtree: finalising the register");
    world_free(&w);
}

#ifdef MT_BENCH_UNICORN
static void unicorn_map(uint64_t n, uint64_t *each, struct costs *c)
{
    uc_engine *uc;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        fail("uc_open failed");
    uint64_t t0 = mt_bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        uint64_t s = mt_bench_now_ns();
        if (uc_mem_map(uc, world_addr(i), WORLD_PAGE, UC_PROT_ALL) != UC_ERR_OK)
            fail("uc_mem_map failed");
        each[i] = mt_bench_now_ns() - s;
        if (i && i % 1024 == 0)
            mt_bench_progress("map: unicorn mapped %llu of %llu pages", (unsigned long long)i,
                              (unsigned long long)n);
    }
    uint64_t t1 = mt_bench_now_ns();
    uint32_t v = 0x12345678, back = 0;
    if (uc_mem_write(uc, world_addr(n - 1) + 8, &v, 4) != UC_ERR_OK ||
        uc_mem_read(uc, world_addr(n - 1) + 8, &back, 4) != UC_ERR_OK || back != v)
        fail("unicorn read back a wrong value");
    uint64_t t2 = mt_bench_now_ns();
    for (uint64_t i = n; i > 0; i--) {
        if (uc_mem_unmap(uc, world_addr(i - 1), WORLD_PAGE) != UC_ERR_OK)
            fail("uc_mem_unmap failed");
        if (i % 1024 == 0)
            mt_bench_progress("map: unicorn has %llu pages left", (unsigned long long)i);
    }
    uint64_t t3 = mt_bench_now_ns();
    uc_close(uc);
    c->map_ms = (double)(t1 - t0) / 1e6;
    c->marginal_us = tail_mean_us(each, n);
    c->unmap_ms = (double)(t3 - t2) / 1e6;
}
#endif

int main(int argc, char **argv)
{
    mt_bench_opts o;
    if (mt_bench_parse(argc, argv, &o))
        return 2;
    static const uint64_t sizes[] = {256, 1024, UNICORN_MAX_REGIONS, 16384};
#ifndef MT_BENCH_UNICORN
    mt_bench_progress("map: built without libunicorn-dev: memtree only");
#endif
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint64_t n = sizes[si];
        if (o.max_n && n > o.max_n)
            continue;
        uint64_t *each = malloc(n * sizeof(*each));
        if (!each)
            fail("out of memory");
        mt_bench_progress("map: %llu regions", (unsigned long long)n);
        if (n == 1024) {
            double direct, from_callback;
            memtree_remap(n, &direct, &from_callback);
            mt_bench_result("map", n, "remap_us", direct, "us");
            mt_bench_result("map", n, "remap_from_callback_us", from_callback, "us");
        }
        struct costs m;
        memtree_map(n, each, &m);
#ifdef MT_BENCH_UNICORN
        if (n <= UNICORN_MAX_REGIONS) {
            struct costs u;
            unicorn_map(n, each, &u);
            pair_result("map", n, "map_total", m.map_ms, u.map_ms, "ms");
            pair_result("map", n, "map_us_per_map", m.map_ms * 1e3 / n, u.map_ms * 1e3 / n,
                        "us");
            pair_result("map", n, "map_marginal_us", m.marginal_us, u.marginal_us, "us");
            pair_result("map", n, "unmap_total", m.unmap_ms, u.unmap_ms, "ms");
            free(each);
            continue;
        }
#endif
        mt_bench_result("map", n, "map_total", m.map_ms, "ms");
        mt_bench_result("map", n, "map_us_per_map", m.map_ms * 1e3 / n, "us");
        mt_bench_result("map", n, "map_marginal_us", m.marginal_us, "us");
        mt_bench_result("map", n, "unmap_total", m.unmap_ms, "ms");
#ifdef MT_BENCH_UNICORN
        mt_bench_count("map", n, "unicorn_limit", UNICORN_MAX_REGIONS, "regions");
#endif
        free(each);
    }
    return 0;
}
