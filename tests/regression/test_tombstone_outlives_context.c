/*
 * Bug: a finalised region's tombstone and a released owner keep their
 * context's address, so that a later misuse is reported through its hook,
 * and a report first checked that a context at that address was alive.
 * Once the context was freed, the next context made often took its memory,
 * and the old storage's misuse was then reported to the new context's
 * hook: to a machine that never had that region or owner. Fixed in
 * src/context.c: each context has a serial, which the tombstone and the
 * owner keep beside the address, and a report checks both.
 */
#include "mt_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* the default quarantine would keep the freed context's memory from the
 * next allocation: this test needs the allocator to reuse it */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
}

static int new_context_reports;

static void new_context_hook(void *opaque, const char *message)
{
    (void)opaque, (void)message;
    new_context_reports++;
}

struct misuse {
    mt_region *dead;
    mt_owner *released;
    int region_rc, owner_rc;
};

static void misuse_old_storage(void *arg)
{
    struct misuse *m = arg;
    m->region_rc = mt_region_set_address(m->dead, 0x1000);
    m->owner_rc = mt_owner_unref(m->released);
}

enum { CONTEXTS = 32 };

/* Storage the caller keeps, per old context: a finalised region and a
 * released owner. */
static mt_region rams[CONTEXTS];
static mt_owner owners[CONTEXTS];

static mt_context *context_with_tombstones(size_t i)
{
    mt_context *ctx = mt_context_new();
    assert_int_equal(mt_owner_init(&owners[i], "dev", NULL), 0);
    assert_int_equal(mt_region_init_ram(&rams[i], ctx, &owners[i], "old-ram", 0x1000), 0);
    assert_int_equal(mt_region_finalize(&rams[i]), 0);
    assert_int_equal(mt_owner_unref(&owners[i]), 0);
    mt_context_reclaim(ctx);
    return ctx;
}

static void test_old_storage_not_reported_to_new_context(void **state)
{
    (void)state;
    /* Many contexts freed, then as many made: glibc's calloc does not
     * take from its per-thread cache, which keeps the first few freed,
     * but the later ones come back. */
    mt_context *old[CONTEXTS], *now[CONTEXTS];
    for (size_t i = 0; i < CONTEXTS; i++)
        old[i] = context_with_tombstones(i);
    for (size_t i = 0; i < CONTEXTS; i++)
        mt_context_free(old[i]);
    size_t reused = CONTEXTS, at = 0;
    for (size_t i = 0; i < CONTEXTS; i++) {
        now[i] = mt_context_new();
        for (size_t j = 0; j < CONTEXTS && reused == CONTEXTS; j++)
            if (now[i] == old[j])
                reused = j, at = i;
    }
    if (reused < CONTEXTS) {
        mt_context_set_diag(now[at], new_context_hook, NULL);
        struct misuse m = {.dead = &rams[reused], .released = &owners[reused]};
        char *text = mt_test_stderr_of(misuse_old_storage, &m);
        assert_int_equal(m.region_rc, -EINVAL);
        assert_int_equal(m.owner_rc, -EINVAL);
        /* both through the default hook, naming the freed context */
        assert_int_equal(new_context_reports, 0);
        assert_non_null(strstr(text, "region 'old-ram'"));
        assert_non_null(strstr(text, "and its context freed"));
        assert_non_null(strstr(text, "mt_owner_unref"));
        free(text);
    }
    for (size_t i = 0; i < CONTEXTS; i++)
        mt_context_free(now[i]);
    if (reused == CONTEXTS)
        skip(); /* no new context took a freed one's memory: nothing to confuse */
}

MT_TEST_MAIN(MT_TEST(test_old_storage_not_reported_to_new_context))
