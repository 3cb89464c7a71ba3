/*
 * Bug (issue 12): freeing a context with a transaction still open was not
 * flagged, and the open transaction's edits never reached the listeners
 * (address spaces destroyed by mt_context_free commit inside it, so their
 * region_del never came either). Fixed in src/context.c: reported through
 * the context's hook in every build, naming the depth, and the open
 * transactions are committed before the context goes.
 * Fixed by commit e617b14.
 */
#include "mt_mirror.h"
#include "mt_test.h"


struct log {
    unsigned count;
    char first[512], last[512];
};

static void record(void *opaque, const char *message)
{
    struct log *l = opaque;
    if (l->count++ == 0)
        snprintf(l->first, sizeof(l->first), "%s", message);
    snprintf(l->last, sizeof(l->last), "%s", message);
}

static void test_open_transaction_at_free(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    struct log log = {0};
    mt_context_set_diag(ctx, record, &log);
    static uint8_t backing[0x1000];
    mt_region root, ram;
    assert_int_equal(mt_region_init_container(&root, ctx, NULL, NULL, 0x10000), 0);
    assert_int_equal(mt_region_init_ram_ptr(&ram, ctx, NULL, NULL, 0x1000, backing), 0);
    assert_int_equal(mt_region_add_subregion(&root, 0x1000, &ram), 0);
    mt_address_space *as = mt_address_space_new(ctx, &root, "memory");
    mt_mirror m;
    mt_mirror_init(&m);
    assert_int_equal(mt_listener_register(&m.l, as), 0);
    assert_int_equal(m.n, 1);

    mt_transaction_begin(ctx);
    mt_transaction_begin(ctx);
    assert_int_equal(mt_region_del_subregion(&root, &ram), 0);
    assert_int_equal(mt_address_space_destroy(as), 0);
    assert_int_equal(mt_region_finalize(&root), 0);
    assert_int_equal(m.n, 1); /* nothing committed yet */
    /* the caller forgets both commits and frees the context */
    mt_context_free(ctx);
    if (m.failure[0])
        fail_msg("%s", m.failure);
    assert_int_equal(m.depth, 0);
    assert_int_equal(m.n, 0); /* the region_del came */
    assert_int_equal(log.count, 2);
    mt_assert_contains(log.first, "2 transaction(s) still open");
    mt_assert_contains(log.last, "1 live region");
    /* the region left live keeps the context (closed) until it goes
     * (test_region_outlives_context) */
    assert_int_equal(mt_region_finalize(&ram), 0);
}

MT_TEST_MAIN(
    cmocka_unit_test(test_open_transaction_at_free))
