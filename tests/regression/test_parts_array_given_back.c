/*
 * Bug: a container keeps the parts of itself a commit's edits changed in
 * an array that grows on demand, up to MT__STALE_PARTS (1,024) entries,
 * and the array kept its largest size until the container was finalised.
 * One transaction of many spread edits (a firmware placing every BAR of
 * a bus) so left each container it reached holding up to 16 KiB for
 * good. Fixed in src/txn.c: the commit cuts every array it grew back to
 * MT__STALE_KEPT entries once it has rendered, and a container finalised
 * in the transaction that grew its array leaves the commit's list.
 */
#include "mt_test.h"

#include "view_chunks.h"

#define PAGE 0x1000ull
#define REGIONS 4096
#define MOVES 64

static uint64_t slot_addr(size_t i)
{
    return i * 2 * PAGE;
}

static size_t parts_cap(const mt_region *r)
{
    return r->rare_ ? r->rare_->stale_cap : 0;
}

/* `n` RAM regions, one page apart, in container c at its offset 0. */
static void fill(mt_test_env *e, mt_region *c, mt_region **regs, size_t n)
{
    mt_transaction_begin(e->ctx);
    for (size_t i = 0; i < n; i++) {
        regs[i] = mt_test_ram(e, e->O2, "ram", PAGE);
        mt_test_map(c, slot_addr(i), regs[i]);
    }
    mt_transaction_commit(e->ctx);
}

/* The j-th of MOVES regions spread evenly over the REGIONS. */
static size_t moved(size_t j)
{
    return REGIONS / MOVES * j + REGIONS / (2 * MOVES);
}

/* Each of them moved to its slot plus `delta`: as many parts of their
 * container, far apart. */
static void spread_moves(mt_region **regs, uint64_t delta)
{
    for (size_t j = 0; j < MOVES; j++) {
        size_t i = moved(j);
        assert_int_equal(mt_region_set_address(regs[i], slot_addr(i) + delta), 0);
    }
}

static const mt_region *region_at(const mt_view *v, uint64_t addr)
{
    const mt_range *r = mt_view_find_range(v, addr);
    return r ? r->region : NULL;
}

/* What X shows: each of them at its slot plus `delta`, nothing in the
 * other page. */
static void check_moves(mt_test_env *e, mt_region **regs, uint64_t delta)
{
    const mt_view *v = mt_address_space_view(e->X);
    for (size_t j = 0; j < MOVES; j++) {
        size_t i = moved(j);
        assert_ptr_equal(region_at(v, slot_addr(i) + delta), regs[i]);
        assert_null(region_at(v, slot_addr(i) + (PAGE - delta)));
    }
}

static void test_commit_cuts_grown_parts_back(void **state)
{
    static mt_region *regs[REGIONS];
    mt_test_env *e = *state;
    mt_test_std_size(e, slot_addr(REGIONS + 1));
    fill(e, e->C, regs, REGIONS);

    for (unsigned round = 0; round < 2; round++) {
        /* there and back: each commit grows the array again, then cuts it */
        uint64_t delta = round == 0 ? PAGE : 0;
        mt_transaction_begin(e->ctx);
        spread_moves(regs, delta);
        /* the edits grew the array: what the commit has to render apart */
        assert_true(parts_cap(e->C) >= MOVES);
        assert_int_equal(mt_transaction_commit(e->ctx), 0);
        assert_int_equal(parts_cap(e->C), MT__STALE_KEPT);
        check_moves(e, regs, delta);
    }
}

/* A container whose array grew, finalised before the commit: the commit
 * must not touch its freed side struct (AddressSanitizer reports it). */
static void test_container_finalised_after_growing(void **state)
{
    static mt_region *regs[REGIONS];
    mt_test_env *e = *state;
    mt_test_std_size(e, 2 * slot_addr(REGIONS + 1));
    mt_region *dev = mt_test_container(e, e->O1, "dev", slot_addr(REGIONS + 1));
    mt_test_map(e->C, 0, dev);
    fill(e, dev, regs, REGIONS);

    mt_transaction_begin(e->ctx);
    spread_moves(regs, PAGE);
    assert_true(parts_cap(dev) >= MOVES);
    assert_int_equal(mt_test_finalize(e, dev), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(mt_view_range_count(mt_address_space_view(e->X)), 0);
    assert_int_equal(parts_cap(e->C), MT__STALE_KEPT);
}

MT_TEST_MAIN(MT_TEST(test_commit_cuts_grown_parts_back),
             MT_TEST(test_container_finalised_after_growing))
