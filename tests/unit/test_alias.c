/*
 * Aliases (docs/regions.md, "Aliases"; docs/rendering.md): composition,
 * offsets beyond or across the target's end, alias_offset measured from the
 * target's start, disabled targets, holes of aliased containers, subregions
 * of aliases, is_mapped through alias chains, set_alias_offset inside a
 * transaction and merging of adjacent aliases. Loops through aliases
 * have their own file, test_alias_loops.c.
 * Listener and access expectations belong to later test files; the view
 * and tree effects are checked here.
 */
#include "mt_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char bg_only[] = "  0000000000000000-000000000000ffff (prio -1, i/o): bg\n";

/* The alias `a` of `size` bytes from `offset` in RAM `t` (0x1000 bytes),
 * mapped at `addr` in C above bg (priority 1). Returns a; sets *target to t
 * when target is not NULL. */
static mt_region *window_on_t(mt_test_env *e, uint64_t offset, uint64_t size, uint64_t addr,
                              mt_region **target)
{
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, offset, size);
    mt_test_map_prio(e->C, addr, a, 1);
    if (target)
        *target = t;
    return a;
}

/* ---- aliases of aliases compose ---------------------------------------- */

static void alias_of_alias_composes(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x10000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", r, 0x1000, 0x8000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", a1, 0x2000, 0x1000);
    mt_test_map(e->C, 0x5000, a2);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000004fff (prio -1, i/o): bg\n"
                   "  0000000000005000-0000000000005fff (prio 0, ram): r @0000000000003000\n"
                   "  0000000000006000-000000000000ffff (prio -1, i/o): bg @0000000000006000\n");
    /* The range names the final terminal region, never an alias. */
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0x5000);
    assert_non_null(rg);
    assert_ptr_equal(rg->region, r);
}

/* ---- an offset beyond the target renders nothing ---------------------- */

static void offset_beyond_target_renders_nothing(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    window_on_t(e, 0x2000, 0x1000, 0, NULL);
    mt_assert_view(e->X, bg_only);
}

/* ---- an alias longer than its target renders the overlap ---------------- */

static void alias_longer_than_target(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    window_on_t(e, 0x800, 0x2000, 0x4000, NULL);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000003fff (prio -1, i/o): bg\n"
                   "  0000000000004000-00000000000047ff (prio 0, ram): t @0000000000000800\n"
                   "  0000000000004800-000000000000ffff (prio -1, i/o): bg @0000000000004800\n");
}

/* ---- alias_offset counts from the target's start ------------------------ */

static const char item18_view[] =
    "  0000000000000000-0000000000001fff (prio -1, i/o): bg\n"
    "  0000000000002000-00000000000020ff (prio 0, ram): t @0000000000000100\n"
    "  0000000000002100-000000000000ffff (prio -1, i/o): bg @0000000000002100\n";

static void alias_offset_from_target_start(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *Q = mt_test_container(e, e->O2, "Q", 0x100000);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_test_map(Q, 0x10000, t);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, 0x100, 0x100);
    mt_test_map_prio(e->C, 0x2000, a, 1);
    mt_assert_view(e->X, item18_view);

    /* Moving the target changes nothing for the alias. */
    assert_int_equal(mt_region_set_address(t, 0x30000), 0);
    assert_int_equal(mt_region_addr(t), 0x30000);
    mt_assert_view(e->X, item18_view);
}

/* ---- disabled target or disabled alias ---------------------------------- */

static void disabled_target_or_alias(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t;
    mt_region *a = window_on_t(e, 0x100, 0x100, 0x2000, &t);
    mt_assert_view(e->X, item18_view);

    assert_int_equal(mt_region_set_enabled(t, false), 0);
    mt_assert_view(e->X, bg_only);
    assert_int_equal(mt_region_set_enabled(t, true), 0);
    mt_assert_view(e->X, item18_view);
    assert_int_equal(mt_region_set_enabled(a, false), 0);
    mt_assert_view(e->X, bg_only);
}

/* ---- holes of an aliased container show lower priorities --------------- */

static void holes_of_aliased_container(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *T = mt_test_container(e, e->O2, "T", 0x4000);
    mt_region *r1 = mt_test_ram(e, e->O2, "r1", 0x1000);
    mt_test_map(T, 0x1000, r1);
    mt_region *a = mt_test_alias(e, e->O2, "a", T, 0, 0x4000);
    mt_test_map_prio(e->C, 0x8000, a, 1);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000008fff (prio -1, i/o): bg\n"
                   "  0000000000009000-0000000000009fff (prio 0, ram): r1\n"
                   "  000000000000a000-000000000000ffff (prio -1, i/o): bg @000000000000a000\n");
}

/* ---- subregions of an alias are printed, never rendered ---------------- */

static void alias_subregions_printed_not_rendered(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, 0, 0x1000);
    mt_region *ghost = mt_test_io(e, e->O2, "ghost", 0x100);
    mt_test_map(e->C, 0, a);
    mt_test_map(a, 0, ghost);
    assert_ptr_equal(mt_region_container(ghost), a);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, ram): t\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    const mt_view *v = mt_address_space_view(e->X);
    for (size_t i = 0; i < mt_view_range_count(v); i++)
        assert_ptr_not_equal(mt_view_ranges(v)[i].region, ghost);

    char *dump = mt_test_dump(e->ctx, 0);
    mt_assert_contains(
        dump,
        "\n    0000000000000000-0000000000000fff (prio 0, ram): alias a @t 0000000000000000-0000000000000fff\n"
        "      0000000000000000-00000000000000ff (prio 0, i/o): ghost\n");
    free(dump);
}

/* ---- mapped through an alias ------------------------------------------- */

static void mapped_through_alias(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", t, 0, 0x1000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", a1, 0, 0x1000);
    assert_false(mt_region_is_mapped(t));
    assert_false(mt_region_is_mapped(a1));
    assert_false(mt_region_is_mapped(a2));

    mt_test_map(e->C, 0, a2);
    assert_true(mt_region_is_mapped(a2));
    assert_true(mt_region_is_mapped(a1));
    assert_true(mt_region_is_mapped(t));
    assert_null(mt_region_container(t));

    mt_test_unmap(e->C, a2);
    assert_false(mt_region_is_mapped(a2));
    assert_false(mt_region_is_mapped(a1));
    assert_false(mt_region_is_mapped(t));

    mt_test_map(e->C, 0, a1);
    assert_true(mt_region_is_mapped(t));
    assert_true(mt_region_is_mapped(a1));
    assert_false(mt_region_is_mapped(a2));
}

/* ---- set_alias_offset inside a transaction ------------------------------ */

static void set_alias_offset_in_transaction(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x2000);
    uint8_t *mem = mt_region_ram_ptr(t);
    assert_non_null(mem);
    for (unsigned i = 0; i < 0x2000; i++)
        mem[i] = (uint8_t)(i >> 8);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, 0, 0x1000);
    mt_test_map_prio(e->C, 0, a, 1);
    static const char before[] =
        "  0000000000000000-0000000000000fff (prio 0, ram): t\n"
        "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n";
    mt_assert_view(e->X, before);
    uint64_t renders = mt_test_renders(e->ctx);

    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_region_set_alias_offset(a, 0x1000), 0);
    /* The tree shows the edit at once; the view only after the commit. */
    assert_int_equal(mt_region_alias_offset(a), 0x1000);
    mt_assert_view(e->X, before);
    assert_int_equal(mt_test_renders(e->ctx), renders);
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0);
    assert_non_null(rg);
    assert_int_equal(((uint8_t *)mt_region_ram_ptr(rg->region))[rg->offset_in_region], 0x00);

    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, ram): t @0000000000001000\n"
                   "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n");
    /* What a read at 0 would reach: byte 1000 of t, which holds 10. */
    rg = mt_view_find_range(mt_address_space_view(e->X), 0);
    assert_non_null(rg);
    assert_int_equal(((uint8_t *)mt_region_ram_ptr(rg->region))[rg->offset_in_region], 0x10);
}

/* ---- adjacent aliases merge unless their flags differ ------------------ */

static void adjacent_aliases_merge_unless_flags_differ(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x2000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", r, 0, 0x1000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", r, 0x1000, 0x1000);
    mt_test_map(e->C, 0x1000, a1);
    mt_test_map(e->C, 0x2000, a2);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio -1, i/o): bg\n"
                   "  0000000000001000-0000000000002fff (prio 0, ram): r\n"
                   "  0000000000003000-000000000000ffff (prio -1, i/o): bg @0000000000003000\n");

    assert_int_equal(mt_region_set_readonly(a2, true), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio -1, i/o): bg\n"
                   "  0000000000001000-0000000000001fff (prio 0, ram): r\n"
                   "  0000000000002000-0000000000002fff (prio 0, rom): r @0000000000001000\n"
                   "  0000000000003000-000000000000ffff (prio -1, i/o): bg @0000000000003000\n");
}

MT_TEST_MAIN(
    MT_TEST(alias_of_alias_composes),
    MT_TEST(offset_beyond_target_renders_nothing),
    MT_TEST(alias_longer_than_target),
    MT_TEST(alias_offset_from_target_start),
    MT_TEST(disabled_target_or_alias),
    MT_TEST(holes_of_aliased_container),
    MT_TEST(alias_subregions_printed_not_rendered),
    MT_TEST(mapped_through_alias),
    MT_TEST(set_alias_offset_in_transaction),
    MT_TEST(adjacent_aliases_merge_unless_flags_differ))
