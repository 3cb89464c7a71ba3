/*
 * Bug (issue 12, found by tests/unit/test_reentrant_random.c): an edit
 * checks the tree, then opens its transaction, which calls the flush hook;
 * a hook that edits the same region in between left the tree corrupt.
 * set_address of a mapped region read its container, the hook unmapped the
 * region, and the move unlinked it a second time: the container's child
 * list lost another region while that one still named the container (the
 * view kept it, the sibling walk did not). Fixed in src/region.c: the link
 * helpers check again after their begin; a move of a region the hook
 * unmapped just records the address, a map the hook overtook is refused
 * with -EBUSY and a report, and the tree is always what the hook left.
 * Fixed by commit 19f158d.
 */
#include "mt_test.h"
#include "ref_render.h"

#include <errno.h>
#include <stdlib.h>

struct hook {
    mt_region *c, *r;
    int action; /* 1: unmap r, 2: map r at 0x8000; 0: nothing */
};

static void flush_edits(void *opaque)
{
    struct hook *h = opaque;
    int action = h->action;
    h->action = 0; /* once */
    if (action == 1)
        assert_int_equal(mt_region_del_subregion(h->c, h->r), 0);
    else if (action == 2)
        assert_int_equal(mt_region_add_subregion(h->c, 0x8000, h->r), 0);
}

/* The tree is consistent: the sibling walk finds exactly the regions whose
 * container is `c`, and the view is the reference render's. */
static void consistent(mt_test_env *e, mt_region *const *all, size_t n)
{
    size_t walked = 0;
    for (mt_region *s = mt_region_first_subregion(e->C); s; s = mt_region_next_sibling(s)) {
        assert_ptr_equal(mt_region_container(s), e->C);
        walked++;
    }
    size_t linked = 0;
    for (size_t i = 0; i < n; i++)
        linked += mt_region_container(all[i]) == e->C;
    assert_int_equal(walked, linked);
    char why[256] = "";
    if (!ref_render_matches(ref_flat_root(e->C), mt_address_space_view(e->X), why, sizeof(why)))
        fail_msg("view: %s", why);
}

static void test_hook_unmaps_the_region_being_moved(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0x1000, "bar", 0x1000);
    mt_region *s = mt_test_ram_at(e, 0x3000, "other", 0x1000);
    struct hook h = {.c = e->C, .r = r, .action = 1};
    mt_context_set_flush_hook(e->ctx, flush_edits, &h);
    assert_int_equal(mt_region_set_address(r, 0x2000), 0);
    mt_context_set_flush_hook(e->ctx, NULL, NULL);
    assert_null(mt_region_container(r));
    assert_int_equal(mt_region_addr(r), 0x2000);
    mt_region *all[] = {r, s};
    consistent(e, all, 2);
    assert_int_equal(e->diag.count, 0);
}

static void test_hook_maps_the_region_being_mapped(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram(e, e->O2, "bar", 0x1000);
    mt_region *s = mt_test_ram_at(e, 0x3000, "other", 0x1000);
    struct hook h = {.c = e->C, .r = r, .action = 2};
    mt_context_set_flush_hook(e->ctx, flush_edits, &h);
    unsigned before = e->diag.count;
    assert_int_equal(mt_region_add_subregion(e->C, 0x1000, r), -EBUSY);
    mt_context_set_flush_hook(e->ctx, NULL, NULL);
    mt_assert_diag(e, before, "bar");
    assert_ptr_equal(mt_region_container(r), e->C);
    assert_int_equal(mt_region_addr(r), 0x8000);
    mt_region *all[] = {r, s};
    consistent(e, all, 2);
}

MT_TEST_MAIN(
    MT_TEST(test_hook_unmaps_the_region_being_moved),
    MT_TEST(test_hook_maps_the_region_being_mapped))
