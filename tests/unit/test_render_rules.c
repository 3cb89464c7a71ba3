/*
 * Rendering and priority (docs/rendering.md, "The rules"):
 * render order among equal and different priorities, set_address re-mapping,
 * the documentation example, terminal regions with children, disabled and
 * zero-size regions, the 2^64 size rule, clipping, and the AS root's address.
 * What listeners hear of a re-mapping belongs to the listener tests.
 */
#include "mt_test.h"

#include <stdlib.h>
#include <string.h>

/* ---- among equal priorities the newest mapping wins ---------- */

static const char item01_r1_first[] =
    "  0000000000000000-0000000000000fff (prio 0, ram): r1\n"
    "  0000000000001000-0000000000002fff (prio 0, i/o): m2\n";
static const char item01_m2_first[] =
    "  0000000000000000-0000000000001fff (prio 0, ram): r1\n"
    "  0000000000002000-0000000000002fff (prio 0, i/o): m2 @0000000000001000\n";

/* Maps r1 at 0 and m2 at 1000 in the given order, with plain mapping when
 * prio is NULL, else add_subregion_overlap with *prio. */
static void build_item01(mt_test_env *e, bool r1_first, const int32_t *prio,
                         mt_region **r1_out)
{
    mt_test_std(e);
    mt_region *r1 = mt_test_ram(e, e->O2, "r1", 0x2000);
    mt_region *m2 = mt_test_io(e, e->O2, "m2", 0x2000);
    for (int step = 0; step < 2; step++) {
        bool map_r1 = (step == 0) == r1_first;
        mt_region *sub = map_r1 ? r1 : m2;
        uint64_t addr = map_r1 ? 0 : 0x1000;
        if (prio)
            mt_test_map_prio(e->C, addr, sub, *prio);
        else
            mt_test_map(e->C, addr, sub);
    }
    if (r1_out)
        *r1_out = r1;
}

static void last_mapped_wins_r1_first(void **state)
{
    mt_test_env *e = *state;
    build_item01(e, true, NULL, NULL);
    mt_assert_view(e->X, item01_r1_first);
}

static void last_mapped_wins_m2_first(void **state)
{
    mt_test_env *e = *state;
    build_item01(e, false, NULL, NULL);
    mt_assert_view(e->X, item01_m2_first);
}

/* The equal-priority blocks with `prio 0` replaced by `prio 5`. */
static char *with_prio5(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = strstr(s, "prio 0,"); p; p = strstr(p, "prio 0,"))
        p[5] = '5';
    return s;
}

static void equal_explicit_priorities_r1_first(void **state)
{
    mt_test_env *e = *state;
    const int32_t five = 5;
    build_item01(e, true, &five, NULL);
    char *want = with_prio5(item01_r1_first);
    mt_test__check_text(mt_test_as_text(e->X), want, "view of X", __FILE__, __LINE__);
    free(want);
}

static void equal_explicit_priorities_m2_first(void **state)
{
    mt_test_env *e = *state;
    const int32_t five = 5;
    build_item01(e, false, &five, NULL);
    char *want = with_prio5(item01_m2_first);
    mt_test__check_text(mt_test_as_text(e->X), want, "view of X", __FILE__, __LINE__);
    free(want);
}

/* ---- set_address re-maps and reorders ---------------------------------- */

static void set_address_remaps_and_reorders(void **state)
{
    mt_test_env *e = *state;
    mt_region *r1;
    build_item01(e, true, NULL, &r1);
    mt_view *before = mt_address_space_view(e->X);
    uint64_t renders = mt_test_renders(e->ctx);

    /* The current address: nothing at all happens, order included. */
    assert_int_equal(mt_region_set_address(r1, 0), 0);
    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_ptr_equal(mt_address_space_view(e->X), before);
    mt_assert_view(e->X, item01_r1_first);

    assert_int_equal(mt_region_set_address(r1, 0x5000), 0);
    mt_assert_view(e->X,
                   "  0000000000001000-0000000000002fff (prio 0, i/o): m2\n"
                   "  0000000000005000-0000000000006fff (prio 0, ram): r1\n");
    /* Back at 0, r1 is now the newest of its priority class. */
    assert_int_equal(mt_region_set_address(r1, 0), 0);
    mt_assert_view(e->X, item01_m2_first);
    assert_int_equal(mt_region_addr(r1), 0);
    assert_ptr_equal(mt_region_first_subregion(e->C), r1);
}

/* ---- higher priority wins whatever the order --------------------------- */

static void priority_beats_order_all_permutations(void **state)
{
    (void)state;
    static const int perms[6][3] = {
        {0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0},
    };
    for (int p = 0; p < 6; p++) {
        /* A fresh context each time, as the item asks. */
        mt_test_env *e = mt_test_env_new();
        mt_test_std(e);
        mt_region *r[3] = {
            mt_test_io(e, e->O2, "hi", 0x1000),
            mt_test_ram(e, e->O2, "lo", 0x4000),
            mt_test_io(e, e->O2, "back", 0x10000),
        };
        static const int32_t prio[3] = {2, 1, -1};
        for (int i = 0; i < 3; i++)
            mt_test_map_prio(e->C, 0, r[perms[p][i]], prio[perms[p][i]]);
        mt_assert_view(e->X,
                       "  0000000000000000-0000000000000fff (prio 2, i/o): hi\n"
                       "  0000000000001000-0000000000003fff (prio 1, ram): lo @0000000000001000\n"
                       "  0000000000004000-000000000000ffff (prio -1, i/o): back @0000000000004000\n");
        assert_int_equal(mt_test_env_free(e), 0);
    }
}

/* ---- the documentation example (docs/rendering.md, "Worked example") ------------------- */

static void build_item05(mt_test_env *e, bool b_is_mmio)
{
    mt_region *A = mt_test_container(e, e->O1, "A", 0x8000);
    mt_address_space *as = mt_test_as(e, A, "A");
    mt_region *B = b_is_mmio ? mt_test_io(e, e->O2, "B", 0x4000)
                             : mt_test_container(e, e->O2, "B", 0x4000);
    mt_region *D = mt_test_io(e, e->O2, "D", 0x1000);
    mt_region *E = mt_test_io(e, e->O2, "E", 0x1000);
    mt_region *C5 = mt_test_io(e, e->O2, "C5", 0x6000);
    mt_test_map(B, 0, D);
    mt_test_map(B, 0x2000, E);
    mt_test_map_prio(A, 0x2000, B, 2);
    mt_test_map_prio(A, 0, C5, 1);
    e->X = as;
}

static void documentation_example(void **state)
{
    mt_test_env *e = *state;
    build_item05(e, false);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000001fff (prio 1, i/o): C5\n"
                   "  0000000000002000-0000000000002fff (prio 0, i/o): D\n"
                   "  0000000000003000-0000000000003fff (prio 1, i/o): C5 @0000000000003000\n"
                   "  0000000000004000-0000000000004fff (prio 0, i/o): E\n"
                   "  0000000000005000-0000000000005fff (prio 1, i/o): C5 @0000000000005000\n");
    /* 6000-7fff is covered by nothing: unassigned. */
    const mt_view *v = mt_address_space_view(e->X);
    assert_null(mt_view_find_range(v, 0x6000));
    assert_null(mt_view_find_range(v, 0x7fff));
}

static void documentation_example_mmio_b(void **state)
{
    mt_test_env *e = *state;
    build_item05(e, true);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000001fff (prio 1, i/o): C5\n"
                   "  0000000000002000-0000000000002fff (prio 0, i/o): D\n"
                   "  0000000000003000-0000000000003fff (prio 2, i/o): B @0000000000001000\n"
                   "  0000000000004000-0000000000004fff (prio 0, i/o): E\n"
                   "  0000000000005000-0000000000005fff (prio 2, i/o): B @0000000000003000\n");
    const mt_view *v = mt_address_space_view(e->X);
    assert_null(mt_view_find_range(v, 0x6000));
    assert_null(mt_view_find_range(v, 0x7fff));
}

/* ---- priorities are local to a container ------------------------------- */

static void priorities_are_local(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *H = mt_test_container(e, e->O2, "H", 0x2000);
    mt_region *rlow = mt_test_ram(e, e->O2, "rlow", 0x1000);
    mt_region *K = mt_test_container(e, e->O2, "K", 0x2000);
    mt_region *mhigh = mt_test_io(e, e->O2, "mhigh", 0x2000);
    mt_test_map_prio(H, 0, rlow, -5);
    mt_test_map_prio(K, 0, mhigh, 100);
    mt_test_map_prio(e->C, 0, H, 2);
    mt_test_map_prio(e->C, 0, K, 1);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio -5, ram): rlow\n"
                   "  0000000000001000-0000000000001fff (prio 100, i/o): mhigh @0000000000001000\n");
}

/* ---- a terminal region with children fills its own holes --------------- */

static void terminal_with_children_fills_holes(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x4000);
    mt_region *mmio = mt_test_io(e, e->O2, "mmio", 0x1000);
    mt_region *other = mt_test_io(e, e->O2, "other", 0x1000);
    mt_test_map(ram, 0x1000, mmio);
    mt_test_map(e->C, 0, ram);
    mt_test_map(e->C, 0x8000, other);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
                   "  0000000000001000-0000000000001fff (prio 0, i/o): mmio\n"
                   "  0000000000002000-0000000000003fff (prio 0, ram): ram @0000000000002000\n"
                   "  0000000000008000-0000000000008fff (prio 0, i/o): other\n");
}

/* ---- a container with no enabled children ------------------------------ */

static const char bg_only[] = "  0000000000000000-000000000000ffff (prio -1, i/o): bg\n";

static void empty_container_contributes_nothing(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *empty = mt_test_container(e, e->O2, "empty", 0x1000);
    mt_test_map_prio(e->C, 0x1000, empty, 1);
    mt_assert_view(e->X, bg_only);
}

/* ---- disabling a container hides its subtree --------------------------- */

static void disable_and_enable_container(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *k = mt_test_container(e, e->O2, "k", 0x2000);
    mt_region *k1 = mt_test_ram(e, e->O2, "k1", 0x1000);
    mt_region *k2 = mt_test_ram(e, e->O2, "k2", 0x1000);
    mt_test_map(k, 0, k1);
    mt_test_map(k, 0x1000, k2);
    mt_test_map_prio(e->C, 0x1000, k, 1);
    static const char shown[] =
        "  0000000000000000-0000000000000fff (prio -1, i/o): bg\n"
        "  0000000000001000-0000000000001fff (prio 0, ram): k1\n"
        "  0000000000002000-0000000000002fff (prio 0, ram): k2\n"
        "  0000000000003000-000000000000ffff (prio -1, i/o): bg @0000000000003000\n";
    mt_assert_view(e->X, shown);

    assert_int_equal(mt_region_set_enabled(k, false), 0);
    assert_false(mt_region_enabled(k));
    mt_assert_view(e->X, bg_only);
    assert_int_equal(mt_region_set_enabled(k, true), 0);
    mt_assert_view(e->X, shown);
}

/* ---- zero-size regions render nothing --------------------------------- */

static void zero_size_renders_nothing(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *z = mt_test_io(e, e->O2, "z", 0);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *za = mt_test_alias(e, e->O2, "za", t, 0, 0);
    mt_region *zc = mt_test_container(e, e->O2, "zc", 0);
    mt_region *zc1 = mt_test_ram(e, e->O2, "zc1", 0x100);
    mt_test_map_prio(e->C, 0x5000, z, 1);
    mt_test_map_prio(e->C, 0x6000, za, 1);
    mt_test_map(zc, 0, zc1);
    mt_test_map_prio(e->C, 0x7000, zc, 1);
    mt_assert_view(e->X, bg_only);

    char *dump = mt_test_dump(e->ctx, 0);
    mt_assert_contains(
        dump,
        "    0000000000005000-0000000000005000 (prio 1, i/o): z\n"
        "    0000000000006000-0000000000006000 (prio 1, ram): alias za @t 0000000000000000-0000000000000000\n"
        "    0000000000007000-0000000000007000 (prio 1, i/o): zc\n"
        "      0000000000007000-00000000000070ff (prio 0, ram): zc1\n");
    free(dump);
}

/* Variant: a zero-size only child at 0 is still the single child of the
 * descent (docs/views.md, "The flat-root"), so it becomes the flat-root. */
static void zero_size_only_child_is_flat_root(void **state)
{
    mt_test_env *e = *state;
    mt_region *C10 = mt_test_container(e, e->O1, "C10", 0x10000);
    mt_region *z0 = mt_test_io(e, e->O2, "z0", 0);
    mt_test_map(C10, 0, z0);
    mt_address_space *as = mt_test_as(e, C10, "Y");
    const mt_view *v = mt_address_space_view(as);
    assert_ptr_equal(mt_view_root(v), z0);
    assert_string_equal(mt_view_root_name(v), "z0");
    assert_false(mt_view_is_empty_view(v));
    assert_int_equal(mt_view_range_count(v), 0);

    char *dump = mt_test_dump(e->ctx, MT_DUMP_FLAT);
    mt_assert_contains(dump,
                       " AS \"Y\", root: C10\n"
                       " Root memory region: z0\n"
                       "  No rendered FlatView\n");
    free(dump);
}

/* ---- the 2^64 size rule ------------------------------------------------ */

static void size_rule_2_64(void **state)
{
    mt_test_env *e = *state;
    mt_region *all = mt_test_io(e, e->O2, "all", UINT64_MAX);
    uint64_t low = 1;
    assert_true(mt_region_size_exact(all, &low));
    assert_int_equal(low, 0);
    assert_int_equal(mt_region_size(all), UINT64_MAX);

    mt_address_space *as = mt_test_as(e, all, "all");
    mt_assert_view(as, "  0000000000000000-ffffffffffffffff (prio 0, i/o): all\n");
    const mt_range *rg = mt_view_find_range(mt_address_space_view(as), UINT64_MAX);
    assert_non_null(rg);
    assert_ptr_equal(rg->region, all);
    /* start 0 and inclusive last 2^64-1: exactly 2^64 bytes */
    assert_int_equal(rg->start, 0);
    assert_int_equal(rg->last, UINT64_MAX);
    assert_int_equal(rg->offset_in_region, 0);

    mt_region *big = mt_test_io(e, e->O2, "big", UINT64_MAX - 1);
    assert_false(mt_region_size_exact(big, &low));
    assert_int_equal(low, 0xfffffffffffffffeull);
    assert_int_equal(mt_region_size(big), 0xfffffffffffffffeull);
    mt_test_as(e, big, "big");
    mt_assert_dump_contains(e->ctx, 0, "address-space: big\n"
                                       "  0000000000000000-fffffffffffffffd (prio 0, i/o): big\n");
}

/* ---- clipping at 2^64 and the overflow marker ------------------------- */

static void clipping_at_2_64_and_overflow_marker(void **state)
{
    mt_test_env *e = *state;
    mt_test_std_size(e, UINT64_MAX);
    mt_test_ram_at(e, 0, "low", 0x1000);
    mt_region *top = mt_test_io_at(e, 0xfffffffffffff000ull, "top", 0x2000);
    static const char view[] =
        "  0000000000000000-0000000000000fff (prio 0, ram): low\n"
        "  fffffffffffff000-ffffffffffffffff (prio 0, i/o): top\n";
    mt_assert_view(e->X, view);
    mt_assert_dump_contains(e->ctx, 0,
                            "\n[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff "
                            "(prio 0, i/o): top\n");

    /* Exactly reaching 2^64 is not an overflow. */
    assert_int_equal(mt_region_set_size(top, 0x1000), 0);
    mt_assert_view(e->X, view);
    mt_assert_dump_contains(e->ctx, 0,
                            "\n    fffffffffffff000-ffffffffffffffff (prio 0, i/o): top\n");
    mt_assert_dump_not_contains(e->ctx, 0, "DETECTED OVERFLOW");
}

/* ---- a subregion is clipped to its container -------------------------- */

static void subregion_clipped_to_container(void **state)
{
    mt_test_env *e = *state;
    mt_test_std_size(e, UINT64_MAX);
    mt_test_bg(e);
    mt_region *box = mt_test_container(e, e->O2, "box", 0x1000);
    mt_region *wide = mt_test_ram(e, e->O2, "wide", 0x4000);
    mt_test_map(box, 0x800, wide);
    mt_test_map(e->C, 0x10000, box);
    mt_assert_view(e->X,
                   "  0000000000000000-000000000000ffff (prio -1, i/o): bg\n"
                   "  0000000000010800-0000000000010fff (prio 0, ram): wide\n");
}

/* ---- the AS root's own address ------------------------------------------ */

static void as_root_own_address(void **state)
{
    mt_test_env *e = *state;
    mt_region *P = mt_test_container(e, e->O1, "P", 0x100000);
    mt_address_space *outer = mt_test_as(e, P, "outer");
    mt_region *S = mt_test_container(e, e->O1, "S", 0x10000);
    mt_region *s1 = mt_test_io(e, e->O2, "s1", 0x100);
    mt_region *s2 = mt_test_io(e, e->O2, "s2", 0x100);
    mt_test_map(P, 0x80000, S);
    mt_test_map(S, 0, s1);
    mt_test_map(S, 0x200, s2);
    mt_address_space *Y = mt_test_as(e, S, "Y");

    /* Two children: S itself is the flat-root and its addr applies. */
    static const char shifted[] =
        "  0000000000080000-00000000000800ff (prio 0, i/o): s1\n"
        "  0000000000080200-00000000000802ff (prio 0, i/o): s2\n";
    assert_ptr_equal(mt_view_root(mt_address_space_view(Y)), S);
    mt_assert_view(Y, shifted);
    /* P has one child, but not at 0: P is outer's flat-root. */
    assert_ptr_equal(mt_view_root(mt_address_space_view(outer)), P);
    mt_assert_view(outer, shifted);

    /* One child at 0: the descent skips S, whose addr no longer applies. */
    mt_test_unmap(S, s2);
    assert_ptr_equal(mt_view_root(mt_address_space_view(Y)), s1);
    mt_assert_view(Y, "  0000000000000000-00000000000000ff (prio 0, i/o): s1\n");
    mt_assert_view(outer, "  0000000000080000-00000000000800ff (prio 0, i/o): s1\n");
}

MT_TEST_MAIN(
    MT_TEST(last_mapped_wins_r1_first),
    MT_TEST(last_mapped_wins_m2_first),
    MT_TEST(equal_explicit_priorities_r1_first),
    MT_TEST(equal_explicit_priorities_m2_first),
    MT_TEST(set_address_remaps_and_reorders),
    MT_TEST(priority_beats_order_all_permutations),
    MT_TEST(documentation_example),
    MT_TEST(documentation_example_mmio_b),
    MT_TEST(priorities_are_local),
    MT_TEST(terminal_with_children_fills_holes),
    MT_TEST(empty_container_contributes_nothing),
    MT_TEST(disable_and_enable_container),
    MT_TEST(zero_size_renders_nothing),
    MT_TEST(zero_size_only_child_is_flat_root),
    MT_TEST(size_rule_2_64),
    MT_TEST(clipping_at_2_64_and_overflow_marker),
    MT_TEST(subregion_clipped_to_container),
    MT_TEST(as_root_own_address))
