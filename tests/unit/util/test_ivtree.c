/*
 * src/util/ivtree.c: the interval index over a container's children. Every
 * query answers exactly what a scan of all the intervals answers, in
 * (start, payload) order, through random inserts, removals and changed
 * lasts that split, merge, grow and shrink the tree; its invariants hold
 * after every step; its limit stops a query; and a set built in address
 * order, or in random order, costs at most 32 bytes an interval.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <stdlib.h>
#include <string.h>

#include "util/ivtree.h"

/* The reference: a plain array of the intervals in the tree. */
struct item {
    uint64_t start, last;
    void *payload;
    bool in;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int by_key(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (uintptr_t)x->payload < (uintptr_t)y->payload ? -1 :
           (uintptr_t)x->payload > (uintptr_t)y->payload;
}

/* Compares a query with a scan of `items`. */
static void check_query(struct mt__ivtree *t, const struct item *items, size_t n, uint64_t lo,
                        uint64_t last)
{
    struct item *want = malloc((n + 1) * sizeof(*want));
    size_t nw = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].in && items[i].start <= last && items[i].last >= lo)
            want[nw++] = items[i];
    qsort(want, nw, sizeof(*want), by_key);
    void **got = NULL;
    size_t ng = 0, cap = 0;
    assert_true(mt__ivtree_query(t, lo, last, SIZE_MAX / 2, &got, &ng, &cap));
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++)
        assert_ptr_equal(got[i], want[i].payload);
    /* with a limit below the answer it stops, having appended the first */
    if (nw > 0) {
        ng = 0;
        assert_false(mt__ivtree_query(t, lo, last, nw - 1, &got, &ng, &cap));
        assert_int_equal(ng, nw - 1);
        for (size_t i = 0; i < ng; i++)
            assert_ptr_equal(got[i], want[i].payload);
        ng = 0;
        assert_true(mt__ivtree_query(t, lo, last, nw, &got, &ng, &cap));
        assert_int_equal(ng, nw);
    }
    free(got);
    free(want);
}

/* Random edits in a space of `span` addresses, intervals up to `len`. */
static void random_edits(uint64_t span, uint64_t len, size_t n, size_t steps)
{
    struct item *items = calloc(n, sizeof(*items));
    char *payloads = malloc(n); /* distinct addresses to use as payloads */
    struct mt__ivtree *t = mt__ivtree_new();
    size_t live = 0;
    for (size_t s = 0; s < steps; s++) {
        size_t k = rnd() % n;
        struct item *it = &items[k];
        unsigned op = rnd() % 8;
        if (!it->in) {
            it->start = rnd() % span;
            /* some pairs share a start: the payload orders them */
            if (rnd() % 4 == 0 && k > 0 && items[k - 1].in)
                it->start = items[k - 1].start;
            uint64_t l = rnd() % len;
            it->last = it->start + l < it->start ? UINT64_MAX : it->start + l;
            it->payload = &payloads[k];
            it->in = true;
            mt__ivtree_insert(t, it->start, it->last, it->payload);
            live++;
        } else if (op < 5) {
            mt__ivtree_remove(t, it->start, it->payload);
            it->in = false;
            live--;
        } else {
            uint64_t l = rnd() % (op == 7 ? span : len);
            it->last = it->start + l < it->start ? UINT64_MAX : it->start + l;
            mt__ivtree_set_last(t, it->start, it->payload, it->last);
        }
        assert_int_equal(mt__ivtree_count(t), live);
        if (s % 97 == 0 || n < 200) {
            assert_true(mt__ivtree_check(t));
            uint64_t lo = rnd() % span, w = rnd() % (len * 2 + 1);
            check_query(t, items, n, lo, lo + w < lo ? UINT64_MAX : lo + w);
            check_query(t, items, n, lo, lo); /* one address */
        }
    }
    assert_true(mt__ivtree_check(t));
    check_query(t, items, n, 0, UINT64_MAX);
    /* empty it: the tree shrinks back to one leaf */
    for (size_t k = 0; k < n; k++)
        if (items[k].in) {
            mt__ivtree_remove(t, items[k].start, items[k].payload);
            items[k].in = false;
        }
    assert_int_equal(mt__ivtree_count(t), 0);
    assert_true(mt__ivtree_check(t));
    check_query(t, items, n, 0, UINT64_MAX);
    mt__ivtree_free(t);
    free(payloads);
    free(items);
}

static void small_sets(void **state)
{
    (void)state;
    random_edits(1000, 50, 100, 20000);
}

static void large_sets_split_and_merge(void **state)
{
    (void)state;
    random_edits(1u << 24, 1u << 12, 20000, 200000);
}

static void intervals_reaching_the_top(void **state)
{
    (void)state;
    random_edits(UINT64_MAX, UINT64_MAX / 3, 3000, 40000);
}

/* A machine built in address order (ascending or descending), disjoint
 * intervals: at most 32 bytes an interval, and a point query finds one. */
static void address_order_is_compact(void **state)
{
    (void)state;
    enum { N = 200000 };
    char *payloads = malloc(N);
    for (int dir = 0; dir < 2; dir++) {
        struct mt__ivtree *t = mt__ivtree_new();
        for (size_t i = 0; i < N; i++) {
            size_t k = dir ? N - 1 - i : i;
            mt__ivtree_insert(t, (uint64_t)k << 12, ((uint64_t)k << 12) + 0xfff, &payloads[k]);
        }
        assert_true(mt__ivtree_check(t));
        assert_true(mt__ivtree_bytes(t) <= 32u * N);
        void **got = NULL;
        size_t ng = 0, cap = 0;
        assert_true(mt__ivtree_query(t, 0x12345678, 0x12345678, 4, &got, &ng, &cap));
        assert_int_equal(ng, 1);
        assert_ptr_equal(got[0], &payloads[0x12345]);
        free(got);
        /* removing every other one keeps it well below a full node each */
        for (size_t k = 0; k < N; k += 2)
            mt__ivtree_remove(t, (uint64_t)k << 12, &payloads[k]);
        assert_true(mt__ivtree_check(t));
        assert_true(mt__ivtree_bytes(t) <= 64u * (N / 2));
        mt__ivtree_free(t);
    }
    free(payloads);
}

/* Disjoint intervals added in random order: leaves share their entries
 * with a neighbour before splitting, so the cost stays near 32 bytes an
 * interval (splitting alone leaves them 70% full: about 36). */
static void random_order_stays_compact(void **state)
{
    (void)state;
    enum { N = 200000 };
    char *payloads = malloc(N);
    uint32_t *order = malloc(N * sizeof(*order));
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rnd() % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    struct mt__ivtree *t = mt__ivtree_new();
    for (size_t i = 0; i < N; i++) {
        uint64_t k = order[i];
        mt__ivtree_insert(t, k << 12, (k << 12) + 0xfff, &payloads[k]);
    }
    assert_true(mt__ivtree_check(t));
    print_message("random order: %.1f bytes an interval\n", (double)mt__ivtree_bytes(t) / N);
    assert_true(mt__ivtree_bytes(t) <= 32u * N);
    mt__ivtree_free(t);
    free(order);
    free(payloads);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_sets),
        cmocka_unit_test(large_sets_split_and_merge),
        cmocka_unit_test(intervals_reaching_the_top),
        cmocka_unit_test(address_order_is_compact),
        cmocka_unit_test(random_order_stays_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
