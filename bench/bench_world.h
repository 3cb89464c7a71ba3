/*
 * What the lookup, access and map benchmarks share: a memtree "world" of n
 * regions of 4 KiB one page apart (page i at i * 8 KiB) in a 2^64
 * container, built in heap storage and torn down again; and the result
 * lines of a measured pair (memtree, Unicorn) with their ratio.
 */
#ifndef MT_BENCH_WORLD_H
#define MT_BENCH_WORLD_H

#include "bench.h"

#include <memtree.h>

#include <errno.h>
#include <stdbool.h>

#define WORLD_PAGE 0x1000u
#define WORLD_STRIDE 0x2000u /* one page apart, so no two regions touch */

/* Unicorn asserts (QEMU's phys_section_add) when an address space holds
 * more than this many regions. */
#define UNICORN_MAX_REGIONS 4095

/* WORLD_RAM_SHARED: RAM regions all backed by one page (`opaque`), so
 * that accesses measure memtree's path without the guest data's misses. */
typedef enum world_kind { WORLD_RAM, WORLD_RAM_SHARED, WORLD_MMIO, WORLD_RESERVED } world_kind;

typedef struct world {
    mt_context *ctx;
    mt_region *regs; /* [0] is the root */
    size_t n;        /* regions besides the root */
    mt_address_space *as;
} world;

static inline void world_die(const char *prog, const char *what, int rc)
{
    fprintf(stderr, "%s: %s failed: %s\n", prog, what, mt_strerror(rc));
    exit(1);
}

static inline uint64_t world_addr(size_t i)
{
    return (uint64_t)i * WORLD_STRIDE;
}

/* n regions of one kind, all mapped in one transaction. `ops` for MMIO. */
/* world_build with the context's lookup options (MT_LOOKUP_*) set first. */
static inline void world_build_with(world *w, size_t n, world_kind kind, const mt_region_ops *ops,
                                    void *opaque, unsigned lookup_options)
{
    w->ctx = mt_context_new();
    if (w->ctx && mt_context_set_lookup_options(w->ctx, lookup_options))
        world_die("bench", "lookup options", -EINVAL);
    w->regs = calloc(n + 1, sizeof(*w->regs));
    w->n = 0;
    if (!w->ctx || !w->regs)
        world_die("bench", "allocation", -ENOMEM);
    int rc = mt_region_init_container(&w->regs[0], w->ctx, NULL, "system", UINT64_MAX);
    if (rc)
        world_die("bench", "init root", rc);
    w->as = mt_address_space_new(w->ctx, &w->regs[0], "memory");
    mt_transaction_begin(w->ctx);
    for (size_t i = 1; i <= n; i++) {
        mt_region *r = &w->regs[i];
        switch (kind) {
        case WORLD_RAM: rc = mt_region_init_ram(r, w->ctx, NULL, "ram", WORLD_PAGE); break;
        case WORLD_RAM_SHARED:
            rc = mt_region_init_ram_ptr(r, w->ctx, NULL, "ram", WORLD_PAGE, opaque);
            break;
        case WORLD_MMIO:
            rc = mt_region_init_io(r, w->ctx, NULL, ops, opaque, "mmio", WORLD_PAGE);
            break;
        default: rc = mt_region_init_reservation(r, w->ctx, NULL, "res", WORLD_PAGE); break;
        }
        if (rc)
            world_die("bench", "init region", rc);
        w->n++;
        rc = mt_region_add_subregion(&w->regs[0], world_addr(i - 1), r);
        if (rc)
            world_die("bench", "map", rc);
    }
    rc = mt_transaction_commit(w->ctx);
    if (rc)
        world_die("bench", "commit", rc);
}

static inline void world_build(world *w, size_t n, world_kind kind, const mt_region_ops *ops,
                               void *opaque)
{
    world_build_with(w, n, kind, ops, opaque, 0);
}

static inline void world_free(world *w)
{
    mt_address_space_destroy(w->as);
    mt_context_reclaim(w->ctx);
    /* the root first: its finalisation unmaps every child in one go */
    int rc = mt_region_finalize(&w->regs[0]);
    for (size_t i = 1; !rc && i <= w->n; i++)
        rc = mt_region_finalize(&w->regs[i]);
    if (rc)
        world_die("bench", "finalize", rc);
    mt_context_free(w->ctx);
    free(w->regs);
}

/* A measured pair: memtree's value, the peer's, and how many times
 * smaller memtree's is (values are costs). */
static inline void pair_result(const char *scenario, uint64_t n, const char *metric,
                               double memtree, double unicorn, const char *unit)
{
    char name[96];
    mt_bench_result(scenario, n, metric, memtree, unit);
    snprintf(name, sizeof(name), "unicorn_%s", metric);
    mt_bench_result(scenario, n, name, unicorn, unit);
    snprintf(name, sizeof(name), "ratio_%s", metric);
    mt_bench_result(scenario, n, name, memtree > 0 ? unicorn / memtree : 0, "x");
}

#endif /* MT_BENCH_WORLD_H */
