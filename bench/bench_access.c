/*
 * Scenario `access`: a guest's 4-byte loads and stores through an address
 * space, memtree against Unicorn 2 in the same run.
 *
 * For n = 16, 256, 4096 and 65536 regions of 4 KiB, one page apart:
 *   ram_read_ns, ram_write_ns   4 bytes at pseudo-random 4-aligned
 *                               addresses of the mapped pages
 *                               (mt_address_space_read/write against
 *                               uc_mem_read/uc_mem_write)
 *   mmio_read_ns (n <= 256)     4 bytes from MMIO regions whose read
 *                               callback just returns the offset
 *                               (mt_region_init_io against uc_mmio_map)
 *   ram_read_in_section_ns      ram_read_ns from inside one read-side
 *                               section the caller holds (mt_read_lock),
 *                               as an emulator's vCPU loop holds one over
 *                               the accesses of the code it runs (QEMU's
 *                               does): each access's own section is then
 *                               a nested one. Its ratio is against
 *                               Unicorn's plain read (Unicorn has no such
 *                               section), printed as ratio_ram_read_in_section_ns
 *   ram_read_hot_ns             memtree alone: ram_read_ns with every
 *                               region backed by the same page, which
 *                               stays in cache: memtree's own part of a
 *                               read, without the guest data's misses
 * and for n = 1, one RAM region of 256 MiB (guest RAM):
 *   big_ram_read_ns             4 bytes at pseudo-random 4-aligned
 *                               addresses all over it: the last-hit hint
 *                               answers every lookup, so the guest data's
 *                               cache and TLB misses make the cost
 * Each memtree metric is followed by unicorn_<metric> and ratio_<metric>
 * (Unicorn's cost / memtree's). Unicorn aborts when an address space holds
 * more than 4095 regions: at n = 4096 it is measured with 4095 (a
 * `unicorn_regions` line says so), above that only `unicorn_limit` is
 * printed. Mapping 4095 pages into Unicorn takes over a minute.
 *
 * Target (issue 4): a RAM read at 4096 regions at least 10 times faster
 * than Unicorn's. Each timing is the best of 3 runs.
 */
#include "bench_world.h"

#ifdef MT_BENCH_UNICORN
#include <unicorn/unicorn.h>
#endif

#define ADDRS 65536u /* a power of two */

static volatile uint64_t sink;

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)size;
    return offset;
}

static void mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque, (void)offset, (void)value, (void)size;
}

static const mt_region_ops trivial_ops = {
    .read = mmio_read, .write = mmio_write, .endianness = MT_ENDIAN_LITTLE};

static void fail(const char *what)
{
    fprintf(stderr, "bench_access: %s\n", what);
    exit(1);
}

static void make_addrs(uint64_t *addrs, uint64_t n, uint64_t seed)
{
    mt_bench_rng rng = {seed};
    for (unsigned i = 0; i < ADDRS; i++)
        addrs[i] = world_addr(mt_bench_rand(&rng) % n) + (mt_bench_rand(&rng) % WORLD_PAGE & ~3u);
}

static double min_d(double a, double b)
{
    return a < b ? a : b;
}

struct costs {
    double read, write, mmio, read_in_section;
};

/* Stores each address's low bits at it and reads them back. */
static void memtree_fill(mt_address_space *as, const uint64_t *addrs)
{
    mt_attrs attrs = MT_ATTRS_UNSPECIFIED;
    for (unsigned i = 0; i < ADDRS; i++) {
        uint32_t v = (uint32_t)addrs[i];
        if (mt_address_space_write(as, addrs[i], attrs, &v, 4) != MT_RESULT_OK)
            fail("memtree write failed");
    }
    for (unsigned i = 0; i < ADDRS; i++) {
        uint32_t v;
        if (mt_address_space_read(as, addrs[i], attrs, &v, 4) != MT_RESULT_OK ||
            v != (uint32_t)addrs[i])
            fail("memtree read back a wrong value");
    }
}

static void memtree_ram(uint64_t n, const uint64_t *addrs, int runs, uint64_t iters,
                        struct costs *c)
{
    world w;
    world_build(&w, n, WORLD_RAM, NULL, NULL);
    mt_attrs attrs = MT_ATTRS_UNSPECIFIED;
    memtree_fill(w.as, addrs);
    c->read = c->write = c->read_in_section = 1e30;
    for (int run = 0; run < runs; run++) {
        uint64_t sum = 0;
        uint64_t t0 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v;
            mt_address_space_read(w.as, addrs[i & (ADDRS - 1)], attrs, &v, 4);
            sum += v;
        }
        uint64_t t1 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v = (uint32_t)i;
            mt_address_space_write(w.as, addrs[i & (ADDRS - 1)], attrs, &v, 4);
        }
        uint64_t t2 = mt_bench_now_ns();
        mt_read_lock();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v;
            mt_address_space_read(w.as, addrs[i & (ADDRS - 1)], attrs, &v, 4);
            sum += v;
        }
        mt_read_unlock();
        uint64_t t3 = mt_bench_now_ns();
        sink += sum;
        c->read = min_d(c->read, (double)(t1 - t0) / iters);
        c->write = min_d(c->write, (double)(t2 - t1) / iters);
        c->read_in_section = min_d(c->read_in_section, (double)(t3 - t2) / iters);
    }
    world_free(&w);
}

/* The best of `runs` timings of `iters` 4-byte reads at the addresses. */
static double time_reads(mt_address_space *as, const uint64_t *addrs, int runs,
                         uint64_t iters)
{
    mt_attrs attrs = MT_ATTRS_UNSPECIFIED;
    double best = 1e30;
    for (int run = 0; run < runs; run++) {
        uint64_t sum = 0;
        uint64_t t0 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v;
            mt_address_space_read(as, addrs[i & (ADDRS - 1)], attrs, &v, 4);
            sum += v;
        }
        sink += sum;
        best = min_d(best, (double)(mt_bench_now_ns() - t0) / iters);
    }
    return best;
}

static double memtree_ram_hot(uint64_t n, const uint64_t *addrs, int runs, uint64_t iters)
{
    static uint8_t page[WORLD_PAGE];
    world w;
    world_build(&w, n, WORLD_RAM_SHARED, NULL, page);
    double best = time_reads(w.as, addrs, runs, iters);
    world_free(&w);
    return best;
}

#define BIG_RAM (UINT64_C(256) << 20)

static void make_big_addrs(uint64_t *addrs)
{
    mt_bench_rng rng = {0x626967ull};
    for (unsigned i = 0; i < ADDRS; i++)
        addrs[i] = mt_bench_rand(&rng) % BIG_RAM & ~UINT64_C(3);
}

static double memtree_big_ram(const uint64_t *addrs, int runs, uint64_t iters)
{
    mt_context *ctx = mt_context_new();
    mt_region root, ram;
    if (!ctx || mt_region_init_container(&root, ctx, NULL, "root", 2 * BIG_RAM) ||
        mt_region_init_ram(&ram, ctx, NULL, "ram", BIG_RAM) ||
        mt_region_add_subregion(&root, 0, &ram))
        fail("cannot build the big RAM region");
    mt_address_space *as = mt_address_space_new(ctx, &root, "memory");
    memtree_fill(as, addrs);
    double best = time_reads(as, addrs, runs, iters);
    mt_address_space_destroy(as);
    mt_region_del_subregion(&root, &ram);
    mt_context_reclaim(ctx);
    if (mt_region_finalize(&ram) || mt_region_finalize(&root))
        fail("cannot finalise the big RAM region");
    mt_context_free(ctx);
    return best;
}

static double memtree_mmio(uint64_t n, const uint64_t *addrs, int runs, uint64_t iters)
{
    world w;
    world_build(&w, n, WORLD_MMIO, &trivial_ops, NULL);
    uint32_t v;
    if (mt_address_space_read(w.as, addrs[0], MT_ATTRS_UNSPECIFIED, &v, 4) != MT_RESULT_OK ||
        v != (addrs[0] & (WORLD_PAGE - 1)))
        fail("memtree MMIO read returned a wrong value");
    double best = time_reads(w.as, addrs, runs, iters);
    world_free(&w);
    return best;
}

#ifdef MT_BENCH_UNICORN
static uc_engine *uc_new(void)
{
    uc_engine *uc;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        fail("uc_open failed");
    return uc;
}

static uint64_t uc_mmio_read_cb(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
    (void)uc, (void)size, (void)opaque;
    return offset;
}

static void uc_mmio_write_cb(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
                             void *opaque)
{
    (void)uc, (void)offset, (void)size, (void)value, (void)opaque;
}

static void unicorn_ram(uint64_t n, const uint64_t *addrs, int runs, uint64_t iters,
                        struct costs *c)
{
    uc_engine *uc = uc_new();
    for (uint64_t i = 0; i < n; i++) {
        if (uc_mem_map(uc, world_addr(i), WORLD_PAGE, UC_PROT_ALL) != UC_ERR_OK)
            fail("uc_mem_map failed");
        if (i && i % 1024 == 0)
            mt_bench_progress("access: unicorn mapped %llu of %llu pages",
                              (unsigned long long)i, (unsigned long long)n);
    }
    for (unsigned i = 0; i < ADDRS; i++) {
        uint32_t v = (uint32_t)addrs[i], back = 0;
        if (uc_mem_write(uc, addrs[i], &v, 4) != UC_ERR_OK ||
            uc_mem_read(uc, addrs[i], &back, 4) != UC_ERR_OK || back != v)
            fail("unicorn read back a wrong value");
    }
    c->read = c->write = 1e30;
    for (int run = 0; run < runs; run++) {
        uint64_t sum = 0;
        uint64_t t0 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v;
            uc_mem_read(uc, addrs[i & (ADDRS - 1)], &v, 4);
            sum += v;
        }
        uint64_t t1 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v = (uint32_t)i;
            uc_mem_write(uc, addrs[i & (ADDRS - 1)], &v, 4);
        }
        uint64_t t2 = mt_bench_now_ns();
        sink += sum;
        c->read = min_d(c->read, (double)(t1 - t0) / iters);
        c->write = min_d(c->write, (double)(t2 - t1) / iters);
    }
    uc_close(uc);
}

/* The best of `runs` timings of `iters` 4-byte reads at the addresses. */
static double uc_time_reads(uc_engine *uc, const uint64_t *addrs, int runs, uint64_t iters)
{
    double best = 1e30;
    for (int run = 0; run < runs; run++) {
        uint64_t sum = 0;
        uint64_t t0 = mt_bench_now_ns();
        for (uint64_t i = 0; i < iters; i++) {
            uint32_t v;
            uc_mem_read(uc, addrs[i & (ADDRS - 1)], &v, 4);
            sum += v;
        }
        sink += sum;
        best = min_d(best, (double)(mt_bench_now_ns() - t0) / iters);
    }
    return best;
}

static double unicorn_mmio(uint64_t n, const uint64_t *addrs, int runs, uint64_t iters)
{
    uc_engine *uc = uc_new();
    for (uint64_t i = 0; i < n; i++)
        if (uc_mmio_map(uc, world_addr(i), WORLD_PAGE, uc_mmio_read_cb, NULL, uc_mmio_write_cb,
                        NULL) != UC_ERR_OK)
            fail("uc_mmio_map failed");
    uint32_t v = 0;
    if (uc_mem_read(uc, addrs[0], &v, 4) != UC_ERR_OK || v != (addrs[0] & (WORLD_PAGE - 1)))
        fail("unicorn MMIO read returned a wrong value");
    double best = uc_time_reads(uc, addrs, runs, iters);
    uc_close(uc);
    return best;
}

static double unicorn_big_ram(const uint64_t *addrs, int runs, uint64_t iters)
{
    uc_engine *uc = uc_new();
    if (uc_mem_map(uc, 0, BIG_RAM, UC_PROT_ALL) != UC_ERR_OK)
        fail("uc_mem_map failed");
    for (unsigned i = 0; i < ADDRS; i++) {
        uint32_t v = (uint32_t)addrs[i], back = 0;
        if (uc_mem_write(uc, addrs[i], &v, 4) != UC_ERR_OK ||
            uc_mem_read(uc, addrs[i], &back, 4) != UC_ERR_OK || back != v)
            fail("unicorn read back a wrong value");
    }
    double best = uc_time_reads(uc, addrs, runs, iters);
    uc_close(uc);
    return best;
}
#endif

int main(int argc, char **argv)
{
    mt_bench_opts o;
    if (mt_bench_parse(argc, argv, &o))
        return 2;
    int runs = o.runs ? o.runs : 3;
    uint64_t iters = o.runs == 1 ? 100000 : 10000000;
    uint64_t uc_iters = o.runs == 1 ? 20000 : 1000000;
    static const uint64_t sizes[] = {16, 256, 4096, 65536};
    uint64_t *addrs = malloc(ADDRS * sizeof(*addrs));
    uint64_t *uc_addrs = malloc(ADDRS * sizeof(*uc_addrs));
    if (!addrs || !uc_addrs)
        return 1;
#ifndef MT_BENCH_UNICORN
    mt_bench_progress("access: built without libunicorn-dev: memtree only");
    (void)uc_iters;
#endif

    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint64_t n = sizes[si];
        if (o.max_n && n > o.max_n)
            continue;
        mt_bench_progress("access: %llu regions", (unsigned long long)n);
        make_addrs(addrs, n, 0x616363657373ull + n);
        struct costs m = {0, 0, 0, 0};
        memtree_ram(n, addrs, runs, iters, &m);
        mt_bench_result("access", n, "ram_read_hot_ns", memtree_ram_hot(n, addrs, runs, iters),
                        "ns");
        if (n <= 256)
            m.mmio = memtree_mmio(n, addrs, runs, iters);
#ifdef MT_BENCH_UNICORN
        uint64_t un = n < UNICORN_MAX_REGIONS ? n : UNICORN_MAX_REGIONS;
        if (n > UNICORN_MAX_REGIONS + 1) {
            mt_bench_result("access", n, "ram_read_ns", m.read, "ns");
            mt_bench_result("access", n, "ram_write_ns", m.write, "ns");
            mt_bench_result("access", n, "ram_read_in_section_ns", m.read_in_section, "ns");
            mt_bench_count("access", n, "unicorn_limit", UNICORN_MAX_REGIONS, "regions");
            continue;
        }
        if (un != n)
            mt_bench_count("access", n, "unicorn_regions", un, "regions");
        make_addrs(uc_addrs, un, 0x616363657373ull + n);
        struct costs u = {0, 0, 0, 0};
        unicorn_ram(un, uc_addrs, runs, uc_iters, &u);
        pair_result("access", n, "ram_read_ns", m.read, u.read, "ns");
        pair_result("access", n, "ram_write_ns", m.write, u.write, "ns");
        mt_bench_result("access", n, "ram_read_in_section_ns", m.read_in_section, "ns");
        mt_bench_result("access", n, "ratio_ram_read_in_section_ns", u.read / m.read_in_section,
                        "x");
        if (n <= 256)
            pair_result("access", n, "mmio_read_ns", m.mmio,
                        unicorn_mmio(n, addrs, runs, uc_iters), "ns");
#else
        mt_bench_result("access", n, "ram_read_ns", m.read, "ns");
        mt_bench_result("access", n, "ram_write_ns", m.write, "ns");
        mt_bench_result("access", n, "ram_read_in_section_ns", m.read_in_section, "ns");
        if (n <= 256)
            mt_bench_result("access", n, "mmio_read_ns", m.mmio, "ns");
#endif
    }
    mt_bench_progress("access: one RAM region of %llu MiB",
                      (unsigned long long)(BIG_RAM >> 20));
    make_big_addrs(addrs);
    double big = memtree_big_ram(addrs, runs, iters);
#ifdef MT_BENCH_UNICORN
    pair_result("access", 1, "big_ram_read_ns", big, unicorn_big_ram(addrs, runs, uc_iters),
                "ns");
#else
    mt_bench_result("access", 1, "big_ram_read_ns", big, "ns");
#endif
    free(addrs);
    free(uc_addrs);
    return 0;
}
