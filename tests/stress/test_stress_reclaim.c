/*
 * mt_context_reclaim waits for a grace period of its own and frees the
 * batches liburcu's callback thread has not reached yet, leaving each such
 * batch to its callback, which must then touch neither the batch's
 * contents nor the context (docs/threads.md, "Reclamation"). Both orders
 * are driven here: reclaims right after a commit (the callback has not
 * run: the reclaim takes the batch) and after a pause (the callback has
 * run: the batch waits on the ready stack), with readers inside read-side
 * sections throughout, and contexts freed while their taken batches' callbacks
 * are still queued. ASan sees every batch freed once; TSan, the handshake.
 *
 * What a reclaim promises is checked after each one: no retired view
 * left, and every owner whose last region was unmapped released.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mt_test.h"

#include "internal.h"

#include "memtree.h"

#define PAGE 0x1000u
#define READERS 2
#define ROUNDS 300

static void pause_us(unsigned us)
{
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

struct stage {
    mt_address_space *as;
    atomic_bool stop;
    atomic_ulong reads;
};

static void *reader_main(void *arg)
{
    struct stage *st = arg;
    mt_reader_register();
    uint64_t v = 0, addr = 0;
    while (!atomic_load(&st->stop)) {
        /* a section held across several reads, so grace periods wait */
        mt_read_lock();
        for (int i = 0; i < 16; i++) {
            mt_address_space_read(st->as, addr, MT_ATTRS_UNSPECIFIED, &v, sizeof(v));
            addr = (addr + PAGE) % (8 * PAGE);
        }
        mt_read_unlock();
        atomic_fetch_add(&st->reads, 16);
    }
    mt_reader_unregister();
    return NULL;
}

static void eventfd_signal(mt_event_notifier *n)
{
    (void)n;
}

/* Each round maps a region of a fresh owner and unmaps it (a commit each),
 * drops the embedder's reference, then reclaims at once, after a pause, or
 * not at all. */
static void churn(void **state)
{
    mt_test_env *e = *state;
    mt_region *root = mt_test_container(e, NULL, "root", UINT64_MAX);
    mt_region *ram = mt_test_ram(e, NULL, "ram", 8 * PAGE);
    mt_region *io = mt_test_io(e, NULL, "io", PAGE);
    assert_int_equal(mt_region_add_subregion(root, 0, ram), 0);
    assert_int_equal(mt_region_add_subregion(root, 16 * PAGE, io), 0);
    struct stage st = {.as = mt_test_as(e, root, "as")};
    pthread_t readers[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &st), 0);

    mt_event_notifier note = {eventfd_signal};
    mt_test_owner *owners = calloc(ROUNDS, sizeof(*owners));
    mt_region *regs = calloc(ROUNDS, sizeof(*regs));
    assert_non_null(owners);
    assert_non_null(regs);
    unsigned released_expected = 0, skipped = 0, immediate = 0, paused = 0;
    uint64_t seed = 0x7265636c61696dull; /* "reclaim" */
    for (unsigned i = 0; i < ROUNDS; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        mt_test_owner_init(&owners[i], "device");
        assert_int_equal(mt_region_init_io(&regs[i], e->ctx, &owners[i].owner, NULL, NULL,
                                           "bar", PAGE), 0);
        assert_int_equal(mt_region_add_subregion(root, 32 * PAGE, &regs[i]), 0);
        /* an eventfd table replaced under the readers: plain memory that
         * goes with the next batch */
        assert_int_equal(mt_region_add_eventfd(io, 0, 4, true, i, &note), 0);
        assert_int_equal(mt_region_del_subregion(root, &regs[i]), 0);
        assert_int_equal(mt_region_del_eventfd(io, 0, 4, true, i, &note), 0);
        /* the embedder's reference: the owner goes (and finalises the
         * region) once the views that held it are freed */
        assert_int_equal(mt_owner_unref(&owners[i].owner), 0);
        switch (seed % 3) {
        case 0:
            skipped++;
            continue; /* left for a later writer entry or reclaim */
        case 1:
            immediate++;
            break;
        default:
            paused++;
            pause_us((unsigned)(seed >> 8) % 15000); /* often past the callback */
            break;
        }
        assert_int_equal(mt_context_reclaim(e->ctx), 0);
        released_expected = i + 1;
        mt_stats s;
        mt_context_get_stats(e->ctx, &s);
        assert_int_equal(s.retired_views, 0);
        for (unsigned k = 0; k < released_expected; k++)
            if (owners[k].released != 1)
                fail_msg("round %u: owner %u released %u times after the reclaim", i, k,
                         owners[k].released);
    }
    assert_int_equal(mt_context_reclaim(e->ctx), 0);
    for (unsigned k = 0; k < ROUNDS; k++)
        assert_int_equal(owners[k].released, 1);
    atomic_store(&st.stop, true);
    for (int i = 0; i < READERS; i++)
        pthread_join(readers[i], NULL);
    fprintf(stderr, "reclaim stress: %u rounds (%u reclaimed at once, %u after a pause, "
            "%u not), %lu reads\n", ROUNDS, immediate, paused, skipped,
            (unsigned long)atomic_load(&st.reads));
    assert_true(immediate > 0 && paused > 0 && skipped > 0);
    free(regs);
    free(owners);
}

/* Contexts freed right after commits whose batches are still queued: the
 * context's reclaim takes them, freeing the views and with them the
 * owner's last references (its teardown finalises the regions), and their
 * callbacks run after the context is gone (waited for at the end, so ASan
 * watches them run). */
static void free_with_batches_queued(void **state)
{
    (void)state;
    enum { CONTEXTS = 50 };
    mt_test_owner *owners = calloc(CONTEXTS, sizeof(*owners));
    mt_region(*regs)[2] = calloc(CONTEXTS, sizeof(*regs));
    assert_non_null(owners);
    assert_non_null(regs);
    for (int i = 0; i < CONTEXTS; i++) {
        mt_context *ctx = mt_context_new();
        assert_non_null(ctx);
        mt_owner *o = &owners[i].owner;
        mt_test_owner_init(&owners[i], "device");
        mt_region *root = &regs[i][0], *ram = &regs[i][1];
        assert_int_equal(mt_region_init_container(root, ctx, o, "root", UINT64_MAX), 0);
        assert_int_equal(mt_region_init_ram(ram, ctx, o, "ram", PAGE), 0);
        mt_address_space *as = mt_address_space_new(ctx, root, "as");
        assert_non_null(as);
        for (int k = 0; k < 4; k++) {
            assert_int_equal(mt_region_add_subregion(root, (uint64_t)k * PAGE, ram), 0);
            assert_int_equal(mt_region_del_subregion(root, ram), 0);
        }
        assert_int_equal(mt_address_space_destroy(as), 0);
        assert_int_equal(mt_owner_unref(o), 0);
        mt_context_free(ctx);
        assert_int_equal(owners[i].released, 1);
    }
    /* the grace-period thread runs the left callbacks, the contexts gone */
    mt__grace_barrier();
    free(regs);
    free(owners);
}

MT_TEST_MAIN(MT_TEST(churn), cmocka_unit_test(free_with_batches_queued))
