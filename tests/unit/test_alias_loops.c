/*
 * Loops through aliases (docs/rendering.md, "Loops through
 * aliases"): an alias whose target contains it renders the target
 * again, shifted, with the clip narrowing at every pass; a pass at the same
 * start with the same flags as one further up renders nothing (rule a); a
 * path of more than 16 loop passes is cut with one diagnostic per commit
 * (rule b); many looping aliases stop at the loop budget; the flat-root
 * descent stops at the first region it would visit twice; and only a
 * container cycle is refused, with the tree unchanged.
 */
#include "mt_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char two_r[] =
    "  0000000000000000-0000000000003fff (prio 0, ram): r\n"
    "  0000000000008000-000000000000bfff (prio 0, ram): r\n";

/* No diagnostic since `before`. */
static void assert_no_diag(const mt_test_env *e, unsigned before)
{
    if (e->diag.count != before)
        fail_msg("unexpected diagnostic: %s", e->diag.last);
}

/* Tries to map `sub` into `c`, expecting -ELOOP with nothing changed: the
 * same container for `sub`, the same tree under `root`, the same view, no
 * render and one diagnostic. */
static void expect_cycle_refused(mt_test_env *e, mt_region *root, mt_region *c, mt_region *sub)
{
    char *tree = mt_test_tree_text(root);
    char *view = mt_test_as_text(e->X);
    mt_view *v = mt_address_space_view(e->X);
    uint64_t renders = mt_test_renders(e->ctx);
    mt_region *old_container = mt_region_container(sub);
    unsigned diags = e->diag.count;

    assert_int_equal(mt_region_add_subregion_overlap(c, 0x100, sub, 3), -ELOOP);

    mt_assert_diag(e, diags, NULL);
    assert_ptr_equal(mt_region_container(sub), old_container);
    assert_int_equal(mt_transaction_depth(e->ctx), 0);
    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_ptr_equal(mt_address_space_view(e->X), v);
    mt_assert_text(mt_test_tree_text(root), tree);
    mt_assert_view(e->X, view);
    free(tree);
    free(view);
}

/* ---- the worked example: one pass ------------------------------------------------ */

static void alias_into_own_container_renders_once_shifted(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *c = e->C;
    mt_region *r = mt_test_ram(e, e->O2, "r", 0x4000);
    mt_test_map(c, 0, r);
    mt_region *a = mt_test_alias(e, e->O2, "a", c, 0, 0x4000);
    unsigned diags = e->diag.count;
    assert_int_equal(mt_region_add_subregion(c, 0x8000, a), 0);
    assert_ptr_equal(mt_region_container(a), c);
    assert_true(mt_region_is_mapped(a));
    mt_assert_view(e->X, two_r);
    assert_no_diag(e, diags);
    /* the second range is r itself, at offset 0 */
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0x9000);
    assert_non_null(rg);
    assert_ptr_equal(rg->region, r);
    assert_int_equal(rg->offset_in_region, 0);
}

/* ---- the loop, step by step -------------------------------------------------------- */

static void loops_render_and_container_cycles_are_refused(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *c = e->C;
    unsigned diags = e->diag.count;
    mt_test_ram_at(e, 0, "r", 0x4000);
    /* two levels deep: the alias sits in d, inside c */
    mt_region *d = mt_test_container(e, e->O2, "d", 0x10000);
    mt_test_map(c, 0, d);
    mt_region *a = mt_test_alias(e, e->O2, "a", c, 0, 0x4000);
    mt_test_map(d, 0x8000, a);
    mt_assert_view(e->X, two_r);

    /* displacement zero (rule a): b renders nothing */
    mt_region *b = mt_test_alias(e, e->O2, "b", c, 0x8000, 0x4000);
    mt_test_map_prio(c, 0x8000, b, 1);
    mt_assert_view(e->X, two_r);
    assert_no_diag(e, diags);

    /* displacement 0x1000: each pass shifts c by 0x1000 and narrows the
     * clip, until it is empty */
    assert_int_equal(mt_region_set_alias_offset(b, 0x7000), 0);
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000003fff (prio 0, ram): r\n"
                   "  0000000000008000-0000000000008fff (prio 0, ram): r\n"
                   "  0000000000009000-0000000000009fff (prio 0, ram): r\n"
                   "  000000000000a000-000000000000afff (prio 0, ram): r\n"
                   "  000000000000b000-000000000000bfff (prio 0, ram): r\n");
    assert_no_diag(e, diags);

    /* displacement 0x10 (QEMU would need 2,048 passes): rule (b). The
     * pass through a inside the 15th pass through b is the 16th and last:
     * it fills 80f0-c0ef; each shallower pass through a adds 0x10 bytes
     * below it. */
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_region_set_size(b, 0x8000), 0);
    assert_int_equal(mt_region_set_alias_offset(b, 0x7ff0), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    char expected[4096];
    size_t len = (size_t)snprintf(expected, sizeof(expected), "%s",
                                  "  0000000000000000-0000000000003fff (prio 0, ram): r\n");
    for (unsigned k = 0; k < 15; k++)
        len += (size_t)snprintf(expected + len, sizeof(expected) - len,
                                "  %016x-%016x (prio 0, ram): r\n", 0x8000 + 0x10 * k,
                                0x800f + 0x10 * k);
    snprintf(expected + len, sizeof(expected) - len,
             "  00000000000080f0-000000000000c0ef (prio 0, ram): r\n");
    mt_assert_view(e->X, expected);
    mt_assert_diag(e, diags, "rendering loop through alias 'b' cut after 16 passes");
    mt_assert_contains(e->diag.last, "address space 'X'");

    /* container cycles: c into d (d is inside c), c into itself */
    expect_cycle_refused(e, c, d, c);
    expect_cycle_refused(e, c, c, c);
    mt_assert_view(e->X, expected);
}

/* ---- rule (a) compares the inherited flags too --------------------------------------- */

static void zero_displacement_with_other_flags_renders_one_pass(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *c = e->C;
    unsigned diags = e->diag.count;
    mt_test_ram_at(e, 0x8000, "s", 0x4000);
    mt_region *b = mt_test_alias(e, e->O2, "b", c, 0x8000, 0x4000);
    mt_test_map_prio(c, 0x8000, b, 1);
    /* same start, same flags: nothing from b, s shows as itself */
    mt_assert_view(e->X, "  0000000000008000-000000000000bfff (prio 0, ram): s\n");
    /* a readonly b passes through c once more, readonly: s shows as ROM;
     * the pass below that has the same start and flags and stops */
    assert_int_equal(mt_region_set_readonly(b, true), 0);
    mt_assert_view(e->X, "  0000000000008000-000000000000bfff (prio 0, rom): s\n");
    assert_no_diag(e, diags);
}

/* ---- loops through aliases of aliases ------------------------------------------------ */

static void loop_through_alias_of_alias(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *c = e->C;
    unsigned diags = e->diag.count;
    mt_test_ram_at(e, 0, "r", 0x4000);
    mt_region *a1 = mt_test_alias(e, e->O2, "a1", c, 0, 0x4000);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", a1, 0x1000, 0x2000);
    mt_test_map(c, 0x8000, a2);
    /* a2 at 8000 shows a1 from 1000, which shows c from 0: c lands at 7000 */
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000003fff (prio 0, ram): r\n"
                   "  0000000000008000-0000000000009fff (prio 0, ram): r @0000000000001000\n");

    /* a chain of aliases adding up to displacement zero: rule (a) */
    mt_region *b1 = mt_test_alias(e, e->O2, "b1", c, 0xb000, 0x2000);
    mt_region *b2 = mt_test_alias(e, e->O2, "b2", b1, 0x1000, 0x1000);
    mt_test_map_prio(c, 0xc000, b2, 1);
    mt_test_map_prio(c, 0xc000, mt_test_ram(e, e->O2, "under", 0x1000), -1);
    /* b2 at c000 shows b1 from 1000, which shows c from b000: c at 0 */
    mt_assert_view(e->X,
                   "  0000000000000000-0000000000003fff (prio 0, ram): r\n"
                   "  0000000000008000-0000000000009fff (prio 0, ram): r @0000000000001000\n"
                   "  000000000000c000-000000000000cfff (prio -1, ram): under\n");

    /* c at 0x10 now: the aliases of aliases go deeper than 16 passes, cut
     * and reported once, naming the alias that enters c */
    assert_int_equal(mt_region_set_alias_offset(b1, 0xaff0), 0);
    mt_assert_diag(e, diags, "rendering loop through alias 'b1' cut after 16 passes");
}

/* ---- the diagnostic: once per commit -------------------------------------------------- */

/* c holds r at 0 and b -> c (offset 7ff0, 0x8000 bytes) at 8000: rule (b). */
static mt_region *deep_loop(mt_test_env *e, mt_region *c)
{
    mt_test_map(c, 0, mt_test_ram(e, e->O2, "r", 0x4000));
    mt_region *b = mt_test_alias(e, e->O2, "b", c, 0x7ff0, 0x8000);
    mt_test_map_prio(c, 0x8000, b, 1);
    return b;
}

static void cut_reported_once_per_commit(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    unsigned diags = e->diag.count;
    deep_loop(e, e->C);
    mt_assert_diag(e, diags, "rendering loop through alias 'b' cut after 16 passes");

    /* a second address space with another flat-root over the same loop:
     * two views cut in one commit, one diagnostic */
    mt_region *w = mt_test_container(e, e->O2, "w", 0x20000);
    mt_test_map(w, 0, e->C);
    mt_test_map(w, 0x10000, mt_test_io(e, e->O2, "m", 0x1000));
    mt_address_space *y = mt_test_as(e, w, "Y");
    assert_ptr_equal(mt_view_root(mt_address_space_view(y)), w);
    diags = e->diag.count;
    mt_transaction_begin(e->ctx);
    mt_region *n = mt_test_io(e, e->O2, "n", 0x10);
    mt_test_map(w, 0x18000, n);
    assert_int_equal(mt_region_set_address(n, 0x19000), 0);
    assert_int_equal(mt_region_set_priority(e->C, 2), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_assert_diag(e, diags, "cut after 16 passes");

    /* every commit that renders the loop reports it again, once */
    diags = e->diag.count;
    assert_int_equal(mt_region_set_address(n, 0x1a000), 0);
    mt_assert_diag(e, diags, "rendering loop through alias 'b'");
}

/* ---- many aliases each looping back: the budget -------------------------------------- */

static void many_looping_aliases_stop_at_the_budget(void **state)
{
    mt_test_env *e = *state;
    mt_test_std_size(e, UINT64_MAX);
    mt_region *c = e->C;
    mt_test_map(c, 0x100000, mt_test_ram(e, e->O2, "r", 0x1000));
    /* each alias shows all of c from a little further on: twelve ways to
     * loop at every pass, and the clip hardly narrows (12^16 paths) */
    mt_transaction_begin(e->ctx);
    for (unsigned i = 0; i < 12; i++) {
        char name[8];
        snprintf(name, sizeof(name), "h%u", i);
        mt_test_map(c, 0, mt_test_alias(e, e->O2, name, c, 0x10 * (i + 1), UINT64_MAX));
    }
    unsigned diags = e->diag.count;
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    /* the first path goes 16 passes deep (rule b), then the budget runs
     * out: one diagnostic for each */
    assert_int_equal(e->diag.count, diags + 2);
    mt_assert_contains(e->diag.last, "regions rendered in loop passes");
    mt_assert_contains(e->diag.last, "address space 'X'");
    /* what rendered is a view like any other: r is still found at its place
     * in the outermost pass, below the passes that shifted it */
    const mt_range *rg = mt_view_find_range(mt_address_space_view(e->X), 0x100fff);
    assert_non_null(rg);
    assert_string_equal(mt_region_name(rg->region), "r");
}

/* ---- the flat-root descent ------------------------------------------------------------- */

static void flat_root_descent_stops_at_a_repeat(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    unsigned diags = e->diag.count;
    /* p's only child is a full-size alias of p at 0: the descent goes
     * p -> q -> p and stops there */
    mt_region *p = mt_test_container(e, e->O2, "p", 0x10000);
    mt_region *q = mt_test_alias(e, e->O2, "q", p, 0, 0x10000);
    mt_test_map(p, 0, q);
    mt_address_space *y = mt_test_as(e, p, "Y");
    assert_ptr_equal(mt_view_root(mt_address_space_view(y)), p);
    mt_assert_view(y, ""); /* q shows p at its own place: rule (a) */
    /* entered from further out: s -> x -> p -> q -> p, and the view is
     * shared with Y */
    mt_region *s = mt_test_container(e, e->O2, "s", 0x10000);
    mt_test_map(s, 0, mt_test_alias(e, e->O2, "x", p, 0, 0x10000));
    mt_address_space *z = mt_test_as(e, s, "Z");
    assert_ptr_equal(mt_view_root(mt_address_space_view(z)), p);
    assert_ptr_equal(mt_address_space_view(z), mt_address_space_view(y));
    /* something real in p shows through both */
    mt_test_map_prio(p, 0x2000, mt_test_ram(e, e->O2, "m", 0x1000), 1);
    mt_assert_view(z, "  0000000000002000-0000000000002fff (prio 1, ram): m\n");
    assert_ptr_equal(mt_address_space_view(z), mt_address_space_view(y));
    assert_no_diag(e, diags);
}

/* ---- container cycles ----------------------------------------------------------------- */

static void container_cycles_refused_alias_loops_accepted(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *c = e->C;
    /* a chain c > k0 > k1 > ... > k199 */
    mt_region *k[200];
    mt_region *up = c;
    for (unsigned i = 0; i < 200; i++) {
        char name[8];
        snprintf(name, sizeof(name), "k%u", i);
        k[i] = mt_test_container(e, e->O2, name, 0x10000);
        mt_test_map(up, 0, k[i]);
        up = k[i];
    }
    mt_region *lone = mt_test_container(e, e->O2, "lone", 0x1000);
    mt_test_map(lone, 0, mt_test_io(e, e->O2, "leaf", 0x10));
    expect_cycle_refused(e, c, k[199], c);     /* the top into the bottom */
    expect_cycle_refused(e, c, k[0], c);       /* into its child */
    expect_cycle_refused(e, c, lone, lone);    /* into itself */
    mt_test_unmap(k[99], k[100]);
    expect_cycle_refused(e, c, k[199], k[100]); /* a detached chain into its bottom */
    mt_test_map(k[99], 0, k[100]);
    /* an alias of the top, in the bottom: accepted and rendered */
    mt_test_map(k[199], 0x8000, mt_test_io(e, e->O2, "dev", 0x100));
    mt_region *a = mt_test_alias(e, e->O2, "a", c, 0x8000, 0x100);
    assert_int_equal(mt_region_add_subregion(k[199], 0x4000, a), 0);
    mt_assert_view(e->X,
                   "  0000000000004000-00000000000040ff (prio 0, i/o): dev\n"
                   "  0000000000008000-00000000000080ff (prio 0, i/o): dev\n");
}

MT_TEST_MAIN(
    MT_TEST(alias_into_own_container_renders_once_shifted),
    MT_TEST(loops_render_and_container_cycles_are_refused),
    MT_TEST(zero_displacement_with_other_flags_renders_one_pass),
    MT_TEST(loop_through_alias_of_alias),
    MT_TEST(cut_reported_once_per_commit),
    MT_TEST(many_looping_aliases_stop_at_the_budget),
    MT_TEST(flat_root_descent_stops_at_a_repeat),
    MT_TEST(container_cycles_refused_alias_loops_accepted))
