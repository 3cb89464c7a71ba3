/*
 * Bug (issue 12): a section (from a lookup, find, or a listener call) did
 * not say whether its ROM device range was in romd mode, nor which
 * dirty-log clients its range carried, though the range knew both; and no
 * call gave a region's effective dirty-log mask. A listener could not tell
 * a romd switch apart (it shows as del + add) nor set up dirty tracking
 * from region_add. Fixed: mt_section.romd_mode and .dirty_log_mask, filled
 * wherever a section is made, and mt_region_dirty_log_mask.
 * Fixed by commit e617b14.
 */
#include "mt_test.h"

static mt_section last_add;

static void remember_add(mt_listener *l, const mt_section *s)
{
    (void)l;
    last_add = *s;
}

static const mt_region_ops romd_ops = {.endianness = MT_ENDIAN_LITTLE};

static void test_sections_carry_romd_and_mask(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *ram = mt_test_ram_at(e, 0x1000, "vga", 0x1000);
    mt_region *rom = mt_test_rom_device(e, e->O2, &romd_ops, NULL, "flash", 0x1000);
    mt_test_map(e->C, 0x4000, rom);
    mt_listener l = {.region_add = remember_add};
    assert_int_equal(mt_listener_register(&l, e->X), 0);

    assert_int_equal(mt_region_dirty_log_mask(ram), 0);
    assert_int_equal(mt_region_set_log(ram, true, MT_DIRTY_VGA), 0);
    assert_int_equal(mt_region_dirty_log_mask(ram), 1u << MT_DIRTY_VGA);
    mt_context_set_global_dirty_log(e->ctx, true);
    assert_int_equal(mt_region_dirty_log_mask(ram),
                     (1u << MT_DIRTY_VGA) | (1u << MT_DIRTY_MIGRATION));
    /* migration is for RAM-backed kinds; MMIO-like ROM devices in romd
     * mode are RAM-backed too */
    assert_int_equal(mt_region_dirty_log_mask(e->C), 0);

    mt_section s;
    mt_read_lock();
    mt_view_lookup(mt_address_space_view(e->X), 0x1010, &s);
    assert_ptr_equal(s.region, ram);
    assert_int_equal(s.dirty_log_mask, mt_region_dirty_log_mask(ram));
    mt_view_lookup(mt_address_space_view(e->X), 0x4010, &s);
    assert_ptr_equal(s.region, rom);
    assert_true(s.romd_mode); /* every region starts in romd mode, as in QEMU */
    mt_read_unlock();

    /* switching modes is del + add: the add says which mode */
    assert_int_equal(mt_region_set_romd(rom, false), 0);
    assert_ptr_equal(last_add.region, rom);
    assert_false(last_add.romd_mode);
    assert_int_equal(mt_region_set_romd(rom, true), 0);
    assert_true(last_add.romd_mode);

    assert_int_equal(mt_region_find(e->C, 0x1000, 1, &s), 0);
    assert_int_equal(s.dirty_log_mask, mt_region_dirty_log_mask(ram));
    mt_section_release(&s);

    mt_listener_unregister(&l);
    mt_context_set_global_dirty_log(e->ctx, false);
    assert_int_equal(mt_region_set_log(ram, false, MT_DIRTY_VGA), 0);
    assert_int_equal(e->diag.count, 0);
}

MT_TEST_MAIN(
    MT_TEST(test_sections_carry_romd_and_mask))
