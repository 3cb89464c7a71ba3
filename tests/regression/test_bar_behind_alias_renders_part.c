/*
 * Bug: a change in a region that an alias shows marked the alias, and
 * every container above it, as changed everywhere. A PC's PCI bus is
 * shown in system memory through such an alias (the PCI hole), so moving
 * one BAR on that bus rendered the whole of system memory again: every
 * range, however many regions the machine had. So did a change inside one
 * region that only an alias shows, such as dirty logging turned on for
 * video RAM shown through a window (case 2). Fixed in src/txn.c: the
 * alias gets the part of the change its window shows, at its own offsets,
 * and passes it up like any other part. Checked on the chunks: the new
 * view keeps all but those the BAR's two places meet, and equals a full
 * render (the randomized equivalence tests cover aliases of aliases and
 * loops).
 */
#include "mt_test.h"

#include "view_chunks.h"

#include <stdlib.h>

#define N 4096
#define PAGE 0x1000ull
#define HOLE 0xe0000000ull

/* 4,096 RAM regions below HOLE in C, and a view of them. */
static void big_machine(mt_test_env *e)
{
    mt_test_std_size(e, 1ull << 32);
    mt_transaction_begin(e->ctx);
    for (size_t i = 0; i < N; i++)
        mt_test_ram_at(e, i * 2 * PAGE, "ram", PAGE);
    mt_transaction_commit(e->ctx);
}

static void test_bar_move_behind_pci_hole(void **state)
{
    mt_test_env *e = *state;
    big_machine(e);
    mt_transaction_begin(e->ctx);
    /* the PCI bus, shown at HOLE through an alias of its first 512 MiB */
    mt_region *pci = mt_test_container(e, e->O1, "pci", 1ull << 32);
    mt_region *bars[8];
    for (size_t i = 0; i < 8; i++) {
        bars[i] = mt_test_io(e, e->O2, "bar", PAGE);
        mt_test_map(pci, HOLE + i * 0x100000, bars[i]);
    }
    mt_region *hole = mt_test_alias(e, e->O1, "pci-hole", pci, HOLE, 0x20000000);
    mt_test_map(e->C, HOLE, hole);
    mt_transaction_commit(e->ctx);
    mt_view *before = mt_address_space_view(e->X);
    assert_true(mt_test_chunk_count(before) >= 16);
    assert_true(mt_view_ref(before));

    /* a guest moves BAR 3 within the hole */
    assert_int_equal(mt_region_set_address(bars[3], HOLE + 0x1000000), 0);
    mt_view *now = mt_address_space_view(e->X);
    assert_int_equal(mt_view_range_count(now), N + 8);
    const mt_range *r = mt_view_find_range(now, HOLE + 0x1000000);
    assert_non_null(r);
    assert_ptr_equal(r->region, bars[3]);
    assert_null(mt_view_find_range(now, HOLE + 3 * 0x100000));
    /* the hole is at the end: its chunk and its neighbour at most */
    assert_true(mt_test_chunks_replaced(before, now) <= 2);
    mt_view_unref(before);
}

static void test_dirty_log_of_ram_shown_through_a_window(void **state)
{
    mt_test_env *e = *state;
    big_machine(e);
    /* video RAM, mapped nowhere itself, shown at HOLE through a window */
    mt_region *vram = mt_test_ram(e, e->O2, "vram", 0x100000);
    mt_region *window = mt_test_alias(e, e->O1, "vram-window", vram, 0x20000, 0x20000);
    mt_test_map(e->C, HOLE, window);
    mt_view *before = mt_address_space_view(e->X);
    assert_true(mt_view_ref(before));

    assert_int_equal(mt_region_set_log(vram, true, MT_DIRTY_VGA), 0);
    mt_view *now = mt_address_space_view(e->X);
    const mt_range *r = mt_view_find_range(now, HOLE);
    assert_non_null(r);
    assert_ptr_equal(r->region, vram);
    assert_int_equal(r->dirty_log_mask, 1u << MT_DIRTY_VGA);
    assert_true(mt_test_chunks_replaced(before, now) <= 2);
    mt_view_unref(before);
}

MT_TEST_MAIN(MT_TEST(test_bar_move_behind_pci_hole),
             MT_TEST(test_dirty_log_of_ram_shown_through_a_window))
