/*
 * The grace-period thread: memtree's own call_rcu, one thread for the
 * process, started on first use.
 *
 * liburcu's callback thread sleeps 10 ms before each round, to gather
 * callbacks. A writer that commits every few microseconds then kept a
 * thousand commits' worth of retired views and chunks waiting, and each new
 * commit allocated from fresh pages instead of reusing what the last ones
 * retired (docs/threads.md has the figures). This thread starts a grace
 * period within a millisecond of work arriving while commits keep coming,
 * within 10 ms when they are sparse (the pauses below).
 *
 * The thread waits for readers and calls each callback holding no lock a
 * writer takes (only `busy`, which a fork takes), so a callback may queue
 * again and a writer inside a read-side section (a commit from an MMIO
 * callback) never waits for it.
 */
#define _LGPL_SOURCE
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include <urcu/urcu-memb.h>

/*
 * When the thread looks for work. Waking a waiting thread costs the writer
 * a system call and, on the VMs measured, 5-8 us of its commit, so the
 * writer wakes it only from a long sleep; otherwise the thread polls:
 *   - between grace periods, while work keeps coming, it pauses GAP_MIN:
 *     a burst of commits shares one grace period a millisecond rather than
 *     waking the thread (and, through liburcu's membarrier, every core
 *     running a reader) for each. Measured with one map per commit, the
 *     writer and this thread on one core, when writers always woke the
 *     thread: 4.3-4.6 us a commit with this pause, 4.8 with 0.1 ms,
 *     9.4-9.8 with none;
 *   - finding nothing, it doubles the pause up to GAP_MAX (liburcu's own
 *     callback thread pauses 10 ms before every round);
 *   - after SLEEP_AFTER without work it waits to be woken, so an idle
 *     machine does not keep a thread ticking.
 */
#define GAP_MIN_NS 1000000L
#define GAP_MAX_NS 10000000L
#define SLEEP_AFTER_NS 1000000000L

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Held by the thread from taking the queue to the last callback, and
     * by a fork (taken first, then `lock`): no grace period is half done
     * in a fork's child, where liburcu's own lock would stay held. */
    pthread_mutex_t busy;
    struct mt__deferred *first, *last; /* waiting for the next grace period */
    bool running;                      /* the thread exists in this process */
    bool asleep;                       /* it waits on `wake` */
    bool create_failed;                /* said once */
} gp = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .busy = PTHREAD_MUTEX_INITIALIZER};

void (*mt__grace_period_hook)(void);

/* Takes the queue, waits for readers, runs the callbacks. */
static void grace_period(void)
{
    pthread_mutex_lock(&gp.busy);
    pthread_mutex_lock(&gp.lock);
    struct mt__deferred *d = gp.first;
    gp.first = gp.last = NULL;
    pthread_mutex_unlock(&gp.lock);
    void (*hook)(void) = __atomic_load_n(&mt__grace_period_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook();
    /* everything taken was queued before this wait began */
    urcu_memb_synchronize_rcu();
    while (d) {
        struct mt__deferred *next = d->next; /* d may be freed by fn */
        d->fn(d);
        d = next;
    }
    pthread_mutex_unlock(&gp.busy);
}

static void *grace_thread(void *unused)
{
    (void)unused;
    long gap = GAP_MIN_NS, idle = 0;
    for (;;) {
        pthread_mutex_lock(&gp.lock);
        if (!gp.first && idle >= SLEEP_AFTER_NS) {
            gp.asleep = true;
            while (!gp.first)
                pthread_cond_wait(&gp.wake, &gp.lock);
            gp.asleep = false;
        }
        bool work = gp.first != NULL;
        pthread_mutex_unlock(&gp.lock);
        if (work) {
            grace_period();
            gap = GAP_MIN_NS;
            idle = 0;
        } else {
            idle += gap;
            gap = gap * 2 < GAP_MAX_NS ? gap * 2 : GAP_MAX_NS;
        }
        nanosleep(&(struct timespec){gap / 1000000000L, gap % 1000000000L}, NULL);
    }
    return NULL;
}

/*
 * A fork's child has only the forking thread: the next queue starts a new
 * grace-period thread there, and what was queued stays queued for it. The
 * fork waits for a grace period in progress, unless the forking thread is
 * inside a read-side section, which that grace period waits for: then the
 * child may find liburcu's lock held, and must not wait for readers.
 */
static _Thread_local bool fork_took_busy; /* between a thread's fork handlers */
static void fork_prepare(void)
{
    fork_took_busy = !mt__in_read_section();
    if (fork_took_busy)
        pthread_mutex_lock(&gp.busy);
    pthread_mutex_lock(&gp.lock);
}
static void fork_parent(void)
{
    pthread_mutex_unlock(&gp.lock);
    if (fork_took_busy)
        pthread_mutex_unlock(&gp.busy);
}
static void fork_child(void)
{
    gp.running = gp.asleep = false;
    pthread_mutex_unlock(&gp.lock);
    if (fork_took_busy)
        pthread_mutex_unlock(&gp.busy);
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Starts the thread, with every signal blocked (the embedder's handlers
 * must not run on it). Called with gp.lock held. */
static void thread_start(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_t t;
    int err = pthread_attr_init(&attr);
    if (!err) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        err = pthread_create(&t, &attr, grace_thread, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!err) {
        gp.running = true;
    } else if (!gp.create_failed) {
        /* Nothing is lost: queued callbacks wait for the next queue that
         * starts the thread, and mt_context_reclaim frees what they hold
         * after a grace period of its own. */
        gp.create_failed = true;
        mt__diag(NULL, -err, "cannot start the grace-period thread; retired views are "
                             "freed by mt_context_reclaim until it starts");
    }
}

/* mt__grace_barrier's callback and what it waits on. */
struct barrier {
    struct mt__deferred d;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    bool done;
};

static void barrier_reached(struct mt__deferred *d)
{
    struct barrier *b = (struct barrier *)d;
    pthread_mutex_lock(&b->lock);
    b->done = true;
    pthread_cond_signal(&b->done_cond);
    pthread_mutex_unlock(&b->lock);
}

void mt__grace_barrier(void)
{
    struct barrier b = {.lock = PTHREAD_MUTEX_INITIALIZER,
                        .done_cond = PTHREAD_COND_INITIALIZER};
    mt__after_readers(&b.d, barrier_reached);
    pthread_mutex_lock(&b.lock);
    while (!b.done)
        pthread_cond_wait(&b.done_cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
}

void mt__after_readers(struct mt__deferred *d, void (*fn)(struct mt__deferred *))
{
    pthread_once(&atfork_once, atfork_register);
    d->fn = fn;
    d->next = NULL;
    pthread_mutex_lock(&gp.lock);
    if (gp.last)
        gp.last->next = d;
    else
        gp.first = d;
    gp.last = d;
    if (!gp.running)
        thread_start();
    else if (gp.asleep)
        pthread_cond_signal(&gp.wake);
    pthread_mutex_unlock(&gp.lock);
}
