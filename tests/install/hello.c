/*
 * Built by tests/install/check.sh against an installed copy of memtree (the
 * header and library found through pkg-config, nothing from the source
 * tree), once linked shared and once static. It proves the installed files
 * are complete: a small map is built, rendered, dumped and checked.
 */
#include <memtree.h>
#include <memtree/format.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "hello: FAILED: %s\n", what);
        failures++;
    }
}

int main(void)
{
    mt_context *ctx = mt_context_new();
    if (!ctx) {
        fprintf(stderr, "hello: mt_context_new failed\n");
        return 1;
    }

    /* A 2^64 system bus with 64 KiB of RAM at 0x1000 and a device after it. */
    mt_region sys = {0}, ram = {0}, uart = {0};
    check(mt_region_init_container(&sys, ctx, NULL, "system", UINT64_MAX) == 0,
          "init container");
    check(mt_region_init_ram(&ram, ctx, NULL, "ram", 0x10000) == 0, "init ram");
    check(mt_region_init_io(&uart, ctx, NULL, NULL, NULL, "uart", 0x100) == 0,
          "init io");
    check(mt_region_add_subregion(&sys, 0x1000, &ram) == 0, "map ram");
    check(mt_region_add_subregion(&sys, 0x11000, &uart) == 0, "map uart");

    mt_address_space *as = mt_address_space_new(ctx, &sys, "memory");
    check(as != NULL, "address space");
    if (failures)
        return 1;

    check(mt_dump(ctx, stdout, MT_DUMP_FLAT) == 0, "flat dump");

    const mt_view *v = mt_address_space_view(as);
    const mt_range *r = mt_view_find_range(v, 0x1800);
    check(r && r->region == &ram && r->start == 0x1000 && r->last == 0x10fff &&
              r->offset_in_region == 0 && !r->readonly,
          "0x1800 is in ram [0x1000, 0x10fff] at offset 0");
    r = mt_view_find_range(v, 0x11080);
    check(r && r->region == &uart, "0x11080 is in uart");
    check(mt_view_find_range(v, 0x0) == NULL, "0x0 is unassigned");
    check(mt_view_range_count(v) == 2, "two ranges");

    /* Teardown in the order the lifetime rules allow: the address space,
     * a reclaim that frees its retired view (which still names the RAM and
     * the uart), then the container, then its former children. */
    mt_address_space_destroy(as);
    mt_context_reclaim(ctx);
    check(mt_region_finalize(&sys) == 0, "finalize container");
    check(mt_region_finalize(&uart) == 0, "finalize uart");
    check(mt_region_finalize(&ram) == 0, "finalize ram");
    mt_context_free(ctx);

    if (failures)
        return 1;
    printf("hello: installed memtree %d.%d.%d works\n", MT_VERSION_MAJOR,
           MT_VERSION_MINOR, MT_VERSION_PATCH);
    return 0;
}
