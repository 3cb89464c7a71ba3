/*
 * Bug (issue 12, scenario 2): on a thread that never registered as a
 * reader (the docs said a writer need not), an 8-byte write spanning two
 * 4-byte MMIO registers, whose first callback commits, used freed memory:
 * after 64 edits the commit reclaimed retired views, the grace period did
 * not wait for the unregistered thread, and the split access went on
 * walking the view that was just freed (ASan: heap-use-after-free in the
 * dispatch lookup at the second chunk). Silent without a sanitizer.
 * Fixed by asynchronous reclamation (commits never free) and by
 * registering a thread on its first access (src/rcu.c), so the access
 * keeps its view until it returns. The variant commits from an IOMMU
 * notifier the first callback fires.
 * Fixed by commit dc7055b.
 */
#include "reentry_world.h"

#include <pthread.h>

#define EDITS 10000

struct run {
    rw_world *w;
    char failure[256];
};

/* The device model's thread: never calls mt_reader_register. */
static void *unregistered_thread(void *arg)
{
    struct run *run = arg;
    rw_world *w = run->w;
    for (uint32_t i = 1; i <= EDITS && !run->failure[0]; i++) {
        uint32_t value[2] = {i * 3, ~i};
        mt_result res = mt_address_space_write(w->as, 0, MT_ATTRS_UNSPECIFIED, value, 8);
        if (res != MT_RESULT_OK)
            mt_note_fail(run->failure, sizeof(run->failure), "write %u: result %d", i, (int)res);
        else if (w->failure[0])
            mt_note_fail(run->failure, sizeof(run->failure), "callback: %s", w->failure);
        else if (w->second_reg != ~i)
            mt_note_fail(run->failure, sizeof(run->failure),
                    "write %u: the second register got 0x%x", i, w->second_reg);
        else if (w->bar_slot != value[0] % RW_SLOTS)
            mt_note_fail(run->failure, sizeof(run->failure), "write %u: bar at slot %u", i,
                    w->bar_slot);
        else {
            char why[200] = "";
            if (!rw_check(w, why, sizeof(why)))
                mt_note_fail(run->failure, sizeof(run->failure), "after edit %u: %s", i, why);
        }
    }
    return NULL;
}

static void split_write_commits(bool via_iommu)
{
    struct run run = {.w = rw_world_new(via_iommu)};
    /* The context is built on this thread; everything after on the other,
     * so it is the writer and the reader at once, unregistered. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, unregistered_thread, &run), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    if (run.failure[0])
        fail_msg("%s", run.failure);
    assert_int_equal(run.w->edits, EDITS);
    assert_int_equal(run.w->diag.count, 0);
    rw_world_free(run.w);
}

RW_TEST_MAIN(split_write_commits, test_split_write_commits, test_split_write_notifier_commits)
