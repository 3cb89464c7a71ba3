/*
 * A million nested containers: mapping them (the container-cycle check),
 * the flat-root descent, rendering, the flat dump, and freeing them (by
 * finalising, and by an owner's teardown) all work without using the C
 * stack in proportion to the depth (docs/rendering.md). Under ASan, where
 * a recursive walk of this depth would overflow the stack, this is the
 * proof; the plain build checks the results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <memtree.h>
#include <memtree/format.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 1000000

static void quiet(void *opaque, const char *msg)
{
    (void)opaque;
    fail_msg("unexpected diagnostic: %s", msg);
}

/*
 * chain[0] > chain[1] > ... > chain[DEPTH - 1], each 64 KiB at 0 in the one
 * above; the bottom holds RAM `leaf` at 1000 and the top MMIO `top` at
 * 8000 besides chain[1]. The upper half is mapped top-down and the lower
 * half bottom-up, then joined: the cycle check walks whichever side is
 * shorter, both ways.
 */
static void build_chain(mt_context *ctx, mt_owner *owner, mt_region **chain, mt_region *leaf,
                        mt_region *top)
{
    for (size_t i = 0; i < DEPTH; i++)
        assert_int_equal(mt_region_init_container(chain[i], ctx, owner, "c", 0x10000), 0);
    assert_int_equal(mt_region_init_ram(leaf, ctx, owner, "leaf", 0x1000), 0);
    assert_int_equal(mt_region_init_io(top, ctx, owner, NULL, NULL, "top", 0x1000), 0);
    size_t mid = DEPTH / 2;
    for (size_t i = 1; i < mid; i++)
        assert_int_equal(mt_region_add_subregion(chain[i - 1], 0, chain[i]), 0);
    assert_int_equal(mt_region_add_subregion(chain[DEPTH - 1], 0x1000, leaf), 0);
    for (size_t i = DEPTH - 1; i > mid; i--)
        assert_int_equal(mt_region_add_subregion(chain[i - 1], 0, chain[i]), 0);
    assert_int_equal(mt_region_add_subregion(chain[mid - 1], 0, chain[mid]), 0);
    assert_int_equal(mt_region_add_subregion(chain[0], 0x8000, top), 0);
}

/* Renders the chain through two address spaces and checks both views. */
static void check_views(mt_context *ctx, mt_region **chain, mt_region *leaf, mt_region *top,
                        mt_address_space **outer, mt_address_space **inner)
{
    mt_transaction_begin(ctx);
    *outer = mt_address_space_new(ctx, chain[0], "outer");
    /* from chain[1] the descent goes all the way down (one child at 0) */
    *inner = mt_address_space_new(ctx, chain[1], "inner");
    assert_int_equal(mt_transaction_commit(ctx), 0);

    const mt_view *v = mt_address_space_view(*outer);
    assert_ptr_equal(mt_view_root(v), chain[0]);
    assert_int_equal(mt_view_range_count(v), 2);
    const mt_range *r = mt_view_ranges(v);
    assert_ptr_equal(r[0].region, leaf);
    assert_int_equal(r[0].start, 0x1000);
    assert_int_equal(r[0].last, 0x1fff);
    assert_ptr_equal(r[1].region, top);
    assert_int_equal(r[1].start, 0x8000);

    v = mt_address_space_view(*inner);
    assert_ptr_equal(mt_view_root(v), chain[DEPTH - 1]);
    assert_int_equal(mt_view_range_count(v), 1);

    mt_assert_dump_contains(ctx, MT_DUMP_FLAT,
                            "0000000000001000-0000000000001fff (prio 0, ram): leaf\n");
}

static void million_deep_chain_renders_and_finalises(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, quiet, NULL);
    mt_region *storage = calloc(DEPTH + 2, sizeof(*storage));
    mt_region **chain = malloc(DEPTH * sizeof(*chain));
    assert_non_null(storage);
    assert_non_null(chain);
    for (size_t i = 0; i < DEPTH; i++)
        chain[i] = &storage[i];
    mt_region *leaf = &storage[DEPTH], *top = &storage[DEPTH + 1];

    mt_transaction_begin(ctx);
    build_chain(ctx, NULL, chain, leaf, top);
    assert_int_equal(mt_transaction_commit(ctx), 0);
    mt_address_space *outer, *inner;
    check_views(ctx, chain, leaf, top, &outer, &inner);

    /* a re-render of the same depth reuses the walk's stack */
    assert_int_equal(mt_region_set_address(top, 0x9000), 0);
    assert_int_equal(mt_view_ranges(mt_address_space_view(outer))[1].start, 0x9000);

    mt_address_space_destroy(outer);
    mt_address_space_destroy(inner);
    mt_context_reclaim(ctx);
    /* the top first: each finalisation unmaps one child */
    mt_transaction_begin(ctx);
    for (size_t i = 0; i < DEPTH; i++)
        assert_int_equal(mt_region_finalize(chain[i]), 0);
    assert_int_equal(mt_region_finalize(leaf), 0);
    assert_int_equal(mt_region_finalize(top), 0);
    assert_int_equal(mt_transaction_commit(ctx), 0);
    mt_test_assert_no_regions(ctx);
    mt_context_free(ctx);
    free(chain);
    free(storage);
}

static unsigned released;
static void on_release(mt_owner *o)
{
    (void)o;
    released++;
}

static void million_deep_chain_freed_by_its_owner(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, quiet, NULL);
    mt_owner owner;
    assert_int_equal(mt_owner_init(&owner, "deep", on_release), 0);
    mt_region **chain = malloc(DEPTH * sizeof(*chain));
    assert_non_null(chain);
    for (size_t i = 0; i < DEPTH; i++)
        chain[i] = mt_region_alloc();
    mt_region *leaf = mt_region_alloc(), *top = mt_region_alloc();

    mt_transaction_begin(ctx);
    build_chain(ctx, &owner, chain, leaf, top);
    assert_int_equal(mt_transaction_commit(ctx), 0);
    mt_address_space *outer, *inner;
    check_views(ctx, chain, leaf, top, &outer, &inner);

    mt_address_space_destroy(outer);
    mt_address_space_destroy(inner);
    released = 0;
    mt_owner_unref(&owner); /* the last reference: the teardown frees all */
    mt_context_reclaim(ctx);
    assert_int_equal(released, 1);
    mt_test_assert_no_regions(ctx);
    mt_context_free(ctx);
    free(chain);
}

MT_TEST_MAIN(
    cmocka_unit_test(million_deep_chain_renders_and_finalises),
    cmocka_unit_test(million_deep_chain_freed_by_its_owner))
