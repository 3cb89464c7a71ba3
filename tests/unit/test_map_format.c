/*
 * memtree's map format (docs/format.md): what the writer prints for every
 * kind, flag, size and awkward name; that what it prints reads back to the
 * same machine and prints again byte for byte; that edits made after
 * loading are saved; and a "NAME:LINE: what" error for each bad input.
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

static void load(mt_test_loaded *L, mt_file_format fmt, const char *text)
{
    mt_test_load(L, fmt, text, "m.map", NULL, 0);
}

/* The same, asserting that it loads. */
static void load_ok(mt_test_loaded *L, mt_file_format fmt, const char *text)
{
    mt_test_load_ok(L, fmt, text, "m.map", NULL);
}


static void expect_text(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want))
        fail_msg("%s differs.\n--- expected\n%s--- got\n%s", what, want, got);
}

/* The map mt_machine_save_map writes is `want` (`what` names it in a
 * failure). */
static void expect_saved_map(const mt_machine *m, const char *want, const char *what)
{
    char *text = mt_test_map_text(m);
    expect_text(text, want, what);
    free(text);
}

/* The map mt_machine_save_map writes contains `needle`. */
static void expect_in_map(const mt_machine *m, const char *needle)
{
    char *text = mt_test_map_text(m);
    mt_assert_contains(text, needle);
    free(text);
}

/* Saves, reads back, saves again: same bytes, same views, same trees. */
static void check_round_trip(mt_test_loaded *L)
{
    char *first = mt_test_map_text(L->m);
    mt_test_loaded B;
    load(&B, MT_FORMAT_AUTO, first);
    if (B.rc)
        fail_msg("the saved map does not read back: %s\n%s", B.err, first);
    assert_int_equal(mt_machine_format(B.m), MT_FORMAT_MAP);
    char *second = mt_test_map_text(B.m);
    expect_text(second, first, "second save");
    unsigned modes[] = {MT_DUMP_FLAT | MT_DUMP_OWNER, MT_DUMP_DISABLED | MT_DUMP_OWNER};
    for (int i = 0; i < 2; i++) {
        char *a = mt_test_dump(L->ctx, modes[i]), *b = mt_test_dump(B.ctx, modes[i]);
        expect_text(b, a, "dump after the round trip");
        free(a);
        free(b);
    }
    free(first);
    free(second);
    mt_test_unload(&B);
}

/* Written by hand: any spacing, forward references, every kind and flag. */
static const char by_hand[] =
    "# a hand-written map\n"
    "memtree-map 1\n"
    "note written by hand\n"
    "owner nic dev id=nic0\n"
    "owner anon -\n"
    "region low   sys alias 0 a0000 1 readonly ram 0 - low ram\n"
    "region sys - container 0 10000000000000000 0 - - - - system\n"
    "\tregion ram sys ram 0 0x8000000 0 - - - -   pc.ram   \n"
    "region bios sys rom fffc0000 40000 0 - - - - pc.bios\n"
    "region flash sys romd ff000000 100000 2 romd-off,nonvolatile - - nic flash\n"
    "region vram sys ramd e0000000 1000 0 - - - nic vram\n"
    "region iommu sys iommu f0000000 1000 -5 disabled - - anon \"  the iommu \"\n"
    "region hole sys reservation f1000000 1000 0 - - - - -\n"
    "region dev sys io fe000000 1000 0 - - - - \"\\\"quoted\\\"\\ttab\\x01\"\n"
    "region q sys io fe001000 0 0 - - - - \"-\"\n"
    "region spare - io 5000 10 7 - - - - spare\n"
    "as sys memory\n"
    "as sys \"-\"\n";

/* What the writer makes of it: render order, aligned columns, quoting. */
static const char canonical[] =
    "memtree-map 1\n"
    "note written by hand\n"
    "owner o1 dev id=nic0\n"
    "owner o2 -\n"
    "#      id    parent kind        addr     size              prio flags                "
    "target offset owner name\n"
    "region sys   -      container   0        10000000000000000 0    -                    "
    "-      -      -     system\n"
    "region flash sys    romd        ff000000 100000            2    nonvolatile,romd-off "
    "-      -      o1    flash\n"
    "region low   sys    alias       0        a0000             1    readonly             "
    "ram    0      -     low ram\n"
    "region ram   sys    ram         0        8000000           0    -                    "
    "-      -      -     pc.ram\n"
    "region bios  sys    rom         fffc0000 40000             0    -                    "
    "-      -      -     pc.bios\n"
    "region vram  sys    ramd        e0000000 1000              0    -                    "
    "-      -      o1    vram\n"
    "region hole  sys    reservation f1000000 1000              0    -                    "
    "-      -      -     -\n"
    "region dev   sys    io          fe000000 1000              0    -                    "
    "-      -      -     \"\\\"quoted\\\"\\ttab\\x01\"\n"
    "region q     sys    io          fe001000 0                 0    -                    "
    "-      -      -     \"-\"\n"
    "region iommu sys    iommu       f0000000 1000              -5   disabled             "
    "-      -      o2    \"  the iommu \"\n"
    "region spare -      io          5000     10                7    -                    "
    "-      -      -     spare\n"
    "as sys memory\n"
    "as sys \"-\"\n";

static void writes_canonical_form(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_AUTO, by_hand);
    expect_saved_map(L.m, canonical, "saved map");
    /* what the map says, the machine has */
    mt_region *dev = mt_machine_region_by_label(L.m, "dev");
    assert_string_equal(mt_region_name(dev), "\"quoted\"\ttab\x01");
    mt_region *hole = mt_machine_region_by_label(L.m, "hole");
    assert_null(mt_region_name(hole));
    assert_int_equal(mt_region_get_kind(hole), MT_KIND_RESERVATION);
    mt_region *spare = mt_machine_region_by_label(L.m, "spare");
    assert_null(mt_region_container(spare));
    assert_int_equal(mt_region_addr(spare), 0x5000);
    assert_int_equal(mt_region_priority(spare), 7);
    assert_false(mt_region_romd(mt_machine_region_by_label(L.m, "flash")));
    assert_true(mt_region_readonly(mt_machine_region_by_label(L.m, "low")));
    assert_string_equal(mt_machine_inference(L.m, 0), "written by hand");
    assert_string_equal(mt_address_space_name(mt_machine_address_space(L.m, 1)), "-");
    check_round_trip(&L);
    mt_test_unload(&L);
}

static void canonical_is_a_fixed_point(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_MAP, canonical);
    expect_saved_map(L.m, canonical, "re-saved canonical map");
    mt_test_unload(&L);
}

static void saves_edits(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_MAP, canonical);
    mt_region *ram = mt_machine_region_by_label(L.m, "ram");
    mt_region *bios = mt_machine_region_by_label(L.m, "bios");
    assert_int_equal(mt_region_set_enabled(ram, false), 0);
    /* re-mapping moves bios to the front of its priority class */
    assert_int_equal(mt_region_set_address(bios, 0xfff00000), 0);
    expect_in_map(L.m, "region bios  sys    rom         fff00000 40000             "
                       "0    -                    -      -      -     pc.bios\n"
                       "region ram   sys    ram         0        8000000           "
                       "0    disabled");
    check_round_trip(&L);
    mt_test_unload(&L);
}

static void exact_sizes(void **state)
{
    (void)state;
    static const char map[] =
        "memtree-map 1\n"
        "region all - container 0 10000000000000000 0 - - - - all\n"
        "region big all io 0 fffffffffffffffe 0 - - - - big\n"
        "region win all alias 0 10000000000000000 1 - big 0 - window\n"
        "as all x\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_MAP, map);
    uint64_t low;
    assert_true(mt_region_size_exact(mt_machine_region_by_label(L.m, "all"), &low));
    assert_false(mt_region_size_exact(mt_machine_region_by_label(L.m, "big"), &low));
    assert_int_equal(low, UINT64_C(0xfffffffffffffffe));
    check_round_trip(&L);
    mt_test_unload(&L);
}

static void from_a_qemu_dump(void **state)
{
    (void)state;
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system orphan\n"
        "    0000000000000000-0000000000000fff (prio 0, ram): alias a @ram "
        "0000000000000000-0000000000000fff owner:{dev id=x y}\n"
        "\n"
        "memory-region: ram\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): ram orphan\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree);
    expect_in_map(L.m, "\nowner o1 dev id=x y\n");
    expect_in_map(L.m, "\nnote container vs MMIO: ");
    check_round_trip(&L);
    mt_test_unload(&L);
}

static void expect_error_rc(const char *body, int rc, const char *prefix, const char *words)
{
    char text[2048];
    snprintf(text, sizeof(text), "memtree-map 1\n%s", body);
    mt_test_loaded L;
    load(&L, MT_FORMAT_MAP, text);
    assert_int_equal(L.rc, rc);
    assert_null(L.m);
    if (strncmp(L.err, prefix, strlen(prefix)) || !strstr(L.err, words))
        fail_msg("error '%s' does not start with '%s' and mention '%s'", L.err, prefix,
                 words);
    mt_test_unload(&L);
}

static void expect_error(const char *body, const char *prefix, const char *words)
{
    expect_error_rc(body, -EINVAL, prefix, words);
}

static void bad_maps(void **state)
{
    (void)state;
    static const char sys[] = "region s - container 0 1000 0 - - - - s\n";
    char b[1024];
    mt_test_loaded L;
    load(&L, MT_FORMAT_MAP, "region s - container 0 1000 0 - - - - s\n");
    assert_int_equal(L.rc, -EINVAL);
    assert_string_equal(L.err, "m.map:1: not a memtree map (the first line must be "
                               "'memtree-map 1')");
    mt_test_unload(&L);
    load(&L, MT_FORMAT_MAP, "memtree-map 2\n");
    assert_int_equal(L.rc, -EINVAL);
    assert_non_null(strstr(L.err, "m.map:1: unsupported map version '2'"));
    mt_test_unload(&L);

    snprintf(b, sizeof(b), "%sregion r s blob 0 10 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "unknown kind 'blob'");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 fast - - - r\n", sys);
    expect_error(b, "m.map:3: ", "bad flag 'fast'");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 disabled,disabled - - - r\n", sys);
    expect_error(b, "m.map:3: ", "bad flag 'disabled'");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 romd-off - - - r\n", sys);
    expect_error(b, "m.map:3: ", "romd-off applies to romd regions only");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 - s 0 - r\n", sys);
    expect_error(b, "m.map:3: ", "only aliases have a target");
    snprintf(b, sizeof(b), "%sregion r s alias 0 10 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "an alias needs a target id");
    snprintf(b, sizeof(b), "%sregion r s io 10000000000000000 10 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "address '10000000000000000' overflows 64 bits");
    snprintf(b, sizeof(b), "%sregion r s io 123456789abcdef012 10 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "bad address");
    snprintf(b, sizeof(b), "%sregion r s io 0 ffffffffffffffff 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "2^64 is written 10000000000000000");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 2147483648 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "bad or missing priority");
    snprintf(b, sizeof(b), "%sregion r s io 0 10\n", sys);
    expect_error(b, "m.map:3: ", "priority");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 - - - -\n", sys);
    expect_error(b, "m.map:3: ", "missing name");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 - - - - \"open\n", sys);
    expect_error(b, "m.map:3: ", "unterminated quoted name");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 - - - - \"a\\qb\"\n", sys);
    expect_error(b, "m.map:3: ", "bad escape");
    snprintf(b, sizeof(b), "%sregion s s io 0 10 0 - - - - again\n", sys);
    expect_error(b, "m.map:3: ", "duplicate region id 's' (first on line 2)");
    snprintf(b, sizeof(b), "%sregion r nowhere io 0 10 0 - - - - r\n", sys);
    expect_error(b, "m.map:3: ", "unknown parent id 'nowhere'");
    snprintf(b, sizeof(b), "%sregion r s alias 0 10 0 - ghost 0 - r\n", sys);
    expect_error(b, "m.map:3: ", "unknown alias target id 'ghost'");
    snprintf(b, sizeof(b), "%sregion r s io 0 10 0 - - - o9 r\n", sys);
    expect_error(b, "m.map:3: ", "unknown owner id 'o9'");
    snprintf(b, sizeof(b), "%sas nowhere memory\n", sys);
    expect_error(b, "m.map:3: ", "unknown root id 'nowhere'");
    snprintf(b, sizeof(b), "%sowner o1 a\nowner o1 b\n", sys);
    expect_error(b, "m.map:4: ", "duplicate owner id 'o1'");
    snprintf(b, sizeof(b), "%sfrobnicate\n", sys);
    expect_error(b, "m.map:3: ", "unknown line type 'frobnicate'");
    /* an alias inside its own target loads: such loops render
     * (docs/rendering.md) */
    load_ok(&L, MT_FORMAT_MAP,
            "memtree-map 1\nregion a - container 0 10 0 - - - - a\nregion b a container 0 10 0 "
            "- - - - b\nregion a2 b alias 0 10 0 - a 0 - loop\n");
    mt_test_unload(&L);
    /* structure the library refuses */
    expect_error_rc("region a - alias 0 10 0 - b 0 - a\nregion b - alias 0 10 0 - a 0 - b\n",
                    -ELOOP, "m.map:2: ", "alias cycle");
    expect_error_rc("region a - container 0 10 0 - - - - a\nregion b b io 0 10 0 - - - - b\n",
                    -ELOOP, "m.map:3: ", "cannot map 'b' into 'b'");
    load(&L, MT_FORMAT_MAP, "memtree-map 1\nregion a - io 0 10 0 - - - - a\x02\n");
    assert_int_equal(L.rc, -EINVAL);
    assert_non_null(strstr(L.err, "m.map:2: binary data"));
    mt_test_unload(&L);
}

MT_TEST_MAIN(
    cmocka_unit_test(writes_canonical_form),
    cmocka_unit_test(canonical_is_a_fixed_point),
    cmocka_unit_test(saves_edits),
    cmocka_unit_test(exact_sizes),
    cmocka_unit_test(from_a_qemu_dump),
    cmocka_unit_test(bad_maps))
