/*
 * Conformance group D, the listener features around accelerators
 * (memory-model.md 6, 7.1-7.4, 7.9, 8.4): the flush hook of transaction
 * begin, coalesced-MMIO ranges and what listeners hear of them, and the
 * dirty-log requests of the embedder (log_sync, log_sync_global,
 * log_clear, log_global_after_sync). The catalogue has no items for them:
 * the tests are named after the spec's sections.
 */
#include "mt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 6: the flush hook ------------------------------------------------------- */

struct flushes {
    mt_context *ctx;
    unsigned calls;
    char depths[64]; /* the depth seen by each call, as digits */
};

static void on_flush(void *opaque)
{
    struct flushes *f = opaque;
    if (f->calls < sizeof(f->depths) - 1)
        f->depths[f->calls] = (char)('0' + mt_transaction_depth(f->ctx));
    f->calls++;
}

static void s6_begin_calls_the_flush_hook_first(void **state)
{
    mt_test_env *e = *state;
    mt_test_std(e);
    struct flushes f = {.ctx = e->ctx};
    mt_context_set_flush_hook(e->ctx, on_flush, &f);
    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    assert_string_equal(f.depths, "01"); /* before depth += 1, nested too */
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(f.calls, 2); /* commit does not flush */

    /* an edit outside a transaction opens one of its own */
    f.calls = 0;
    mt_test_map(e->C, 0, mt_test_ram(e, e->O2, "r1", 0x1000));
    assert_true(f.calls >= 1);
    assert_int_equal(f.depths[0], '0');

    mt_context_set_flush_hook(e->ctx, NULL, NULL);
    f.calls = 0;
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(f.calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MT_TEST(s6_begin_calls_the_flush_hook_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
