/*
 * Bug: the view queries (mt_view_range_count, mt_view_ranges,
 * mt_view_next_range, mt_view_root, mt_view_root_name,
 * mt_view_is_empty_view, mt_view_ref, mt_view_unref) read through a NULL
 * view and crashed, where mt_view_lookup and mt_view_find_range report it;
 * and mt_view_unref on a view whose last reference was gone took its count
 * below zero (to UINT_MAX: the view was never freed, and nothing said
 * why). Fixed in src/view.c: each reports and answers as for an empty
 * view; an unref with no reference left is reported and ignored.
 */
#include "mt_test.h"

#include <stdio.h>
#include <stdlib.h>

/* Every view query given NULL, its answers kept. */
struct answers {
    size_t count;
    const mt_range *ranges, *next;
    mt_region *root;
    const char *name;
    bool empty, ref;
};

static void query_null_view(void *arg)
{
    struct answers *a = arg;
    mt_view_cursor c = MT_VIEW_CURSOR_INIT;
    a->count = mt_view_range_count(NULL);
    a->ranges = mt_view_ranges(NULL);
    a->next = mt_view_next_range(NULL, &c);
    a->root = mt_view_root(NULL);
    a->name = mt_view_root_name(NULL);
    a->empty = mt_view_is_empty_view(NULL);
    a->ref = mt_view_ref(NULL);
    mt_view_unref(NULL);
}

static void test_null_view(void **state)
{
    (void)state;
    static const mt_range dummy;
    struct answers a = {1, &dummy, &dummy, (mt_region *)&dummy, NULL, true, true};
    char *text = mt_test_stderr_of(query_null_view, &a);
    assert_int_equal(a.count, 0);
    assert_null(a.ranges);
    assert_null(a.next);
    assert_null(a.root);
    assert_string_equal(a.name, "(none)");
    assert_false(a.empty);
    assert_false(a.ref);
    static const char *const fns[] = {
        "mt_view_range_count", "mt_view_ranges",        "mt_view_next_range",
        "mt_view_root",        "mt_view_root_name",     "mt_view_is_empty_view",
        "mt_view_ref",         "mt_view_unref"};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "%s: NULL view", fns[i]);
        mt_assert_contains(text, want);
    }
    free(text);
}

static void test_unref_once_too_often(void **state)
{
    mt_test_env *e = *state;
    mt_test_std(e);
    mt_test_ram_at(e, 0x1000, "ram", 0x1000);
    mt_view *v = mt_address_space_view(e->X);
    assert_true(mt_view_ref(v));
    mt_test_ram_at(e, 0x3000, "ram2", 0x1000); /* v is no longer published */
    mt_view_unref(v); /* the last reference: retired */
    unsigned before = e->diag.count;
    mt_view_unref(v); /* once too often, before any reclaim */
    mt_assert_diag(e, before, NULL);
    mt_assert_contains(e->diag.last, "released more often than referenced");
    mt_test_reclaim(e); /* and it is freed all the same (LeakSanitizer) */
}

MT_TEST_MAIN(cmocka_unit_test(test_null_view), MT_TEST(test_unref_once_too_often))
