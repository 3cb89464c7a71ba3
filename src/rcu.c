/*
 * Readers and deferred reclamation: every use of liburcu (memb flavour) on
 * the writer's side, reader registration (explicit, or automatic on a
 * thread's first read), and the path a retired view or destroyed address
 * space takes to being freed.
 *
 * Nothing here waits for a grace period except mt_context_reclaim. What a
 * writer retires is handed to call_rcu in one batch per writer entry; after
 * the grace period liburcu's callback thread only moves the batch to the
 * context's ready list (a lock-free stack), and the writer frees it at its
 * next entry (a transaction begin, the end of a commit, or
 * mt_context_reclaim). Freeing a view drops owner references and unlinks
 * it from its weak root, which is writer state, so that part never runs on
 * liburcu's thread. A commit issued from an MMIO callback, inside the
 * caller's read-side section, therefore never waits for itself.
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
/* call_rcu's queue is liburcu's too: what is queued was written before */
#define TSAN_QUEUED(p) __tsan_release(p)
#define TSAN_DEQUEUED(p) __tsan_acquire(p)
#else
#define TSAN_READER_LEAVES() ((void)0)
#define TSAN_GRACE_PERIOD_ENDS() ((void)0)
#define TSAN_QUEUED(p) ((void)0)
#define TSAN_DEQUEUED(p) ((void)0)
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

/* ---- batches: retired -> call_rcu -> ready -> freed by the writer -------- */

struct mt__batch {
    struct rcu_head head;
    mt_context *ctx;
    mt_view *views;             /* linked by retired_next */
    mt_address_space *spaces;   /* linked by next */
    struct mt__batch *ready_next; /* the ready stack */
};

/* liburcu's callback thread, after the grace period: no freeing here, the
 * writer does it (see the top of the file). */
static void batch_ready(struct rcu_head *head)
{
    TSAN_GRACE_PERIOD_ENDS();
    struct mt__batch *b = caa_container_of(head, struct mt__batch, head);
    TSAN_DEQUEUED(b);
    mt_context *ctx = b->ctx;
    struct mt__batch *top = atomic_load_explicit(&ctx->ready, memory_order_relaxed);
    do {
        b->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->ready, &top, b,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_sub_explicit(&ctx->callbacks_pending, 1, memory_order_release);
}

/* Hands what was retired since the last hand-off to call_rcu, as one
 * batch. */
static void hand_off(mt_context *ctx)
{
    /* a plain load first: an exchange on every begin would cost a locked
     * instruction each time for nothing */
    if (!atomic_load_explicit(&ctx->retired, memory_order_relaxed) && !ctx->retired_as)
        return;
    mt_view *views = atomic_exchange_explicit(&ctx->retired, NULL, memory_order_acquire);
    mt_address_space *spaces = ctx->retired_as;
    if (!views && !spaces)
        return;
    ctx->retired_as = NULL;
    struct mt__batch *b = mt__xcalloc(1, sizeof(*b));
    b->ctx = ctx;
    b->views = views;
    b->spaces = spaces;
    /* call_rcu enters a read-side section of its own */
    mt__reader_register_slow();
    TSAN_QUEUED(b);
    atomic_fetch_add_explicit(&ctx->callbacks_pending, 1, memory_order_relaxed);
    urcu_memb_call_rcu(&b->head, batch_ready);
}

/* Frees what the lists hold: readers are done with it. Writer only. */
static void free_retired(mt_context *ctx, mt_address_space *spaces, mt_view *views)
{
    for (mt_address_space *as = spaces, *n; as; as = n) {
        n = as->next;
        mt__address_space_release(as);
    }
    for (mt_view *v = views, *n; v; v = n) {
        n = v->retired_next;
        mt__view_free(v);
        atomic_fetch_sub(&ctx->retired_count, 1);
    }
}

/* Frees the batches whose grace period has ended. Writer only. */
static bool free_ready(mt_context *ctx)
{
    struct mt__batch *b = atomic_exchange_explicit(&ctx->ready, NULL, memory_order_acquire);
    if (!b)
        return false;
    while (b) {
        struct mt__batch *next = b->ready_next;
        free_retired(ctx, b->spaces, b->views);
        free(b);
        b = next;
    }
    return true;
}

void mt__reclaim_step(mt_context *ctx)
{
    /* The cheap test first: most writer entries find nothing to do. */
    if (atomic_load_explicit(&ctx->ready, memory_order_relaxed))
        free_ready(ctx);
    hand_off(ctx);
}

/* Sleeps until every callback queued so far has run (liburcu's thread
 * runs them after its own grace period, in rounds). */
static void wait_for_callbacks(mt_context *ctx)
{
    while (atomic_load_explicit(&ctx->callbacks_pending, memory_order_acquire)) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
}

int mt_context_reclaim(mt_context *ctx)
{
    if (!ctx)
        return mt__diag(NULL, -EINVAL, "mt_context_reclaim: NULL context");
    if (mt__in_read_section())
        return mt__diag(ctx, -EDEADLK,
                        "mt_context_reclaim: called inside a read-side section (an access "
                        "callback, or between mt_read_lock and mt_read_unlock): the wait "
                        "for readers would wait for this thread; call it from outside");
    if (ctx->notifying)
        return mt__diag(ctx, -EBUSY,
                        "mt_context_reclaim: called from a listener callback during a "
                        "commit; call it after the commit");
    /* Freeing views and address spaces releases owner references, which
     * may queue owners; tearing an owner down may retire more. Loop until
     * everything settles. */
    for (;;) {
        hand_off(ctx);
        bool waited = atomic_load_explicit(&ctx->callbacks_pending, memory_order_acquire);
        if (waited) {
            wait_for_callbacks(ctx);
            ctx->stats.grace_periods++;
        }
        free_ready(ctx);
        bool owners = atomic_load_explicit(&ctx->pending_owners, memory_order_acquire);
        if (owners)
            mt__owners_reap(ctx);
        if (!waited && !owners)
            return 0;
    }
}

/* ---- plain memory ------------------------------------------------------- */

struct garbage {
    struct rcu_head head;
    mt_context *ctx;
    void *p[2];
};

static void garbage_free(struct rcu_head *head)
{
    TSAN_GRACE_PERIOD_ENDS();
    struct garbage *g = caa_container_of(head, struct garbage, head);
    TSAN_DEQUEUED(g);
    free(g->p[0]);
    free(g->p[1]);
    mt_context *ctx = g->ctx;
    free(g);
    atomic_fetch_sub_explicit(&ctx->callbacks_pending, 1, memory_order_release);
}

void mt__free_after_readers(mt_context *ctx, void *a, void *b)
{
    if (!a && !b)
        return;
    struct garbage *g = mt__xmalloc(sizeof(*g));
    g->p[0] = a;
    g->p[1] = b;
    g->ctx = ctx;
    mt__reader_register_slow();
    TSAN_QUEUED(g);
    atomic_fetch_add_explicit(&ctx->callbacks_pending, 1, memory_order_relaxed);
    urcu_memb_call_rcu(&g->head, garbage_free);
}
