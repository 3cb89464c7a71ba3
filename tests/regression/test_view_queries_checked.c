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
#include <string.h>
#include <unistd.h>

/* What `call` printed on stderr, where the default hook reports (a NULL
 * view has no context to report to). Malloc'd. */
#define STDERR_OF(call, out)                                                     \
    do {                                                                         \
        fflush(stderr);                                                          \
        FILE *tmp_ = tmpfile();                                                  \
        assert_non_null(tmp_);                                                   \
        int saved_ = dup(STDERR_FILENO);                                         \
        assert_true(saved_ >= 0);                                                \
        assert_true(dup2(fileno(tmp_), STDERR_FILENO) >= 0);                     \
        call;                                                                    \
        fflush(stderr);                                                          \
        assert_true(dup2(saved_, STDERR_FILENO) >= 0);                           \
        close(saved_);                                                           \
        long len_ = ftell(tmp_);                                                 \
        (out) = calloc(1, (size_t)(len_ > 0 ? len_ : 0) + 1);                    \
        rewind(tmp_);                                                            \
        if (len_ > 0)                                                            \
            assert_int_equal(fread((out), 1, (size_t)len_, tmp_), (size_t)len_); \
        fclose(tmp_);                                                            \
    } while (0)

static void test_null_view(void **state)
{
    (void)state;
    mt_view_cursor c = MT_VIEW_CURSOR_INIT;
    size_t count = 1;
    const mt_range *ranges = (const mt_range *)&count, *next = ranges;
    mt_region *root = (mt_region *)&count;
    const char *name = NULL;
    bool empty = true, ref = true;
    char *text;
    STDERR_OF((count = mt_view_range_count(NULL), ranges = mt_view_ranges(NULL),
               next = mt_view_next_range(NULL, &c), root = mt_view_root(NULL),
               name = mt_view_root_name(NULL), empty = mt_view_is_empty_view(NULL),
               ref = mt_view_ref(NULL), mt_view_unref(NULL)),
              text);
    assert_int_equal(count, 0);
    assert_null(ranges);
    assert_null(next);
    assert_null(root);
    assert_string_equal(name, "(none)");
    assert_false(empty);
    assert_false(ref);
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
