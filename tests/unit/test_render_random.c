/*
 * Differential test of the renderer: random trees (nesting, overlaps,
 * priorities, aliases of aliases, disabled and readonly regions, sizes of 0
 * and 2^64, addresses near 2^64, aliases into their own containers) and
 * random edits, each commit compared with the reference renderer in
 * tests/support/ref_render.c, which follows the loop rules of
 * docs/rendering.md too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_render.h"

#define MAX_REGIONS 48

struct world {
    mt_context *ctx;
    mt_region *regions[MAX_REGIONS];
    int n;
    mt_address_space *as[3];
    uint64_t rng;
    unsigned full_checks;
    unsigned budget_cuts;    /* commits whose loop passes ran out of budget */
    unsigned loop_cuts;      /* commits that cut a loop after 16 passes */
};

static uint64_t next_rand(struct world *w)
{
    /* xorshift64*: deterministic across platforms */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t pick(struct world *w, uint64_t n)
{
    return next_rand(w) % n;
}

static uint64_t random_addr(struct world *w)
{
    switch (pick(w, 6)) {
    case 0: return 0;
    case 1: return UINT64_MAX - pick(w, 0x3000);
    default: return pick(w, 0x40) * 0x100;
    }
}

static uint64_t random_size(struct world *w)
{
    switch (pick(w, 10)) {
    case 0: return 0;
    case 1: return UINT64_MAX; /* 2^64 */
    case 2: return 1;
    default: return (pick(w, 0x40) + 1) * 0x80;
    }
}

/* Counts the render's loop diagnostics; the rest (refused edits) is
 * expected and ignored. */
static void on_diag(void *opaque, const char *msg)
{
    struct world *w = opaque;
    if (strstr(msg, "regions rendered in loop passes"))
        w->budget_cuts++;
    else if (strstr(msg, "cut after 16 passes"))
        w->loop_cuts++;
}

static void add_random_region(struct world *w)
{
    mt_region *r = mt_region_alloc();
    char name[16];
    snprintf(name, sizeof(name), "r%d", w->n);
    int err;
    uint64_t kind = pick(w, 8);
    if (kind < 3) {
        err = mt_region_init_container(r, w->ctx, NULL, name, random_size(w));
    } else if (kind < 6 || w->n == 0) {
        err = mt_region_init_io(r, w->ctx, NULL, NULL, NULL, name, random_size(w));
    } else {
        mt_region *target = w->regions[pick(w, (uint64_t)w->n)];
        uint64_t size = random_size(w);
        uint64_t offset = size == UINT64_MAX ? 0 : pick(w, 0x20) * 0x80;
        /* small offsets make loops of small displacement, which take many
         * passes to leave the clip */
        if (size != UINT64_MAX && pick(w, 4) == 0)
            offset = pick(w, 4) * 0x10;
        err = mt_region_init_alias(r, w->ctx, NULL, name, target, offset, size);
    }
    assert_int_equal(err, 0);
    if (pick(w, 8) == 0)
        mt_region_set_readonly(r, true);
    if (pick(w, 12) == 0)
        mt_region_set_nonvolatile(r, true);
    if (pick(w, 10) == 0)
        mt_region_set_enabled(r, false);
    w->regions[w->n++] = r;
}

static void map_random(struct world *w, mt_region *r)
{
    mt_region *c = w->regions[pick(w, (uint64_t)w->n)];
    /* container cycles are refused (-ELOOP); loops through aliases are
     * mapped and rendered */
    int err = mt_region_add_subregion_overlap(c, random_addr(w), r, (int32_t)pick(w, 5) - 2);
    assert_true(err == 0 || err == -ELOOP || err == -EBUSY);
}

static void random_edit(struct world *w)
{
    mt_region *r = w->regions[pick(w, (uint64_t)w->n)];
    switch (pick(w, 9)) {
    case 0: mt_region_set_enabled(r, !mt_region_enabled(r)); break;
    case 1: mt_region_set_address(r, random_addr(w)); break;
    case 2: mt_region_set_priority(r, (int32_t)pick(w, 5) - 2); break;
    case 3:
        if (mt_region_container(r))
            mt_region_del_subregion(mt_region_container(r), r);
        else
            map_random(w, r);
        break;
    case 4: mt_region_set_readonly(r, !mt_region_readonly(r)); break;
    case 5: mt_region_set_size(r, random_size(w)); break;
    case 6:
        if (mt_region_alias_target(r))
            mt_region_set_alias_offset(r, pick(w, 0x20) * 0x80);
        break;
    case 7: mt_region_set_nonvolatile(r, !mt_region_nonvolatile(r)); break;
    default: map_random(w, r); break;
    }
}

/* Some edits lawfully render nothing (moving an unmapped region, mapping
 * into a disabled container): then the views must be the very same
 * objects. After any render, every view must match the current tree. */
static void check_views(struct world *w, int round, uint64_t renders_before,
                        mt_view *const before[3], unsigned budget_cuts_before)
{
    /* past the loop budget the library renders less than the rules would
     * (the budget exists so that this stays finite): nothing to compare */
    if (w->budget_cuts != budget_cuts_before)
        return;
    mt_stats st;
    mt_context_get_stats(w->ctx, &st);
    if (st.renders == renders_before && round > 0) {
        bool same = true;
        for (int i = 0; i < 3; i++)
            same &= mt_address_space_view(w->as[i]) == before[i];
        /* a commit can also switch views without rendering (to the empty
         * view), and then everything must be current again */
        if (same)
            return;
    }
    w->full_checks++;
    for (int i = 0; i < 3; i++) {
        mt_view *v = mt_address_space_view(w->as[i]);
        mt_region *fr = ref_flat_root(mt_address_space_root(w->as[i]));
        if (fr != mt_view_root(v))
            fail_msg("round %d as %d: flat-root %s expected, view root %s", round, i,
                     fr ? mt_region_name(fr) : "(none)", mt_view_root_name(v));
        char why[512];
        if (!ref_render_matches(fr, v, why, sizeof(why)))
            fail_msg("round %d as %d: %s", round, i, why);
    }
    /* address spaces with the same flat-root share one view (docs/views.md) */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (mt_view_root(mt_address_space_view(w->as[i])) ==
                    mt_view_root(mt_address_space_view(w->as[j])) &&
                mt_view_root(mt_address_space_view(w->as[i])))
                assert_ptr_equal(mt_address_space_view(w->as[i]),
                                 mt_address_space_view(w->as[j]));
}

static void teardown_world(struct world *w)
{
    for (int i = 0; i < 3; i++)
        mt_address_space_destroy(w->as[i]);
    mt_context_reclaim(w->ctx);
    /* aliases before their targets: finalise in reverse creation order */
    for (int i = w->n - 1; i >= 0; i--)
        assert_int_equal(mt_region_finalize(w->regions[i]), 0);
    mt_stats st;
    mt_context_get_stats(w->ctx, &st);
    assert_int_equal(st.live_views, 0);
    assert_int_equal(st.live_regions, 0);
    mt_context_free(w->ctx);
}

static void random_trees_match_reference(void **state)
{
    (void)state;
    unsigned total_checks = 0, total_loop_cuts = 0, total_budget_cuts = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct world w = {.ctx = mt_context_new(), .rng = seed * 0x9e3779b97f4a7c15ull};
        mt_context_set_diag(w.ctx, on_diag, &w);
        /* The renderer against the reference one: every commit renders
         * every view. (Kept views are test_incremental_commit.c's: a commit
         * that keeps them all looks here like one that did not happen.) */
        mt_context_set_render_mode(w.ctx, MT_RENDER_FULL);
        int count = 4 + (int)pick(&w, MAX_REGIONS - 4);
        mt_transaction_begin(w.ctx);
        for (int i = 0; i < count; i++)
            add_random_region(&w);
        for (int i = 1; i < w.n; i++)
            if (pick(&w, 5))
                map_random(&w, w.regions[i]);
        for (int i = 0; i < 3; i++)
            w.as[i] = mt_address_space_new(w.ctx, w.regions[pick(&w, (uint64_t)w.n)], "as");
        unsigned cuts = w.budget_cuts;
        assert_int_equal(mt_transaction_commit(w.ctx), 0);
        check_views(&w, 0, 0, NULL, cuts);
        for (int round = 1; round <= 40; round++) {
            mt_stats st;
            mt_context_get_stats(w.ctx, &st);
            mt_view *before[3];
            for (int i = 0; i < 3; i++)
                before[i] = mt_address_space_view(w.as[i]);
            unsigned cuts_before = w.budget_cuts;
            bool batch = pick(&w, 3) == 0;
            if (batch)
                mt_transaction_begin(w.ctx);
            int edits = batch ? 1 + (int)pick(&w, 6) : 1;
            for (int e = 0; e < edits; e++)
                random_edit(&w);
            if (batch)
                assert_int_equal(mt_transaction_commit(w.ctx), 0);
            check_views(&w, round, st.renders, before, cuts_before);
            if (round % 10 == 0)
                mt_context_reclaim(w.ctx);
        }
        total_checks += w.full_checks;
        total_loop_cuts += w.loop_cuts;
        total_budget_cuts += w.budget_cuts;
        teardown_world(&w);
    }
    print_message("%u commits cut a loop after 16 passes, %u ran out of loop budget\n",
                  total_loop_cuts, total_budget_cuts);
    /* most edits change a view: a renderer that skipped work would show */
    assert_true(total_checks > 300 * 41 / 2);
}

MT_TEST_MAIN(
    cmocka_unit_test(random_trees_match_reference))
