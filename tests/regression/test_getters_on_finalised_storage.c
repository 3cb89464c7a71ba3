/*
 * Bug (issue 12): queries on finalised storage returned garbage (the name
 * of a finalised region read the 0x6b fill: a wild pointer), and edits on
 * it reported through the default hook on stderr, bypassing the context's
 * hook, because the tombstone no longer named a context. Fixed in
 * src/region.c: the tombstone keeps the context; every query and edit on
 * it is reported once through the context's hook, naming the region and
 * the call; edits return -EINVAL, queries NULL, 0 or false (the id: the
 * finalised region's).
 * Fixed by commit e617b14.
 */
#include "mt_test.h"

#include <errno.h>

static void test_queries_and_edits_reported(void **state)
{
    mt_test_env *e = *state;
    mt_region r;
    assert_int_equal(mt_region_init_ram(&r, e->ctx, NULL, "pc.bios", 0x1000), 0);
    uint64_t id = mt_region_id(&r);
    assert_int_equal(mt_region_finalize(&r), 0);

    unsigned n = e->diag.count;
#define QUERY(call, expect, name)                                              \
    do {                                                                       \
        assert_true((call) == (expect));                                       \
        mt_assert_diag(e, n, "pc.bios");                                       \
        mt_assert_contains(e->diag.last, name);                                \
        n++;                                                                   \
    } while (0)
    QUERY(mt_region_name(&r), NULL, "mt_region_name");
    QUERY(mt_region_id(&r), id, "mt_region_id");
    QUERY(mt_region_size(&r), 0, "mt_region_size");
    QUERY(mt_region_addr(&r), 0, "mt_region_addr");
    QUERY(mt_region_owner(&r), NULL, "mt_region_owner");
    QUERY(mt_region_container(&r), NULL, "mt_region_container");
    QUERY(mt_region_enabled(&r), false, "mt_region_enabled");
    QUERY(mt_region_readonly(&r), false, "mt_region_readonly");
    QUERY(mt_region_is_mapped(&r), false, "mt_region_is_mapped");
    QUERY(mt_region_ram_ptr(&r), NULL, "mt_region_ram_ptr");
    QUERY(mt_region_first_subregion(&r), NULL, "mt_region_first_subregion");
    QUERY(mt_region_dirty_log_mask(&r), 0, "mt_region_dirty_log_mask");
    uint64_t low = 7;
    QUERY(mt_region_size_exact(&r, &low), false, "mt_region_size_exact");
    assert_int_equal(low, 0);
    /* edits refuse */
    QUERY(mt_region_set_enabled(&r, false), -EINVAL, "set_enabled");
    QUERY(mt_region_set_address(&r, 0x1000), -EINVAL, "set_address");
    QUERY(mt_region_add_subregion(e->C ? e->C : &r, 0, &r), -EINVAL, "add_subregion");
    QUERY(mt_region_set_log(&r, true, 0), -EINVAL, "set_log");
    QUERY(mt_region_finalize(&r), -EINVAL, "finalize");
    mt_assert_contains(e->diag.last, "was finalised");
#undef QUERY
}

MT_TEST_MAIN(
    MT_TEST(test_queries_and_edits_reported))
