/*
 * Bug (issue 12): one mt_owner_unref too many tore the owner down while
 * the library still used it: the count mixed the embedder's references
 * with the library's (views, links), so the embedder's extra release took
 * the library's, and the owner's regions were finalised under live views
 * (the checker only printed). Fixed in src/owner.c: the embedder's
 * references are counted apart; an unref beyond them is refused (-EINVAL),
 * reported once through the context's hook naming the owner, and nothing
 * is torn down. A call on an owner already released is refused too.
 * Fixed by commit e617b14.
 */
#include "mt_test.h"

#include <errno.h>

static void test_extra_unref_refused(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_owner dev;
    mt_test_owner_init(&dev, "dev id=nic0");
    mt_region ram;
    assert_int_equal(mt_region_init_ram(&ram, e->ctx, &dev.owner, "nic.rom", 0x1000), 0);
    mt_test_map(e->C, 0x2000, &ram);
    /* the embedder's one, and the view's range */
    uint32_t refs = mt_owner_refcount(&dev.owner);
    assert_true(refs >= 2);
    assert_int_equal(mt_owner_ref(&dev.owner), 0);
    assert_int_equal(mt_owner_unref(&dev.owner), 0);
    assert_int_equal(mt_owner_unref(&dev.owner), 0); /* the embedder's last */
    mt_assert_refused(e, mt_owner_unref(&dev.owner), -EINVAL, "dev id=nic0"); /* one too many */
    mt_assert_contains(e->diag.last, "mt_owner_unref");
    assert_int_equal(dev.released, 0);
    assert_int_equal(mt_owner_refcount(&dev.owner), refs - 1);
    /* the region is intact and still mapped */
    assert_string_equal(mt_region_name(&ram), "nic.rom");
    mt_translation t;
    assert_int_equal(mt_address_space_translate(e->X, 0x2000, 1, false, MT_ATTRS_UNSPECIFIED,
                                                &t), 0);
    assert_ptr_equal(t.region, &ram);
    /* letting go the right way: unmap, reclaim, and the owner goes */
    mt_test_unmap(e->C, &ram);
    mt_test_reclaim(e);
    assert_int_equal(dev.released, 1);
    /* a call on the released owner is refused too, through the hook */
    mt_assert_refused(e, mt_owner_unref(&dev.owner), -EINVAL, NULL);
    mt_assert_contains(e->diag.last, "was released");
}

MT_TEST_MAIN(
    MT_TEST(test_extra_unref_refused))
