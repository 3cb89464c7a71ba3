/*
 * Importing QEMU `info mtree` dumps (mt_machine_load with MT_FORMAT_QEMU or
 * AUTO): the tree format's awkward corners (CRLF, names with spaces and
 * ` @`, repeated names, owners, `container` types, hidden disabled parents,
 * overflow markers, size-0 lines), what the flat dump settles (MMIO with
 * holes, read-only aliases, render order, sizes, alias targets), and a
 * clear "NAME:LINE: what" error for every kind of bad input.
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

/* ---- helpers ----------------------------------------------------------------------- */

/* Loads `text` (and `flat` if not NULL) from memory; keeps the context. */
static void load(mt_test_loaded *L, mt_file_format fmt, const char *text, const char *flat)
{
    mt_test_load(L, fmt, text, "dump.txt", flat, 0);
}

/* The same, asserting that it loads. */
static void load_ok(mt_test_loaded *L, mt_file_format fmt, const char *text, const char *flat)
{
    mt_test_load_ok(L, fmt, text, "dump.txt", flat);
}


static void expect_dump(mt_context *ctx, unsigned flags, const char *want)
{
    char *got = mt_test_dump(ctx, flags);
    if (strcmp(got, want))
        fail_msg("dump differs.\n--- expected\n%s--- got\n%s", want, got);
    free(got);
}

/* The machine's notes contain `needle`. */
static void expect_note(const mt_machine *m, const char *needle)
{
    for (size_t i = 0; i < mt_machine_inference_count(m); i++)
        if (strstr(mt_machine_inference(m, i), needle))
            return;
    for (size_t i = 0; i < mt_machine_inference_count(m); i++)
        print_message("note: %s\n", mt_machine_inference(m, i));
    fail_msg("no note contains '%s'", needle);
}

/* Loading fails with -EINVAL and exactly this "NAME:LINE: ..." prefix. */
static void expect_error(mt_file_format fmt, const char *text, const char *flat,
                         const char *prefix, const char *words)
{
    mt_test_loaded L;
    load(&L, fmt, text, flat);
    assert_int_equal(L.rc, -EINVAL);
    assert_null(L.m);
    if (strncmp(L.err, prefix, strlen(prefix)) || !strstr(L.err, words))
        fail_msg("error '%s' does not start with '%s' and mention '%s'", L.err, prefix,
                 words);
    mt_test_unload(&L);
}

/* CRLF line ends, and the trailing blanks a paste picks up. */
static char *to_crlf(const char *s)
{
    char *out = malloc(4 * strlen(s) + 1), *p = out;
    for (; *s; s++) {
        if (*s == '\n') {
            *p++ = ' ';
            *p++ = '\t';
            *p++ = '\r';
        }
        *p++ = *s;
    }
    *p = '\0';
    return out;
}

/* ---- a small PC-like machine ------------------------------------------------------- */

/* `io` is MMIO under its ports; `pam-rom` a read-only alias; a name with
 * ` @` that is no alias; owners with spaces. Printed in memtree's order, so
 * mt_dump -o -D gives it back byte for byte. */
static const char pc_tree[] =
    "address-space: I/O\n"
    "  0000000000000000-000000000000ffff (prio 0, i/o): io orphan\n"
    "    0000000000000060-0000000000000060 (prio 0, i/o): kbd data owner:{dev id=kbd}\n"
    "    0000000000000070-0000000000000071 (prio 0, i/o): rtc owner:{dev id=rtc}\n"
    "      0000000000000070-0000000000000070 (prio 0, i/o): rtc-index owner:{dev id=rtc}\n"
    "\n"
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system orphan\n"
    "    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram "
    "0000000000000000-0000000007ffffff orphan\n"
    "    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-rom @pc.ram "
    "00000000000c0000-00000000000c3fff orphan\n"
    "    00000000000c0000-00000000000c3fff (prio 1, ram): alias pam-ram @pc.ram "
    "00000000000c0000-00000000000c3fff [disabled] orphan\n"
    "    00000000fe000000-00000000fe000fff (prio 0, i/o): CMSDK AHB region @0x40010000 "
    "owner:{dev path=/machine/a b}\n"
    "\n"
    "memory-region: pc.ram\n"
    "  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram "
    "owner:{obj path=/objects/pc.ram}\n"
    "\n";

static const char pc_flat[] =
    "FlatView #0\n"
    " AS \"I/O\", root: io\n"
    " Root memory region: io\n"
    "  0000000000000000-000000000000005f (prio 0, i/o): io\n"
    "  0000000000000060-0000000000000060 (prio 0, i/o): kbd data\n"
    "  0000000000000061-000000000000006f (prio 0, i/o): io @0000000000000061\n"
    "  0000000000000070-0000000000000070 (prio 0, i/o): rtc-index\n"
    "  0000000000000071-0000000000000071 (prio 0, i/o): rtc @0000000000000001\n"
    "  0000000000000072-000000000000ffff (prio 0, i/o): io @0000000000000072\n"
    "\n"
    "FlatView #1\n"
    " AS \"memory\", root: system\n"
    " Root memory region: system\n"
    "  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\n"
    "  00000000000c0000-00000000000c3fff (prio 0, rom): pc.ram @00000000000c0000\n"
    "  00000000000c4000-0000000007ffffff (prio 0, ram): pc.ram @00000000000c4000\n"
    "  00000000fe000000-00000000fe000fff (prio 0, i/o): CMSDK AHB region @0x40010000\n"
    "\n";

static void pc_with_flat(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_AUTO, pc_tree, pc_flat);
    assert_int_equal(mt_machine_format(L.m), MT_FORMAT_QEMU);
    expect_dump(L.ctx, MT_DUMP_FLAT, pc_flat);
    expect_dump(L.ctx, MT_DUMP_DISABLED | MT_DUMP_OWNER, pc_tree);
    expect_note(L.m, "'io' (line 2) renders its own holes");
    expect_note(L.m, "'rtc' (line 4) renders its own holes");
    expect_note(L.m, "readonly: 'pam-rom' (line 10)");
    expect_note(L.m, "every view matches");
    /* a name with ` @` stays a name; labels are unique and readable */
    mt_region *r = mt_machine_region_by_label(L.m, "CMSDK_AHB_region_@0x40010000");
    assert_non_null(r);
    assert_string_equal(mt_region_name(r), "CMSDK AHB region @0x40010000");
    assert_string_equal(mt_owner_label(mt_region_owner(r)), "dev path=/machine/a b");
    assert_int_equal(mt_machine_address_space_count(L.m), 2);
    mt_test_unload(&L);
}

static void pc_without_flat(void **state)
{
    (void)state;
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, pc_tree, NULL);
    /* the guesses: childless i/o is MMIO, the rest containers, no readonly */
    mt_region *io = mt_machine_region_by_label(L.m, "io");
    assert_int_equal(mt_region_get_kind(io), MT_KIND_CONTAINER);
    mt_region *kbd = mt_machine_region_by_label(L.m, "kbd_data");
    assert_int_equal(mt_region_get_kind(kbd), MT_KIND_IO);
    expect_note(L.m, "guessed (no flat dump)");
    expect_note(L.m, "readonly: the tree dump does not print");
    mt_test_unload(&L);
}

static void crlf_is_lf(void **state)
{
    (void)state;
    char *tree = to_crlf(pc_tree), *flat = to_crlf(pc_flat);
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_AUTO, tree, flat);
    expect_dump(L.ctx, MT_DUMP_FLAT, pc_flat);
    expect_dump(L.ctx, MT_DUMP_DISABLED | MT_DUMP_OWNER, pc_tree);
    mt_test_unload(&L);
    free(tree);
    free(flat);
}

/* ---- later QEMU versions, hidden lines, sizes, overflow ---------------------------- */

static void container_type(void **state)
{
    (void)state;
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, container): system\n"
        "    0000000000001000-0000000000001fff (prio 0, i/o): dev\n"
        "    0000000000002000-0000000000002fff (prio 0, container): empty\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, NULL);
    assert_int_equal(mt_region_get_kind(mt_machine_region_by_label(L.m, "system")),
                     MT_KIND_CONTAINER);
    assert_int_equal(mt_region_get_kind(mt_machine_region_by_label(L.m, "empty")),
                     MT_KIND_CONTAINER);
    assert_int_equal(mt_region_get_kind(mt_machine_region_by_label(L.m, "dev")),
                     MT_KIND_IO);
    /* only `dev` was an open question */
    expect_note(L.m, "container vs MMIO: 1 `i/o` region(s)");
    expect_dump(L.ctx, MT_DUMP_FLAT,
                "FlatView #0\n"
                " AS \"memory\", root: system\n"
                " Root memory region: system\n"
                "  0000000000001000-0000000000001fff (prio 0, i/o): dev\n"
                "\n");
    mt_test_unload(&L);
}

static void flat_with_owners_and_dispatch(void **state)
{
    (void)state;
    /* `info mtree -f -o -d`: owner suffixes and a dispatch dump to skip */
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system orphan\n"
        "    0000000000001000-0000000000001fff (prio 0, i/o): dev {x} owner:{dev id=d}\n"
        "\n";
    static const char flat[] =
        "FlatView #0\r\n"
        " AS \"memory\", root: system\r\n"
        " Root memory region: system\r\n"
        "  0000000000001000-0000000000001fff (prio 0, i/o): dev {x} owner:{dev id=d}\r\n"
        "  Dispatch\r\n"
        "    Physical sections\r\n"
        "      #0 @0000000000000000..ffffffffffffffff (noname) [unassigned]\r\n"
        "      #1 @0000000000001000..0000000000001fff dev {x} [not dirty]\r\n"
        "    Nodes (9 bits per level, 6 levels) ptr=[3] skip=4\r\n"
        "      [0]\r\n"
        "\t  0       skip=3  ptr=[3]\r\n"
        "\t  1..511  skip=1  ptr=NIL\r\n"
        "\r\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, flat);
    expect_note(L.m, "every view matches");
    expect_dump(L.ctx, MT_DUMP_FLAT | MT_DUMP_OWNER,
                "FlatView #0\n"
                " AS \"memory\", root: system\n"
                " Root memory region: system\n"
                "  0000000000001000-0000000000001fff (prio 0, i/o): dev {x} "
                "owner:{dev id=d}\n"
                "\n");
    mt_test_unload(&L);
}

static void hidden_disabled_parents(void **state)
{
    (void)state;
    /* without -D: `lost` is under a hidden disabled line; `dma` has a hidden
     * disabled root and nothing else */
    static const char tree[] =
        "address-space: dma\n"
        "\n"
        "address-space: memory\n"
        "  0000000000000000-000000000000ffff (prio 0, i/o): sys\n"
        "      0000000000001000-0000000000001fff (prio 0, ram): lost\n"
        "    0000000000002000-0000000000002fff (prio 0, ram): visible\n"
        "\n"
        "address-space: pci\n"
        "    0000000000003000-0000000000003fff (prio 0, ram): under hidden root\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, NULL);
    expect_note(L.m, "hidden lines: 3 disabled region(s)");
    expect_dump(L.ctx, MT_DUMP_FLAT,
                "FlatView #0\n"
                " AS \"dma\", root: (null)\n"
                " AS \"pci\", root: (null)\n"
                " Root memory region: (none)\n"
                "  No rendered FlatView\n"
                "\n"
                "FlatView #1\n"
                " AS \"memory\", root: sys\n"
                " Root memory region: sys\n"
                "  0000000000002000-0000000000002fff (prio 0, ram): visible\n"
                "\n");
    /* printed again without -D, the dump looks as it did */
    expect_dump(L.ctx, 0, tree);
    mt_test_unload(&L);
}

static void sizes_and_overflow(void **state)
{
    (void)state;
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    0000000000000000-0000000000000000 (prio 1, i/o): alias closed @bus "
        "0000000000000000-0000000000000000\n"
        "    0000000000000060-0000000000000060 (prio 0, i/o): port\n"
        "[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff (prio 0, ram): top\n"
        "\n"
        "memory-region: bus\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus\n"
        "    0000000000000000-0000000000000fff (prio 0, i/o): bar\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, NULL);
    uint64_t low;
    /* X-X: a window is guessed empty, a port one byte */
    assert_false(mt_region_size_exact(mt_machine_region_by_label(L.m, "closed"), &low));
    assert_int_equal(low, 0);
    assert_false(mt_region_size_exact(mt_machine_region_by_label(L.m, "port"), &low));
    assert_int_equal(low, 1);
    /* a wrapped line: the size is what wrapped, 0x2000 */
    mt_region *top = mt_machine_region_by_label(L.m, "top");
    assert_false(mt_region_size_exact(top, &low));
    assert_int_equal(low, 0x2000);
    assert_true(mt_region_size_exact(mt_machine_region_by_label(L.m, "sys"), &low));
    expect_note(L.m, "size 0 vs 1: 2 region(s)");
    expect_dump(L.ctx, MT_DUMP_DISABLED, tree);
    mt_test_unload(&L);
}

/* ---- repeated names, owners and alias targets -------------------------------------- */

static void repeated_names_by_owner(void **state)
{
    (void)state;
    /* both windows are called `win`, both buses `bus`: owners and the
     * order of the memory-region blocks tell them apart */
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system orphan\n"
        "    0000000010000000-000000001fffffff (prio 1, i/o): alias win @bus "
        "0000000010000000-000000001fffffff owner:{dev id=b2}\n"
        "    0000000020000000-000000002fffffff (prio 1, i/o): alias win @bus "
        "0000000020000000-000000002fffffff owner:{dev id=b1}\n"
        "    0000000030000000-000000003fffffff (prio 1, i/o): alias pref @bus "
        "0000000030000000-000000003fffffff owner:{dev id=b1}\n"
        "\n"
        "memory-region: bus\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus owner:{dev id=b2}\n"
        "    0000000010000000-0000000010000fff (prio 0, i/o): dev owner:{dev id=d2}\n"
        "\n"
        "memory-region: bus\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus owner:{dev id=b1}\n"
        "    0000000020000000-0000000020000fff (prio 0, i/o): dev owner:{dev id=d1}\n"
        "    0000000030000000-0000000030000fff (prio 0, i/o): dev owner:{dev id=d1}\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, NULL);
    mt_region *pref = mt_machine_region_by_label(L.m, "pref");
    mt_region *bus2 = mt_machine_region_by_label(L.m, "bus~2");
    assert_ptr_equal(mt_region_alias_target(pref), bus2);
    assert_string_equal(mt_owner_label(mt_region_owner(bus2)), "dev id=b1");
    expect_note(L.m, "'pref' (line 5) shows the region printed on line 12, one of 2 of "
                     "that name (by owner)");
    expect_dump(L.ctx, MT_DUMP_DISABLED | MT_DUMP_OWNER, tree);
    mt_test_unload(&L);
}

static void alias_target_from_flat(void **state)
{
    (void)state;
    /* no owners: `pref` could show either bus; the flat dump says which */
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
        "    0000000010000000-000000001fffffff (prio 1, i/o): alias win @bus "
        "0000000010000000-000000001fffffff\n"
        "    0000000020000000-000000002fffffff (prio 1, i/o): alias win @bus "
        "0000000020000000-000000002fffffff\n"
        "    0000000030000000-000000003fffffff (prio 1, i/o): alias pref @bus "
        "0000000030000000-000000003fffffff\n"
        "\n"
        "memory-region: bus\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus\n"
        "    0000000010000000-0000000010000fff (prio 0, i/o): dev-a\n"
        "\n"
        "memory-region: bus\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus\n"
        "    0000000020000000-0000000020000fff (prio 0, i/o): dev-b\n"
        "    0000000030000000-0000000030000fff (prio 0, i/o): dev-b-pref\n"
        "\n";
    static const char flat[] =
        "FlatView #0\n"
        " AS \"memory\", root: system\n"
        " Root memory region: system\n"
        "  0000000010000000-0000000010000fff (prio 0, i/o): dev-a\n"
        "  0000000020000000-0000000020000fff (prio 0, i/o): dev-b\n"
        "  0000000030000000-0000000030000fff (prio 0, i/o): dev-b-pref\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, NULL);
    expect_note(L.m, "'pref' (line 5) shows the region printed on line 8, one of 2 of "
                     "that name (by the order of memory-region blocks)");
    mt_test_unload(&L);

    load_ok(&L, MT_FORMAT_QEMU, tree, flat);
    expect_dump(L.ctx, MT_DUMP_FLAT, flat);
    expect_note(L.m, "'pref' (line 5) shows the region printed on line 12, one of 2 of "
                     "that name (from the flat dump)");
    mt_test_unload(&L);
}

static void render_order_and_size_from_flat(void **state)
{
    (void)state;
    /* `gpio` overlaps `background` at equal priority and wins; `tiny` is
     * printed X-X but has size 0; `one` is a one-byte window */
    static const char tree[] =
        "address-space: memory\n"
        "  0000000000000000-000000000000ffff (prio 0, i/o): sys\n"
        "    0000000000000000-000000000000ffff (prio -1, ram): alias bg @ram "
        "0000000000000000-000000000000ffff\n"
        "    0000000000000010-0000000000000010 (prio 0, ram): alias one @ram "
        "0000000000001010-0000000000001010\n"
        "    0000000000000020-0000000000000020 (prio 0, ram): tiny\n"
        "    0000000000008000-000000000000ffff (prio 0, i/o): background\n"
        "    0000000000009000-0000000000009fff (prio 0, i/o): gpio\n"
        "\n"
        "memory-region: ram\n"
        "  0000000000000000-000000000000ffff (prio 0, ram): ram\n"
        "\n";
    static const char flat[] =
        "FlatView #0\n"
        " AS \"memory\", root: sys\n"
        " Root memory region: sys\n"
        "  0000000000000000-000000000000000f (prio 0, ram): ram\n"
        "  0000000000000010-0000000000000010 (prio 0, ram): ram @0000000000001010\n"
        "  0000000000000011-0000000000007fff (prio 0, ram): ram @0000000000000011\n"
        "  0000000000008000-0000000000008fff (prio 0, i/o): background\n"
        "  0000000000009000-0000000000009fff (prio 0, i/o): gpio\n"
        "  000000000000a000-000000000000ffff (prio 0, i/o): background @0000000000002000\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, tree, flat);
    expect_dump(L.ctx, MT_DUMP_FLAT, flat);
    expect_note(L.m, "render order: 'gpio' (line 7) renders before 'background'");
    expect_note(L.m, "size: 'one' (line 4) is 1 byte");
    expect_note(L.m, "size: 'tiny' (line 5) is 0 bytes");
    mt_test_unload(&L);
}

static void unmatched_flat_is_reported(void **state)
{
    (void)state;
    static const char flat[] =
        "FlatView #0\n"
        " AS \"memory\", root: system\n"
        " Root memory region: system\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): nowhere\n"
        "\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_QEMU, pc_tree, flat); /* the machine is still the best guess */
    expect_note(L.m, "flat dump: 2 address space(s) still differ");
    mt_test_unload(&L);
    /* a flat dump of some other machine changes nothing */
    static const char other[] =
        "FlatView #0\n"
        " AS \"dma\", root: bus\n"
        " Root memory region: (none)\n"
        "  No rendered FlatView\n"
        "\n";
    load_ok(&L, MT_FORMAT_QEMU, pc_tree, other);
    expect_note(L.m, "flat dump ignored");
    assert_int_equal(mt_region_get_kind(mt_machine_region_by_label(L.m, "io")),
                     MT_KIND_CONTAINER);
    mt_test_unload(&L);
}

/* ---- bad input --------------------------------------------------------------------- */

/* expect_error for a QEMU tree dump whose block "address-space: memory"
 * holds `body`. */
static void expect_memory_block_error(const char *body, const char *prefix, const char *words)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "address-space: memory\n%s", body);
    expect_error(MT_FORMAT_QEMU, buf, NULL, prefix, words);
}

static void bad_input(void **state)
{
    (void)state;
    expect_error(MT_FORMAT_AUTO, "", NULL, "dump.txt:1: ", "empty file");
    expect_error(MT_FORMAT_QEMU, "", NULL, "dump.txt:1: ", "empty file");
    expect_error(MT_FORMAT_AUTO, "hello world\n", NULL, "dump.txt:1: ", "unrecognised");
    expect_error(MT_FORMAT_QEMU, "hello world\n", NULL, "dump.txt:1: ", "unrecognised");
    expect_error(MT_FORMAT_AUTO, "\n\n# nothing\n", NULL, "dump.txt:3: ", "no content");
    expect_error(MT_FORMAT_QEMU, "ELF\x7f\x01\x02\x00\n", NULL, "dump.txt:1: ",
                 "binary data");
    expect_error(MT_FORMAT_QEMU, "address-space: memory\n\x01\x02\n", NULL,
                 "dump.txt:2: ", "binary data");
    /* truncated in the middle of a line */
    expect_memory_block_error("  0000000000000000-00000000ff",
                              "dump.txt:2: ", "bad end address");
    expect_memory_block_error("  0000000000000000-ffffffffffffffff (prio 0, i/",
                              "dump.txt:2: ", "unknown region type");
    /* a dump cut before its memory-region blocks */
    expect_memory_block_error("  0000000000000000-ffffffffffffffff (prio 0, i/o): s\n"
                              "    0000000000000000-0000000000000fff (prio 0, ram): alias a @ram "
                              "0000000000000000-0000000000000fff\n",
                              "dump.txt:3: ", "unknown alias target 'ram'");
    /* indentation */
    expect_memory_block_error("   0000000000000000-ffffffffffffffff (prio 0, i/o): s\n",
                              "dump.txt:2: ", "bad indentation: 3");
    expect_memory_block_error(
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): s\n"
        "      0000000000000000-0000000000000fff (prio 0, ram): r [disabled]\n",
        "dump.txt:3: ", "jumps from level 1 to 3");
    expect_memory_block_error("  0000000000000000-ffffffffffffffff (prio 0, i/o): s\n"
                              "  0000000000000000-0000000000000fff (prio 0, ram): r\n",
                              "dump.txt:3: ", "second level-1 line");
    expect_error(MT_FORMAT_QEMU, "  0000000000000000-0000000000000fff (prio 0, ram): r\n",
                 NULL, "dump.txt:1: ", "outside a block");
    /* numbers */
    expect_memory_block_error("  00000000000000000-ffffffffffffffff (prio 0, i/o): s\n",
                              "dump.txt:2: ", "overflows 64 bits");
    expect_memory_block_error("  0000000000000000-ffffffffffffffff (prio 4294967296, "
                              "i/o): s\n",
                              "dump.txt:2: ", "bad priority");
    expect_memory_block_error("  0000000000000000-ffffffffffffffff (prio 0, i/o): s\n"
                              "    0000000000000000-0000000000000fff (prio 0, ram): alias a @b "
                              "0000000000000000-0000000000001fff\n\nmemory-region: b\n"
                              "  0000000000000000-0000000000000fff (prio 0, ram): b\n",
                              "dump.txt:3: ", "do not span");
    /* a flat dump that is not one names its own file */
    expect_error(MT_FORMAT_QEMU, pc_tree, "garbage\n", "flat.txt:1: ", "outside a FlatView");
    expect_error(MT_FORMAT_QEMU, pc_tree, "FlatView #0\n AS \"x\", root: y\n Root memory "
                 "region: y\n  00000000-1 (prio 0, ram): r\n", "flat.txt:4: ",
                 "bad range line");
    /* a flat dump given as the tree */
    expect_error(MT_FORMAT_AUTO, pc_flat, NULL, "dump.txt:1: ", "this is a flat dump");
}

/* Every prefix of a valid dump either loads or fails cleanly. */
static void every_truncation(void **state)
{
    (void)state;
    size_t n = strlen(pc_tree);
    char *buf = malloc(n + 1);
    for (size_t len = 0; len <= n; len += 7) {
        memcpy(buf, pc_tree, len);
        buf[len] = '\0';
        mt_test_loaded L;
        load(&L, MT_FORMAT_QEMU, buf, NULL);
        if (L.rc) {
            assert_int_equal(L.rc, -EINVAL);
            assert_non_null(strstr(L.err, "dump.txt:"));
        }
        mt_test_unload(&L);
    }
    free(buf);
}

/* ---- other formats through the same entry point ------------------------------------ */

static void model_sniffed(void **state)
{
    (void)state;
    static const char model[] =
        "# a model\n"
        "A 0 memory\n"
        "R 0 - container 0 10000000000000000 0 - - 0 system\n"
        "R 1 0 ram 1000 1000 0 r - 0 boot rom\n"
        "V system\nVA memory\nVR 1000 1fff 0 rom 0 boot rom\n";
    mt_test_loaded L;
    load_ok(&L, MT_FORMAT_AUTO, model, pc_flat);
    assert_int_equal(mt_machine_format(L.m), MT_FORMAT_MODEL);
    assert_non_null(mt_machine_region_by_file_id(L.m, 1));
    assert_string_equal(mt_machine_region_label(L.m, mt_machine_region_by_file_id(L.m, 1)),
                        "1");
    expect_note(L.m, "ignored");
    expect_dump(L.ctx, MT_DUMP_FLAT,
                "FlatView #0\n"
                " AS \"memory\", root: system\n"
                " Root memory region: system\n"
                "  0000000000001000-0000000000001fff (prio 0, rom): boot rom\n"
                "\n");
    mt_test_unload(&L);
    expect_error(MT_FORMAT_MODEL, "A 0 memory\nR 0 - container 0 1000 0 - - 0 s\n"
                 "R 1 0 alias 0 10 0 - 7 0 a\n", NULL, "dump.txt:3: ",
                 "unknown alias target id 7");
}

MT_TEST_MAIN(
    cmocka_unit_test(pc_with_flat),
    cmocka_unit_test(pc_without_flat),
    cmocka_unit_test(crlf_is_lf),
    cmocka_unit_test(container_type),
    cmocka_unit_test(flat_with_owners_and_dispatch),
    cmocka_unit_test(hidden_disabled_parents),
    cmocka_unit_test(sizes_and_overflow),
    cmocka_unit_test(repeated_names_by_owner),
    cmocka_unit_test(alias_target_from_flat),
    cmocka_unit_test(render_order_and_size_from_flat),
    cmocka_unit_test(unmatched_flat_is_reported),
    cmocka_unit_test(bad_input),
    cmocka_unit_test(every_truncation),
    cmocka_unit_test(model_sniffed))
