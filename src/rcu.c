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

#include <urcu/urcu-memb.h>

/* ThreadSanitizer cannot see the ordering liburcu (not instrumented)
 * provides between a reader leaving its section and a grace period
 * ending; tell it, so it checks everything else. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MT__TSAN 1
#endif
#ifdef MT__TSAN
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

/* ---- batches: retired -> call_rcu -> ready -> freed by the writer -------- */

struct mt__batch {
    struct rcu_head head;
    mt_context *ctx;
    mt_view *views;             /* linked by retired_next */
    mt_address_space *spaces;   /* linked by next */
    struct mt__batch *ready_next;
};

/* liburcu's callback thread, after the grace period: no freeing here, the
 * writer does it (see the top of the file). */
static void batch_ready(struct rcu_head *head)
{
    TSAN_GRACE_PERIOD_ENDS();
    struct mt__batch *b = caa_container_of(head, struct mt__batch, head);
    mt_context *ctx = b->ctx;
    struct mt__batch *top = atomic_load_explicit(&ctx->ready, memory_order_relaxed);
    do {
        b->ready_next = top;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->ready, &top, b,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

/* Hands what was retired since the last hand-off to call_rcu, as one
 * batch. Returns whether there was anything. */
static bool hand_off(mt_context *ctx)
{
    mt_view *views = atomic_exchange_explicit(&ctx->retired, NULL, memory_order_acquire);
    mt_address_space *spaces = ctx->retired_as;
    if (!views && !spaces)
        return false;
    ctx->retired_as = NULL;
    struct mt__batch *b = mt__xcalloc(1, sizeof(*b));
    b->ctx = ctx;
    b->views = views;
    b->spaces = spaces;
    ctx->batches_in_flight++;
    /* call_rcu enters a read-side section of its own */
    mt__reader_register_slow();
    urcu_memb_call_rcu(&b->head, batch_ready);
    return true;
}

/* Frees the batches whose grace period has ended. Writer only. */
static bool free_ready(mt_context *ctx)
{
    struct mt__batch *b = atomic_exchange_explicit(&ctx->ready, NULL, memory_order_acquire);
    if (!b)
        return false;
    while (b) {
        struct mt__batch *next = b->ready_next;
        for (mt_address_space *as = b->spaces, *n; as; as = n) {
            n = as->next;
            mt__address_space_release(as);
        }
        for (mt_view *v = b->views, *n; v; v = n) {
            n = v->retired_next;
            mt__view_free(v);
            atomic_fetch_sub(&ctx->retired_count, 1);
        }
        ctx->batches_in_flight--;
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
        if (ctx->batches_in_flight) {
            /* every callback queued so far has run once this returns */
            urcu_memb_barrier();
            ctx->stats.grace_periods++;
        }
        bool freed = free_ready(ctx);
        bool owners = atomic_load_explicit(&ctx->pending_owners, memory_order_acquire);
        if (owners)
            mt__owners_reap(ctx);
        if (!freed && !owners && !ctx->batches_in_flight &&
            !atomic_load_explicit(&ctx->retired, memory_order_acquire) && !ctx->retired_as)
            return 0;
    }
}

/* ---- plain memory ------------------------------------------------------- */

struct garbage {
    struct rcu_head head;
    void *p[2];
};

static void garbage_free(struct rcu_head *head)
{
    TSAN_GRACE_PERIOD_ENDS();
    struct garbage *g = caa_container_of(head, struct garbage, head);
    free(g->p[0]);
    free(g->p[1]);
    free(g);
}

void mt__free_after_readers(void *a, void *b)
{
    if (!a && !b)
        return;
    struct garbage *g = mt__xmalloc(sizeof(*g));
    g->p[0] = a;
    g->p[1] = b;
    mt__reader_register_slow();
    urcu_memb_call_rcu(&g->head, garbage_free);
}
