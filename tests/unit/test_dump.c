/*
 * mt_dump: the tree and flat `info mtree` formats (docs/format.md, "QEMU
 * `info mtree` dumps"), compared byte for byte with hand-written
 * expectations. Covers grouping and header order, child sorting, alias lines
 * and memory-region blocks, size-0 lines, the overflow marker (also on hidden
 * lines), hidden disabled parents, types, owners, and the flat blocks with
 * their AS lines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mt_test.h"

#include "memtree.h"
#include <memtree/format.h>

#define FULL UINT64_MAX /* 2^64 */

/* A context plus everything a test created, torn down in reverse order. */
struct fx {
    mt_context *ctx;
    mt_region *regs[64];
    size_t nregs;
    mt_address_space *as[16];
    size_t nas;
};

static mt_region *slot(struct fx *f)
{
    assert_true(f->nregs < 64);
    mt_region *r = mt_region_alloc();
    assert_non_null(r);
    f->regs[f->nregs++] = r;
    return r;
}

/* Fails unless initialising `r` succeeded (rc 0); returns r. */
static mt_region *made(mt_region *r, int rc)
{
    assert_int_equal(rc, 0);
    return r;
}

static mt_region *container(struct fx *f, const char *name, uint64_t size)
{
    mt_region *r = slot(f);
    return made(r, mt_region_init_container(r, f->ctx, NULL, name, size));
}

static mt_region *ram(struct fx *f, mt_owner *o, const char *name, uint64_t size)
{
    mt_region *r = slot(f);
    return made(r, mt_region_init_ram(r, f->ctx, o, name, size));
}

static mt_region *rom(struct fx *f, const char *name, uint64_t size)
{
    mt_region *r = slot(f);
    return made(r, mt_region_init_rom(r, f->ctx, NULL, name, size));
}

static mt_region *io(struct fx *f, mt_owner *o, const char *name, uint64_t size)
{
    mt_region *r = slot(f);
    return made(r, mt_region_init_io(r, f->ctx, o, NULL, NULL, name, size));
}

static mt_region *alias(struct fx *f, mt_owner *o, const char *name,
                        mt_region *target, uint64_t offset, uint64_t size)
{
    mt_region *r = slot(f);
    return made(r, mt_region_init_alias(r, f->ctx, o, name, target, offset, size));
}

static void map(mt_region *c, uint64_t addr, mt_region *sub, int32_t prio)
{
    assert_int_equal(mt_region_add_subregion_overlap(c, addr, sub, prio), 0);
}

static void space(struct fx *f, mt_region *root, const char *name)
{
    assert_true(f->nas < 16);
    f->as[f->nas] = mt_address_space_new(f->ctx, root, name);
    assert_non_null(f->as[f->nas]);
    f->nas++;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->ctx = mt_context_new();
    assert_non_null(f->ctx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    for (size_t i = f->nas; i > 0; i--)
        mt_address_space_destroy(f->as[i - 1]);
    mt_context_reclaim(f->ctx);
    /* aliases were created after their targets: reverse order frees them
     * first, so no target is still in use when it is finalised */
    for (size_t i = f->nregs; i > 0; i--)
        assert_int_equal(mt_region_finalize(f->regs[i - 1]), 0);
    mt_context_reclaim(f->ctx);
    mt_context_free(f->ctx);
    free(f);
    return 0;
}

static char *dump(struct fx *f, unsigned flags)
{
    return mt_test_dump(f->ctx, flags);
}

static void expect_dump(struct fx *f, unsigned flags, const char *expected)
{
    char *got = dump(f, flags);
    if (strcmp(got, expected) != 0)
        fprintf(stderr, "---- expected\n%s---- got\n%s----\n", expected, got);
    assert_string_equal(got, expected);
    free(got);
}

/* ---- a made-up tree dump ------------------------ */

static void build_53(struct fx *f)
{
    mt_region *board = ram(f, NULL, "board.ram", 0x8000000);
    mt_region *busmem = container(f, "bus.mem", FULL);
    map(busmem, 0xfe100000, io(f, NULL, "nic-bar0", 0x10000), 1);
    mt_region *busroot = container(f, "bus root", FULL);
    map(busroot, 0, alias(f, NULL, "dma window", board, 0, 0x8000000), 0);
    mt_region *sysmem = container(f, "sysmem", FULL);
    map(sysmem, 0, alias(f, NULL, "low-ram", board, 0, 0x8000000), 0);
    map(sysmem, 0, alias(f, NULL, "win0", busmem, 0, 0), 1);
    mt_region *legacy = io(f, NULL, "legacy window", 0x20000);
    assert_int_equal(mt_region_set_enabled(legacy, false), 0);
    map(sysmem, 0xa0000, legacy, 1);
    map(sysmem, 0xfe000000, io(f, NULL, "uart", 0x1000), 0);
    map(sysmem, 0xfffc0000, rom(f, "firmware", 0x40000), 0);
    /* dma-b first: headers sort by name, groups follow creation */
    space(f, busroot, "dma-b");
    space(f, busroot, "dma-a");
    space(f, sysmem, "memory");
}

/*
 * low-ram (prio 0) and win0 (prio 1) start at the same address; QEMU puts
 * the higher priority first, which is what is expected here.
 */
static const char tree_53_D[] =
    "address-space: dma-a\n"
    "address-space: dma-b\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus root\n"
    "    0000000000000000-0000000007ffffff (prio 0, ram): alias dma window @board.ram 0000000000000000-0000000007ffffff\n"
    "\n"
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): sysmem\n"
    "    0000000000000000-0000000000000000 (prio 1, i/o): alias win0 @bus.mem 0000000000000000-0000000000000000\n"
    "    0000000000000000-0000000007ffffff (prio 0, ram): alias low-ram @board.ram 0000000000000000-0000000007ffffff\n"
    "    00000000000a0000-00000000000bffff (prio 1, i/o): legacy window [disabled]\n"
    "    00000000fe000000-00000000fe000fff (prio 0, i/o): uart\n"
    "    00000000fffc0000-00000000ffffffff (prio 0, rom): firmware\n"
    "\n"
    "memory-region: board.ram\n"
    "  0000000000000000-0000000007ffffff (prio 0, ram): board.ram\n"
    "\n"
    "memory-region: bus.mem\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus.mem\n"
    "    00000000fe100000-00000000fe10ffff (prio 1, i/o): nic-bar0\n"
    "\n";

static void test_tree_example_53(void **state)
{
    struct fx *f = *state;
    build_53(f);
    expect_dump(f, MT_DUMP_DISABLED, tree_53_D);

    /* without -D only the disabled line disappears */
    char *got = dump(f, 0);
    const char *cut = strstr(tree_53_D, "    00000000000a0000");
    const char *rest = strchr(cut, '\n') + 1;
    char expected[sizeof(tree_53_D)];
    size_t head = (size_t)(cut - tree_53_D);
    memcpy(expected, tree_53_D, head);
    strcpy(expected + head, rest);
    assert_string_equal(got, expected);
    free(got);

    /* deterministic: a second run gives the same bytes */
    char *again = dump(f, MT_DUMP_DISABLED);
    assert_string_equal(again, tree_53_D);
    free(again);
}

/* ---- a made-up flat dump --------------------- */

static void test_flat_example_4(void **state)
{
    struct fx *f = *state;
    mt_region *sysmem = container(f, "sysmem", FULL);
    mt_region *board = ram(f, NULL, "board.ram", 0x8000000);
    map(sysmem, 0, board, 0);
    map(sysmem, 0xa0000, io(f, NULL, "vga-lowmem", 0x20000), 1);
    mt_region *shadow = alias(f, NULL, "bios-shadow", board, 0xc0000, 0x40000);
    assert_int_equal(mt_region_set_readonly(shadow, true), 0);
    map(sysmem, 0xc0000, shadow, 1);
    map(sysmem, 0xfe000000, io(f, NULL, "uart", 0x1000), 0);

    /* a bus root whose only child is a full alias of sysmem shares its view */
    mt_region *bus1 = container(f, "bus root", FULL);
    map(bus1, 0, alias(f, NULL, "bus master", sysmem, 0, FULL), 0);
    /* another "bus root" whose mastering is off: the empty view */
    mt_region *bus2 = container(f, "bus root", FULL);
    mt_region *off = alias(f, NULL, "bus master", sysmem, 0, FULL);
    assert_int_equal(mt_region_set_enabled(off, false), 0);
    map(bus2, 0, off, 0);

    space(f, sysmem, "memory");
    space(f, sysmem, "cpu-memory-0");
    space(f, bus1, "nic0");
    space(f, bus2, "dma-a");

    expect_dump(f, MT_DUMP_FLAT,
        "FlatView #0\n"
        " AS \"memory\", root: sysmem\n"
        " AS \"cpu-memory-0\", root: sysmem\n"
        " AS \"nic0\", root: bus root\n"
        " Root memory region: sysmem\n"
        "  0000000000000000-000000000009ffff (prio 0, ram): board.ram\n"
        "  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem\n"
        "  00000000000c0000-00000000000fffff (prio 0, rom): board.ram @00000000000c0000\n"
        "  0000000000100000-0000000007ffffff (prio 0, ram): board.ram @0000000000100000\n"
        "  00000000fe000000-00000000fe000fff (prio 0, i/o): uart\n"
        "\n"
        "FlatView #1\n"
        " AS \"dma-a\", root: bus root\n"
        " Root memory region: (none)\n"
        "  No rendered FlatView\n"
        "\n");

    /* -D means nothing in flat mode */
    char *a = dump(f, MT_DUMP_FLAT);
    char *b = dump(f, MT_DUMP_FLAT | MT_DUMP_DISABLED);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* An address space over an alias names the alias's target; views are
 * numbered by the first address space using them. */
static void test_flat_alias_root(void **state)
{
    struct fx *f = *state;
    mt_region *c10 = container(f, "C10", 0x10000);
    map(c10, 0, io(f, NULL, "z0", 0), 0);
    mt_region *sys2 = container(f, "sys2", FULL);
    map(sys2, 0x1000, io(f, NULL, "m", 0x100), 0);
    map(sys2, 0x2000, io(f, NULL, "n", 0x100), 0);
    mt_region *aroot = alias(f, NULL, "aroot", sys2, 0, FULL);

    space(f, c10, "zero");
    space(f, aroot, "alias-as");
    space(f, sys2, "plain");

    expect_dump(f, MT_DUMP_FLAT,
        "FlatView #0\n"
        " AS \"zero\", root: C10\n"
        " Root memory region: z0\n"
        "  No rendered FlatView\n"
        "\n"
        "FlatView #1\n"
        " AS \"alias-as\", root: aroot, alias sys2\n"
        " AS \"plain\", root: sys2\n"
        " Root memory region: sys2\n"
        "  0000000000001000-00000000000010ff (prio 0, i/o): m\n"
        "  0000000000002000-00000000000020ff (prio 0, i/o): n\n"
        "\n");

    /* the tree of an alias root queues its target */
    expect_dump(f, 0,
        "address-space: zero\n"
        "  0000000000000000-000000000000ffff (prio 0, i/o): C10\n"
        "    0000000000000000-0000000000000000 (prio 0, i/o): z0\n"
        "\n"
        "address-space: alias-as\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): alias aroot @sys2 0000000000000000-ffffffffffffffff\n"
        "\n"
        "address-space: plain\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys2\n"
        "    0000000000001000-00000000000010ff (prio 0, i/o): m\n"
        "    0000000000002000-00000000000020ff (prio 0, i/o): n\n"
        "\n"
        "memory-region: sys2\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys2\n"
        "    0000000000001000-00000000000010ff (prio 0, i/o): m\n"
        "    0000000000002000-00000000000020ff (prio 0, i/o): n\n"
        "\n");
}

/* ---- size 0 and alias subregions ---------------------------------------- */

static void test_tree_size0_and_alias_children(void **state)
{
    struct fx *f = *state;
    mt_region *c = container(f, "C", 0x10000);
    map(c, 0, io(f, NULL, "bg", 0x10000), -1);
    map(c, 0x5000, io(f, NULL, "z", 0), 1);
    mt_region *t = ram(f, NULL, "t", 0x1000);
    map(c, 0x6000, alias(f, NULL, "za", t, 0, 0), 1);
    mt_region *zc = container(f, "zc", 0);
    map(zc, 0, ram(f, NULL, "zc1", 0x100), 0);
    map(c, 0x7000, zc, 1);
    mt_region *a = alias(f, NULL, "a", t, 0, 0x1000);
    map(a, 0, io(f, NULL, "ghost", 0x100), 0);
    map(c, 0x8000, a, 0);
    space(f, c, "X");

    expect_dump(f, 0,
        "address-space: X\n"
        "  0000000000000000-000000000000ffff (prio 0, i/o): C\n"
        "    0000000000000000-000000000000ffff (prio -1, i/o): bg\n"
        "    0000000000005000-0000000000005000 (prio 1, i/o): z\n"
        "    0000000000006000-0000000000006000 (prio 1, ram): alias za @t 0000000000000000-0000000000000000\n"
        "    0000000000007000-0000000000007000 (prio 1, i/o): zc\n"
        "      0000000000007000-00000000000070ff (prio 0, ram): zc1\n"
        "    0000000000008000-0000000000008fff (prio 0, ram): alias a @t 0000000000000000-0000000000000fff\n"
        "      0000000000008000-00000000000080ff (prio 0, i/o): ghost\n"
        "\n"
        "memory-region: t\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): t\n"
        "\n");

    /* ghost is printed, never rendered */
    char *flat = dump(f, MT_DUMP_FLAT);
    assert_null(strstr(flat, "ghost"));
    assert_non_null(strstr(flat,
        "  0000000000008000-0000000000008fff (prio 0, ram): t\n"));
    free(flat);
}

/* ---- the overflow marker ------------------------------------------------ */

static void test_tree_overflow(void **state)
{
    struct fx *f = *state;
    mt_region *sys = container(f, "sys", FULL);
    mt_region *hi = container(f, "hi", 0x1000);
    /* S below the parent's S: 0xffffffffffffe000 + 0x3000 wraps */
    map(hi, 0x3000, io(f, NULL, "wrap", 0x100), 0);
    map(sys, 0xffffffffffffe000ull, hi, 0);
    /* E wraps on a hidden line: the marker still goes out, and prefixes
     * the next printed line */
    mt_region *gw = io(f, NULL, "gw", 0x2000);
    assert_int_equal(mt_region_set_enabled(gw, false), 0);
    map(sys, 0xffffffffffffe800ull, gw, 0);
    map(sys, 0xfffffffffffff000ull, io(f, NULL, "top", 0x2000), 0);
    space(f, sys, "o");

    expect_dump(f, 0,
        "address-space: o\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    ffffffffffffe000-ffffffffffffefff (prio 0, i/o): hi\n"
        "[DETECTED OVERFLOW!]       0000000000001000-00000000000010ff (prio 0, i/o): wrap\n"
        "[DETECTED OVERFLOW!] [DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff (prio 0, i/o): top\n"
        "\n");
    expect_dump(f, MT_DUMP_DISABLED,
        "address-space: o\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    ffffffffffffe000-ffffffffffffefff (prio 0, i/o): hi\n"
        "[DETECTED OVERFLOW!]       0000000000001000-00000000000010ff (prio 0, i/o): wrap\n"
        "[DETECTED OVERFLOW!]     ffffffffffffe800-00000000000007ff (prio 0, i/o): gw [disabled]\n"
        "[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff (prio 0, i/o): top\n"
        "\n");
}

/* ---- hidden disabled parents and disabled AS roots --------------------- */

static void test_tree_hidden_disabled(void **state)
{
    struct fx *f = *state;
    mt_region *sys = container(f, "sys", FULL);
    mt_region *hidden = container(f, "hidden", 0x10000);
    map(hidden, 0x20, io(f, NULL, "kid", 0x100), 0);
    mt_region *t = ram(f, NULL, "t", 0x1000);
    /* a disabled alias queues its target even when hidden */
    mt_region *ka = alias(f, NULL, "ka", t, 0x800, 0x800);
    assert_int_equal(mt_region_set_enabled(ka, false), 0);
    map(hidden, 0x1000, ka, 0);
    assert_int_equal(mt_region_set_enabled(hidden, false), 0);
    map(sys, 0x10000, hidden, 0);
    map(sys, 0x30000, io(f, NULL, "after", 0x1000), 0);

    mt_region *dead = container(f, "dead", 0x1000);
    map(dead, 0, io(f, NULL, "live", 0x100), 0);
    assert_int_equal(mt_region_set_enabled(dead, false), 0);
    mt_region *empty = container(f, "empty", 0x1000);
    assert_int_equal(mt_region_set_enabled(empty, false), 0);

    space(f, sys, "mem");
    space(f, dead, "off");
    space(f, empty, "nothing");

    expect_dump(f, 0,
        "address-space: mem\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "      0000000000010020-000000000001011f (prio 0, i/o): kid\n"
        "    0000000000030000-0000000000030fff (prio 0, i/o): after\n"
        "\n"
        "address-space: off\n"
        "    0000000000000000-00000000000000ff (prio 0, i/o): live\n"
        "\n"
        "address-space: nothing\n"
        "\n"
        "memory-region: t\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): t\n"
        "\n");
    expect_dump(f, MT_DUMP_DISABLED,
        "address-space: mem\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    0000000000010000-000000000001ffff (prio 0, i/o): hidden [disabled]\n"
        "      0000000000010020-000000000001011f (prio 0, i/o): kid\n"
        "      0000000000011000-00000000000117ff (prio 0, ram): alias ka @t 0000000000000800-0000000000000fff [disabled]\n"
        "    0000000000030000-0000000000030fff (prio 0, i/o): after\n"
        "\n"
        "address-space: off\n"
        "  0000000000000000-0000000000000fff (prio 0, i/o): dead [disabled]\n"
        "    0000000000000000-00000000000000ff (prio 0, i/o): live\n"
        "\n"
        "address-space: nothing\n"
        "  0000000000000000-0000000000000fff (prio 0, i/o): empty [disabled]\n"
        "\n"
        "memory-region: t\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): t\n"
        "\n");
}

/* ---- sorting, chained memory-region blocks, unmapped targets ----------- */

static void test_tree_order_and_queue(void **state)
{
    struct fx *f = *state;
    mt_region *sys = container(f, "sys", FULL);
    /* render order puts the newest first among equal priorities; the dump
     * sorts by address, then priority, keeping render order for ties */
    map(sys, 0x3000, io(f, NULL, "c", 0x100), 0);
    map(sys, 0x1000, io(f, NULL, "a-old", 0x100), 0);
    map(sys, 0x1000, io(f, NULL, "a-new", 0x100), 0);
    map(sys, 0x1000, io(f, NULL, "a-low", 0x100), -5);
    map(sys, 0x1000, io(f, NULL, "a-high", 0x100), 7);

    /* an unmapped target printed at its own addr (like pc.bios) */
    mt_region *bios = rom(f, "pc.bios", 0x40000);
    assert_int_equal(mt_region_set_address(bios, 0xfffc0000), 0);
    /* a chain: t1 holds an alias of t2, so t2's block is queued while t1's
     * block prints, and an alias of an alias queues the first alias */
    mt_region *t2 = container(f, "t2", 0x1000);
    map(t2, 0, io(f, NULL, "t2dev", 0x10), 0);
    mt_region *t1 = container(f, "t1", 0x2000);
    map(t1, 0x100, alias(f, NULL, "to-t2", t2, 0, 0x1000), 0);
    mt_region *a1 = alias(f, NULL, "a1", t1, 0, 0x2000);
    map(sys, 0x10000, a1, 0);
    map(sys, 0x20000, alias(f, NULL, "a1a", a1, 0x1000, 0x1000), 0);
    map(sys, 0xe0000, alias(f, NULL, "isa-bios", bios, 0x20000, 0x20000), 1);

    mt_region *other = container(f, "other", 0x100);
    space(f, sys, "zz");
    space(f, other, "solo");
    space(f, sys, "Aa");
    space(f, sys, "aa");

    expect_dump(f, 0,
        "address-space: Aa\n"
        "address-space: aa\n"
        "address-space: zz\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    0000000000001000-00000000000010ff (prio 7, i/o): a-high\n"
        "    0000000000001000-00000000000010ff (prio 0, i/o): a-new\n"
        "    0000000000001000-00000000000010ff (prio 0, i/o): a-old\n"
        "    0000000000001000-00000000000010ff (prio -5, i/o): a-low\n"
        "    0000000000003000-00000000000030ff (prio 0, i/o): c\n"
        "    0000000000010000-0000000000011fff (prio 0, i/o): alias a1 @t1 0000000000000000-0000000000001fff\n"
        "    0000000000020000-0000000000020fff (prio 0, i/o): alias a1a @a1 0000000000001000-0000000000001fff\n"
        "    00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n"
        "\n"
        "address-space: solo\n"
        "  0000000000000000-00000000000000ff (prio 0, i/o): other\n"
        "\n"
        "memory-region: t1\n"
        "  0000000000000000-0000000000001fff (prio 0, i/o): t1\n"
        "    0000000000000100-00000000000010ff (prio 0, i/o): alias to-t2 @t2 0000000000000000-0000000000000fff\n"
        "\n"
        "memory-region: a1\n"
        "  0000000000010000-0000000000011fff (prio 0, i/o): alias a1 @t1 0000000000000000-0000000000001fff\n"
        "\n"
        "memory-region: pc.bios\n"
        "  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
        "\n"
        "memory-region: t2\n"
        "  0000000000000000-0000000000000fff (prio 0, i/o): t2\n"
        "    0000000000000000-000000000000000f (prio 0, i/o): t2dev\n"
        "\n");
}

/* ---- types in both modes ------------------------------------------------ */

static uint8_t host_ramd[0x1000];

static void test_types(void **state)
{
    struct fx *f = *state;
    mt_region *sys = container(f, "sys", FULL);
    mt_region *rd = slot(f);
    assert_int_equal(mt_region_init_ram_device(rd, f->ctx, NULL, "rd", 0x1000,
                                               host_ramd), 0);
    map(sys, 0x1000, rd, 0);
    mt_region *fl = slot(f);
    assert_int_equal(mt_region_init_rom_device(fl, f->ctx, NULL, NULL, NULL,
                                               "fl", 0x1000), 0);
    map(sys, 0x2000, fl, 0);
    mt_region *fl2 = slot(f);
    assert_int_equal(mt_region_init_rom_device(fl2, f->ctx, NULL, NULL, NULL,
                                               "fl2", 0x1000), 0);
    assert_int_equal(mt_region_set_romd(fl2, false), 0);
    map(sys, 0x3000, fl2, 0);
    mt_region *nvram = ram(f, NULL, "nvram", 0x1000);
    assert_int_equal(mt_region_set_nonvolatile(nvram, true), 0);
    map(sys, 0x4000, nvram, 0);
    mt_region *ram0 = ram(f, NULL, "ram0", 0x1000);
    /* an alias's own readonly flag is never printed in the tree */
    mt_region *roa = alias(f, NULL, "ro-alias", ram0, 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(roa, true), 0);
    map(sys, 0x5000, roa, 0);
    map(sys, 0x6000, alias(f, NULL, "a2", roa, 0, 0x1000), 0);
    map(sys, 0x7000, io(f, NULL, NULL, 0x10), 0);
    mt_region *nva = alias(f, NULL, "nvalias", ram0, 0, 0x1000);
    assert_int_equal(mt_region_set_nonvolatile(nva, true), 0);
    map(sys, 0x8000, nva, 0);
    mt_region *res = slot(f);
    assert_int_equal(mt_region_init_reservation(res, f->ctx, NULL, "res",
                                                0x1000), 0);
    map(sys, 0x9000, res, 0);
    /* inherited readonly makes even MMIO print rom in flat mode */
    mt_region *roc = container(f, "roc", 0x1000);
    map(roc, 0, io(f, NULL, "ro-mmio", 0x1000), 0);
    assert_int_equal(mt_region_set_readonly(roc, true), 0);
    map(sys, 0xa000, roc, 0);
    space(f, sys, "t");

    expect_dump(f, 0,
        "address-space: t\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys\n"
        "    0000000000001000-0000000000001fff (prio 0, ramd): rd\n"
        "    0000000000002000-0000000000002fff (prio 0, romd): fl\n"
        "    0000000000003000-0000000000003fff (prio 0, i/o): fl2\n"
        "    0000000000004000-0000000000004fff (prio 0, nv-ram): nvram\n"
        "    0000000000005000-0000000000005fff (prio 0, ram): alias ro-alias @ram0 0000000000000000-0000000000000fff\n"
        "    0000000000006000-0000000000006fff (prio 0, ram): alias a2 @ro-alias 0000000000000000-0000000000000fff\n"
        "    0000000000007000-000000000000700f (prio 0, i/o): (null)\n"
        "    0000000000008000-0000000000008fff (prio 0, nv-ram): alias nvalias @ram0 0000000000000000-0000000000000fff\n"
        "    0000000000009000-0000000000009fff (prio 0, i/o): res\n"
        "    000000000000a000-000000000000afff (prio 0, i/o): roc\n"
        "      000000000000a000-000000000000afff (prio 0, i/o): ro-mmio\n"
        "\n"
        "memory-region: ram0\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): ram0\n"
        "\n"
        "memory-region: ro-alias\n"
        "  0000000000005000-0000000000005fff (prio 0, ram): alias ro-alias @ram0 0000000000000000-0000000000000fff\n"
        "\n");
    expect_dump(f, MT_DUMP_FLAT,
        "FlatView #0\n"
        " AS \"t\", root: sys\n"
        " Root memory region: sys\n"
        "  0000000000001000-0000000000001fff (prio 0, ramd): rd\n"
        "  0000000000002000-0000000000002fff (prio 0, romd): fl\n"
        "  0000000000003000-0000000000003fff (prio 0, i/o): fl2\n"
        "  0000000000004000-0000000000004fff (prio 0, nv-ram): nvram\n"
        "  0000000000005000-0000000000005fff (prio 0, rom): ram0\n"
        "  0000000000006000-0000000000006fff (prio 0, rom): ram0\n"
        "  0000000000007000-000000000000700f (prio 0, i/o): (null)\n"
        "  0000000000008000-0000000000008fff (prio 0, nv-ram): ram0\n"
        "  0000000000009000-0000000000009fff (prio 0, i/o): res\n"
        "  000000000000a000-000000000000afff (prio 0, rom): ro-mmio\n"
        "\n");
}

/* ---- owners -------------------------------------------------------------- */

static void test_owners(void **state)
{
    struct fx *f = *state;
    mt_owner nic, anon;
    assert_int_equal(mt_owner_init(&nic, "dev id=nic0", NULL), 0);
    assert_int_equal(mt_owner_init(&anon, NULL, NULL), 0);
    mt_region *sys = container(f, "sys", FULL);
    map(sys, 0x1000, io(f, &nic, "bar", 0x1000), 0);
    mt_region *mem = ram(f, NULL, "mem", 0x1000);
    map(sys, 0x4000, alias(f, &nic, "win", mem, 0x800, 0x800), 0);
    mt_region *dis = io(f, &nic, "dis", 0x100);
    assert_int_equal(mt_region_set_enabled(dis, false), 0);
    map(sys, 0x5000, dis, 0);
    map(sys, 0x6000, io(f, &anon, "nolabel", 0x100), 0);
    space(f, sys, "o");

    expect_dump(f, MT_DUMP_OWNER | MT_DUMP_DISABLED,
        "address-space: o\n"
        "  0000000000000000-ffffffffffffffff (prio 0, i/o): sys orphan\n"
        "    0000000000001000-0000000000001fff (prio 0, i/o): bar owner:{dev id=nic0}\n"
        "    0000000000004000-00000000000047ff (prio 0, ram): alias win @mem 0000000000000800-0000000000000fff owner:{dev id=nic0}\n"
        "    0000000000005000-00000000000050ff (prio 0, i/o): dis [disabled] owner:{dev id=nic0}\n"
        "    0000000000006000-00000000000060ff (prio 0, i/o): nolabel owner:{}\n"
        "\n"
        "memory-region: mem\n"
        "  0000000000000000-0000000000000fff (prio 0, ram): mem orphan\n"
        "\n");
    expect_dump(f, MT_DUMP_FLAT | MT_DUMP_OWNER,
        "FlatView #0\n"
        " AS \"o\", root: sys\n"
        " Root memory region: sys\n"
        "  0000000000001000-0000000000001fff (prio 0, i/o): bar owner:{dev id=nic0}\n"
        "  0000000000004000-00000000000047ff (prio 0, ram): mem @0000000000000800 orphan\n"
        "  0000000000006000-00000000000060ff (prio 0, i/o): nolabel owner:{}\n"
        "\n");

    /* the regions must go before the owners' last references */
    teardown(state);
    mt_owner_unref(&nic);
    mt_owner_unref(&anon);
    setup(state);
}

/* ---- an empty context and argument checks -------------------------------- */

static void quiet(void *opaque, const char *message)
{
    (void)message;
    ++*(int *)opaque;
}

static void test_empty_and_errors(void **state)
{
    struct fx *f = *state;
    expect_dump(f, 0, "");
    expect_dump(f, MT_DUMP_FLAT, "");

    int diags = 0;
    mt_context_set_diag(f->ctx, quiet, &diags);
    assert_int_equal(mt_dump(f->ctx, NULL, 0), -EINVAL);
    assert_int_equal(mt_dump(NULL, stdout, 0), -EINVAL);
    assert_int_equal(mt_dump(f->ctx, stdout, 1u << 7), -EINVAL);
    assert_true(diags >= 2);
}

/* Write errors come back as a negative errno (Linux's /dev/full: ENOSPC). */
static void test_write_error(void **state)
{
    struct fx *f = *state;
    mt_region *sys = container(f, "sys", FULL);
    map(sys, 0, io(f, NULL, "dev", 0x10), 0);
    space(f, sys, "w");
    FILE *full = fopen("/dev/full", "w");
    if (!full)
        skip();
    assert_int_equal(mt_dump(f->ctx, full, 0), -ENOSPC);
    fclose(full);
}

/* A deep chain: indentation grows by two per level and addresses add up. */
static void test_deep_chain(void **state)
{
    struct fx *f = *state;
    /* 60 nested containers of decreasing size, each at offset 0x10 */
    mt_region *top = container(f, "n0", FULL);
    mt_region *prev = top;
    for (int i = 1; i < 60; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        mt_region *c = container(f, name, 0x100000);
        map(prev, 0x10, c, 0);
        prev = c;
    }
    space(f, top, "deep");
    char *got = dump(f, 0);
    /* the last line is n59 at level 60, at 59 * 0x10 */
    char last[256];
    snprintf(last, sizeof(last), "%*s%016llx-%016llx (prio 0, i/o): n59\n\n",
             120, "", 59ull * 0x10, 59ull * 0x10 + 0xfffff);
    size_t gl = strlen(got), ll = strlen(last);
    assert_true(gl >= ll);
    assert_string_equal(got + gl - ll, last);
    free(got);
}

MT_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_tree_example_53, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flat_example_4, setup, teardown),
    cmocka_unit_test_setup_teardown(test_flat_alias_root, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tree_size0_and_alias_children,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_tree_overflow, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tree_hidden_disabled, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_tree_order_and_queue, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
    cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
    cmocka_unit_test_setup_teardown(test_empty_and_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown))
