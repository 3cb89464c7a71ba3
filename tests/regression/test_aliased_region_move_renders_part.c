/*
 * Bug: mapping, unmapping or moving a region marked every alias of it, and
 * every container above those, as changed everywhere. Video RAM is such a
 * region: a PCI BAR that a window alias also shows low in system memory.
 * A guest moving the BAR rendered the whole of system memory again, though
 * the window shows the same bytes wherever the BAR is (an alias renders its
 * target relative to the target itself). Fixed in src/txn.c
 * (mt__touch_placed): only views whose flat-root the moved region is are
 * marked; its container gets the part it left and the part it reached.
 * Checked on the chunks: the new view keeps all but those the BAR's two
 * places meet, and shows the BAR and the window right (the randomized
 * equivalence tests check aliases against a full render at every commit).
 */
#include "mt_test.h"

#include "view_chunks.h"

#define N 4096
#define PAGE 0x1000ull
#define WINDOW 0x40000000ull /* past the RAM, before the BARs */
#define BAR 0xe0000000ull
#define VRAM_SIZE 0x100000ull

/* 4,096 RAM regions at the bottom of C, video RAM as a BAR at BAR, and a
 * window onto its first 128 KiB at WINDOW. */
static mt_region *machine_with_vga(mt_test_env *e)
{
    mt_test_std_size(e, 1ull << 32);
    mt_transaction_begin(e->ctx);
    for (size_t i = 0; i < N; i++)
        mt_test_ram_at(e, i * 2 * PAGE, "ram", PAGE);
    mt_region *vram = mt_test_ram(e, e->O2, "vram", VRAM_SIZE);
    mt_test_map(e->C, BAR, vram);
    mt_test_map(e->C, WINDOW, mt_test_alias(e, e->O2, "vram-window", vram, 0, 0x20000));
    mt_transaction_commit(e->ctx);
    return vram;
}

static void assert_vga_at(const mt_view *v, const mt_region *vram, uint64_t bar)
{
    const mt_range *r = mt_view_find_range(v, bar);
    assert_non_null(r);
    assert_ptr_equal(r->region, vram);
    r = mt_view_find_range(v, WINDOW + 0x1000);
    assert_non_null(r);
    assert_ptr_equal(r->region, vram);
    assert_int_equal(r->start, WINDOW);
    assert_int_equal(r->last, WINDOW + 0x1ffff);
    assert_int_equal(r->offset_in_region, 0);
    assert_int_equal(mt_view_range_count(v), N + 2);
}

static void test_bar_with_window_moves(void **state)
{
    mt_test_env *e = *state;
    mt_region *vram = machine_with_vga(e);
    mt_view *before = mt_address_space_view(e->X);
    assert_true(mt_test_chunk_count(before) >= 16);
    assert_true(mt_view_ref(before));

    /* the guest programs the BAR elsewhere */
    assert_int_equal(mt_region_set_address(vram, BAR + 0x1000000), 0);
    mt_view *now = mt_address_space_view(e->X);
    assert_vga_at(now, vram, BAR + 0x1000000);
    assert_null(mt_view_find_range(now, BAR));
    /* the BAR is in the last chunk, far from the RAM */
    assert_true(mt_test_chunks_replaced(before, now) <= 2);
    mt_view_unref(before);
}

static void test_bar_with_window_unmapped_and_mapped(void **state)
{
    mt_test_env *e = *state;
    mt_region *vram = machine_with_vga(e);
    mt_view *before = mt_address_space_view(e->X);
    assert_true(mt_view_ref(before));

    /* memory decoding off, then on at a new address: one commit each */
    assert_int_equal(mt_region_del_subregion(e->C, vram), 0);
    assert_int_equal(mt_region_add_subregion(e->C, BAR + 0x2000000, vram), 0);
    mt_view *now = mt_address_space_view(e->X);
    assert_vga_at(now, vram, BAR + 0x2000000);
    assert_true(mt_test_chunks_replaced(before, now) <= 2);
    mt_view_unref(before);
}

MT_TEST_MAIN(MT_TEST(test_bar_with_window_moves),
             MT_TEST(test_bar_with_window_unmapped_and_mapped))
