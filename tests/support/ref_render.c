/*
 * Reference renderer (see ref_render.h). Every step follows the numbered
 * rules of docs/rendering.md literally, with 128-bit arithmetic, including
 * loops through aliases: the path of regions being rendered is kept in a
 * plain array, searched from the top at every alias hop.
 */
#include "ref_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;
#define TWO_64 (((i128)1) << 64)

struct list {
    /* ranges as [start, end) in 128 bits while rendering */
    struct item {
        i128 start, end;
        uint64_t offset;
        mt_region *region;
        bool ro, nv, romd;
    } *items;
    size_t n, cap;
};

static i128 size_of(const mt_region *r)
{
    uint64_t low;
    return mt_region_size_exact(r, &low) ? TWO_64 : (i128)low;
}

static void insert_at(struct list *l, size_t i, struct item it)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = realloc(l->items, l->cap * sizeof(*l->items));
    }
    memmove(&l->items[i + 1], &l->items[i], (l->n - i) * sizeof(*l->items));
    l->items[i] = it;
    l->n++;
}

/* Regions being rendered, outermost first: what a loop pass is judged by. */
#define LOOP_PASSES_MAX 16
struct path {
    struct step {
        const mt_region *region;
        i128 base;         /* after the region's own address */
        bool in_ro, in_nv; /* inherited from above */
    } *steps;
    size_t n, cap;
};

/* An alias hop (possibly several, through aliases of aliases) arrives at
 * `r` with `base` (r's address added) and inherited flags. A loop pass is
 * such an arrival at a region with subregions that is already on the path.
 * Returns false when it renders nothing: rule (a), the same start and
 * flags as a pass further up; rule (b), the 17th nested pass. */
static bool loop_pass_ok(const struct path *p, const mt_region *r, i128 base, bool in_ro,
                         bool in_nv, int *loops)
{
    if (!mt_region_first_subregion(r))
        return true;
    bool on_path = false;
    for (size_t i = 0; i < p->n; i++) {
        const struct step *s = &p->steps[i];
        if (s->region != r)
            continue;
        on_path = true;
        if (s->base == base && s->in_ro == in_ro && s->in_nv == in_nv)
            return false;
    }
    if (!on_path)
        return true;
    if (*loops >= LOOP_PASSES_MAX)
        return false;
    ++*loops;
    return true;
}

static void render(struct list *l, struct path *p, mt_region *r, i128 base, i128 lo, i128 hi,
                   bool ro, bool nv, int loops, bool via_alias)
{
    if (!mt_region_enabled(r))
        return;
    bool in_ro = ro, in_nv = nv;
    base += mt_region_addr(r);
    ro |= mt_region_readonly(r);
    nv |= mt_region_nonvolatile(r);
    i128 ext_end = base + size_of(r);
    if (lo < base)
        lo = base;
    if (hi > ext_end)
        hi = ext_end;
    if (lo >= hi)
        return;
    mt_region *target = mt_region_alias_target(r);
    if (target) {
        render(l, p, target,
               base - (i128)mt_region_addr(target) - (i128)mt_region_alias_offset(r), lo, hi,
               ro, nv, loops, true);
        return;
    }
    if (via_alias && !loop_pass_ok(p, r, base, in_ro, in_nv, &loops))
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->steps = realloc(p->steps, p->cap * sizeof(*p->steps));
    }
    p->steps[p->n++] = (struct step){r, base, in_ro, in_nv};
    for (mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c))
        render(l, p, c, base, lo, hi, ro, nv, loops, false);
    p->n--;
    if (!mt_region_is_terminal(r))
        return;
    /* fill the gaps of [lo, hi) left by ranges already in the list */
    i128 pos = lo;
    size_t i = 0;
    while (pos < hi) {
        while (i < l->n && l->items[i].end <= pos)
            i++;
        i128 gap_end = hi;
        if (i < l->n && l->items[i].start <= pos) {
            pos = l->items[i].end;
            continue;
        }
        if (i < l->n && l->items[i].start < gap_end)
            gap_end = l->items[i].start;
        bool romd = mt_region_romd(r);
        insert_at(l, i, (struct item){pos, gap_end, (uint64_t)(pos - base), r, ro, nv, romd});
        pos = gap_end;
    }
}

void ref_render(mt_region *flat_root, ref_view *out)
{
    struct list l = {0};
    struct path p = {0};
    if (flat_root)
        render(&l, &p, flat_root, 0, 0, TWO_64, false, false, 0, false);
    free(p.steps);
    /* merge neighbours (docs/rendering.md, "Merging") */
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct item *cur = &l.items[i];
        if (n) {
            struct item *p = &l.items[n - 1];
            if (p->end == cur->start && p->region == cur->region &&
                p->offset + (uint64_t)(p->end - p->start) == cur->offset && p->ro == cur->ro &&
                p->nv == cur->nv && p->romd == cur->romd) {
                p->end = cur->end;
                continue;
            }
        }
        l.items[n++] = *cur;
    }
    out->nr = n;
    out->ranges = calloc(n ? n : 1, sizeof(mt_range));
    for (size_t i = 0; i < n; i++) {
        struct item *it = &l.items[i];
        out->ranges[i] = (mt_range){
            .start = (uint64_t)it->start,
            .last = (uint64_t)(it->end - 1),
            .offset_in_region = it->offset,
            .region = it->region,
            .readonly = it->ro,
            .nonvolatile = it->nv,
            .romd_mode = it->romd,
        };
    }
    free(l.items);
}

void ref_view_free(ref_view *v)
{
    free(v->ranges);
    v->ranges = NULL;
    v->nr = 0;
}

bool ref_view_equal(const ref_view *ref, const mt_view *v, char *why, size_t whylen)
{
    size_t n = mt_view_range_count(v);
    const mt_range *got = mt_view_ranges(v);
    for (size_t i = 0; i < ref->nr || i < n; i++) {
        if (i >= n || i >= ref->nr) {
            snprintf(why, whylen, "range count: expected %zu, got %zu", ref->nr, n);
            return false;
        }
        const mt_range *a = &ref->ranges[i], *b = &got[i];
        if (a->start != b->start || a->last != b->last || a->region != b->region ||
            a->offset_in_region != b->offset_in_region || a->readonly != b->readonly ||
            a->nonvolatile != b->nonvolatile || a->romd_mode != b->romd_mode) {
            snprintf(why, whylen,
                     "range %zu: expected %llx-%llx %s @%llx ro=%d nv=%d, "
                     "got %llx-%llx %s @%llx ro=%d nv=%d",
                     i, (unsigned long long)a->start, (unsigned long long)a->last,
                     mt_region_name(a->region) ? mt_region_name(a->region) : "(null)",
                     (unsigned long long)a->offset_in_region, a->readonly, a->nonvolatile,
                     (unsigned long long)b->start, (unsigned long long)b->last,
                     mt_region_name(b->region) ? mt_region_name(b->region) : "(null)",
                     (unsigned long long)b->offset_in_region, b->readonly, b->nonvolatile);
            return false;
        }
    }
    return true;
}

/* One step of the descent: the next region, or NULL with *result set. */
static mt_region *descend(mt_region *r, mt_region **result)
{
    *result = NULL;
    if (!mt_region_enabled(r))
        return NULL;
    *result = r;
    if (mt_region_readonly(r) || mt_region_nonvolatile(r))
        return NULL;
    mt_region *target = mt_region_alias_target(r);
    if (target)
        return mt_region_alias_offset(r) == 0 && size_of(r) >= size_of(target) ? target : NULL;
    if (mt_region_get_kind(r) != MT_KIND_CONTAINER)
        return NULL;
    mt_region *only = NULL;
    int enabled = 0;
    for (mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c)) {
        if (mt_region_enabled(c)) {
            enabled++;
            only = c;
        }
    }
    if (enabled == 0)
        *result = NULL;
    if (enabled == 1 && mt_region_addr(only) == 0 && size_of(only) <= size_of(r))
        return only;
    return NULL;
}

mt_region *ref_flat_root(mt_region *r)
{
    /* the descent stops at the first region it would visit twice */
    mt_region **seen = NULL, *result = NULL;
    size_t nseen = 0;
    while (r) {
        bool again = false;
        for (size_t i = 0; i < nseen && !again; i++)
            again = seen[i] == r;
        if (again) {
            result = r;
            break;
        }
        seen = realloc(seen, (nseen + 1) * sizeof(*seen));
        seen[nseen++] = r;
        r = descend(r, &result);
    }
    free(seen);
    return result;
}

bool ref_render_matches(mt_region *flat_root, const mt_view *v, char *why, size_t whylen)
{
    ref_view ref;
    ref_render(flat_root, &ref);
    bool same = ref_view_equal(&ref, v, why, whylen);
    ref_view_free(&ref);
    return same;
}
