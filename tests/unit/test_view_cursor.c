/*
 * mt_view_next_range: a walk over a view's ranges without the copy
 * mt_view_ranges makes of a view of many chunks (docs/views.md, "How a
 * view is stored"). It must give every range once, in address order, the
 * same ones mt_view_ranges gives, and the very pointers lookups give.
 */
#include "mt_test.h"

#include <stdlib.h>

#define PAGE 0x1000ull

/* n RAM regions one page apart, mapped in one commit; the view's range count. */
static size_t walk_matches_copy(size_t n)
{
    mt_context *ctx = mt_context_new();
    assert_non_null(ctx);
    mt_region root, *r = calloc(n ? n : 1, sizeof(*r));
    assert_non_null(r);
    assert_int_equal(mt_region_init_container(&root, ctx, NULL, "root", UINT64_MAX), 0);
    mt_address_space *as = mt_address_space_new(ctx, &root, "as");
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mt_region_init_reservation(&r[i], ctx, NULL, "res", PAGE), 0);
        assert_int_equal(mt_region_add_subregion(&root, 2 * PAGE * i, &r[i]), 0);
    }
    assert_int_equal(mt_transaction_commit(ctx), 0);

    mt_view *v = mt_address_space_view(as);
    size_t count = mt_view_range_count(v);
    const mt_range *copy = mt_view_ranges(v);
    mt_view_cursor c = MT_VIEW_CURSOR_INIT;
    size_t k = 0;
    for (const mt_range *x; (x = mt_view_next_range(v, &c)) != NULL; k++) {
        assert_true(k < count);
        assert_true(x->start == copy[k].start && x->last == copy[k].last);
        assert_ptr_equal(x->region, copy[k].region);
        assert_ptr_equal(mt_view_find_range(v, x->start), x);
    }
    assert_int_equal(k, count);
    /* a finished cursor stays finished */
    assert_null(mt_view_next_range(v, &c));

    mt_address_space_destroy(as);
    assert_int_equal(mt_context_reclaim(ctx), 0);
    assert_int_equal(mt_region_finalize(&root), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mt_region_finalize(&r[i]), 0);
    free(r);
    mt_context_free(ctx);
    return count;
}

static void empty_view(void **state)
{
    (void)state;
    assert_int_equal(walk_matches_copy(0), 0);
}

static void one_chunk(void **state)
{
    (void)state;
    assert_int_equal(walk_matches_copy(10), 10);
}

static void many_chunks(void **state)
{
    (void)state;
    assert_int_equal(walk_matches_copy(5000), 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_view),
        cmocka_unit_test(one_chunk),
        cmocka_unit_test(many_chunks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
