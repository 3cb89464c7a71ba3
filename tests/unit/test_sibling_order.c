/*
 * Sibling order with many priority classes (docs/regions.md, "Mapping,
 * priorities and render order"): higher priority first, the newest
 * mapping first among equals. A child's slot_ counts only within its
 * class (src/subregions.c), so mapping into a low class moves the classes
 * above without renumbering them, and unmapping leaves holes; the order
 * the public API walks (mt_region_first_subregion, mt_region_next_sibling)
 * and the view must still be those of a model kept here: children mapped,
 * unmapped, moved and given new priorities at random, thousands of them
 * in classes from -6 to 6, some in transactions.
 */
#include "mt_test.h"

#include <stdlib.h>

#define KIDS 3000
#define PAGE 0x1000u
#define ROUNDS 40

struct model {
    bool mapped[KIDS];
    int32_t prio[KIDS];
    uint64_t seq[KIDS]; /* when last mapped: the newest wins among equals */
};

static uint64_t rng = 0x7369626c696e6773ull; /* "siblings" */

static unsigned pick(unsigned n)
{
    return (unsigned)(mt_test_xorshift(&rng) % n);
}

static mt_region *kids[KIDS];
static struct model m;
static uint64_t clock_seq;

static size_t index_of(const mt_region *r)
{
    for (size_t i = 0; i < KIDS; i++)
        if (kids[i] == r)
            return i;
    fail_msg("a sibling that is no child of the test");
    return 0;
}

/* The model's render order: priority descending, then newest first. */
static int before(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (m.prio[x] != m.prio[y])
        return m.prio[x] > m.prio[y] ? -1 : 1;
    return m.seq[x] > m.seq[y] ? -1 : m.seq[x] < m.seq[y];
}

static void check_order(const mt_region *c, mt_address_space *as)
{
    static size_t want[KIDS];
    size_t n = 0;
    for (size_t i = 0; i < KIDS; i++)
        if (m.mapped[i])
            want[n++] = i;
    qsort(want, n, sizeof(want[0]), before);
    size_t k = 0;
    for (const mt_region *r = mt_region_first_subregion(c); r; r = mt_region_next_sibling(r)) {
        assert_true(k < n);
        if (index_of(r) != want[k])
            fail_msg("sibling %zu is child %zu (prio %d), the model says %zu (prio %d)", k,
                     index_of(r), m.prio[index_of(r)], want[k], m.prio[want[k]]);
        k++;
    }
    assert_int_equal(k, n);
    /* each child is its own page: the view names every mapped one there */
    const mt_view *v = mt_address_space_view(as);
    for (size_t i = 0; i < KIDS; i += 97) {
        const mt_range *r = mt_view_find_range(v, (uint64_t)i * PAGE);
        assert_true(m.mapped[i] ? r && r->region == kids[i] : !r);
    }
}

static void map(mt_region *c, size_t i, int32_t prio)
{
    assert_int_equal(mt_region_add_subregion_overlap(c, (uint64_t)i * PAGE, kids[i], prio), 0);
    m.mapped[i] = true;
    m.prio[i] = prio;
    m.seq[i] = ++clock_seq;
}

static void random_edit(mt_region *c)
{
    size_t i = pick(KIDS);
    int32_t prio = (int32_t)pick(13) - 6;
    if (!m.mapped[i]) {
        map(c, i, prio);
        return;
    }
    switch (pick(4)) {
    case 0:
        assert_int_equal(mt_region_del_subregion(c, kids[i]), 0);
        m.mapped[i] = false;
        break;
    case 1:
        /* a new priority: the child goes to the end of its new class */
        if (prio != m.prio[i]) {
            assert_int_equal(mt_region_set_priority(kids[i], prio), 0);
            m.prio[i] = prio;
            m.seq[i] = ++clock_seq;
        }
        break;
    case 2:
        /* the same place again: remapped, so the newest of its class */
        assert_int_equal(mt_region_set_address(kids[i], (uint64_t)i * PAGE + PAGE), 0);
        assert_int_equal(mt_region_set_address(kids[i], (uint64_t)i * PAGE), 0);
        m.seq[i] = ++clock_seq;
        break;
    default:
        break;
    }
}

static void order_follows_priority_then_age(void **state)
{
    mt_test_env *e = *state;
    mt_region *c = mt_test_container(e, NULL, "bus", UINT64_MAX);
    for (size_t i = 0; i < KIDS; i++)
        kids[i] = mt_test_io(e, NULL, "dev", PAGE);
    mt_address_space *as = mt_test_as(e, c, "as");
    /* in one transaction, lower classes mapped after higher ones */
    mt_transaction_begin(e->ctx);
    for (size_t i = 0; i < KIDS; i++)
        if (pick(3))
            map(c, i, (int32_t)pick(13) - 6);
    mt_transaction_commit(e->ctx);
    check_order(c, as);
    for (int round = 0; round < ROUNDS; round++) {
        bool txn = round % 2;
        if (txn)
            mt_transaction_begin(e->ctx);
        for (int k = 0; k < 100; k++)
            random_edit(c);
        if (txn)
            mt_transaction_commit(e->ctx);
        check_order(c, as);
    }
}

MT_TEST_MAIN(MT_TEST(order_follows_priority_then_age))
