/*
 * Bug: fourteen public calls read through a NULL context, address space,
 * stats or notifier pointer and crashed, where the others report it:
 * mt_context_set_diag, mt_context_input_limit, mt_context_diag,
 * mt_context_get_stats, mt_context_set_global_dirty_log,
 * mt_context_first_address_space, mt_transaction_begin,
 * mt_transaction_commit, mt_transaction_depth, mt_address_space_name,
 * mt_address_space_root, mt_address_space_view, mt_address_space_next and
 * mt_iommu_notifier_init (found by calling every function of the public
 * headers with NULL and 0 arguments, each in a child process). Fixed in
 * src/: each reports through the default hook (there is no context to
 * report to) and answers as for nothing: 0, NULL, an error code.
 */
#include "mt_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct answers {
    uint64_t limit;
    mt_diag_fn hook;
    void *opaque;
    mt_stats stats;
    mt_address_space *first, *next;
    int commit;
    unsigned depth;
    const char *name;
    mt_region *root;
    mt_view *view;
};

static void call_with_null(void *arg)
{
    struct answers *a = arg;
    mt_context_set_diag(NULL, NULL, NULL);
    a->limit = mt_context_input_limit(NULL);
    a->hook = mt_context_diag(NULL, &a->opaque);
    mt_context_get_stats(NULL, &a->stats);
    mt_context_set_global_dirty_log(NULL, true);
    a->first = mt_context_first_address_space(NULL);
    mt_transaction_begin(NULL);
    a->commit = mt_transaction_commit(NULL);
    a->depth = mt_transaction_depth(NULL);
    a->name = mt_address_space_name(NULL);
    a->root = mt_address_space_root(NULL);
    a->view = mt_address_space_view(NULL);
    a->next = mt_address_space_next(NULL);
    mt_iommu_notifier_init(NULL, NULL, 0, 0, 0, 0);
}

static void test_null_objects_are_reported(void **state)
{
    (void)state;
    struct answers a;
    memset(&a, 0x5a, sizeof(a));
    char *text = mt_test_stderr_of(call_with_null, &a);
    assert_int_equal(a.limit, MT_INPUT_LIMIT_DEFAULT);
    assert_non_null(a.hook); /* the default hook */
    assert_null(a.opaque);
    assert_int_equal(a.stats.live_regions, 0);
    assert_int_equal(a.stats.renders, 0);
    assert_null(a.first);
    assert_int_equal(a.commit, -EINVAL);
    assert_int_equal(a.depth, 0);
    assert_string_equal(a.name, "(none)");
    assert_null(a.root);
    assert_null(a.view);
    assert_null(a.next);
    static const char *const reports[] = {
        "mt_context_set_diag: NULL context",
        "mt_context_input_limit: NULL context",
        "mt_context_diag: NULL context",
        "mt_context_get_stats: NULL context",
        "mt_context_set_global_dirty_log: NULL context",
        "mt_context_first_address_space: NULL context",
        "mt_transaction_begin: NULL context",
        "mt_transaction_commit: NULL context",
        "mt_transaction_depth: NULL context",
        "mt_address_space_name: NULL address space",
        "mt_address_space_root: NULL address space",
        "mt_address_space_view: NULL address space",
        "mt_address_space_next: NULL address space",
        "mt_iommu_notifier_init: NULL notifier",
    };
    for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
        mt_assert_contains(text, reports[i]);
    assert_int_equal(mt_test_count(text, "\n"), sizeof(reports) / sizeof(reports[0]));
    free(text);
}

MT_TEST_MAIN(cmocka_unit_test(test_null_objects_are_reported))
