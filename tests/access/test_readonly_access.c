/*
 * Readonly writes (docs/access.md, "Readonly ranges: one rule"): memtree
 * refuses every write that reaches a readonly range, whichever region on the
 * path set the flag, through address spaces, mappings, region-level dispatch,
 * ROM devices and IOMMUs, with no callback and no eventfd; the ROM loader's
 * write still works; listeners and the flat-root descent keep the flag.
 */
#include "access_test.h"

/* Item 25's setup: RAM `r` filled with 5a behind the readonly alias `ro`
 * at 0, over bg. */
static mt_region *readonly_alias_setup(mt_test_env *e)
{
    mt_test_std(e);
    mt_test_bg(e);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x1000);
    fill_byte(r, 0x1000, 0x5a);
    mt_region *ro = mt_test_alias(e, e->O2, "ro", r, 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(ro, true), 0);
    mt_test_map(e->C, 0, ro);
    return r;
}

/* ---- readonly alias of ram --------------------------------------------------- */

static void readonly_alias_of_ram(void **state)
{
    mt_test_env *e = *state;
    mt_region *r = readonly_alias_setup(e);
    uint8_t buf[4];
    assert_int_equal(wr(e->X, 0, (uint8_t[]){0x11, 0x22, 0x33, 0x44}, 4),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(rd(e->X, 0, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x5a, 0x5a, 0x5a, 0x5a);
    assert_bytes(mt_region_ram_ptr(r), 0x5a, 0x5a, 0x5a, 0x5a);

    assert_int_equal(mt_address_space_write_rom(e->X, 0, A, (uint8_t[]){0x11, 0x22, 0x33, 0x44},
                                                4),
                     MT_RESULT_OK);
    assert_int_equal(rd(e->X, 0, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x11, 0x22, 0x33, 0x44);
    assert_bytes(mt_region_ram_ptr(r), 0x11, 0x22, 0x33, 0x44);
}

/* ---- readonly container over mmio -------------------------------------------- */

static void readonly_container_over_mmio(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.read_value = 0x01020304;
    mt_region *rc = mt_test_container(e, e->O2, "rc", 0x2000);
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x1000);
    mt_test_map(rc, 0, r);
    mt_test_map(rc, 0x1000, rec_region(e, &d, "m", 0x1000));
    assert_int_equal(mt_region_set_readonly(rc, true), 0);
    mt_test_map(e->C, 0, rc);

    uint8_t buf[4];
    assert_int_equal(wr(e->X, 0x1000, (uint8_t[]){1, 2, 3, 4}, 4), MT_RESULT_DECODE_ERROR);
    assert_log(&d, "");
    assert_int_equal(rd(e->X, 0x1000, buf, 4), MT_RESULT_OK);
    assert_log(&d, "r@0/4");
    assert_bytes(buf, 4, 3, 2, 1);
    /* the RAM below it too */
    assert_int_equal(wr(e->X, 0, (uint8_t[]){1, 2, 3, 4}, 4), MT_RESULT_DECODE_ERROR);
    assert_bytes(mt_region_ram_ptr(r), 0, 0, 0, 0);
}

/* ---- mixed access ------------------------------------------------------------ */

static void mixed_access(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *w = mt_test_ram(e, e->O2, "w", 0x1000);
    mt_region *r2 = mt_test_ram(e, e->O2, "r2", 0x1000);
    fill_byte(r2, 0x1000, 0x5a);
    mt_region *ro = mt_test_alias(e, e->O2, "ro", r2, 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(ro, true), 0);
    mt_test_map(e->C, 0, w);
    mt_test_map(e->C, 0x1000, ro);

    const uint8_t data[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    assert_int_equal(wr(e->X, 0xffc, data, 8), MT_RESULT_DECODE_ERROR);
    uint8_t *wp = mt_region_ram_ptr(w);
    assert_bytes(wp + 0xffc, 0x11, 0x22, 0x33, 0x44);
    const uint8_t *r2p = mt_region_ram_ptr(r2);
    for (int i = 0; i < 0x1000; i++)
        assert_int_equal(r2p[i], 0x5a);
}

/* ---- mapping for write ------------------------------------------------------- */

static void mapping_for_write(void **state)
{
    mt_test_env *e = *state;
    mt_region *r = readonly_alias_setup(e);
    mt_mapping m;
    assert_int_equal(mt_address_space_map(e->X, 0, 0x100, true, A, &m), -EACCES);
    assert_null(m.host);
    assert_int_equal(mt_address_space_map(e->X, 0, 0x100, false, A, &m), 0);
    assert_ptr_equal(m.host, mt_region_ram_ptr(r));
    assert_int_equal(m.len, 0x100);
    assert_int_equal(mt_address_space_unmap(&m, 0x100), 0);
}

/* ---- region dispatch through readonly alias ---------------------------------- */

static void region_dispatch_through_readonly_alias(void **state)
{
    mt_test_env *e = *state;
    rec d;
    mt_region *m = rec_device(e, &d, MT_ENDIAN_LITTLE, "m", 0x100);
    mt_region *a = mt_test_alias(e, e->O2, "a", m, 0x10, 0x10);
    assert_int_equal(mt_region_set_readonly(a, true), 0);
    assert_int_equal(mt_region_dispatch_write(a, 0, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_log(&d, "");
    assert_int_equal(mt_region_dispatch_write(m, 0, 1, 4, MT_ENDIAN_LITTLE, A), MT_RESULT_OK);
    assert_log(&d, "w@0/4=1");
    /* an alias of the alias inherits the refusal; reads go through */
    mt_region *aa = mt_test_alias(e, e->O2, "aa", a, 0, 0x10);
    assert_int_equal(mt_region_dispatch_write(aa, 4, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    uint64_t v;
    assert_int_equal(mt_region_dispatch_read(aa, 4, &v, 4, MT_ENDIAN_LITTLE, A), MT_RESULT_OK);
    assert_log(&d, "r@14/4");
}

/* ---- rom device behind readonly alias ---------------------------------------- */

static void rom_device_behind_readonly_alias(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    mt_region *flash = mt_test_rom_device(e, e->O2, &d.ops, &d, "flash", 0x1000);
    memset(mt_region_ram_ptr(flash), 0x5a, 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "flash-ro", flash, 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(a, true), 0);
    mt_test_map(e->C, 0, a);

    assert_int_equal(wr(e->X, 0x10, (uint8_t[]){1}, 1), MT_RESULT_DECODE_ERROR);
    assert_log(&d, "");
    uint8_t b = 0;
    assert_int_equal(rd(e->X, 0x10, &b, 1), MT_RESULT_OK);
    assert_int_equal(b, 0x5a);
    assert_log(&d, "");
}

/* ---- behind an iommu --------------------------------------------------------- */

static void behind_an_iommu(void **state)
{
    mt_test_env *e = *state;
    struct iommu_setup s;
    iommu_build(e, &s, true, false);
    assert_write_refused(s.dma, 0x1000, (uint8_t[]){1, 2, 3, 4}, 4, s.p, 0x10000);
    /* reads are unaffected, and the translation says so */
    uint8_t buf[4];
    assert_int_equal(rd(s.dma, 0x1000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0, 1, 2, 3);
    mt_translation t;
    assert_int_equal(mt_address_space_translate(s.dma, 0x1000, 4, true, A, &t), 0);
    assert_true(t.readonly);
    mt_mapping m;
    assert_int_equal(mt_address_space_map(s.dma, 0x1000, 4, true, A, &m), -EACCES);
    extras_release(e);
}

static void iommu_in_readonly_container(void **state)
{
    mt_test_env *e = *state;
    struct iommu_setup s;
    iommu_build(e, &s, false, true);
    assert_write_refused(s.dma, 0x1010, (uint8_t[]){1, 2, 3, 4}, 4, s.p, 0x10000);
    /* the same write through `mem` directly is fine */
    assert_int_equal(wr(s.mem, 0x5010, (uint8_t[]){1, 2, 3, 4}, 4), MT_RESULT_OK);
    extras_release(e);
}

/* ---- no eventfd for refused write -------------------------------------------- */

static void no_eventfd_for_refused_write(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    mt_region *door = rec_device(e, &d, MT_ENDIAN_LITTLE, "door", 0x100);
    mt_region *a = mt_test_alias(e, e->O2, "door-ro", door, 0, 0x100);
    assert_int_equal(mt_region_set_readonly(a, true), 0);
    mt_test_map(e->C, 0x3000, a);
    struct notifier e1 = {{note_signal}, 0};
    assert_int_equal(mt_region_add_eventfd(door, 8, 4, true, 1, &e1.n), 0);
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){1, 0, 0, 0}, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(e1.signalled, 0);
    assert_log(&d, "");
    /* region-level through the alias: refused too; on the door: signalled */
    assert_int_equal(mt_region_dispatch_write(a, 8, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(e1.signalled, 0);
    assert_int_equal(mt_region_dispatch_write(door, 8, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_OK);
    assert_int_equal(e1.signalled, 1);
    assert_int_equal(mt_region_del_eventfd(door, 8, 4, true, 1, &e1.n), 0);
}

/* ---- listeners see the flag -------------------------------------------------- */

struct seen {
    mt_listener l;
    mt_region *want;
    unsigned adds;
    bool readonly;
};

static void seen_add(mt_listener *l, const mt_section *s)
{
    struct seen *x = (struct seen *)l;
    if (s->region == x->want) {
        x->adds++;
        x->readonly = s->readonly;
    }
}

static void listeners_see_the_flag(void **state)
{
    mt_test_env *e = *state;
    mt_region *r = readonly_alias_setup(e);
    struct seen x = {.l = {.region_add = seen_add}, .want = r};
    assert_int_equal(mt_listener_register(&x.l, e->X), 0);
    assert_int_equal(x.adds, 1);
    assert_true(x.readonly);
    mt_listener_unregister(&x.l);
    /* and lookups */
    mt_section s;
    mt_view_lookup(mt_address_space_view(e->X), 0x10, &s);
    assert_ptr_equal(s.region, r);
    assert_true(s.readonly);
}

/* ---- flat root keeps readonly wrapper ---------------------------------------- */

static void flat_root_keeps_readonly_wrapper(void **state)
{
    mt_test_env *e = *state;
    mt_region *sys = mt_test_container(e, e->O1, "sys", UINT64_MAX);
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    mt_test_map(sys, 0, ram);
    mt_test_map(sys, 0x1000, rec_region(e, &d, "dev", 0x1000));
    mt_address_space *memory = mt_test_as(e, sys, "memory");
    mt_region *robus = mt_test_container(e, e->O1, "robus", UINT64_MAX);
    assert_int_equal(mt_region_set_readonly(robus, true), 0);
    mt_test_map(robus, 0, mt_test_alias(e, e->O1, "robus-alias", sys, 0, UINT64_MAX));
    mt_address_space *ro = mt_test_as(e, robus, "ro");

    const mt_view *v = mt_address_space_view(ro);
    assert_ptr_equal(mt_view_root(v), robus);
    assert_ptr_not_equal(v, mt_address_space_view(memory));
    mt_assert_view(ro,
                   "  0000000000000000-0000000000000fff (prio 0, rom): ram\n"
                   "  0000000000001000-0000000000001fff (prio 0, rom): dev\n");

    const uint8_t data[4] = {1, 2, 3, 4};
    assert_int_equal(wr(ro, 0, data, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(wr(ro, 0x1000, data, 4), MT_RESULT_DECODE_ERROR);
    assert_bytes(mt_region_ram_ptr(ram), 0, 0, 0, 0);
    assert_log(&d, "");
    assert_int_equal(wr(memory, 0, data, 4), MT_RESULT_OK);
    assert_int_equal(wr(memory, 0x1000, data, 4), MT_RESULT_OK);
    assert_bytes(mt_region_ram_ptr(ram), 1, 2, 3, 4);
    assert_log(&d, "w@0/4=4030201");
}

MT_TEST_MAIN(
    MT_TEST(readonly_alias_of_ram),
    MT_TEST(readonly_container_over_mmio),
    MT_TEST(mixed_access),
    MT_TEST(mapping_for_write),
    MT_TEST(region_dispatch_through_readonly_alias),
    MT_TEST(rom_device_behind_readonly_alias),
    MT_TEST(behind_an_iommu),
    MT_TEST(iommu_in_readonly_container),
    MT_TEST(no_eventfd_for_refused_write),
    MT_TEST(listeners_see_the_flag),
    MT_TEST(flat_root_keeps_readonly_wrapper))
