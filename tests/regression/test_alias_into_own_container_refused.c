/*
 * Bug: mapping an alias into the container it shows (directly, or through
 * further containers and aliases) was refused with -ELOOP ("mapping 'alias
 * 1' into 'armsse-container' would make 'armsse-container' contain
 * itself"), so machines QEMU builds could not be built: the Arm SSE-200
 * maps its secure range into its own container a second time, and the
 * MPS2/MPS3, Musca, OMAP sx1/cheetah boards do the same. Six zoo machines
 * failed in both oracle runners. QEMU renders such a loop: the alias shows
 * the container again, shifted, clipped to the alias.
 * Fixed with tests/unit/test_alias_loops.c (docs/rendering.md,
 * "Loops through aliases"): only container cycles are refused now.
 */
#include "mt_test.h"

#include <stdint.h>

/* The SSE-200 shape, cut down: armsse-container holds system (its devices,
 * priority -2), MPC registers at 20000000, and two aliases of itself at
 * priority -1500: "alias 1" shows 0-0fffffff at 10000000, "alias 2" shows
 * 20000000-2fffffff at 30000000. */
static void sse200_alias_of_own_container(void **state)
{
    mt_test_env *e = *state;
    mt_region *sse = mt_test_container(e, e->O1, "armsse-container", UINT64_MAX);
    mt_address_space *as = mt_test_as(e, sse, "cpu-secure-memory-0");
    mt_region *sys = mt_test_container(e, e->O1, "system", UINT64_MAX);
    mt_test_map(sys, 0, mt_test_ram(e, e->O2, "ssram", 0x400000));
    mt_test_map_prio(sse, 0, sys, -2);
    mt_test_map(sse, 0x20000000, mt_test_io(e, e->O2, "mpc", 0x8000));

    mt_region *alias1 = mt_test_alias(e, e->O1, "alias 1", sse, 0, 0x10000000);
    mt_region *alias2 = mt_test_alias(e, e->O1, "alias 2", sse, 0x20000000, 0x10000000);
    unsigned diags = e->diag.count;
    assert_int_equal(mt_region_add_subregion_overlap(sse, 0x10000000, alias1, -1500), 0);
    assert_int_equal(mt_region_add_subregion_overlap(sse, 0x30000000, alias2, -1500), 0);
    assert_int_equal(e->diag.count, diags);

    mt_assert_view(as,
                   "  0000000000000000-00000000003fffff (prio 0, ram): ssram\n"
                   "  0000000010000000-00000000103fffff (prio 0, ram): ssram\n"
                   "  0000000020000000-0000000020007fff (prio 0, i/o): mpc\n"
                   "  0000000030000000-0000000030007fff (prio 0, i/o): mpc\n");
}

MT_TEST_MAIN(
    MT_TEST(sse200_alias_of_own_container))
