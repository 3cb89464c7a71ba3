/*
 * Bug (issue 12): destroying an address space inside an open transaction
 * sent its listeners no region_del. The destroy's own commit was nested,
 * so it did nothing; the address space then left the context's list and
 * its listeners were detached before the outer commit, which no longer saw
 * it. Fixed in src/txn.c and src/address_space.c: a destroyed address
 * space stays on the list, resolving to the empty view, until the
 * outermost commit has sent its region_del (between global begin and
 * commit); then it is unlinked and its listeners detached.
 * Fixed by commit dc7055b.
 */
#include "mt_mirror.h"
#include "mt_test.h"

static void test_region_del_at_outer_commit(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0x1000, "ram", 0x1000);
    mt_test_ram_at(e, 0x4000, "ram2", 0x1000);
    mt_address_space *as = mt_address_space_new(e->ctx, e->C, "dma");
    mt_mirror m;
    mt_mirror_init(&m);
    assert_int_equal(mt_listener_register(&m.l, as), 0);
    assert_int_equal(m.n, 2);

    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_address_space_destroy(as), 0);
    /* nothing yet: views change at the outermost commit */
    assert_int_equal(m.n, 2);
    assert_null(mt_address_space_next(e->X));
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    if (m.failure[0])
        fail_msg("%s", m.failure);
    assert_int_equal(m.n, 0); /* a region_del for each range */
    assert_int_equal(m.depth, 0);
    assert_null(m.l.as_); /* detached after */
    assert_int_equal(e->diag.count, 0);
}

static void test_nested_deeper(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram_at(e, 0x1000, "ram", 0x1000);
    mt_address_space *as = mt_address_space_new(e->ctx, e->C, "dma");
    mt_mirror m;
    mt_mirror_init(&m);
    assert_int_equal(mt_listener_register(&m.l, as), 0);
    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_address_space_destroy(as), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(m.n, 1);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(m.n, 0);
    if (m.failure[0])
        fail_msg("%s", m.failure);
}

MT_TEST_MAIN(
    MT_TEST(test_region_del_at_outer_commit),
    MT_TEST(test_nested_deeper))
