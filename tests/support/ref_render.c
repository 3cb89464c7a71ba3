/*
 * Reference renderer (see ref_render.h). Every step follows the numbered
 * rules of memory-model.md 4.1 literally, with 128-bit arithmetic.
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

static void render(struct list *l, mt_region *r, i128 base, i128 lo, i128 hi,
                   bool ro, bool nv)
{
    if (!mt_region_enabled(r))
        return;
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
        render(l, target, base - (i128)mt_region_addr(target) - (i128)mt_region_alias_offset(r),
               lo, hi, ro, nv);
        return;
    }
    for (mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c))
        render(l, c, base, lo, hi, ro, nv);
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
    if (flat_root)
        render(&l, flat_root, 0, 0, TWO_64, false, false);
    /* merge neighbours (4.6) */
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

mt_region *ref_flat_root(mt_region *r)
{
    while (r) {
        if (!mt_region_enabled(r))
            return NULL;
        if (mt_region_readonly(r) || mt_region_nonvolatile(r))
            return r;
        mt_region *target = mt_region_alias_target(r);
        if (target) {
            if (mt_region_alias_offset(r) == 0 && size_of(r) >= size_of(target)) {
                r = target;
                continue;
            }
            return r;
        }
        if (mt_region_get_kind(r) != MT_KIND_CONTAINER)
            return r;
        mt_region *only = NULL;
        int enabled = 0;
        for (mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c)) {
            if (mt_region_enabled(c)) {
                enabled++;
                only = c;
            }
        }
        if (enabled == 0)
            return NULL;
        if (enabled == 1 && mt_region_addr(only) == 0 && size_of(only) <= size_of(r)) {
            r = only;
            continue;
        }
        return r;
    }
    return NULL;
}
