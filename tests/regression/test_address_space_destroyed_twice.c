/*
 * Bug (issue 12): destroying an address space twice crashed. The first
 * destroy queued the struct for reclamation; the second walked it again,
 * unlinking it from the context's list a second time (corrupting the list)
 * and queuing it twice, so reclamation freed it twice. Fixed in
 * src/address_space.c: a destroyed address space stays allocated, marked,
 * until the context is freed; a second destroy is refused (-EINVAL) with
 * one diagnostic naming it, in every build.
 * Fixed by commit dc7055b.
 */
#include "mt_test.h"

#include <errno.h>

static void test_second_destroy_refused(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_address_space *as = mt_address_space_new(e->ctx, e->C, "dma");
    assert_non_null(as);
    assert_int_equal(mt_address_space_destroy(as), 0);
    unsigned before = e->diag.count;
    mt_stats st = mt_test_stats(e->ctx);
    assert_int_equal(mt_address_space_destroy(as), -EINVAL);
    mt_assert_diag(e, before, "dma");
    mt_assert_contains(e->diag.last, "already destroyed");
    /* nothing changed: the list, the counters, the other address space */
    mt_stats now = mt_test_stats(e->ctx);
    assert_int_equal(now.address_spaces, st.address_spaces);
    assert_ptr_equal(mt_context_first_address_space(e->ctx), e->X);
    assert_null(mt_address_space_next(e->X));
    /* after reclamation too */
    mt_test_reclaim(e);
    assert_int_equal(mt_address_space_destroy(as), -EINVAL);
    mt_assert_diag(e, before + 1, "dma");
    assert_ptr_equal(mt_context_first_address_space(e->ctx), e->X);
}

MT_TEST_MAIN(
    MT_TEST(test_second_destroy_refused))
