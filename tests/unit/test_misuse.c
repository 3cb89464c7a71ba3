/*
 * Misuse through the public API (issue 2; docs/regions.md, "Usage errors"):
 * mapping a region that already has a container, unmapping from a
 * container that does not hold it, an alias init whose chain leads back to
 * itself, an alias window past 2^64, and committing with no transaction.
 * Each must return a negative errno, report one message to the diagnostic
 * hook, and leave the tree, the views and the counters as they were. Loops
 * at mapping are in test_alias_loops.c.
 */
#include "mt_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What must not change across a refused call. */
typedef struct snapshot {
    char *tree;
    char *view;
    mt_view *v;
    mt_stats stats;
    unsigned diags;
} snapshot;

static snapshot take(mt_test_env *e)
{
    snapshot s = {
        .tree = mt_test_tree_text(e->C),
        .view = mt_test_as_text(e->X),
        .v = mt_address_space_view(e->X),
        .stats = mt_test_stats(e->ctx),
        .diags = e->diag.count,
    };
    return s;
}

/* The call reported one diagnostic (naming `name` if given) and changed
 * nothing; frees the snapshot. */
static void unchanged(mt_test_env *e, snapshot *s, const char *name)
{
    mt_assert_diag(e, s->diags, name);
    mt_stats now = mt_test_stats(e->ctx);
    assert_int_equal(now.renders, s->stats.renders);
    assert_int_equal(now.live_regions, s->stats.live_regions);
    assert_int_equal(now.live_views, s->stats.live_views);
    assert_int_equal(now.cache_entries, s->stats.cache_entries);
    assert_int_equal(mt_transaction_depth(e->ctx), 0);
    assert_ptr_equal(mt_address_space_view(e->X), s->v);
    mt_assert_text(mt_test_tree_text(e->C), s->tree);
    mt_assert_view(e->X, s->view);
    free(s->tree);
    free(s->view);
}

static void std_with_children(mt_test_env *e, mt_region **r, mt_region **D)
{
    mt_test_std(e);
    mt_test_bg(e);
    *r = mt_test_ram(e, e->O2, "mapped-ram", 0x1000);
    mt_test_map(e->C, 0x1000, *r);
    *D = mt_test_container(e, e->O2, "D", 0x10000);
    mt_test_map_prio(e->C, 0x8000, *D, 1);
}

static void misuse_add_already_mapped(void **state)
{
    mt_test_env *e = *state;
    mt_region *r, *D;
    std_with_children(e, &r, &D);

    /* into another container */
    snapshot s = take(e);
    int rc = mt_region_add_subregion(D, 0, r);
    assert_true(rc == -EBUSY || rc == -EINVAL);
    unchanged(e, &s, "mapped-ram");
    assert_ptr_equal(mt_region_container(r), e->C);
    assert_int_equal(mt_region_addr(r), 0x1000);
    assert_null(mt_region_first_subregion(D));

    /* into the same container, elsewhere and with a priority */
    s = take(e);
    rc = mt_region_add_subregion_overlap(e->C, 0x3000, r, 7);
    assert_true(rc == -EBUSY || rc == -EINVAL);
    unchanged(e, &s, "mapped-ram");
    assert_int_equal(mt_region_addr(r), 0x1000);
    assert_int_equal(mt_region_priority(r), 0);
}

static void misuse_del_not_held(void **state)
{
    mt_test_env *e = *state;
    mt_region *r, *D;
    std_with_children(e, &r, &D);

    /* mapped, but in another container */
    snapshot s = take(e);
    assert_int_equal(mt_region_del_subregion(D, r), -ENOENT);
    unchanged(e, &s, "mapped-ram");
    assert_ptr_equal(mt_region_container(r), e->C);

    /* not mapped at all */
    mt_region *loose = mt_test_ram(e, e->O2, "loose-ram", 0x1000);
    s = take(e);
    assert_int_equal(mt_region_del_subregion(e->C, loose), -ENOENT);
    unchanged(e, &s, "loose-ram");
    assert_null(mt_region_container(loose));

    /* a grandchild is not held by the grandparent */
    mt_region *g = mt_test_io(e, e->O2, "grandchild", 0x100);
    mt_test_map(D, 0, g);
    s = take(e);
    assert_int_equal(mt_region_del_subregion(e->C, g), -ENOENT);
    unchanged(e, &s, "grandchild");
    assert_ptr_equal(mt_region_container(g), D);
}

/* Re-initialising a live alias as an alias of an alias that targets it
 * would close a loop (the second usage error of test_lifetime_core.c). */
static void misuse_alias_init_cycle(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", t, 0, 0x1000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", a1, 0, 0x1000);
    mt_test_map(e->C, 0x2000, a2);
    uint64_t id1 = mt_region_id(a1);

    snapshot s = take(e);
    assert_int_equal(mt_region_init_alias(a1, e->ctx, e->O2, "a1-again", a2, 0, 0x1000),
                     -ELOOP);
    unchanged(e, &s, NULL);
    assert_int_equal(mt_region_id(a1), id1);
    assert_ptr_equal(mt_region_alias_target(a1), t);
    assert_string_equal(mt_region_name(a1), "a1");
    assert_ptr_equal(mt_region_alias_target(a2), a1);

    /* Three links: a3 → a2 → a1, and a1 re-initialised onto a3. */
    mt_region *a3 = mt_test_alias(e, e->O2, "a3", a2, 0, 0x1000);
    s = take(e);
    assert_int_equal(mt_region_init_alias(a1, e->ctx, e->O2, "a1-again", a3, 0, 0x1000),
                     -ELOOP);
    unchanged(e, &s, NULL);
    assert_ptr_equal(mt_region_alias_target(a1), t);
}

static void misuse_alias_window_overflows(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    static const struct {
        uint64_t offset, size;
    } bad[] = {
        {0xfffffffffffff001ull, 0x1000},
        {0xfffffffffffff000ull, 0x2000},
        {UINT64_MAX, 2},
        /* Not {1, UINT64_MAX}: a 2^64 alias at offset 1000 is valid
         * and renders, clipped (test_view_sharing.c). */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* Caller storage: a failed init leaves it uninitialised, with
         * nothing to finalise or free. */
        mt_region storage;
        memset(&storage, 0, sizeof(storage));
        snapshot s = take(e);
        assert_int_equal(mt_region_init_alias(&storage, e->ctx, e->O2, "wide", t,
                                              bad[i].offset, bad[i].size),
                         -EOVERFLOW);
        unchanged(e, &s, NULL);
        assert_false(mt_region_is_mapped(t));
    }

    /* Ending exactly at 2^64 is allowed. */
    mt_region *edge = mt_test_alias(e, e->O2, "edge", t, 0xfffffffffffff000ull, 0x1000);
    assert_int_equal(mt_region_alias_offset(edge), 0xfffffffffffff000ull);
    mt_test_map(e->C, 0x3000, edge);

    /* Growing that window past 2^64, by size or by offset, is refused too. */
    snapshot s = take(e);
    assert_int_equal(mt_region_set_size(edge, 0x1001), -EOVERFLOW);
    unchanged(e, &s, "edge");
    assert_int_equal(mt_region_size(edge), 0x1000);
    s = take(e);
    assert_int_equal(mt_region_set_alias_offset(edge, 0xfffffffffffff001ull), -EOVERFLOW);
    unchanged(e, &s, "edge");
    assert_int_equal(mt_region_alias_offset(edge), 0xfffffffffffff000ull);
}

static void misuse_commit_without_transaction(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);

    snapshot s = take(e);
    assert_int_equal(mt_transaction_commit(e->ctx), -EINVAL);
    unchanged(e, &s, NULL);

    /* One commit too many after a balanced pair, with an edit pending. */
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x1000);
    mt_transaction_begin(e->ctx);
    mt_test_map(e->C, 0x1000, r);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio -1, i/o): bg\n"
                   "  0000000000001000-0000000000001fff (prio 0, ram): r\n"
                   "  0000000000002000-000000000000ffff (prio -1, i/o): bg @0000000000002000\n");
    s = take(e);
    assert_int_equal(mt_transaction_commit(e->ctx), -EINVAL);
    unchanged(e, &s, NULL);

    /* The depth did not go negative: a new transaction still defers. */
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_transaction_depth(e->ctx), 1);
    assert_int_equal(mt_region_set_enabled(r, false), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000000fff (prio -1, i/o): bg\n"
                   "  0000000000001000-0000000000001fff (prio 0, ram): r\n"
                   "  0000000000002000-000000000000ffff (prio -1, i/o): bg @0000000000002000\n");
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_assert_view(e->X, "  0000000000000000-000000000000ffff (prio -1, i/o): bg\n");
}

MT_TEST_MAIN(
    MT_TEST(misuse_add_already_mapped),
    MT_TEST(misuse_del_not_held),
    MT_TEST(misuse_alias_init_cycle),
    MT_TEST(misuse_alias_window_overflows),
    MT_TEST(misuse_commit_without_transaction))
