/*
 * Readers and deferred reclamation: every use of liburcu (memb flavour) on
 * the writer's side but the grace-period thread's own (grace.c), reader
 * registration (explicit, or automatic on a thread's first read), and the
 * path a retired view or destroyed address space takes to being freed.
 *
 * Nothing here waits for a grace period except mt_context_reclaim. What a
 * writer retires is handed to the grace-period thread (grace.c) in one
 * batch per writer entry; after the grace period that thread only moves
 * the batch to the context's ready list (a lock-free stack), and the
 * writer frees it at its next entries (a transaction begin, the end of a
 * commit, or mt_context_reclaim), views a few at a time. Freeing a view
 * drops owner references and unlinks it from its weak root, which is
 * writer state, so that part never runs on that thread. A commit issued
 * from an MMIO callback, inside the caller's read-side section, therefore
 * never waits for itself.
 * mt_context_reclaim waits for a grace period itself and frees every batch
 * whose callback has not run yet; the callback then frees only the empty
 * batch, without touching the context.
 */
#define _LGPL_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <urcu/urcu-memb.h>

/* ThreadSanitizer cannot see the ordering liburcu (not instrumented)
 * provides between a reader leaving its section and a grace period
 * ending; tell it, so it checks everything else. */
#ifdef MT__TSAN
/* liburcu's inline read-side code would be instrumented here, and its
 * benign races reported: call the library's own (uninstrumented) copies,
 * as code without _LGPL_SOURCE does. */
#undef urcu_memb_read_lock
#undef urcu_memb_read_unlock
#undef urcu_memb_read_ongoing
extern void urcu_memb_read_lock(void);
extern void urcu_memb_read_unlock(void);
extern int urcu_memb_read_ongoing(void);
#include <sanitizer/tsan_interface.h>
static char tsan_grace_period; /* an address to synchronise on, no state */
#define TSAN_READER_LEAVES() __tsan_release(&tsan_grace_period)
#define TSAN_GRACE_PERIOD_ENDS() __tsan_acquire(&tsan_grace_period)
#else
#define TSAN_READER_LEAVES() ((void)0)
#define TSAN_GRACE_PERIOD_ENDS() ((void)0)
#endif

/* ---- reader registration ------------------------------------------------ */

/* A thread registered by memtree (explicitly or on first use) is
 * unregistered when it exits, through this key's destructor: liburcu
 * must not keep a dead thread in its registry. */
static pthread_key_t reader_key;
static pthread_once_t reader_key_once = PTHREAD_ONCE_INIT;

static void reader_thread_exit(void *unused)
{
    (void)unused;
    if (URCU_TLS(urcu_memb_reader).registered)
        urcu_memb_unregister_thread();
}

static void reader_key_create(void)
{
    if (pthread_key_create(&reader_key, reader_thread_exit) != 0)
        abort(); /* only on exhausted keys, at the first registration */
}

void mt__reader_register_slow(void)
{
    if (URCU_TLS(urcu_memb_reader).registered)
        return;
    pthread_once(&reader_key_once, reader_key_create);
    urcu_memb_register_thread();
    pthread_setspecific(reader_key, &reader_key); /* any non-NULL value */
}

void mt_reader_register(void)
{
    mt__reader_register_slow();
}

void mt_reader_unregister(void)
{
    if (!URCU_TLS(urcu_memb_reader).registered)
        return;
    urcu_memb_unregister_thread();
    pthread_setspecific(reader_key, NULL);
}

bool mt_reader_registered(void)
{
    return URCU_TLS(urcu_memb_reader).registered;
}

void mt_read_lock(void)
{
    if (__builtin_expect(!URCU_TLS(urcu_memb_reader).registered, 0))
        mt__reader_register_slow();
    urcu_memb_read_lock();
}

void mt_read_unlock(void)
{
    TSAN_READER_LEAVES();
    urcu_memb_read_unlock();
}

bool mt__in_read_section(void)
{
    return URCU_TLS(urcu_memb_reader).registered && urcu_memb_read_ongoing();
}

/* ---- batches: retired -> grace period -> ready -> freed by the writer ---- */

/* Who frees a batch's contents: its callback (after the thread's grace
 * period) or mt_context_reclaim (after one of its own), whichever comes
 * first claims it. */
enum { BATCH_QUEUED, BATCH_READY, BATCH_TAKEN };

/* What the writer retired between two hand-offs. */
struct retired {
    mt_view *views;             /* linked by retired_next */
    mt_address_space *spaces;   /* linked by next */
    void **garbage;             /* plain memory (mt__free_after_readers) */
    size_t ngarbage;
};

struct mt__batch {
    struct mt__deferred deferred;
    mt_context *ctx;
    struct retired held;
    struct mt__batch *ready_next; /* the ready stack */
    /* the writer's list of the batches it handed off and has not freed */
    struct mt__batch *queued_prev, *queued_next;
    atomic_uint state;
};

/* The grace-period thread (grace.c), after the grace period: no freeing
 * here, the writer does it (see the top of the file), unless
 * mt_context_reclaim already freed the contents and left the batch to this
 * callback. */
static void batch_ready(struct mt__deferred *d)
{
    TSAN_GRACE_PERIOD_ENDS();
    struct mt__batch *b = caa_container_of(d, struct mt__batch, deferred);
    unsigned queued = BATCH_QUEUED;
    if (!atomic_compare_exchange_strong_explicit(&b->state, &queued, BATCH_READY,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(b); /* taken: the context may be gone, so not a word to it */
        return;
    }
    mt_context *ctx = b->ctx;
    struct mt__batch *top = atomic_load_explicit(&ctx->ready, memory_order_relaxed);
    do {
        b->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->ready, &top, b,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_sub_explicit(&ctx->callbacks_pending, 1, memory_order_release);
}

static bool anything_retired(mt_context *ctx)
{
    /* plain loads: an exchange on every writer entry would cost a locked
     * instruction each time for nothing */
    return atomic_load_explicit(&ctx->retired, memory_order_relaxed) || ctx->retired_as ||
           ctx->ngarbage;
}

static struct retired take_retired(mt_context *ctx)
{
    struct retired r = {0};
    if (atomic_load_explicit(&ctx->retired, memory_order_relaxed))
        r.views = atomic_exchange_explicit(&ctx->retired, NULL, memory_order_acquire);
    r.spaces = ctx->retired_as;
    ctx->retired_as = NULL;
    r.garbage = ctx->garbage;
    r.ngarbage = ctx->ngarbage;
    ctx->garbage = NULL;
    ctx->ngarbage = ctx->cap_garbage = 0;
    return r;
}

/* Frees what a batch held, readers being done with it, but its views:
 * those, newest first on the batch's list, join the end of the context's
 * freeable queue oldest first, for free_views. Writer only. */
static void release_retired(mt_context *ctx, struct retired r)
{
    for (mt_address_space *as = r.spaces, *n; as; as = n) {
        n = as->next;
        mt__address_space_release(as);
    }
    /* reversed in place; the newest, first on the batch's list, ends it */
    mt_view *oldest_first = NULL;
    for (mt_view *v = r.views, *n; v; v = n, ctx->nfreeable++) {
        n = v->retired_next;
        v->retired_next = oldest_first;
        oldest_first = v;
    }
    if (oldest_first) {
        *(ctx->freeable ? &ctx->freeable_last->retired_next : &ctx->freeable) = oldest_first;
        ctx->freeable_last = r.views;
    }
    for (size_t i = 0; i < r.ngarbage; i++)
        free(r.garbage[i]);
    free(r.garbage);
}

/*
 * Frees up to `max` views of the freeable queue, oldest first: a view made
 * from another keeps the chunks they share until the older one is freed
 * (view.c), so freeing the other way round would hold them longer.
 */
static void free_views(mt_context *ctx, size_t max)
{
    for (; ctx->freeable && max; max--) {
        mt_view *v = ctx->freeable;
        ctx->freeable = v->retired_next;
        ctx->nfreeable--;
        mt__view_free(v);
        atomic_fetch_sub(&ctx->retired_count, 1);
    }
}

static void queued_unlink(mt_context *ctx, struct mt__batch *prev, struct mt__batch *next)
{
    if (prev)
        prev->queued_next = next;
    else
        ctx->queued = next;
    if (next)
        next->queued_prev = prev;
}

/* Hands what was retired since the last hand-off to the grace-period
 * thread, as one batch. */
static void hand_off(mt_context *ctx)
{
    if (!anything_retired(ctx))
        return;
    struct mt__batch *b = mt__xcalloc(1, sizeof(*b));
    b->ctx = ctx;
    b->held = take_retired(ctx);
    atomic_init(&b->state, BATCH_QUEUED);
    b->queued_next = ctx->queued;
    if (ctx->queued)
        ctx->queued->queued_prev = b;
    ctx->queued = b;
    atomic_fetch_add_explicit(&ctx->callbacks_pending, 1, memory_order_relaxed);
    mt__after_readers(&b->deferred, batch_ready);
}

/* Frees the batches whose grace period has ended, oldest first (the
 * ready stack has the newest on top); their views join the freeable
 * queue. Writer only. */
static void free_ready(mt_context *ctx)
{
    struct mt__batch *b = atomic_exchange_explicit(&ctx->ready, NULL, memory_order_acquire);
    struct mt__batch *oldest_first = NULL;
    while (b) {
        struct mt__batch *next = b->ready_next;
        b->ready_next = oldest_first;
        oldest_first = b;
        b = next;
    }
    for (b = oldest_first; b;) {
        struct mt__batch *next = b->ready_next;
        queued_unlink(ctx, b->queued_prev, b->queued_next);
        release_retired(ctx, b->held);
        free(b);
        b = next;
    }
}

/* After a grace period the writer waited for itself: frees the contents
 * of every queued batch whose callback has not run, and leaves the batch
 * to that callback. Nothing of a taken batch may be touched after the
 * exchange: its callback may free it at once. */
static void take_queued(mt_context *ctx)
{
    for (struct mt__batch *b = ctx->queued, *next; b; b = next) {
        next = b->queued_next;
        struct mt__batch *prev = b->queued_prev;
        struct retired held = b->held;
        unsigned queued = BATCH_QUEUED;
        if (!atomic_compare_exchange_strong_explicit(&b->state, &queued, BATCH_TAKEN,
                                                     memory_order_acq_rel,
                                                     memory_order_acquire))
            continue; /* its callback has it: freed from the ready stack */
        queued_unlink(ctx, prev, next);
        atomic_fetch_sub_explicit(&ctx->callbacks_pending, 1, memory_order_relaxed);
        release_retired(ctx, held);
    }
}

void mt__reclaim_step(mt_context *ctx)
{
    /* The cheap test first: most writer entries find nothing to do. */
    if (atomic_load_explicit(&ctx->ready, memory_order_relaxed))
        free_ready(ctx);
    /* A few views an entry, not every view a grace period released: a
     * burst of commits retires hundreds a millisecond, and a full render's
     * view takes O(n) to free, so one entry should not take them all.
     * Freeing more than an entry retires on average (it may retire one
     * per address space) keeps the queue short. (The p99 of bench/run
     * commit's far moves, 28-74 us with the grace-period thread, was the
     * same with and without this limit.) */
    if (ctx->freeable)
        free_views(ctx, 4 + ctx->nfreeable / 8);
    hand_off(ctx);
}

/* Sleeps until the callbacks that claimed their batches have put them on
 * the ready stack (a few instructions each; only a race gets here). */
static void wait_for_callbacks(mt_context *ctx)
{
    while (atomic_load_explicit(&ctx->callbacks_pending, memory_order_acquire)) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
}

/* Reclaim's work, checks done by the caller. Owner releases it runs are
 * the caller's code: the context is held meanwhile (a closed context is
 * not freed under this loop). */
void mt__context_reclaim(mt_context *ctx)
{
    ctx->holds++;
    /* Freeing views and address spaces releases owner references, which
     * may queue owners; tearing an owner down may retire more. Loop until
     * everything settles. The wait is a grace period of this thread's own,
     * so that reclaim works without the grace-period thread (not started
     * in a fork's child until the next hand-off, or failed to start). */
    for (;;) {
        bool waited = anything_retired(ctx) || ctx->queued;
        if (waited) {
            /* taken before the wait, which covers only what was retired
             * before it began */
            struct retired r = take_retired(ctx);
            urcu_memb_synchronize_rcu();
            TSAN_GRACE_PERIOD_ENDS();
            ctx->stats.grace_periods++;
            take_queued(ctx);
            wait_for_callbacks(ctx);
            release_retired(ctx, r);
        }
        free_ready(ctx);
        free_views(ctx, SIZE_MAX);
        assert(!ctx->queued);
        bool owners = atomic_load_explicit(&ctx->pending_owners, memory_order_acquire);
        if (owners)
            mt__owners_reap(ctx);
        if (!waited && !owners)
            break;
    }
    ctx->holds--;
}

int mt_context_reclaim(mt_context *ctx)
{
    if (mt__null_arg(ctx, "mt_context_reclaim", "context"))
        return -EINVAL;
    if (mt__in_read_section())
        return mt__diag(ctx, -EDEADLK,
                        "mt_context_reclaim: called inside a read-side section (an access "
                        "callback, or between mt_read_lock and mt_read_unlock): the wait "
                        "for readers would wait for this thread; call it from outside");
    if (ctx->notifying)
        return mt__diag(ctx, -EBUSY,
                        "mt_context_reclaim: called from a listener callback during a "
                        "commit; call it after the commit");
    mt__context_reclaim(ctx);
    mt__context_settle(ctx); /* a closed context may go now */
    return 0;
}

/* ---- plain memory ------------------------------------------------------- */

void mt__free_after_readers(mt_context *ctx, void *a, void *b)
{
    /* with the next batch: freed by the writer like the views */
    void *both[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (!both[i])
            continue;
        MT__PUSH(ctx->garbage, ctx->ngarbage, ctx->cap_garbage) = both[i];
    }
}
