/*
 * Bug: retired views went to liburcu's call_rcu, whose callback thread is
 * not in a process forked from the one that started it (liburcu wants the
 * application to call its fork hooks). In such a child no callback ran:
 * every commit's retired view waited for mt_context_reclaim, so a child
 * that never called it grew by a view a commit. Fixed in src/grace.c:
 * memtree's own grace-period thread, started again in a fork's child at
 * the first hand-off there.
 *
 * Bug in that fix: a fork while the thread was inside a grace period left
 * the batches it had taken in no queue of the child (second case). Fixed
 * in src/grace.c: a fork waits for the grace period in progress.
 */
#include "mt_test.h"

#include "internal.h"

#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 0x1000ull
#define COMMITS 200

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Empty writer entries, a few milliseconds apart, until every retired view
 * is freed or `ms` have passed: true when none is left. Nothing here waits
 * for readers itself. */
static bool writer_entries_free_all(mt_context *ctx, long ms)
{
    for (long waited = 0; waited <= ms; waited += 2) {
        mt_transaction_begin(ctx);
        mt_transaction_commit(ctx);
        if (mt_test_stats(ctx).retired_views == 0)
            return true;
        pause_ms(2);
    }
    return false;
}

/* Moves `r` back and forth: a retired view each commit. */
static void commits(mt_region *r, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(mt_region_set_address(r, i & 1 ? 0 : PAGE), 0);
}

/* Forks; the child makes `n` commits, then expects ordinary writer
 * entries to free every retired view (the alarm ends a child that hangs).
 * No teardown in the child: the parent owns the test's state. */
static void child_frees_all(mt_test_env *e, mt_region *ram, unsigned n)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        commits(ram, n);
        bool freed = writer_entries_free_all(e->ctx, 5000);
        if (!freed)
            fprintf(stderr, "child: %llu retired views never freed\n",
                    (unsigned long long)mt_test_stats(e->ctx).retired_views);
        _exit(freed ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A RAM region of the usual setup, moved a few times: the parent's
 * reclamation is running, and nothing is left to free. */
static mt_region *moved_ram(mt_test_env *e)
{
    mt_test_std_size(e, 4 * PAGE);
    mt_region *ram = mt_test_ram_at(e, 0, "ram", PAGE);
    commits(ram, 8);
    assert_true(writer_entries_free_all(e->ctx, 5000));
    return ram;
}

static void test_child_frees_retired_views(void **state)
{
    mt_test_env *e = *state;
    mt_region *ram = moved_ram(e);
    child_frees_all(e, ram, COMMITS);

    /* and the parent's still runs */
    commits(ram, 8);
    assert_true(writer_entries_free_all(e->ctx, 5000));
}

/* A grace period held open: the hook runs on the grace-period thread after
 * it has taken the queue, and returns after a pause. */
static atomic_int hook_entered;
static void hold_grace_period(void)
{
    atomic_fetch_add(&hook_entered, 1);
    pause_ms(100);
}

/*
 * A fork while the grace-period thread is inside a grace period. The fork
 * used to go ahead at once: the batches the thread had taken from the
 * queue were then in no queue of the child, whose thread never saw them,
 * so the views they held were never freed there (and a child forked while
 * liburcu's own lock was held could hang at its first grace period). The
 * fork now waits for the grace period to end.
 */
static void test_fork_during_grace_period(void **state)
{
    mt_test_env *e = *state;
    mt_region *ram = moved_ram(e);
    atomic_store(&hook_entered, 0);
    __atomic_store_n(&mt__grace_period_hook, hold_grace_period, __ATOMIC_RELEASE);
    commits(ram, 8); /* the last commit hands its batch off */
    while (atomic_load(&hook_entered) == 0)
        pause_ms(1);
    __atomic_store_n(&mt__grace_period_hook, (void (*)(void))NULL, __ATOMIC_RELEASE);

    child_frees_all(e, ram, 0);
    assert_true(writer_entries_free_all(e->ctx, 5000));
}

MT_TEST_MAIN(MT_TEST(test_child_frees_retired_views), MT_TEST(test_fork_during_grace_period))
