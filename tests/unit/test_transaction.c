/*
 * Transactions without listeners (docs/transactions.md): nested transactions
 * render once per distinct flat-root at the outermost commit, edits that
 * change nothing render nothing, and address spaces created inside a
 * transaction share a cached view or render the uncommitted tree
 * (docs/views.md, "When views are built"). Render counts come from
 * mt_context_get_stats(); listener callbacks are checked elsewhere.
 */
#include "mt_test.h"

#include <stdlib.h>

/* ---- nested transactions commit once -------------------------------------- */

static void nested_transactions_commit_once(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r1 = mt_test_ram(e, e->O2, "r1", 0x1000);
    mt_test_map_prio(e->C, 0, r1, 1);
    /* Y shares X's flat-root; Z has a flat-root of its own (D). */
    mt_address_space *Y = mt_test_as(e, e->C, "Y");
    mt_region *D = mt_test_container(e, e->O1, "D", 0x10000);
    mt_test_map(D, 0, mt_test_ram(e, e->O2, "dr", 0x1000));
    mt_test_map(D, 0x1000, mt_test_io(e, e->O2, "dm", 0x1000));
    mt_address_space *Z = mt_test_as(e, D, "Z");
    static const char before[] =
        "  0000000000000000-0000000000000fff (prio 1, ram): r1\n"
        "  0000000000001000-000000000000ffff (prio -1, i/o): bg @0000000000001000\n";
    mt_assert_view(e->X, before);
    mt_view *v0 = mt_address_space_view(e->X);
    uint64_t renders = mt_test_renders(e->ctx);

    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_transaction_depth(e->ctx), 2);
    mt_region *m1 = mt_test_io(e, e->O2, "m1", 0x100);
    mt_test_map_prio(e->C, 0x8000, m1, 1);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(mt_transaction_depth(e->ctx), 1);
    /* The inner commit only defers. */
    assert_ptr_equal(mt_region_container(m1), e->C);
    assert_ptr_equal(mt_address_space_view(e->X), v0);
    mt_assert_view(e->X, before);
    assert_int_equal(mt_test_renders(e->ctx), renders);

    assert_int_equal(mt_region_set_enabled(r1, false), 0);
    mt_assert_view(e->X, before);
    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(mt_transaction_depth(e->ctx), 0);

    /* Two distinct flat-roots (C for X and Y, D for Z), one of them
     * edited: C's view renders again, D's is kept (docs/transactions.md). */
    assert_int_equal(mt_test_renders(e->ctx), renders + 1);
    static const char after[] =
        "  0000000000000000-0000000000007fff (prio -1, i/o): bg\n"
        "  0000000000008000-00000000000080ff (prio 1, i/o): m1\n"
        "  0000000000008100-000000000000ffff (prio -1, i/o): bg @0000000000008100\n";
    mt_assert_view(e->X, after);
    assert_ptr_equal(mt_address_space_view(Y), mt_address_space_view(e->X));
    mt_assert_view(Z,
                   "  0000000000000000-0000000000000fff (prio 0, ram): dr\n"
                   "  0000000000001000-0000000000001fff (prio 0, i/o): dm\n");
}

/* ---- edits that change nothing do nothing ------------------------------- */

static void noop_edits_render_nothing(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r = mt_test_ram_at(e, 0, "r", 0x1000);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, 0x100, 0x100);
    mt_test_map(e->C, 0x4000, a);
    mt_region *d = mt_test_io(e, e->O2, "d", 0x1000);
    assert_int_equal(mt_region_set_enabled(d, false), 0);
    mt_test_map(e->C, 0x8000, d);

    mt_view *v = mt_address_space_view(e->X);
    char *view = mt_test_as_text(e->X);
    char *tree = mt_test_tree_text(e->C);
    uint64_t renders = mt_test_renders(e->ctx);

    assert_int_equal(mt_region_set_enabled(d, false), 0);
    assert_int_equal(mt_region_set_size(r, mt_region_size(r)), 0);
    assert_int_equal(mt_region_set_alias_offset(a, 0x100), 0);
    assert_int_equal(mt_region_set_readonly(r, false), 0);
    assert_int_equal(mt_region_set_address(r, 0), 0);
    /* The same holds for the other property edits. */
    assert_int_equal(mt_region_set_enabled(r, true), 0);
    assert_int_equal(mt_region_set_nonvolatile(r, false), 0);
    assert_int_equal(mt_region_set_priority(r, 0), 0);
    assert_int_equal(mt_region_set_size(a, 0x100), 0);

    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_int_equal(mt_transaction_depth(e->ctx), 0);
    assert_ptr_equal(mt_address_space_view(e->X), v);
    mt_assert_view(e->X, view);
    mt_assert_text(mt_test_tree_text(e->C), tree);
    free(view);
    free(tree);
}

/* ---- creating an address space inside a transaction ---------------------- */

static void address_space_created_in_transaction(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_ram_at(e, 0x1000, "r2", 0x1000);
    mt_region *D = mt_test_container(e, e->O1, "D", 0x10000);
    static const char committed[] =
        "  0000000000000000-0000000000000fff (prio 0, ram): r1\n"
        "  0000000000001000-0000000000001fff (prio 0, ram): r2\n";
    static const char with_m3[] =
        "  0000000000000000-0000000000000fff (prio 0, ram): r1\n"
        "  0000000000001000-0000000000001fff (prio 0, ram): r2\n"
        "  0000000000002000-0000000000002fff (prio 0, i/o): m3\n";
    static const char d_view[] =
        "  0000000000000000-0000000000000fff (prio 0, ram): r4\n"
        "  0000000000001000-0000000000001fff (prio 0, i/o): m5\n";
    mt_assert_view(e->X, committed);

    mt_transaction_begin(e->ctx);
    mt_test_io_at(e, 0x2000, "m3", 0x1000);
    mt_test_map(D, 0, mt_test_ram(e, e->O2, "r4", 0x1000));
    mt_test_map(D, 0x1000, mt_test_io(e, e->O2, "m5", 0x1000));
    uint64_t renders = mt_test_renders(e->ctx);

    /* C's view is cached: Y shares it, with the last commit's content. */
    mt_address_space *Y = mt_test_as(e, e->C, "Y");
    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_ptr_equal(mt_address_space_view(Y), mt_address_space_view(e->X));
    mt_assert_view(Y, committed);
    /* D has no view yet: Z's is rendered now from the uncommitted tree. */
    mt_address_space *Z = mt_test_as(e, D, "Z");
    assert_int_equal(mt_test_renders(e->ctx), renders + 1);
    assert_ptr_equal(mt_view_root(mt_address_space_view(Z)), D);
    mt_assert_view(Z, d_view);
    mt_assert_view(e->X, committed);

    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_ptr_equal(mt_address_space_view(Y), mt_address_space_view(e->X));
    mt_assert_view(e->X, with_m3);
    mt_assert_view(Z, d_view);
    assert_ptr_not_equal(mt_address_space_view(Z), mt_address_space_view(e->X));
}

MT_TEST_MAIN(
    MT_TEST(nested_transactions_commit_once),
    MT_TEST(noop_edits_render_nothing),
    MT_TEST(address_space_created_in_transaction))
