/*
 * Bug: unmapping a region moved every later sibling down one slot of its
 * container's child array, so unmapping n siblings from the front (how a
 * machine is freed: 80,000 siblings took 9.3 s) was O(n^2). Fixed by
 * leaving a hole that the next look at the children closes (src/region.c).
 * The speed is shown by `bench/run scale`; this checks that the holes never
 * show: sibling order, rendering and teardown stay right with 80,000
 * siblings unmapped, remapped and finalised in the costly order.
 */
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

#define N 80000
#define PAGE 0x1000u

static void quiet(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

/* Walks the siblings in render order into idx[] (by address); returns how
 * many there were. */
static size_t sibling_order(const mt_region *c, size_t *idx)
{
    size_t n = 0;
    for (const mt_region *k = mt_region_first_subregion(c); k; k = mt_region_next_sibling(k))
        idx[n++] = mt_region_addr(k) / PAGE;
    return n;
}

static void unmap_from_the_front_keeps_order(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, quiet, NULL);
    mt_region *sys = mt_region_alloc();
    assert_int_equal(mt_region_init_container(sys, ctx, NULL, "system", UINT64_MAX), 0);
    mt_region **kids = calloc(N, sizeof(*kids));
    size_t *idx = calloc(N, sizeof(*idx));
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < N; i++) {
        kids[i] = mt_region_alloc();
        assert_int_equal(mt_region_init_io(kids[i], ctx, NULL, NULL, NULL, "dev", PAGE), 0);
        assert_int_equal(mt_region_add_subregion(sys, i * PAGE, kids[i]), 0);
    }
    mt_transaction_commit(ctx);
    mt_address_space *as = mt_address_space_new(ctx, sys, "memory");

    /* the oldest first: each one was at the front of the array */
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < N; i += 2)
        assert_int_equal(mt_region_del_subregion(sys, kids[i]), 0);
    mt_transaction_commit(ctx);
    size_t n = sibling_order(sys, idx);
    assert_int_equal(n, N / 2);
    for (size_t k = 0; k < n; k++) /* newest first: odd indices, descending */
        assert_int_equal(idx[k], N - 1 - 2 * k);
    assert_int_equal(mt_view_range_count(mt_address_space_view(as)), N / 2);

    /* holes and new mappings mixed in one transaction: evens come back at
     * a higher priority, every other odd one goes */
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < N; i += 2) {
        assert_int_equal(mt_region_add_subregion_overlap(sys, i * PAGE, kids[i], 1), 0);
        if (i % 4 == 0)
            assert_int_equal(mt_region_del_subregion(sys, kids[i + 1]), 0);
    }
    mt_transaction_commit(ctx);
    n = sibling_order(sys, idx);
    assert_int_equal(n, N / 2 + N / 4);
    for (size_t k = 0; k < N / 2; k++) /* priority 1: evens, newest first */
        assert_int_equal(idx[k], N - 2 - 2 * k);
    for (size_t k = 0; k < N / 4; k++) /* then the odds left, newest first */
        assert_int_equal(idx[N / 2 + k], N - 1 - 4 * k);
    const mt_view *v = mt_address_space_view(as);
    assert_int_equal(mt_view_range_count(v), N / 2 + N / 4);
    const mt_range *r = mt_view_find_range(v, 7 * PAGE);
    assert_non_null(r);
    assert_ptr_equal(r->region, kids[7]);
    r = mt_view_find_range(v, 6 * PAGE);
    assert_non_null(r);
    assert_ptr_equal(r->region, kids[6]);
    assert_null(mt_view_find_range(v, 5 * PAGE));

    /* finalised oldest first, the order that moved every sibling */
    mt_address_space_destroy(as);
    mt_context_reclaim(ctx);
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(mt_region_finalize(kids[i]), 0);
    mt_transaction_commit(ctx);
    assert_null(mt_region_first_subregion(sys));
    assert_int_equal(mt_region_finalize(sys), 0);
    mt_context_reclaim(ctx);
    mt_test_assert_no_regions(ctx);
    free(kids);
    free(idx);
    mt_context_free(ctx);
}

/* A loaded machine with 80,000 siblings frees completely. */
static void machine_with_80k_siblings_frees(void **state)
{
    (void)state;
    mt_test_text t;
    FILE *f = mt_test_text_open(&t);
    fprintf(f, "memtree-map 1\nregion sys - container 0 10000000000000000 0 - - - - system\n");
    for (unsigned i = 0; i < N; i++)
        fprintf(f, "region r%u sys ram %x 1000 0 - - - - r%u\n", i, i * PAGE, i);
    fprintf(f, "as sys memory\n");
    char *text = mt_test_text_close(&t);
    mt_context *ctx = mt_context_new();
    FILE *in = fmemopen(text, t.len, "r");
    mt_machine *m = NULL;
    char err[512];
    assert_int_equal(mt_machine_load(ctx, MT_FORMAT_MAP, in, "siblings.map", NULL, NULL, &m,
                                     err, sizeof(err)), 0);
    fclose(in);
    free(text);
    assert_int_equal(mt_view_range_count(mt_address_space_view(mt_machine_address_space(m, 0))),
                     N);
    mt_machine_free(m);
    mt_test_assert_no_regions(ctx);
    mt_context_free(ctx);
}

MT_TEST_MAIN(
    cmocka_unit_test(unmap_from_the_front_keeps_order),
    cmocka_unit_test(machine_with_80k_siblings_frees))
