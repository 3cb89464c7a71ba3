/*
 * What keeps a region small (docs/regions.md, "Memory per region"; issue
 * 13's budget of 400 bytes a region for a million-region machine): the
 * fields few regions use live in a side struct made on first need, an
 * alias's offset shares its place with a device's opaque, the change marks
 * of a commit are kept only while a view is cached, and a loaded machine
 * keeps its regions in one block. Each test checks that the behaviour
 * those fields carry is unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <memtree.h>
#include <memtree/format.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The size the scale benchmark's figures (README.md, "scale") rest on. */
static void region_is_144_bytes_or_less(void **state)
{
    (void)state;
    assert_true(sizeof(mt_region) <= 144);
}

static uint64_t read_opaque(void *opaque, uint64_t offset, unsigned size)
{
    (void)size;
    return *(const uint64_t *)opaque + offset;
}

static const mt_region_ops opaque_ops = {
    .read = read_opaque,
    .write = mt_test_ignore_write,
    .endianness = MT_ENDIAN_LITTLE,
};

/* A device's opaque and an alias's offset share a field: each kind reads
 * its own, and a device reports no alias offset. */
static void device_opaque_and_alias_offset_stay_apart(void **state)
{
    mt_test_env *e = *state;
    mt_test_std(e);
    static uint64_t base = 0x5000;
    mt_region *dev = mt_test_io_ops(e, e->O2, &opaque_ops, &base, "dev", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "a", dev, 0x40, 0x100);
    mt_test_map(e->C, 0x1000, dev);
    mt_test_map(e->C, 0x4000, a);
    assert_int_equal(mt_region_alias_offset(dev), 0);
    assert_int_equal(mt_region_alias_offset(a), 0x40);
    uint64_t v = 0;
    assert_int_equal(mt_region_dispatch_read(a, 8, &v, 4, MT_ENDIAN_LITTLE,
                                             MT_ATTRS_UNSPECIFIED), MT_RESULT_OK);
    assert_int_equal(v, 0x5000 + 0x48);
    assert_int_equal(mt_region_set_alias_offset(a, 0x80), 0);
    assert_int_equal(mt_region_dispatch_read(dev, 8, &v, 4, MT_ENDIAN_LITTLE,
                                             MT_ATTRS_UNSPECIFIED), MT_RESULT_OK);
    assert_int_equal(v, 0x5008);
    assert_int_equal(mt_region_alias_offset(a), 0x80);
}

/* Edits made while no view is cached leave no marks; the first view shows
 * them all, and edits after it re-render what they reach, through
 * containers and through an alias of the edited region. */
static void edits_before_and_after_the_first_view(void **state)
{
    mt_test_env *e = *state;
    mt_region *c = mt_test_container(e, e->O1, "c", 0x10000);
    mt_region *inner = mt_test_container(e, e->O1, "inner", 0x1000);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x100);
    mt_region *a = mt_test_alias(e, e->O2, "a", inner, 0, 0x1000);
    mt_transaction_begin(e->ctx);
    mt_test_map(inner, 0x200, r);
    mt_test_map(c, 0x1000, inner);
    mt_test_map(c, 0x8000, a);
    assert_int_equal(mt_region_set_enabled(r, false), 0);
    assert_int_equal(mt_region_set_enabled(r, true), 0);
    mt_transaction_commit(e->ctx);
    mt_address_space *as = mt_test_as(e, c, "as");
    mt_assert_view(as, "  0000000000001200-00000000000012ff (prio 0, ram): r\n"
                       "  0000000000008200-00000000000082ff (prio 0, ram): r\n");
    /* the view is cached now: this edit marks r, inner, c and the alias */
    assert_int_equal(mt_region_set_address(r, 0x300), 0);
    mt_assert_view(as, "  0000000000001300-00000000000013ff (prio 0, ram): r\n"
                       "  0000000000008300-00000000000083ff (prio 0, ram): r\n");
    assert_int_equal(mt_region_set_enabled(a, false), 0);
    mt_assert_view(as, "  0000000000001300-00000000000013ff (prio 0, ram): r\n");
}

/* A loaded machine's regions share one block: each is still found by its
 * label and gives its label back, and a region of another block gives
 * none. */
static void loaded_regions_know_their_labels(void **state)
{
    mt_test_env *e = *state;
    mt_test_loaded L;
    mt_test_load(&L, MT_FORMAT_MAP,
                 "memtree-map 1\n"
                 "region top - container 0 10000 0 - - - - system\n"
                 "region b top ram 1000 1000 0 - - - - ram-b\n"
                 "region a top ram 0 1000 0 - - - - ram-a\n"
                 "region al top alias 8000 1000 0 - b 0 - ram-al\n"
                 "as top memory\n",
                 "m.map", NULL, 0);
    assert_int_equal(L.rc, 0);
    const char *labels[] = {"top", "b", "a", "al"};
    assert_int_equal(mt_machine_region_count(L.m), 4);
    for (size_t i = 0; i < 4; i++) {
        mt_region *r = mt_machine_region(L.m, i);
        assert_ptr_equal(mt_machine_region_by_label(L.m, labels[i]), r);
        assert_string_equal(mt_machine_region_label(L.m, r), labels[i]);
    }
    assert_null(mt_machine_region_by_label(L.m, "c"));
    mt_region *other = mt_test_ram(e, e->O1, "other", 0x100);
    assert_null(mt_machine_region_label(L.m, other));
    mt_test_unload(&L);
}

MT_TEST_MAIN(cmocka_unit_test(region_is_144_bytes_or_less),
             MT_TEST(device_opaque_and_alias_offset_stay_apart),
             MT_TEST(edits_before_and_after_the_first_view),
             MT_TEST(loaded_regions_know_their_labels))
