/*
 * Bug: `memtree watch` sometimes went on waiting for its next sample after
 * Ctrl-C. Retired views went to liburcu's call_rcu, whose callback thread
 * (started at the first commit) has the signal mask of the thread that
 * happened to start it: nothing blocked. The kernel may deliver a signal
 * sent to the process to any thread that does not block it, so SIGINT
 * sometimes ran its handler on that thread, and the main thread's wait
 * for the next QMP event was not interrupted. Fixed in src/grace.c:
 * memtree's own grace-period thread replaces call_rcu and blocks every
 * signal, so no thread of the library takes one meant for the program.
 */
#include "mt_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PAGE 0x1000ull

/* The blocked-signal mask of thread `tid` of this process, from /proc. */
static unsigned long long blocked_signals(const char *tid)
{
    char path[320], line[256];
    snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long mask = 0;
    bool found = false;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
            found = true;
            break;
        }
    fclose(f);
    assert_true(found);
    return mask;
}

static unsigned long long bit(int sig)
{
    return 1ull << (sig - 1);
}

static void test_no_library_thread_takes_signals(void **state)
{
    mt_test_env *e = *state;
    mt_test_std_size(e, 4 * PAGE);
    mt_region *ram = mt_test_ram_at(e, 0, "ram", PAGE);
    /* commits retire views: reclamation starts its thread */
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(mt_region_set_address(ram, i & 1 ? 0 : PAGE), 0);
    for (int waited = 0; mt_test_stats(e->ctx).retired_views && waited < 5000; waited += 2) {
        nanosleep(&(struct timespec){0, 2000000}, NULL);
        mt_transaction_begin(e->ctx);
        mt_transaction_commit(e->ctx);
    }
    assert_int_equal(mt_test_stats(e->ctx).retired_views, 0);

    char main_tid[32];
    snprintf(main_tid, sizeof(main_tid), "%d", (int)getpid());
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    unsigned others = 0;
    for (struct dirent *t; (t = readdir(d));) {
        if (t->d_name[0] == '.' || !strcmp(t->d_name, main_tid))
            continue;
        others++;
        unsigned long long mask = blocked_signals(t->d_name);
        if (!(mask & bit(SIGINT)) || !(mask & bit(SIGTERM)))
            fail_msg("thread %s takes SIGINT or SIGTERM (blocked mask %llx)", t->d_name, mask);
    }
    closedir(d);
    /* the grace-period thread, at least */
    assert_true(others >= 1);
}

MT_TEST_MAIN(MT_TEST(test_no_library_thread_takes_signals))
