/*
 * View sharing and basic lifetime without listeners or find (docs/views.md,
 * "The flat-root" and "The view cache and sharing"): address spaces with the
 * same flat-root share one view, the descent through full-size offset-0
 * aliases, partial aliases as flat-roots, the shared empty view, address
 * space destruction, and exact owner reference counts (docs/lifetimes.md,
 * "Who holds references").
 */
#include "mt_test.h"

#include <stdlib.h>

/* The flat dump holds `views` FlatView blocks, and `needle`. */
static void assert_flat_dump(mt_test_env *e, size_t views, const char *needle)
{
    char *dump = mt_test_dump(e->ctx, MT_DUMP_FLAT);
    assert_int_equal(mt_test_count(dump, "FlatView #"), views);
    mt_assert_contains(dump, needle);
    free(dump);
}

/* ---- same flat-root, same view ------------------------------------------- */

static void same_flat_root_same_view(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_io_at(e, 0x2000, "m", 0x1000);
    mt_address_space *Y = mt_test_as(e, e->C, "Y");
    assert_ptr_equal(mt_address_space_view(Y), mt_address_space_view(e->X));
    assert_ptr_equal(mt_view_root(mt_address_space_view(Y)), e->C);

    mt_test_ram_at(e, 0x4000, "r2", 0x1000);
    assert_ptr_equal(mt_address_space_view(Y), mt_address_space_view(e->X));
    mt_assert_view(Y,
                   "  0000000000000000-0000000000000fff (prio 0, ram): r1\n"
                   "  0000000000002000-0000000000002fff (prio 0, i/o): m\n"
                   "  0000000000004000-0000000000004fff (prio 0, ram): r2\n");
    assert_int_equal(mt_test_stats(e->ctx).cache_entries, 1);

    assert_flat_dump(e, 1, "FlatView #0\n"
                           " AS \"X\", root: C\n"
                           " AS \"Y\", root: C\n"
                           " Root memory region: C\n");
}

/* ---- the bus-master pattern -------------------------------------------- */

typedef struct bm_setup {
    mt_region *sys, *bm, *alias;
    mt_address_space *memory, *nic;
} bm_setup;

/* `sys` (2^64, two children) under address space `memory`; `bm` (2^64)
 * holding only `bm-alias` → sys at `offset`, `size`, under `nic`. The
 * children of sys straddle 80000000 so that clipping shows. */
static bm_setup build_bm(mt_test_env *e, uint64_t offset, uint64_t size)
{
    bm_setup s;
    s.sys = mt_test_container(e, e->O1, "sys", UINT64_MAX);
    mt_test_map(s.sys, 0, mt_test_ram(e, e->O2, "ram", 0x10000));
    mt_test_map(s.sys, 0x7ffff800, mt_test_io(e, e->O2, "io", 0x1000));
    mt_test_map(s.sys, 0x100000000ull, mt_test_io(e, e->O2, "hi", 0x1000));
    s.memory = mt_test_as(e, s.sys, "memory");
    s.bm = mt_test_container(e, e->O1, "bm", UINT64_MAX);
    s.alias = mt_test_alias(e, e->O1, "bm-alias", s.sys, offset, size);
    mt_test_map(s.bm, 0, s.alias);
    s.nic = mt_test_as(e, s.bm, "nic");
    return s;
}

static const char sys_view[] =
    "  0000000000000000-000000000000ffff (prio 0, ram): ram\n"
    "  000000007ffff800-00000000800007ff (prio 0, i/o): io\n"
    "  0000000100000000-0000000100000fff (prio 0, i/o): hi\n";

static void full_size_alias_is_skipped(void **state)
{
    mt_test_env *e = *state;
    bm_setup s = build_bm(e, 0, UINT64_MAX);
    assert_ptr_equal(mt_address_space_view(s.nic), mt_address_space_view(s.memory));
    assert_ptr_equal(mt_view_root(mt_address_space_view(s.nic)), s.sys);
    mt_assert_view(s.nic, sys_view);

    assert_flat_dump(e, 1, " AS \"memory\", root: sys\n"
                           " AS \"nic\", root: bm\n"
                           " Root memory region: sys\n");
}

static void partial_alias_is_flat_root(void **state)
{
    mt_test_env *e = *state;
    bm_setup s = build_bm(e, 0, 0x80000000);
    assert_ptr_not_equal(mt_address_space_view(s.nic), mt_address_space_view(s.memory));
    assert_ptr_equal(mt_view_root(mt_address_space_view(s.nic)), s.alias);
    assert_string_equal(mt_view_root_name(mt_address_space_view(s.nic)), "bm-alias");
    mt_assert_view(s.memory, sys_view);
    mt_assert_view(s.nic,
                   "  0000000000000000-000000000000ffff (prio 0, ram): ram\n"
                   "  000000007ffff800-000000007fffffff (prio 0, i/o): io\n");

    assert_flat_dump(e, 2, " AS \"nic\", root: bm\n"
                           " Root memory region: bm-alias\n"
                           "  0000000000000000-000000000000ffff (prio 0, ram): ram\n");
}

/* The item's second variant: offset 1000 with the full 2^64 size. */
static void offset_alias_full_size_is_flat_root(void **state)
{
    mt_test_env *e = *state;
    bm_setup s = build_bm(e, 0x1000, UINT64_MAX);
    assert_ptr_not_equal(mt_address_space_view(s.nic), mt_address_space_view(s.memory));
    assert_ptr_equal(mt_view_root(mt_address_space_view(s.nic)), s.alias);
    mt_assert_view(s.nic,
                   "  0000000000000000-000000000000efff (prio 0, ram): ram @0000000000001000\n"
                   "  000000007fffe800-000000007ffff7ff (prio 0, i/o): io\n"
                   "  00000000fffff000-00000000ffffffff (prio 0, i/o): hi\n");
}

static void no_enabled_child_empty_view(void **state)
{
    mt_test_env *e = *state;
    bm_setup s = build_bm(e, 0, UINT64_MAX);
    assert_int_equal(mt_region_set_enabled(s.alias, false), 0);
    const mt_view *v = mt_address_space_view(s.nic);
    assert_true(mt_view_is_empty_view(v));
    assert_null(mt_view_root(v));
    assert_int_equal(mt_view_range_count(v), 0);
    assert_null(mt_view_find_range(v, 0));
    mt_assert_view(s.memory, sys_view);

    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT, " AS \"nic\", root: bm\n"
                                                  " Root memory region: (none)\n"
                                                  "  No rendered FlatView\n\n");

    /* Every address space without a flat-root shares the one empty view. */
    mt_region *bm2 = mt_test_container(e, e->O1, "bm2", UINT64_MAX);
    mt_address_space *nic2 = mt_test_as(e, bm2, "nic2");
    assert_ptr_equal(mt_address_space_view(nic2), mt_address_space_view(s.nic));
}

/* ---- destroying an address space ---------------------------------------- */

static void destroy_address_space(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_ram_at(e, 0x2000, "r2", 0x1000);
    mt_test_reclaim(e);
    /* ours + the address space's reference on C's owner */
    assert_int_equal(mt_owner_refcount(e->O1), 2);
    assert_int_equal(mt_test_stats(e->ctx).address_spaces, 1);

    mt_test_as_destroy(e, e->X);
    assert_null(mt_context_first_address_space(e->ctx));
    assert_int_equal(mt_test_stats(e->ctx).address_spaces, 0);
    mt_assert_dump_not_contains(e->ctx, 0, "address-space: X");
    mt_assert_dump_not_contains(e->ctx, MT_DUMP_FLAT, "AS \"X\"");

    /* The reference goes with the grace period, not before. */
    assert_int_equal(mt_owner_refcount(e->O1), 2);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O1), 1);

    /* Later commits no longer involve it: the next one renders nothing,
     * and C's ranges are released (only the two links remain on O2). */
    uint64_t renders = mt_test_renders(e->ctx);
    mt_test_ram_at(e, 0x4000, "r3", 0x1000);
    assert_int_equal(mt_test_renders(e->ctx), renders);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), 1 + 3);
    assert_int_equal(mt_test_stats(e->ctx).live_views, 0);
}

/* ---- exact owner reference counts ---------------------------------------- */

static void exact_owner_counts(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0, "r", 0x1000);
    mt_region *m = mt_test_io_at(e, 0x1000, "m", 0x1000);
    mt_test_reclaim(e);
    /* O1: the address space; the flat-root link (C) counts nothing. */
    assert_ptr_equal(mt_view_root(mt_address_space_view(e->X)), e->C);
    assert_int_equal(mt_owner_refcount(e->O1), 1 + 1);
    /* O2: two cross-owner links and two ranges. */
    assert_int_equal(mt_owner_refcount(e->O2), 1 + 4);

    /* A same-owner link counts nothing; its range counts one. */
    mt_region *own = mt_test_ram(e, e->O1, "own", 0x1000);
    mt_test_map(e->C, 0x2000, own);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O1), 1 + 2);
    assert_int_equal(mt_owner_refcount(e->O2), 1 + 4);

    mt_test_unmap(e->C, m);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), 1 + 2);
    assert_int_equal(mt_owner_refcount(e->O1), 1 + 2);
}

/* The same table with a terminal flat-root and an alias in between: the
 * address space and the range count, the flat-root link does not, and an
 * alias (never named by a range) costs its owner nothing but its link. */
static void terminal_flat_root_and_alias_counts(void **state)
{
    mt_test_env *e = *state;
    mt_region *solo = mt_test_io(e, e->O3, "solo", 0x1000);
    mt_address_space *as = mt_test_as(e, solo, "solo");
    mt_test_reclaim(e);
    assert_ptr_equal(mt_view_root(mt_address_space_view(as)), solo);
    assert_int_equal(mt_owner_refcount(e->O3), 1 + 2);

    mt_test_std(e);
    mt_test_bg(e); /* O2: link + range */
    mt_region *a = mt_test_alias(e, e->O1, "a", solo, 0, 0x1000);
    mt_test_map(e->C, 0x4000, a);
    mt_test_reclaim(e);
    /* O1: X only (the link C→a is same-owner); O3: one more range. */
    assert_int_equal(mt_owner_refcount(e->O1), 1 + 1);
    assert_int_equal(mt_owner_refcount(e->O3), 1 + 3);
    assert_int_equal(mt_owner_refcount(e->O2), 1 + 1 + 2); /* bg split in two */
}

MT_TEST_MAIN(
    MT_TEST(same_flat_root_same_view),
    MT_TEST(full_size_alias_is_skipped),
    MT_TEST(partial_alias_is_flat_root),
    MT_TEST(offset_alias_full_size_is_flat_root),
    MT_TEST(no_enabled_child_empty_view),
    MT_TEST(destroy_address_space),
    MT_TEST(exact_owner_counts),
    MT_TEST(terminal_flat_root_and_alias_counts))
