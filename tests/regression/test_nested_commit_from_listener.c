/*
 * Bug (issue 12, scenario 3): a listener whose region_add moves a shadow
 * window (unmap and map in a transaction) made a commit inside the diff
 * of another: listeners got a begin inside a begin, region_nop for ranges
 * already deleted, and then a heap-use-after-free in the listener diff
 * (the outer diff walked a view the inner commit had released). Fixed in
 * src/txn.c: a commit that ends inside listener calls is deferred until
 * those calls end, then processed by the outer commit's loop. The variant
 * moves the shadow from an IOMMU notifier that region_add fires.
 * Fixed by commit dc7055b.
 */
#include "reentry_world.h"

#define EDITS 20000 /* every other one makes a callback edit: 10,000 */

/* region_add of `trigger` moves the shadow to the next slot. */
static void move_shadow(mt_mirror *m, const mt_section *s)
{
    rw_world *w = m->opaque;
    if (s->region != &w->trigger)
        return;
    unsigned next = (w->shadow_slot + 1) % RW_SLOTS;
    if (w->via_iommu) {
        /* the notifier moves bar; then the shadow here, both nested */
        rw_notify(w, next);
    }
    mt_transaction_begin(w->ctx);
    if (mt_region_del_subregion(&w->sysmem, &w->shadow) != 0 ||
        mt_region_add_subregion(&w->sysmem, RW_SHADOW_AT(next), &w->shadow) != 0)
        mt_note_fail(w->failure, sizeof(w->failure), "moving the shadow failed");
    if (mt_transaction_commit(w->ctx) != 0)
        mt_note_fail(w->failure, sizeof(w->failure), "the nested commit failed");
    w->shadow_slot = next;
    w->edits++;
}

static void nested_commits(bool via_iommu)
{
    rw_world *w = rw_world_new(via_iommu);
    mt_mirror m;
    mt_mirror_init(&m);
    m.on_add = move_shadow;
    m.opaque = w;
    assert_int_equal(mt_listener_register(&m.l, w->as), 0);
    char why[256] = "";
    for (unsigned i = 1; i <= EDITS; i++) {
        /* every other edit shows the trigger, whose region_add commits */
        assert_int_equal(mt_region_set_enabled(&w->trigger, i % 2 == 1), 0);
        if (w->failure[0])
            fail_msg("edit %u: callback: %s", i, w->failure);
        if (m.failure[0])
            fail_msg("edit %u: listener: %s", i, m.failure);
        assert_int_equal(m.depth, 0);
        mt_translation t;
        assert_int_equal(mt_address_space_translate(w->as, RW_SHADOW_AT(w->shadow_slot), 1,
                                                    false, MT_ATTRS_UNSPECIFIED, &t), 0);
        assert_ptr_equal(t.region, &w->shadow);
        if (via_iommu)
            assert_int_equal(w->bar_slot, w->shadow_slot);
        if (!mt_mirror_matches(&m, mt_address_space_view(w->as), why, sizeof(why)) ||
            !rw_check(w, why, sizeof(why)))
            fail_msg("after edit %u: %s", i, why);
    }
    assert_int_equal(w->edits, EDITS / 2 * (via_iommu ? 2 : 1));
    mt_listener_unregister(&m.l);
    assert_int_equal(m.n, 0);
    assert_int_equal(w->diag.count, 0);
    rw_world_free(w);
}

RW_TEST_MAIN(nested_commits, test_listener_commits, test_listener_notifier_commits)
