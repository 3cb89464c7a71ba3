/*
 * The type column of the dumps as the public API gives it
 * (mt_dump_region_type, mt_dump_range_type): the word for each kind, an
 * alias taking the type of the end of its chain, a range made read-only on
 * its path printing "rom" even over MMIO, and NULL arguments.
 */
#include <stdlib.h>
#include <string.h>

#include "mt_test.h"

static void region_types_by_kind(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_region *rom = mt_test_rom(e, e->O2, "rom", 0x1000);
    mt_region *io = mt_test_io(e, e->O2, "io", 0x1000);
    mt_region *romd = mt_test_rom_device(e, e->O2, &mt_test_zero_ops, NULL, "romd", 0x1000);
    assert_string_equal(mt_dump_region_type(ram), "ram");
    assert_string_equal(mt_dump_region_type(rom), "rom");
    assert_string_equal(mt_dump_region_type(io), "i/o");
    assert_string_equal(mt_dump_region_type(e->C), "i/o");
    /* a ROM device prints romd only while it is in romd mode */
    assert_string_equal(mt_dump_region_type(romd), "romd");
    assert_int_equal(mt_region_set_romd(romd, false), 0);
    assert_string_equal(mt_dump_region_type(romd), "i/o");
}

static void alias_prints_the_end_of_its_chain(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *rom = mt_test_rom(e, e->O2, "rom", 0x1000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", rom, 0, 0x1000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", a1, 0, 0x1000);
    assert_string_equal(mt_dump_region_type(a2), "rom");
}

static void readonly_path_makes_a_rom_range(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *io = mt_test_io(e, e->O2, "io", 0x1000);
    mt_region *ro = mt_test_alias(e, e->O2, "ro", io, 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(ro, true), 0);
    mt_test_map(e->C, 0, ro);
    mt_test_ram_at(e, 0x1000, "ram", 0x1000);
    const mt_view *v = mt_address_space_view(e->X);
    const mt_range *over_io = mt_view_find_range(v, 0);
    const mt_range *over_ram = mt_view_find_range(v, 0x1000);
    assert_non_null(over_io);
    assert_non_null(over_ram);
    /* the region stays MMIO; the range it shows through `ro` is rom */
    assert_string_equal(mt_dump_region_type(over_io->region), "i/o");
    assert_string_equal(mt_dump_range_type(over_io), "rom");
    assert_string_equal(mt_dump_range_type(over_ram), "ram");
    /* and the flat dump prints the same words */
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "0000000000000000-0000000000000fff (prio 0, rom): io\n");
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            "0000000000001000-0000000000001fff (prio 0, ram): ram\n");
}

static void null_arguments(void **state)
{
    (void)state;
    assert_null(mt_dump_region_type(NULL));
    assert_null(mt_dump_range_type(NULL));
}

MT_TEST_MAIN(
    MT_TEST(region_types_by_kind),
    MT_TEST(alias_prints_the_end_of_its_chain),
    MT_TEST(readonly_path_makes_a_rom_range),
    cmocka_unit_test(null_arguments))
