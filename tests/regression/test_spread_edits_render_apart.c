/*
 * Bug: a commit renders again only the parts of a container its edits
 * changed, but a container kept at most four parts; a fifth joined the two
 * closest over the gap between them. A transaction that moved five
 * devices spread over a machine of 1,000,000 regions so rendered a fifth
 * of the machine again: 38 ms, against 20 us for four (twelve devices:
 * 118 ms, more than rendering everything). Fixed in src/txn.c: a region's
 * parts are an array grown on demand, up to MT__STALE_PARTS (1,024), before
 * any join (a first fix kept 64: case 2). Checked on the chunks: twelve
 * moves spread over 128 chunks, and 100 over 512, replace only the chunks
 * they are in, and the view shows each move.
 */
#include "mt_test.h"

#include "view_chunks.h"

#define PAGE 0x1000ull
#define MOST 131072

static uint64_t slot_addr(size_t i)
{
    return i * 2 * PAGE;
}

/* n RAM regions, one page apart, then `moves` of them, evenly spread,
 * each moved into the free page after it in one transaction: how many of
 * the view's chunks the commit replaced (each move is checked shown). */
static size_t spread_moves(mt_test_env *e, size_t n, size_t moves)
{
    static mt_region *regs[MOST];
    assert_true(n <= MOST);
    mt_test_std_size(e, slot_addr(n + 1));
    mt_transaction_begin(e->ctx);
    for (size_t i = 0; i < n; i++)
        regs[i] = mt_test_ram_at(e, slot_addr(i), "ram", PAGE);
    mt_transaction_commit(e->ctx);
    mt_view *before = mt_address_space_view(e->X);
    assert_true(mt_test_chunk_count(before) >= n / 256);
    assert_true(mt_view_ref(before));

    mt_transaction_begin(e->ctx);
    for (size_t j = 0; j < moves; j++) {
        size_t i = n / moves * j + n / (2 * moves);
        assert_int_equal(mt_region_set_address(regs[i], slot_addr(i) + PAGE), 0);
    }
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    mt_view *now = mt_address_space_view(e->X);
    assert_int_equal(mt_view_range_count(now), n);
    for (size_t j = 0; j < moves; j++) {
        size_t i = n / moves * j + n / (2 * moves);
        const mt_range *r = mt_view_find_range(now, slot_addr(i) + PAGE);
        assert_non_null(r);
        assert_ptr_equal(r->region, regs[i]);
        assert_null(mt_view_find_range(now, slot_addr(i)));
    }
    size_t replaced = mt_test_chunks_replaced(before, now);
    print_message("%zu of %zu chunks replaced\n", replaced, mt_test_chunk_count(now));
    mt_view_unref(before);
    return replaced;
}

/* each move: the chunk it is in, and a neighbour at most */
static void test_twelve_spread_moves_render_apart(void **state)
{
    assert_true(spread_moves(*state, 32768, 12) <= 2 * 12);
}

/* past the first cap of 64 parts (5.6 ms instead of 0.55 at 100,000
 * regions) */
static void test_hundred_spread_moves_render_apart(void **state)
{
    assert_true(spread_moves(*state, MOST, 100) <= 2 * 100);
}

MT_TEST_MAIN(MT_TEST(test_twelve_spread_moves_render_apart),
             MT_TEST(test_hundred_spread_moves_render_apart))
