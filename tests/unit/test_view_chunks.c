/*
 * Views big enough to span many chunks (docs/views.md, "How a view is
 * stored"), against the from-scratch reference: two contexts built alike,
 * one in the default mode (part renders that share untouched chunks with
 * the old view) and one in MT_RENDER_FULL. Random edits of a flat-root of
 * about 1,500 children: maps, unmaps, moves, resizes, priorities, enables,
 * aliases of one RAM region whose neighbouring pieces merge into one range
 * across chunk seams, a background region of 2^64 bytes that fills every
 * gap, bands emptied and filled at once (chunks split and merge),
 * transactions of several edits. After every commit both sides agree
 * on every range (read through mt_view_ranges and through lookups at each
 * boundary and at random addresses), on which address spaces share a
 * view, and on the listener log: one listener with region_nop (it hears
 * every unchanged range) and one without (it skips the shared chunks).
 * Views are also held across commits (mt_view_ref) and must not change
 * while held, then released in any order.
 *
 * MT_CHUNK_SEEDS (default 4) worlds of MT_CHUNK_STEPS (default 120) steps.
 */
#include "mt_test.h"

#include "view_chunks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREG 1500
#define NALIAS 96
#define SLOTS 2048
#define PAGE 0x1000ull
#define HELD 3

struct side;

struct rec {
    mt_listener l; /* first: callbacks cast back */
    struct side *side;
    int id;
};

struct side {
    mt_context *ctx;
    mt_region root, wrap, wrap_alias, target, background;
    mt_region reg[NREG];
    mt_region alias[NALIAS];
    mt_address_space *as[2];
    struct rec lis[2];
    char *log;
    size_t len, cap;
    const mt_view *held[HELD];
    mt_range *held_copy[HELD];
    size_t held_n[HELD];
};

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static uint64_t pick(uint64_t n) { return rnd() % n; }

/* A region's name on either side: its role and index. */
static void name_of(const struct side *s, const mt_region *r, char *buf, size_t len)
{
    if (r >= s->reg && r < s->reg + NREG)
        snprintf(buf, len, "reg%d", (int)(r - s->reg));
    else if (r >= s->alias && r < s->alias + NALIAS)
        snprintf(buf, len, "alias%d", (int)(r - s->alias));
    else if (r == &s->target)
        snprintf(buf, len, "target");
    else if (r == &s->background)
        snprintf(buf, len, "background");
    else
        snprintf(buf, len, "%p?", (const void *)r);
}

static void say_range(struct side *s, const char *what, int id, const mt_section *sec)
{
    char name[32], line[160];
    name_of(s, sec->region, name, sizeof(name));
    int k = snprintf(line, sizeof(line), "l%d %s %llx-%llx %s+%llx %d%d\n", id, what,
                     (unsigned long long)sec->start, (unsigned long long)sec->last, name,
                     (unsigned long long)sec->offset_in_region, sec->readonly,
                     sec->dirty_log_mask);
    assert_true(k > 0 && (size_t)k < sizeof(line));
    if (s->len + (size_t)k + 1 > s->cap) {
        s->cap = (s->len + (size_t)k + 1) * 2;
        s->log = realloc(s->log, s->cap);
    }
    memcpy(s->log + s->len, line, (size_t)k + 1);
    s->len += (size_t)k;
}

#define REC(l) ((struct rec *)(l))
static void on_add(mt_listener *l, const mt_section *s) { say_range(REC(l)->side, "add", REC(l)->id, s); }
static void on_del(mt_listener *l, const mt_section *s) { say_range(REC(l)->side, "del", REC(l)->id, s); }
static void on_nop(mt_listener *l, const mt_section *s) { say_range(REC(l)->side, "nop", REC(l)->id, s); }

/* What both sides are built from, drawn once per world. */
static uint64_t sizes[NREG];
static int placed[NREG]; /* slot, or -1 */
static int32_t prio[NREG];

static void side_build(struct side *s, bool full)
{
    memset(s, 0, sizeof(*s));
    s->ctx = mt_context_new();
    assert_non_null(s->ctx);
    assert_int_equal(mt_context_set_render_mode(s->ctx, full ? MT_RENDER_FULL
                                                             : MT_RENDER_INCREMENTAL), 0);
    assert_int_equal(mt_region_init_container(&s->root, s->ctx, NULL, "root", UINT64_MAX), 0);
    assert_int_equal(mt_region_init_ram(&s->target, s->ctx, NULL, "target", NALIAS * PAGE), 0);
    assert_int_equal(mt_region_init_reservation(&s->background, s->ctx, NULL, "background",
                                                UINT64_MAX), 0);
    mt_transaction_begin(s->ctx);
    for (int i = 0; i < NREG; i++) {
        assert_int_equal(mt_region_init_reservation(&s->reg[i], s->ctx, NULL, "r", sizes[i]),
                         0);
        if (placed[i] >= 0)
            assert_int_equal(mt_region_add_subregion_overlap(&s->root,
                                                             (uint64_t)placed[i] * PAGE,
                                                             &s->reg[i], prio[i]), 0);
    }
    for (int i = 0; i < NALIAS; i++)
        assert_int_equal(mt_region_init_alias(&s->alias[i], s->ctx, NULL, "piece", &s->target,
                                              (uint64_t)i * PAGE, PAGE), 0);
    /* a second address space reaching the same flat-root through a wrapper */
    assert_int_equal(mt_region_init_container(&s->wrap, s->ctx, NULL, "wrap", UINT64_MAX), 0);
    assert_int_equal(mt_region_init_alias(&s->wrap_alias, s->ctx, NULL, "wrap alias", &s->root,
                                          0, UINT64_MAX), 0);
    assert_int_equal(mt_region_add_subregion(&s->wrap, 0, &s->wrap_alias), 0);
    s->as[0] = mt_address_space_new(s->ctx, &s->root, "memory");
    s->as[1] = mt_address_space_new(s->ctx, &s->wrap, "dma");
    assert_int_equal(mt_transaction_commit(s->ctx), 0);
    for (int i = 0; i < 2; i++) {
        s->lis[i] = (struct rec){.side = s, .id = i};
        s->lis[i].l.region_add = on_add;
        s->lis[i].l.region_del = on_del;
        if (i == 0)
            s->lis[i].l.region_nop = on_nop;
        assert_int_equal(mt_listener_register(&s->lis[i].l, s->as[i]), 0);
    }
}

/* One edit, drawn by the caller, applied alike to a side. */
struct step {
    int op, i;
    uint64_t a;
    int32_t p;
};

static void apply(struct side *s, const struct step *st)
{
    mt_region *r = &s->reg[st->i];
    switch (st->op) {
    case 0: /* map or unmap a region */
        if (mt_region_container(r))
            assert_int_equal(mt_region_del_subregion(&s->root, r), 0);
        else
            assert_int_equal(mt_region_add_subregion_overlap(&s->root, st->a, r, st->p), 0);
        break;
    case 1: /* move */
        if (mt_region_container(r))
            assert_int_equal(mt_region_set_address(r, st->a), 0);
        break;
    case 2:
        assert_int_equal(mt_region_set_size(r, (st->a % 3 + 1) * 0x800), 0);
        break;
    case 3:
        assert_int_equal(mt_region_set_priority(r, st->p), 0);
        break;
    case 4:
        assert_int_equal(mt_region_set_enabled(r, st->a & 1), 0);
        break;
    case 5: { /* an alias piece, mapped where its neighbours may join it */
        mt_region *al = &s->alias[st->i % NALIAS];
        if (mt_region_container(al))
            assert_int_equal(mt_region_del_subregion(&s->root, al), 0);
        else
            assert_int_equal(mt_region_add_subregion_overlap(
                                 &s->root, (st->a % 4) * SLOTS / 4 * PAGE +
                                               (uint64_t)(st->i % NALIAS) * PAGE,
                                 al, 1), 0);
        break;
    }
    case 7: /* empty a band of 320 pages: chunks shrink and merge */
        for (int i = 0; i < NREG; i++)
            if (mt_region_container(&s->reg[i]) && mt_region_addr(&s->reg[i]) - st->a < 320 * PAGE)
                assert_int_equal(mt_region_del_subregion(&s->root, &s->reg[i]), 0);
        break;
    case 8: /* fill one: chunks grow and split */
        for (int j = 0; j < 300; j++) {
            mt_region *f = &s->reg[(st->i + j) % NREG];
            if (!mt_region_container(f))
                assert_int_equal(mt_region_add_subregion_overlap(&s->root,
                                                                 st->a + (uint64_t)j * PAGE,
                                                                 f, st->p), 0);
        }
        break;
    default: /* the background, under everything */
        if (mt_region_container(&s->background))
            assert_int_equal(mt_region_del_subregion(&s->root, &s->background), 0);
        else
            assert_int_equal(mt_region_add_subregion_overlap(&s->root, 0, &s->background,
                                                             -1), 0);
        break;
    }
}

static struct step draw(void)
{
    struct step st = {.op = (int)pick(20), .i = (int)pick(NREG),
                      .a = pick(SLOTS) * PAGE + (pick(4) == 0 ? 0x800 : 0),
                      .p = (int32_t)pick(3) - 1};
    if (st.op >= 10)
        st.op = st.op < 13 ? 5 : st.op < 14 ? 6 : st.op < 17 ? 0 : 1;
    if (st.op == 6 && pick(4))
        st.op = 0; /* the background changes every range: seldom */
    if (st.op == 4 && pick(3) == 0)
        st.op = 7 + (int)pick(2);
    if (st.op == 7 && pick(2))
        st.a = (SLOTS - 300) * PAGE; /* the last chunks: a neighbour only before */
    return st;
}

static bool same_range(const struct side *a, const mt_range *x, const struct side *b,
                       const mt_range *y)
{
    char nx[32], ny[32];
    name_of(a, x->region, nx, sizeof(nx));
    name_of(b, y->region, ny, sizeof(ny));
    return x->start == y->start && x->last == y->last &&
           x->offset_in_region == y->offset_in_region && x->readonly == y->readonly &&
           !strcmp(nx, ny);
}

/* The view's lookups agree with its ranges: at every boundary, and at
 * random addresses. */
static void check_lookups(const mt_view *v)
{
    const mt_range *r = mt_view_ranges(v);
    size_t n = mt_view_range_count(v);
    for (size_t i = 0; i < n; i++) {
        const mt_range *f = mt_view_find_range(v, r[i].start);
        assert_non_null(f);
        assert_true(f->start == r[i].start && f->region == r[i].region);
        f = mt_view_find_range(v, r[i].last);
        assert_true(f && f->start == r[i].start);
        if (r[i].start && (i == 0 || r[i - 1].last + 1 < r[i].start))
            assert_null(mt_view_find_range(v, r[i].start - 1));
    }
    for (int k = 0; k < 200; k++) {
        uint64_t addr = pick(SLOTS + 16) * PAGE + pick(PAGE);
        const mt_range *f = mt_view_find_range(v, addr);
        const mt_range *want = mt_test_ranges_find(r, n, addr);
        assert_true(!f == !want);
        if (f)
            assert_true(f->start == want->start && f->region == want->region);
    }
    const mt_range *top = mt_view_find_range(v, UINT64_MAX);
    assert_true(!top == !(n && r[n - 1].last == UINT64_MAX));
}

static void compare(struct side *a, struct side *b, uint64_t seed, int step)
{
    for (int i = 0; i < 2; i++) {
        const mt_view *va = mt_address_space_view(a->as[i]);
        const mt_view *vb = mt_address_space_view(b->as[i]);
        if (mt_view_range_count(va) != mt_view_range_count(vb))
            fail_msg("seed %llu step %d as%d: %zu ranges, reference %zu",
                     (unsigned long long)seed, step, i, mt_view_range_count(va),
                     mt_view_range_count(vb));
        const mt_range *ra = mt_view_ranges(va), *rb = mt_view_ranges(vb);
        for (size_t k = 0; k < mt_view_range_count(va); k++)
            if (!same_range(a, &ra[k], b, &rb[k]))
                fail_msg("seed %llu step %d as%d: range %zu differs (%llx-%llx, reference "
                         "%llx-%llx)", (unsigned long long)seed, step, i, k,
                         (unsigned long long)ra[k].start, (unsigned long long)ra[k].last,
                         (unsigned long long)rb[k].start, (unsigned long long)rb[k].last);
        check_lookups(va);
    }
    assert_true((mt_address_space_view(a->as[0]) == mt_address_space_view(a->as[1])) ==
                (mt_address_space_view(b->as[0]) == mt_address_space_view(b->as[1])));
    if (a->len != b->len || (a->len && memcmp(a->log, b->log, a->len))) {
        size_t at = 0;
        while (at < a->len && at < b->len && a->log[at] == b->log[at])
            at++;
        while (at > 0 && a->log[at - 1] != '\n')
            at--;
        fail_msg("seed %llu step %d: listener logs differ at\n%.200s\nreference\n%.200s",
                 (unsigned long long)seed, step, a->log + at, b->log + at);
    }
    a->len = b->len = 0;
}

/* Holds the default side's current view, or checks and releases one held. */
static void hold_or_release(struct side *s, int h)
{
    if (s->held[h]) {
        assert_int_equal(mt_view_range_count(s->held[h]), s->held_n[h]);
        const mt_range *r = mt_view_ranges(s->held[h]);
        for (size_t k = 0; k < s->held_n[h]; k++)
            assert_true(same_range(s, &r[k], s, &s->held_copy[h][k]));
        check_lookups(s->held[h]);
        mt_view_unref((mt_view *)s->held[h]);
        free(s->held_copy[h]);
        s->held[h] = NULL;
        return;
    }
    mt_view *v = (mt_view *)mt_address_space_view(s->as[0]);
    assert_true(mt_view_ref(v));
    s->held[h] = v;
    s->held_n[h] = mt_view_range_count(v);
    s->held_copy[h] = malloc((s->held_n[h] + 1) * sizeof(mt_range));
    if (s->held_n[h])
        memcpy(s->held_copy[h], mt_view_ranges(v), s->held_n[h] * sizeof(mt_range));
}

static void side_free(struct side *s)
{
    for (int h = 0; h < HELD; h++)
        if (s->held[h])
            hold_or_release(s, h);
    for (int i = 0; i < 2; i++) {
        mt_listener_unregister(&s->lis[i].l);
        mt_address_space_destroy(s->as[i]);
    }
    mt_transaction_begin(s->ctx);
    for (int i = 0; i < NREG; i++)
        if (mt_region_container(&s->reg[i]))
            assert_int_equal(mt_region_del_subregion(&s->root, &s->reg[i]), 0);
    for (int i = 0; i < NALIAS; i++)
        if (mt_region_container(&s->alias[i]))
            assert_int_equal(mt_region_del_subregion(&s->root, &s->alias[i]), 0);
    if (mt_region_container(&s->background))
        assert_int_equal(mt_region_del_subregion(&s->root, &s->background), 0);
    assert_int_equal(mt_region_del_subregion(&s->wrap, &s->wrap_alias), 0);
    assert_int_equal(mt_transaction_commit(s->ctx), 0);
    assert_int_equal(mt_context_reclaim(s->ctx), 0);
    for (int i = 0; i < NREG; i++)
        assert_int_equal(mt_region_finalize(&s->reg[i]), 0);
    for (int i = 0; i < NALIAS; i++)
        assert_int_equal(mt_region_finalize(&s->alias[i]), 0);
    assert_int_equal(mt_region_finalize(&s->wrap_alias), 0);
    assert_int_equal(mt_region_finalize(&s->wrap), 0);
    assert_int_equal(mt_region_finalize(&s->background), 0);
    assert_int_equal(mt_region_finalize(&s->target), 0);
    assert_int_equal(mt_region_finalize(&s->root), 0);
    mt_context_free(s->ctx);
    free(s->log);
}

static void chunked_views_equal_reference(void **state)
{
    (void)state;
    uint64_t seeds = mt_test_env_u64("MT_CHUNK_SEEDS", 4), steps = mt_test_env_u64("MT_CHUNK_STEPS", 120);
    static struct side a, b;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull | 1;
        for (int i = 0; i < NREG; i++) {
            sizes[i] = (pick(3) + 1) * 0x800;
            placed[i] = pick(4) ? (int)pick(SLOTS) : -1;
            prio[i] = (int32_t)pick(3) - 1;
        }
        side_build(&a, false);
        mt_test_limit_parts(a.ctx, mt_test_parts_for_seed(seed));
        side_build(&b, true);
        compare(&a, &b, seed, -1);
        for (int step = 0; step < (int)steps; step++) {
            int edits = (int)pick(4) + 1;
            mt_transaction_begin(a.ctx);
            mt_transaction_begin(b.ctx);
            for (int e = 0; e < edits; e++) {
                struct step st = draw();
                apply(&a, &st);
                apply(&b, &st);
            }
            assert_int_equal(mt_transaction_commit(a.ctx), 0);
            assert_int_equal(mt_transaction_commit(b.ctx), 0);
            compare(&a, &b, seed, step);
            if (pick(6) == 0)
                hold_or_release(&a, (int)pick(HELD));
            if (pick(10) == 0)
                assert_int_equal(mt_context_reclaim(a.ctx), 0);
        }
        side_free(&a);
        side_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunked_views_equal_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
