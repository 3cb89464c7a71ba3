/*
 * Bug: the loaders gave every RAM, ROM-device and RAM-device region a host
 * backing at load time, so a file describing a large RAM region (anything
 * over about 86 TiB, and 2^63 or 2^64 always) failed to load with "cannot
 * create ram region: out of memory", and every small one cost its size in
 * host memory. Fixed by backings made on first need (docs/regions.md,
 * "Backing on demand"): these load, accesses that need bytes get them then,
 * and an access needing a backing that cannot exist fails with an error
 * code and a message instead of crashing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt_test.h"

static void load(mt_test_loaded *L, const char *text)
{
    mt_test_load(L, MT_FORMAT_AUTO, text, "m.map", NULL, 0);
}

/* The same, asserting that it loads. */
static void load_ok(mt_test_loaded *L, const char *text)
{
    mt_test_load_ok(L, MT_FORMAT_AUTO, text, "m.map", NULL);
}

/* Accesses of `len` bytes of *value, with no attributes. */
static mt_result rd(mt_address_space *as, uint64_t addr, uint64_t *value, unsigned len)
{
    return mt_address_space_read(as, addr, MT_ATTRS_UNSPECIFIED, value, len);
}

static mt_result wr(mt_address_space *as, uint64_t addr, uint64_t *value, unsigned len)
{
    return mt_address_space_write(as, addr, MT_ATTRS_UNSPECIFIED, value, len);
}

static mt_result wr_rom(mt_address_space *as, uint64_t addr, uint64_t *value, unsigned len)
{
    return mt_address_space_write_rom(as, addr, MT_ATTRS_UNSPECIFIED, value, len);
}

static const char full_ram[] =
    "memtree-map 1\n"
    "region sys  -   container 0 10000000000000000 0 - - - - system\n"
    "region big  sys ram       0 10000000000000000 0 - - - - big\n"
    "region half -   ram       0 8000000000000000  0 - - - - half\n"
    "region romd -   romd      0 10000000000000000 0 - - - - flash\n"
    "region ramd -   ramd      0 10000000000000000 0 - - - - vram\n"
    "as sys memory\n"
    "as half half\n"
    "as romd flash\n"
    "as ramd vram\n";

/* The load itself failed with "out of memory" before the fix. */
static void a_2p64_ram_region_loads(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, full_ram);
    assert_string_equal(L.err, "");
    mt_region *big = mt_machine_region_by_label(L.m, "big");
    assert_non_null(big);
    assert_int_equal(mt_region_size(big), UINT64_MAX); /* 2^64 */
    const mt_view *v = mt_address_space_view(mt_machine_address_space(L.m, 0));
    assert_int_equal(mt_view_range_count(v), 1);
    mt_test_unload(&L);
}

/* Reads, writes, maps and direct pointers that need the bytes of a 2^64
 * region: each fails with its error code and says why. */
static void access_to_impossible_backing_errors(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, full_ram);
    mt_address_space *as = mt_machine_address_space(L.m, 0);
    uint64_t value = 0x1122334455667788ull;

    unsigned before = L.diag.count;
    assert_int_equal(rd(as, 0x1000, &value, 8), MT_RESULT_ERROR);
    assert_int_equal(value, 0x1122334455667788ull); /* untouched */
    assert_int_equal(L.diag.count, before + 1);
    assert_non_null(strstr(L.diag.last, "'big'"));
    assert_non_null(strstr(L.diag.last, "cannot be allocated"));

    assert_int_equal(wr(as, 0x1000, &value, 8), MT_RESULT_ERROR);
    assert_int_equal(wr_rom(as, 0x1000, &value, 8), MT_RESULT_ERROR);

    mt_mapping map;
    assert_int_equal(mt_address_space_map(as, 0x1000, 8, false, MT_ATTRS_UNSPECIFIED, &map),
                     -ENOMEM);
    assert_null(map.host);
    assert_non_null(strstr(L.diag.last, "cannot be allocated"));

    before = L.diag.count;
    assert_null(mt_region_ram_ptr(mt_machine_region_by_label(L.m, "big")));
    assert_int_equal(L.diag.count, before + 1);

    /* a ROM device in romd mode reads its backing directly */
    mt_address_space *flash = mt_machine_address_space(L.m, 2);
    assert_int_equal(rd(flash, 0, &value, 4), MT_RESULT_ERROR);
    /* a RAM device goes through its ops, which refuse */
    mt_address_space *vram = mt_machine_address_space(L.m, 3);
    assert_int_not_equal(rd(vram, 0, &value, 4), MT_RESULT_OK);
    mt_test_unload(&L);
}

/* Deferred backings that can exist are made on first need, zeroed, and
 * keep what is written (1 TiB: the host maps it without reserving it). */
static void deferred_backing_is_made_on_first_access(void **state)
{
    (void)state;
    mt_test_loaded L;
    load(&L,
         "memtree-map 1\n"
         "region sys - container 0 10000000000000000 0 - - - - system\n"
         "region tb  sys ram    0 10000000000 0 - - - - tb\n"
         "region rom sys rom    20000000000 1000 0 - - - - bios\n"
         "region dev sys ramd   30000000000 1000 0 - - - - dev\n"
         "as sys memory\n");
    assert_int_equal(L.rc, 0);
    mt_address_space *as = mt_machine_address_space(L.m, 0);
    uint64_t value = 0xffffffffffffffffull;
    assert_int_equal(rd(as, 0xfffffff000, &value, 8), MT_RESULT_OK);
    assert_int_equal(value, 0);
    value = 0xabcdef;
    assert_int_equal(wr(as, 0xfffffff000, &value, 8), MT_RESULT_OK);
    uint8_t *host = mt_region_ram_ptr(mt_machine_region_by_label(L.m, "tb"));
    assert_non_null(host);
    uint64_t seen;
    memcpy(&seen, host + 0xfffffff000, 8);
    assert_int_equal(seen, 0xabcdef);

    /* ROM: loaded through write_rom, read back, refused to plain writes */
    value = 0x5a5a;
    assert_int_equal(wr_rom(as, 0x20000000010, &value, 2), MT_RESULT_OK);
    value = 0;
    assert_int_equal(rd(as, 0x20000000010, &value, 2), MT_RESULT_OK);
    assert_int_equal(value, 0x5a5a);

    /* RAM device: through its ops, in host order */
    value = 0x77;
    assert_int_equal(wr(as, 0x30000000008, &value, 1), MT_RESULT_OK);
    value = 0;
    assert_int_equal(rd(as, 0x30000000008, &value, 1), MT_RESULT_OK);
    assert_int_equal(value, 0x77);

    /* a direct mapping of deferred RAM */
    mt_mapping map;
    assert_int_equal(mt_address_space_map(as, 0x10, 16, true, MT_ATTRS_UNSPECIFIED, &map), 0);
    assert_non_null(map.host);
    memset(map.host, 0x11, 16);
    assert_int_equal(mt_address_space_unmap(&map, 16), 0);
    value = 0;
    assert_int_equal(rd(as, 0x10, &value, 8), MT_RESULT_OK);
    assert_int_equal(value, 0x1111111111111111ull);
    mt_test_unload(&L);
}

/* The other loaders: a QEMU tree dump and a model.txt. */
static void every_format_loads_a_2p64_ram(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
        "    0000000000000000-ffffffffffffffff (prio 0, ram): big\n"
        "    0000000000001000-7fffffffffffffff (prio 1, rom): bigrom\n",
        "A 1 memory\n"
        "R 1 - container 0 10000000000000000 0 - - 0 system\n"
        "R 2 1 ram 0 10000000000000000 0 - - 0 big\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        mt_test_loaded L;
        load_ok(&L, texts[i]);
        mt_address_space *as = mt_machine_address_space(L.m, 0);
        uint64_t value;
        assert_int_equal(rd(as, 0x8000000000000000ull, &value, 8), MT_RESULT_ERROR);
        assert_non_null(strstr(L.diag.last, "'big'"));
        mt_test_unload(&L);
    }
}

/* Many 2^64 regions: each costs its record, not its size. */
static void a_thousand_2p64_regions_load(void **state)
{
    (void)state;
    mt_test_text t;
    FILE *f = mt_test_text_open(&t);
    fprintf(f, "memtree-map 1\n");
    for (int i = 0; i < 1000; i++) {
        fprintf(f, "region r%d - ram 0 10000000000000000 0 - - - - ram%d\n", i, i);
        fprintf(f, "as r%d as%d\n", i, i);
    }
    char *text = mt_test_text_close(&t);
    mt_test_loaded L;
    load(&L, text);
    free(text);
    assert_int_equal(L.rc, 0);
    assert_int_equal(mt_machine_region_count(L.m), 1000);
    mt_test_unload(&L);
}

MT_TEST_MAIN(
    cmocka_unit_test(a_2p64_ram_region_loads),
    cmocka_unit_test(access_to_impossible_backing_errors),
    cmocka_unit_test(deferred_backing_is_made_on_first_access),
    cmocka_unit_test(every_format_loads_a_2p64_ram),
    cmocka_unit_test(a_thousand_2p64_regions_load))
