/*
 * Bug (issue 12, scenario 1): a registered reader thread whose MMIO write
 * callback remaps memory (set_address of a BAR, which commits) hung at
 * about the 64th such write. Each commit retired a view; past 64 retired
 * views the commit reclaimed them itself, calling synchronize_rcu inside
 * the thread's own read-side section (the access's), which waits forever.
 * Fixed by asynchronous reclamation (src/rcu.c): commits hand retired views
 * to call_rcu and never wait. The variant makes the same edit from an IOMMU
 * notifier fired by the callback. An alarm turns the hang into a failure.
 * Fixed by commit dc7055b.
 */
#include "reentry_world.h"

#define EDITS 10000

static void remap_from_callbacks(bool via_iommu)
{
    mt_reader_register(); /* a vCPU thread */
    rw_world *w = rw_world_new(via_iommu);
    char why[256] = "";
    for (uint32_t i = 1; i <= EDITS; i++) {
        uint32_t value = i * 5;
        /* a 4-byte register write: one callback, inside the access's
         * read-side section */
        assert_int_equal(mt_address_space_write(w->as, 0, MT_ATTRS_UNSPECIFIED, &value, 4),
                         MT_RESULT_OK);
        if (w->failure[0])
            fail_msg("callback: %s", w->failure);
        assert_int_equal(w->bar_slot, value % RW_SLOTS);
        if (!rw_check(w, why, sizeof(why)))
            fail_msg("after edit %u: %s", i, why);
    }
    assert_int_equal(w->edits, EDITS);
    assert_int_equal(w->diag.count, 0);
    rw_world_free(w);
    mt_reader_unregister();
}

RW_TEST_MAIN(remap_from_callbacks, test_remap_from_mmio_callback, test_remap_from_iommu_notifier)
