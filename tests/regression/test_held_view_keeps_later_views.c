/*
 * Bug: holding one view (mt_view_ref, or a section copy) while commits go
 * on kept every later view of its lineage in memory, without end. A view
 * freed before an older view of its lineage waits for it, because the
 * chunks it replaced hold references that later chunks took over; it
 * waited with its whole index and chunk array, and the lineage kept
 * growing by a view and a chunk a commit: 164 MB after 10,000 commits on
 * a machine of 10,000 regions. Fixed in src/view.c: a waiting view keeps
 * only the chunks it is to free (view_shed), and a lineage that keeps
 * more than about two views' worth of them takes no new view (the next
 * commit renders whole and starts a lineage of its own): 5 MB.
 *
 * This holds the first view over 3,000 commits and checks that the live
 * views stay bounded (before the fix: one per commit), that the held view
 * still answers as it did, and that letting go frees the rest.
 */
#include "mt_test.h"

#define REGIONS 10000
#define PAGE 0x1000u
#define COMMITS 3000

static mt_region root, regs[REGIONS], extra;

static void held_view_keeps_a_bounded_lineage(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    assert_non_null(ctx);
    assert_int_equal(mt_region_init_container(&root, ctx, NULL, "root", UINT64_MAX), 0);
    mt_transaction_begin(ctx);
    for (int i = 0; i < REGIONS; i++) {
        assert_int_equal(mt_region_init_reservation(&regs[i], ctx, NULL, "r", PAGE), 0);
        assert_int_equal(mt_region_add_subregion(&root, (uint64_t)i * 2 * PAGE, &regs[i]), 0);
    }
    assert_int_equal(mt_transaction_commit(ctx), 0);
    mt_address_space *as = mt_address_space_new(ctx, &root, "as");
    assert_non_null(as);
    mt_view *held = mt_address_space_view(as);
    assert_true(mt_view_ref(held));
    assert_int_equal(mt_region_init_reservation(&extra, ctx, NULL, "extra", PAGE), 0);

    uint64_t most = 0;
    for (int i = 0; i < COMMITS; i++) {
        /* a page between two regions, mapped and unmapped: one chunk
         * replaced a commit */
        uint64_t at = (uint64_t)(i % REGIONS) * 2 * PAGE + PAGE;
        assert_int_equal(mt_region_add_subregion(&root, at, &extra), 0);
        assert_int_equal(mt_region_del_subregion(&root, &extra), 0);
        if (i % 64 == 63) {
            assert_int_equal(mt_context_reclaim(ctx), 0);
            mt_stats st;
            mt_context_get_stats(ctx, &st);
            most = st.live_views > most ? st.live_views : most;
        }
    }
    /* 2 * COMMITS views were made; about 200 may wait for the held one */
    assert_true(most < 600);

    /* the held view is intact: its ranges, its lookups */
    assert_int_equal(mt_view_range_count(held), REGIONS);
    for (int i = 0; i < REGIONS; i += 97) {
        const mt_range *r = mt_view_find_range(held, (uint64_t)i * 2 * PAGE + 8);
        assert_non_null(r);
        assert_ptr_equal(r->region, &regs[i]);
        assert_null(mt_view_find_range(held, (uint64_t)i * 2 * PAGE + PAGE));
    }

    mt_view_unref(held);
    assert_int_equal(mt_context_reclaim(ctx), 0);
    mt_stats st;
    mt_context_get_stats(ctx, &st);
    assert_true(st.live_views <= 2);

    assert_int_equal(mt_address_space_destroy(as), 0);
    assert_int_equal(mt_context_reclaim(ctx), 0);
    assert_int_equal(mt_region_finalize(&extra), 0);
    for (int i = REGIONS - 1; i >= 0; i--)
        assert_int_equal(mt_region_finalize(&regs[i]), 0);
    assert_int_equal(mt_region_finalize(&root), 0);
    mt_context_free(ctx);
}

MT_TEST_MAIN(cmocka_unit_test(held_view_keeps_a_bounded_lineage))
