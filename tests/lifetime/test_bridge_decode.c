/*
 * PCI bridge decoding and register behaviour (BR-1 to BR-8, docs/pci-bridge.md,
 * "Registers and decoding"): the rows of the decoding table through the
 * device's registers and through the pure decoder, writable masks and
 * read-only type nibbles, empty windows after the forwarding-disabled
 * reset, command enables, VGA forwarding, which writes re-program the
 * windows, and what listeners see of an update (one transaction each). One
 * bridge `B` sits on the root bus of docs/pci-bridge.md, "Using it".
 */
#include "test_bridge_common.h"
#include "mt_rec.h"

typedef struct fixture {
    mt_test_env *e;
    bt_root root;
    bt_bridge *B;
    bt_poison poison;
    /* devices on the secondary buses (behind_bridge), unmapped at teardown */
    mt_region *dev_io, *dev_mem;
} fixture;

static fixture setup_bridge(mt_test_env *e, bool io_32bit, bool pref_32bit)
{
    fixture f = {.e = e};
    f.root = bt_root_new(e);
    mt_pci_bridge_options o = {.io_32bit = io_32bit, .pref_32bit = pref_32bit};
    f.B = bt_bridge_new(e, "dev id=B", &o);
    bt_realize(e, f.B, f.root.pci, f.root.io);
    return f;
}

/* Maps `io` at io_at on the bridge's secondary I/O bus and `mem` at
 * mem_at on its memory bus, at priority 1. */
static void behind_bridge(fixture *f, mt_region *io, uint64_t io_at, mt_region *mem,
                          uint64_t mem_at)
{
    mt_test_map_prio(mt_pci_bridge_sec_io(&f->B->b), io_at, io, 1);
    mt_test_map_prio(mt_pci_bridge_sec_mem(&f->B->b), mem_at, mem, 1);
    f->dev_io = io;
    f->dev_mem = mem;
}

static void teardown_bridge(fixture *f)
{
    if (f->dev_io) {
        mt_test_unmap(mt_pci_bridge_sec_io(&f->B->b), f->dev_io);
        mt_test_unmap(mt_pci_bridge_sec_mem(&f->B->b), f->dev_mem);
    }
    bt_check_views(f->e->ctx);
    bt_unplug(f->e, f->B);
}

/* A window alias must show `size` bytes of its secondary container from
 * offset `base`, mapped at `base` with priority 1 in `parent`. */
static void check_window(mt_pci_bridge *b, mt_pci_bridge_window_kind kind, mt_region *parent,
                         uint64_t base, uint64_t size, bool full)
{
    mt_region *a = mt_pci_bridge_window_region(b, kind);
    uint64_t low;
    assert_int_equal(mt_region_get_kind(a), MT_KIND_ALIAS);
    assert_ptr_equal(mt_region_container(a), parent);
    assert_int_equal(mt_region_alias_offset(a), base);
    assert_int_equal(mt_region_addr(a), base);
    assert_int_equal(mt_region_priority(a), 1);
    assert_true(mt_region_enabled(a));
    assert_int_equal(mt_region_size_exact(a, &low), full);
    if (!full)
        assert_int_equal(low, size);
    assert_ptr_equal(mt_region_alias_target(a), kind == MT_PCI_BRIDGE_WIN_IO
                                                    ? mt_pci_bridge_sec_io(b)
                                                    : mt_pci_bridge_sec_mem(b));
}

typedef struct row {
    struct { unsigned off, size; uint32_t value; } w[4];
    uint64_t base, limit, size; /* size if enabled; UINT64_MAX means 2^64 */
} row;

/* Programs a row into the bridge (decoding off), checks, turns decoding on
 * through `cmd`, checks, then restores the command register. */
static void check_row(fixture *f, const row *r, mt_pci_bridge_window_kind kind, uint16_t cmd,
                      mt_region *parent)
{
    mt_pci_bridge *b = &f->B->b;
    bt_write(f->e, f->B, MT_PCI_BRIDGE_COMMAND, 0, 2);
    for (int i = 0; i < 4 && r->w[i].size; i++)
        bt_write(f->e, f->B, r->w[i].off, r->w[i].value, r->w[i].size);
    mt_pci_bridge_window w = mt_pci_bridge_get_window(b, kind);
    assert_int_equal(w.base, r->base);
    assert_int_equal(w.limit, r->limit);
    assert_int_equal(w.size, 0);
    assert_false(w.enabled);
    check_window(b, kind, parent, r->base, 0, false);

    bt_write(f->e, f->B, MT_PCI_BRIDGE_COMMAND, cmd, 2);
    w = mt_pci_bridge_get_window(b, kind);
    assert_true(w.enabled);
    assert_int_equal(w.size, r->size);
    assert_int_equal(mt_pci_bridge_window_base(b, kind), r->base);
    assert_int_equal(mt_pci_bridge_window_limit(b, kind), r->limit);
    assert_int_equal(mt_pci_bridge_window_size(b, kind), r->size);
    check_window(b, kind, parent, r->base, r->size, r->size == UINT64_MAX);

    /* the pure decoder agrees on a copy of the header */
    uint8_t copy[MT_PCI_BRIDGE_CFG_SIZE];
    for (unsigned off = 0; off < MT_PCI_BRIDGE_CFG_SIZE; off++)
        copy[off] = (uint8_t)mt_pci_bridge_config_read(b, off, 1);
    mt_pci_bridge_window d = mt_pci_bridge_decode(copy, kind);
    assert_int_equal(d.base, r->base);
    assert_int_equal(d.limit, r->limit);
    assert_int_equal(d.size, r->size);
    bt_check_views(f->e->ctx);
}

/* ---- BR-1: I/O decoding -------------------------------------------------------------- */

static const row io_rows_16[] = {
    {{{0x1c, 1, 0x10}, {0x1d, 1, 0x20}}, 0x1000, 0x2fff, 0x2000},
    {{{0x1c, 1, 0xc0}, {0x1d, 1, 0xc0}}, 0xc000, 0xcfff, 0x1000},
    {{{0x1c, 1, 0x00}, {0x1d, 1, 0x00}}, 0, 0xfff, 0x1000},
    {{{0x1c, 1, 0xf0}, {0x1d, 1, 0x00}}, 0xf000, 0xfff, 0},
};

static const row io_row_32 = {
    {{0x1c, 1, 0x21}, {0x1d, 1, 0x21}, {0x30, 2, 0x0001}, {0x32, 2, 0x0001}},
    0x12000, 0x12fff, 0x1000,
};

static void br1_io_decoding(void **state)
{
    fixture f = setup_bridge(*state, false, true);
    for (size_t i = 0; i < sizeof(io_rows_16) / sizeof(io_rows_16[0]); i++)
        check_row(&f, &io_rows_16[i], MT_PCI_BRIDGE_WIN_IO, MT_PCI_BRIDGE_CMD_IO, f.root.io);

    /* a 16-bit bridge ignores the upper registers and keeps its type bits:
     * the 32-bit row decodes as 2000-2fff */
    const row as16 = {{{0x1c, 1, 0x21}, {0x1d, 1, 0x21}, {0x30, 2, 1}, {0x32, 2, 1}},
                      0x2000, 0x2fff, 0x1000};
    check_row(&f, &as16, MT_PCI_BRIDGE_WIN_IO, MT_PCI_BRIDGE_CMD_IO, f.root.io);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x1c, 1), 0x20);
    mt_pci_bridge_window before = mt_pci_bridge_get_window(&f.B->b, MT_PCI_BRIDGE_WIN_IO);
    bt_write(f.e, f.B, 0x30, 0xabcd, 2);
    bt_write(f.e, f.B, 0x32, 0xffff, 2);
    mt_pci_bridge_window after = mt_pci_bridge_get_window(&f.B->b, MT_PCI_BRIDGE_WIN_IO);
    assert_int_equal(before.base, after.base);
    assert_int_equal(before.limit, after.limit);
    assert_int_equal(before.size, after.size);
    check_window(&f.B->b, MT_PCI_BRIDGE_WIN_IO, f.root.io, 0x2000, 0x1000, false);
    teardown_bridge(&f);

    f = setup_bridge(*state, true, false);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x1c, 2), 0x0101);
    check_row(&f, &io_row_32, MT_PCI_BRIDGE_WIN_IO, MT_PCI_BRIDGE_CMD_IO, f.root.io);
    /* the type nibble cannot be cleared */
    bt_write(f.e, f.B, 0x1c, 0x20, 1);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x1c, 1), 0x21);
    teardown_bridge(&f);
}

/* ---- BR-2: memory decoding ------------------------------------------------------------ */

static void br2_memory_decoding(void **state)
{
    fixture f = setup_bridge(*state, false, false);
    const row rows[] = {
        {{{0x20, 2, 0xfe00}, {0x22, 2, 0xfe10}}, 0xfe000000, 0xfe1fffff, 0x200000},
        {{{0x20, 2, 0x0000}, {0x22, 2, 0x0000}}, 0, 0xfffff, 0x100000},
        /* the low nibbles are read-only: these writes mean fe00 / fe10 */
        {{{0x20, 2, 0xfe0f}, {0x22, 2, 0xfe1f}}, 0xfe000000, 0xfe1fffff, 0x200000},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        check_row(&f, &rows[i], MT_PCI_BRIDGE_WIN_MEM, MT_PCI_BRIDGE_CMD_MEMORY, f.root.pci);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x20, 4), 0xfe10fe00);
    teardown_bridge(&f);
}

/* ---- BR-3: prefetchable decoding ------------------------------------------------------- */

static void br3_prefetchable_decoding(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    const row rows64[] = {
        {{{0x24, 2, 0xfe41}, {0x26, 2, 0xfe71}, {0x28, 4, 0}, {0x2c, 4, 0}},
         0xfe400000, 0xfe7fffff, 0x400000},
        {{{0x24, 2, 0x0001}, {0x26, 2, 0x0ff1}, {0x28, 4, 8}, {0x2c, 4, 8}},
         0x800000000, 0x80fffffff, 0x10000000},
        {{{0x24, 2, 0xfff1}, {0x26, 2, 0x0001}, {0x28, 4, 0}, {0x2c, 4, 0}},
         0xfff00000, 0xfffff, 0},
        {{{0x24, 2, 0x0001}, {0x26, 2, 0xfff1}, {0x28, 4, 0}, {0x2c, 4, 0xffffffff}},
         0, UINT64_MAX, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(rows64) / sizeof(rows64[0]); i++)
        check_row(&f, &rows64[i], MT_PCI_BRIDGE_WIN_PREF, MT_PCI_BRIDGE_CMD_MEMORY,
                  f.root.pci);

    /* the exact 2^64 window shows the whole secondary bus: a BAR at 100000
     * behind the bridge appears at 100000 in the parent */
    mt_region *d2 = mt_test_io(e, e->O3, "d2-mmio", 0x1000);
    mt_test_map_prio(mt_pci_bridge_sec_mem(&f.B->b), 0x100000, d2, 1);
    mt_assert_view(f.root.memory, "  0000000000100000-0000000000100fff (prio 1, i/o): d2-mmio\n");
    mt_test_unmap(mt_pci_bridge_sec_mem(&f.B->b), d2);
    mt_test_reclaim(e);
    assert_int_equal(mt_test_finalize(e, d2), 0);

    /* the type nibble cannot be written */
    bt_write(e, f.B, 0x24, 0xfff0, 2);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x24, 2), 0xfff1);
    teardown_bridge(&f);

    /* a 32-bit prefetchable window ignores the upper registers */
    f = setup_bridge(e, false, true);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x24, 4), 0);
    const row rows32[] = {
        {{{0x24, 2, 0xfe41}, {0x26, 2, 0xfe71}, {0x28, 4, 0}, {0x2c, 4, 0}},
         0xfe400000, 0xfe7fffff, 0x400000},
        {{{0x24, 2, 0x0001}, {0x26, 2, 0x0ff1}, {0x28, 4, 8}, {0x2c, 4, 8}},
         0, 0x0fffffff, 0x10000000},
        {{{0x24, 2, 0x0001}, {0x26, 2, 0xfff1}, {0x28, 4, 0}, {0x2c, 4, 0xffffffff}},
         0, 0xffffffff, 0x100000000},
    };
    for (size_t i = 0; i < sizeof(rows32) / sizeof(rows32[0]); i++)
        check_row(&f, &rows32[i], MT_PCI_BRIDGE_WIN_PREF, MT_PCI_BRIDGE_CMD_MEMORY,
                  f.root.pci);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x24, 2), 0x0000);
    teardown_bridge(&f);
}

/* The tree dump shows the bridge's alias `name` of `target` over
 * [first, last] at priority 1, as the bridge maps its windows (at the
 * address they forward). */
static void expect_window_line(mt_test_env *e, const char *name, const char *target,
                               uint64_t first, uint64_t last)
{
    char line[256];
    snprintf(line, sizeof(line),
             "%016" PRIx64 "-%016" PRIx64 " (prio 1, i/o): alias %s @%s %016" PRIx64 "-%016" PRIx64
             "\n", first, last, name, target, first, last);
    mt_assert_dump_contains(e->ctx, 0, line);
}

/* ---- BR-4: empty windows after the forwarding-disabled reset ------------------------------- */

static void br4_empty_windows(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    /* something behind the bridge right where an off-by-one would show it */
    behind_bridge(&f, mt_test_io(e, e->O3, "behind-io", 0x1000), 0xf000,
                  mt_test_io(e, e->O3, "behind-mem", 0x100000), 0xfff00000);

    for (int cmd = 0; cmd <= 3; cmd += 3) {
        assert_int_equal(mt_pci_bridge_reset(&f.B->b, MT_PCI_BRIDGE_RESET_FORWARDING_DISABLED),
                         0);
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, (uint32_t)cmd, 2);
        assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x1c, 2), 0x00f0);
        assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x20, 4), 0x0000fff0);
        assert_int_equal(mt_pci_bridge_config_read(&f.B->b, 0x24, 4), 0x0001fff1);
        for (int k = 0; k < 3; k++)
            assert_int_equal(mt_pci_bridge_window_size(&f.B->b, (mt_pci_bridge_window_kind)k), 0);

        expect_window_line(e, "pci_bridge_io", "pci_bridge_io", 0xf000, 0xf000);
        expect_window_line(e, "pci_bridge_mem", "pci_bridge_pci", 0xfff00000, 0xfff00000);
        expect_window_line(e, "pci_bridge_pref_mem", "pci_bridge_pci", 0xfff00000, 0xfff00000);
        mt_assert_view(f.root.io_as, "  0000000000000000-000000000000ffff (prio 0, i/o): io\n");
        mt_assert_view(f.root.memory, "");
        bt_check_views(e->ctx);
    }
    teardown_bridge(&f);
}

/* ---- BR-5: command enables ------------------------------------------------------------------ */

typedef struct alias_state {
    uint64_t offset, addr, size;
    bool enabled, mapped;
} alias_state;

static void snapshot(mt_pci_bridge *b, alias_state s[6])
{
    mt_region *r[6];
    bt_aliases(b, r);
    for (int i = 0; i < 6; i++)
        s[i] = (alias_state){mt_region_alias_offset(r[i]), mt_region_addr(r[i]),
                             mt_region_size(r[i]), mt_region_enabled(r[i]),
                             mt_region_container(r[i]) != NULL};
}

/* Which alias fields may change when a command bit flips: the windows'
 * sizes and the VGA aliases' enabled flags of that bit's kind. */
static void expect_only(const alias_state a[6], const alias_state b[6], const int *slots, int n)
{
    for (int i = 0; i < 6; i++) {
        bool may = false;
        for (int k = 0; k < n; k++)
            may |= slots[k] == i;
        assert_int_equal(a[i].offset, b[i].offset);
        assert_int_equal(a[i].addr, b[i].addr);
        assert_int_equal(a[i].mapped, b[i].mapped);
        if (!may) {
            assert_int_equal(a[i].size, b[i].size);
            assert_int_equal(a[i].enabled, b[i].enabled);
        } else if (i < 3) {
            assert_true(a[i].size != b[i].size);
        } else {
            assert_true(a[i].enabled != b[i].enabled);
        }
    }
}

static void br5_command_enables(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    bt_write(e, f.B, 0x1c, 0xc0c0, 2);
    bt_write(e, f.B, 0x20, 0xfe10fe00, 4);
    bt_write(e, f.B, 0x24, 0xfe71fe41, 4);
    bt_write(e, f.B, MT_PCI_BRIDGE_CONTROL, MT_PCI_BRIDGE_CTL_VGA, 2);
    static const int io_slots[] = {0, 4, 5}, mem_slots[] = {1, 2, 3};
    alias_state a[6], b[6];
    for (uint16_t cmd = 0; cmd < 8; cmd++) {
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, cmd, 2);
        snapshot(&f.B->b, a);
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, cmd ^ MT_PCI_BRIDGE_CMD_IO, 2);
        snapshot(&f.B->b, b);
        expect_only(a, b, io_slots, 3);
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, cmd ^ MT_PCI_BRIDGE_CMD_MEMORY, 2);
        snapshot(&f.B->b, b);
        expect_only(a, b, mem_slots, 3);
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, cmd ^ MT_PCI_BRIDGE_CMD_MASTER, 2);
        snapshot(&f.B->b, b);
        expect_only(a, b, NULL, 0);
        bt_check_views(e->ctx);
    }
    teardown_bridge(&f);
}

/* ---- BR-6: VGA forwarding ---------------------------------------------------------------- */

static void br6_vga_forwarding(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    bt_write(e, f.B, 0x1c, 0xc0c0, 2);            /* I/O c000-cfff */
    bt_write(e, f.B, 0x20, 0xfe10fe00, 4);        /* memory fe000000-fe1fffff */
    bt_write(e, f.B, 0x24, 0x0001fff1, 4);        /* prefetchable base above limit */
    behind_bridge(&f, mt_test_io(e, e->O3, "vga-io", 0x20), 0x3c0,
                  mt_test_ram(e, e->O3, "vga-mem", 0x20000), 0xa0000);
    bt_write(e, f.B, MT_PCI_BRIDGE_CONTROL, MT_PCI_BRIDGE_CTL_VGA, 2);

    const char *io_line = "  00000000000003c0-00000000000003df (prio 1, i/o): vga-io\n";
    const char *mem_line = "  00000000000a0000-00000000000bffff (prio 1, ram): vga-mem\n";
    static const struct { uint16_t cmd; bool io, mem; } cases[] = {
        {3, true, true}, {2, false, true}, {1, true, false}, {0, false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, cases[i].cmd, 2);
        char *io = mt_test_as_text(f.root.io_as), *mem = mt_test_as_text(f.root.memory);
        mt_test__check_contains(io, io_line, cases[i].io, __FILE__, __LINE__);
        mt_test__check_contains(mem, mem_line, cases[i].mem, __FILE__, __LINE__);
        free(io);
        free(mem);
        bt_check_views(e->ctx);
    }
    /* the plain tree dump hides the disabled aliases of command 0 */
    char *tree = mt_test_dump(e->ctx, 0);
    assert_int_equal(mt_test_count(tree, "pci_bridge_vga_"), 0);
    free(tree);
    tree = mt_test_dump(e->ctx, MT_DUMP_DISABLED);
    assert_int_equal(mt_test_count(tree, "pci_bridge_vga_"), 3);
    free(tree);

    /* the ISA bit changes no view */
    bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, 3, 2);
    expect_window_line(e, "pci_bridge_vga_mem", "pci_bridge_pci", 0xa0000, 0xbffff);
    expect_window_line(e, "pci_bridge_vga_io_lo", "pci_bridge_io", 0x3b0, 0x3bb);
    expect_window_line(e, "pci_bridge_vga_io_hi", "pci_bridge_io", 0x3c0, 0x3df);
    char *io0 = mt_test_as_text(f.root.io_as), *mem0 = mt_test_as_text(f.root.memory);
    bt_write(e, f.B, MT_PCI_BRIDGE_CONTROL, MT_PCI_BRIDGE_CTL_VGA | MT_PCI_BRIDGE_CTL_ISA, 2);
    assert_int_equal(mt_pci_bridge_config_read(&f.B->b, MT_PCI_BRIDGE_CONTROL, 2), 0x0c);
    mt_assert_view(f.root.io_as, io0);
    mt_assert_view(f.root.memory, mem0);

    /* VGA bit clear: neither appears, and nothing VGA is left in the tree */
    bt_write(e, f.B, MT_PCI_BRIDGE_CONTROL, MT_PCI_BRIDGE_CTL_ISA, 2);
    char *io1 = mt_test_as_text(f.root.io_as), *mem1 = mt_test_as_text(f.root.memory);
    mt_assert_not_contains(io1, io_line);
    mt_assert_not_contains(mem1, mem_line);
    tree = mt_test_dump(e->ctx, MT_DUMP_DISABLED);
    assert_int_equal(mt_test_count(tree, "pci_bridge_vga_"), 0);
    free(tree);
    bt_write(e, f.B, MT_PCI_BRIDGE_CONTROL, 0, 2);
    mt_assert_view(f.root.io_as, io1);
    mt_assert_view(f.root.memory, mem1);
    free(io0);
    free(mem0);
    free(io1);
    free(mem1);

    teardown_bridge(&f);
}

/* ---- BR-7: trigger ranges ---------------------------------------------------------------- */

static bool spec_overlap(unsigned off, unsigned size)
{
    /* written out again here rather than taken from the device */
    unsigned end = off + size;
    return (off < 0x06 && end > 0x04) || (off < 0x1e && end > 0x1c) ||
           (off < 0x34 && end > 0x20) || (off < 0x40 && end > 0x3e);
}

static void br7_trigger_ranges(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    /* poisoning on: every update in this test is checked too */
    bt_poison_install(&f.B->b, &f.poison);
    static const unsigned sizes[] = {1, 2, 4};
    unsigned triggered = 0;
    for (size_t s = 0; s < 3; s++) {
        for (unsigned off = 0; off + sizes[s] <= 0x40; off++) {
            uint64_t before[6], after[6];
            bt_alias_ids(&f.B->b, before);
            unsigned n = mt_pci_bridge_update_count(&f.B->b);
            /* write back what is there, with the bus-reset bit kept clear */
            uint32_t v = mt_pci_bridge_config_read(&f.B->b, off, sizes[s]);
            bt_write(e, f.B, off, v, sizes[s]);
            bt_alias_ids(&f.B->b, after);
            bool want = spec_overlap(off, sizes[s]);
            assert_int_equal(mt_pci_bridge_write_triggers_update(off, sizes[s]), want);
            assert_int_equal(mt_pci_bridge_update_count(&f.B->b) - n, want ? 1 : 0);
            for (int i = 0; i < 6; i++) {
                if (want)
                    assert_true(after[i] > before[i]);
                else
                    assert_int_equal(after[i], before[i]);
            }
            triggered += want;
        }
    }
    assert_int_equal(f.poison.rounds, triggered);
    /* writes past the header are refused, and change nothing */
    assert_int_equal(mt_pci_bridge_config_write(&f.B->b, 0xfe, 0, 4), -EINVAL);
    assert_int_equal(mt_pci_bridge_config_write(&f.B->b, 0x04, 0, 3), -EINVAL);
    mt_pci_bridge_set_hooks(&f.B->b, NULL);
    teardown_bridge(&f);
}

/* ---- BR-8: one transaction per update ------------------------------------------------------ */

/* What a recording listener (mt_rec.h) heard: `what` words ("begin",
 * "add(", ...) in its log. */
static size_t heard(const mt_rec *r, const char *what)
{
    return mt_test_count(r->log, what);
}

static void clear_logs(mt_rec *a, mt_rec *b)
{
    a->log[0] = b->log[0] = '\0';
}

static void expect_pairs(const mt_rec *r, size_t pairs)
{
    if (heard(r, "begin") != pairs || heard(r, "commit") != pairs)
        fail_msg("expected %zu begin/commit pair(s), got %zu/%zu; %s", pairs, heard(r, "begin"),
                 heard(r, "commit"), r->log);
}

static void br8_one_transaction_per_update(void **state)
{
    mt_test_env *e = *state;
    fixture f = setup_bridge(e, false, false);
    behind_bridge(&f, mt_test_io(e, e->O3, "dev-io", 0x40), 0xc000,
                  mt_test_io(e, e->O3, "dev-mem", 0x1000), 0xfe000000);
    bt_write(e, f.B, 0x1c, 0xc0c0, 2);
    bt_write(e, f.B, 0x20, 0xfe00fe00, 4);
    bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, 3, 2);
    mt_rec lm, li;
    mt_rec_init(&lm, 0, NULL, NULL, 0);
    mt_rec_init(&li, 0, NULL, NULL, 0);
    assert_int_equal(mt_listener_register(&lm.l, f.root.memory), 0);
    assert_int_equal(mt_listener_register(&li.l, f.root.io_as), 0);
    assert_int_equal(heard(&lm, "add("), 1); /* the replay of dev-mem */

    /* every triggering write is one begin/commit pair, whatever it changes */
    static const struct { unsigned off, size; uint32_t v; } writes[] = {
        {MT_PCI_BRIDGE_COMMAND, 2, 1}, {MT_PCI_BRIDGE_COMMAND, 2, 3}, {0x1d, 1, 0xd0},
        {0x24, 4, 0x0001fff1}, {MT_PCI_BRIDGE_CONTROL, 2, 8}, {MT_PCI_BRIDGE_CONTROL, 2, 0},
    };
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        clear_logs(&lm, &li);
        bt_write(e, f.B, writes[i].off, writes[i].v, writes[i].size);
        expect_pairs(&lm, 1);
        expect_pairs(&li, 1);
    }

    /* the value already there: the windows are rebuilt in new storage, yet
     * listeners see only nops, never a del then an add of the same range */
    static const struct { unsigned off, size; } same[] = {
        {MT_PCI_BRIDGE_COMMAND, 2}, {0x1c, 2}, {0x20, 4}, {0x24, 4}, {0x30, 4},
        {MT_PCI_BRIDGE_CONTROL, 2},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        clear_logs(&lm, &li);
        uint64_t before[6], after[6];
        bt_alias_ids(&f.B->b, before);
        uint32_t v = mt_pci_bridge_config_read(&f.B->b, same[i].off, same[i].size);
        bt_write(e, f.B, same[i].off, v, same[i].size);
        bt_alias_ids(&f.B->b, after);
        assert_true(after[0] != before[0]);
        expect_pairs(&lm, 1);
        expect_pairs(&li, 1);
        if (heard(&lm, "add(") || heard(&lm, "del(") || heard(&li, "add(") || heard(&li, "del("))
            fail_msg("a same-value write changed ranges: memory: %s; I/O: %s", lm.log, li.log);
        assert_int_equal(heard(&lm, "nop("), 1); /* dev-mem */
        assert_int_equal(heard(&li, "nop("), 3); /* io, dev-io, io */
    }

    /* three writes in the caller's transaction: one pair */
    clear_logs(&lm, &li);
    mt_transaction_begin(e->ctx);
    bt_write(e, f.B, 0x1c, 0xd0d0, 2);
    bt_write(e, f.B, 0x20, 0xfe10fe00, 4);
    bt_write(e, f.B, MT_PCI_BRIDGE_COMMAND, 2, 2);
    assert_int_equal(heard(&lm, "begin") + heard(&li, "begin"), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    expect_pairs(&lm, 1);
    expect_pairs(&li, 1);

    /* a write outside the trigger ranges opens no transaction at all */
    clear_logs(&lm, &li);
    bt_write(e, f.B, 0x3c, 0x0b, 1);
    expect_pairs(&lm, 0);
    expect_pairs(&li, 0);

    mt_listener_unregister(&lm.l);
    mt_listener_unregister(&li.l);
    teardown_bridge(&f);
}

MT_TEST_MAIN(
    MT_TEST(br1_io_decoding),
    MT_TEST(br2_memory_decoding),
    MT_TEST(br3_prefetchable_decoding),
    MT_TEST(br4_empty_windows),
    MT_TEST(br5_command_enables),
    MT_TEST(br6_vga_forwarding),
    MT_TEST(br7_trigger_ranges),
    MT_TEST(br8_one_transaction_per_update))
