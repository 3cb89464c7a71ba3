/*
 * Readonly, romd and nonvolatile as rendered and dumped (docs/regions.md,
 * "Flag inheritance"): flags inherited along the path into the ranges, the
 * flat type (`rom`, `nv-`), the tree lines that show only a region's own
 * flags, and set_romd changing the view. Writes and reads (test_access_api.c,
 * test_readonly_access.c) and listener sections belong to the access and
 * listener tests.
 */
#include "mt_test.h"

#include <stdlib.h>
#include <string.h>

/* RAM `r` (0x1000 bytes) shown at 0 in C through the alias `name`, which
 * `set_flag` (mt_region_set_readonly or mt_region_set_nonvolatile) flags
 * before it is mapped. Returns the alias; *target is r. */
static mt_region *flagged_alias_of_ram(mt_test_env *e, const char *name,
                                       int (*set_flag)(mt_region *, bool), mt_region **target)
{
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, name, r, 0, 0x1000);
    assert_int_equal(set_flag(a, true), 0);
    mt_test_map(e->C, 0, a);
    *target = r;
    return a;
}

/* ---- a readonly alias of RAM -------------------------------------------- */

static void readonly_alias_of_ram(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r;
    mt_region *ro = flagged_alias_of_ram(e, "ro", mt_region_set_readonly, &r);
    assert_true(mt_region_readonly(ro));
    assert_false(mt_region_readonly(r));

    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, rom): r\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0);
    assert_non_null(rg);
    assert_ptr_equal(rg->region, r);
    assert_true(rg->readonly);
    assert_false(rg->nonvolatile);

    /* The tree never prints an alias's own readonly flag. */
    mt_assert_dump_contains(e->ctx, 0,
                            "\n    0000000000000000-0000000000000fff (prio 0, ram): alias ro "
                            "@r 0000000000000000-0000000000000fff\n");
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "\n  0000000000000000-0000000000000fff (prio 0, rom): r\n");
}

/* ---- a readonly container marks every range below it -------------------- */

static void readonly_container_marks_ranges(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *rc = mt_test_container(e, e->O2, "rc", 0x2000);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x1000);
    mt_region *m = mt_test_io(e, e->O2, "m", 0x1000);
    mt_test_map(rc, 0, r);
    mt_test_map(rc, 0x1000, m);
    assert_int_equal(mt_region_set_readonly(rc, true), 0);
    mt_test_map(e->C, 0, rc);
    static const char ro_view[] =
        "  0000000000000000-0000000000000fff (prio 0, rom): r\n"
        "  0000000000001000-0000000000001fff (prio 0, rom): m\n"
        "  0000000000002000-000000000000ffff (prio -1, i/o): bg @0000000000002000\n";
    mt_assert_view(e->X, ro_view);
    const mt_view *v = mt_address_space_view(e->X);
    assert_true(mt_view_find_range(v, 0x0)->readonly);
    assert_true(mt_view_find_range(v, 0x1000)->readonly);
    assert_false(mt_view_find_range(v, 0x2000)->readonly);
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT, ro_view);

    /* The flag is the container's: clearing it clears the ranges. */
    assert_int_equal(mt_region_set_readonly(rc, false), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, ram): r\n"
                   "  0000000000001000-0000000000001fff (prio 0, i/o): m\n"
                   "  0000000000002000-000000000000ffff (prio -1, i/o): bg @0000000000002000\n");
}

/* ---- ROM device modes (the view and dump parts) ------------------------- */

static void romd_mode_in_view_and_dumps(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *flash = mt_test_rom_device(e, e->O2, &mt_test_zero_ops, NULL, "flash", 0x1000);
    uint8_t *backing = mt_region_ram_ptr(flash);
    assert_non_null(backing);
    memset(backing, 0x5a, 0x1000);
    mt_test_map(e->C, 0, flash);
    assert_true(mt_region_romd(flash)); /* the default */

    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, romd): flash\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    assert_true(mt_view_find_range(mt_address_space_view(e->X), 0)->romd_mode);
    mt_assert_dump_contains(e->ctx, 0,
                            "\n    0000000000000000-0000000000000fff (prio 0, romd): flash\n");
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "\n  0000000000000000-0000000000000fff (prio 0, romd): flash\n");

    uint64_t renders = mt_test_renders(e->ctx);
    assert_int_equal(mt_region_set_romd(flash, false), 0);
    assert_false(mt_region_romd(flash));
    assert_int_equal(mt_test_renders(e->ctx), renders + 1);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, i/o): flash\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    assert_false(mt_view_find_range(mt_address_space_view(e->X), 0)->romd_mode);
    mt_assert_dump_contains(e->ctx, 0,
                            "\n    0000000000000000-0000000000000fff (prio 0, i/o): flash\n");
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "\n  0000000000000000-0000000000000fff (prio 0, i/o): flash\n");
    /* Only the mode changed: the backing is untouched. */
    assert_int_equal(backing[0x10], 0x5a);

    /* Inside a transaction the view keeps the committed mode. */
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_region_set_romd(flash, true), 0);
    assert_false(mt_view_find_range(mt_address_space_view(e->X), 0)->romd_mode);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_true(mt_view_find_range(mt_address_space_view(e->X), 0)->romd_mode);
}

/* ---- nonvolatile through an alias ---------------------------------------- */

static void nonvolatile_through_alias(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r;
    mt_region *pm = flagged_alias_of_ram(e, "pm", mt_region_set_nonvolatile, &r);
    assert_true(mt_region_nonvolatile(pm));
    assert_false(mt_region_nonvolatile(r));

    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, nv-ram): r\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0);
    assert_true(rg->nonvolatile);
    assert_false(rg->readonly);

    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "\n  0000000000000000-0000000000000fff (prio 0, nv-ram): r\n");
    /* The alias line shows the alias's own nv- flag; the target's section
     * shows r, which has none. */
    mt_assert_dump_contains(e->ctx, 0,
                            "\n    0000000000000000-0000000000000fff (prio 0, nv-ram): alias pm "
                            "@r 0000000000000000-0000000000000fff\n");
    mt_assert_dump_contains(e->ctx, 0, "\nmemory-region: r\n"
                                       "  0000000000000000-0000000000000fff (prio 0, ram): r\n");
}

MT_TEST_MAIN(
    MT_TEST(readonly_alias_of_ram),
    MT_TEST(readonly_container_marks_ranges),
    MT_TEST(romd_mode_in_view_and_dumps),
    MT_TEST(nonvolatile_through_alias))
