/*
 * Bug (issue 12): a flush hook that edits the tree recursed without bound.
 * Every transaction begin calls the hook (QEMU flushes its coalesced-MMIO
 * buffer there, and the writes it flushes may remap memory); the hook's
 * own edit begins a transaction, which called the hook again, and so on
 * until the stack overflowed. Fixed in src/txn.c: begins made while the
 * hook runs do not call it again; its edits commit at once, before the
 * transaction that called it opens.
 * Fixed by commit dc7055b.
 */
#include "reentry_world.h"

struct flush {
    rw_world *w;
    unsigned calls;
    unsigned depth, max_depth;
    bool inside_txn;    /* a call saw a transaction open already */
};

/* The buffered write the hook flushes moves bar, as a BAR write would. */
static void flush_edits(void *opaque)
{
    struct flush *f = opaque;
    f->calls++;
    if (++f->depth > f->max_depth)
        f->max_depth = f->depth;
    if (mt_transaction_depth(f->w->ctx) != 0)
        f->inside_txn = true;
    if (f->depth == 1)
        rw_remap_bar(f->w, f->calls);
    f->depth--;
}

static void test_flush_hook_edits(void **state)
{
    (void)state;
    rw_world *w = rw_world_new(false);
    struct flush f = {.w = w};
    mt_context_set_flush_hook(w->ctx, flush_edits, &f);
    char why[256] = "";
    for (unsigned i = 1; i <= 1000; i++) {
        mt_transaction_begin(w->ctx);
        /* the hook ran once, its edit is already in the view */
        assert_int_equal(f.calls, i);
        assert_int_equal(w->bar_slot, i % RW_SLOTS);
        if (!rw_check(w, why, sizeof(why)))
            fail_msg("inside transaction %u: %s", i, why);
        assert_int_equal(mt_transaction_commit(w->ctx), 0);
    }
    assert_int_equal(f.max_depth, 1);
    assert_false(f.inside_txn);
    /* an edit outside a transaction begins one too: one call each */
    unsigned before = f.calls;
    assert_int_equal(mt_region_set_enabled(&w->trigger, true), 0);
    assert_int_equal(f.calls, before + 1);
    mt_context_set_flush_hook(w->ctx, NULL, NULL);
    assert_int_equal(w->diag.count, 0);
    rw_world_free(w);
}

MT_TEST_MAIN(
    cmocka_unit_test(test_flush_hook_edits))
