/*
 * Views (QEMU's FlatViews): flat-root selection, the cache that shares one
 * view between every address space with the same flat-root, and the view's
 * life: built once, immutable, retired when its last holder lets go.
 *
 * The cache entry of a flat-root lives with the region (cached_view, in its
 * side struct): re-initialising storage starts a new region with no entry,
 * so a lookup can never return a view built for the storage's previous
 * occupant.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

mt_region *mt__flat_root(mt_region *r)
{
    /* Through an alias the descent can come back to a region it passed
     * (an alias of its own container, of full size at 0): it stops at the
     * first region it would visit twice, which is then the flat-root. */
    uint64_t mark = r ? mt__walk_begin(r->ctx_) : 0;
    while (r) {
        if (r->walk_mark_ == mark)
            return r;
        r->walk_mark_ = mark;
        if (!mt__enabled(r))
            return NULL;
        /* memtree: a wrapper's own flags must reach the view (docs/views.md) */
        if (r->flags_ & (MT__F_READONLY | MT__F_NONVOLATILE))
            return r;
        if (r->kind_ == MT_KIND_ALIAS) {
            if (r->alias_offset_ == 0 && mt__size(r) >= mt__size(r->alias_)) {
                r = r->alias_;
                continue;
            }
            return r;
        }
        if (r->kind_ != MT_KIND_CONTAINER)
            return r;
        mt_region *only = NULL;
        unsigned enabled = 0;
        size_t n;
        mt_region *const *children = mt__children_raw(r, &n);
        for (size_t i = n; i-- > 0 && enabled <= 1;) {
            if (children[i] && mt__enabled(children[i])) {
                enabled++;
                only = children[i];
            }
        }
        if (enabled == 0)
            return NULL;
        if (enabled == 1 && only->addr_ == 0 && mt__size(only) <= mt__size(r)) {
            r = only;
            continue;
        }
        return r;
    }
    return NULL;
}

static void root_link(mt_view *v, mt_region *root)
{
    v->root = root;
    struct mt__region_rare *x = mt__rare(root);
    v->root_next = x->root_views;
    v->root_pprev = &x->root_views;
    if (x->root_views)
        x->root_views->root_pprev = &v->root_next;
    x->root_views = v;
}

static void root_unlink(mt_view *v)
{
    if (!v->root)
        return;
    *v->root_pprev = v->root_next;
    if (v->root_next)
        v->root_next->root_pprev = v->root_pprev;
    v->root = NULL;
    v->root_next = NULL;
    v->root_pprev = NULL;
}

static mt_view *view_build(mt_context *ctx, mt_region *root, const char *as_name)
{
    mt_view *v = mt__xcalloc(1, sizeof(*v));
    v->ctx = ctx;
    v->root_id = root->id_;
    v->root_name = mt__xstrdup(mt__name(root));
    /* the render takes each range's references (docs/lifetimes.md) */
    v->cut = mt__render(ctx, root, as_name, &v->ranges, &v->nr) != 0;
    mt__dispatch_build(v);
    root_link(v, root);
    ctx->stats.renders++;
    ctx->stats.live_views++;
    return v;
}

static void cache_insert(mt_context *ctx, mt_region *flat_root, mt_view *v)
{
    atomic_init(&v->refs, 1); /* the cache's */
    v->in_cache = true;
    v->cache_next = ctx->cache;
    ctx->cache = v;
    ctx->cache_entries++;
    mt__rare(flat_root)->cached_view = v;
}

mt_view *mt__view_get(mt_context *ctx, mt_region *flat_root, const char *as_name)
{
    if (!flat_root) {
        mt__view_ref(ctx->empty_view);
        return ctx->empty_view;
    }
    mt_view *v = mt__rare_get(flat_root)->cached_view;
    if (!v) {
        v = view_build(ctx, flat_root, as_name);
        cache_insert(ctx, flat_root, v);
    }
    assert(v->root_id == flat_root->id_);
    mt__view_ref(v);
    return v;
}

void mt__view_ref(mt_view *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void mt__view_unref(mt_view *v)
{
    unsigned old = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel);
    assert(old > 0);
    if (old > 1 || v->is_empty_view)
        return;
    /* push on the retired stack; the writer frees it at reclaim */
    mt_context *ctx = v->ctx;
    atomic_fetch_add(&ctx->retired_count, 1);
    mt_view *head = atomic_load_explicit(&ctx->retired, memory_order_relaxed);
    do {
        v->retired_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->retired, &head, v,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

bool mt_view_ref(mt_view *v)
{
    /* increment unless zero: a retired view is never brought back */
    unsigned n = atomic_load_explicit(&v->refs, memory_order_relaxed);
    do {
        if (n == 0)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&v->refs, &n, n + 1,
                                                    memory_order_acquire,
                                                    memory_order_relaxed));
    return true;
}

void mt_view_unref(mt_view *v)
{
    mt__view_unref(v);
}

void mt__view_free(mt_view *v)
{
    mt_context *ctx = v->ctx;
    assert(!v->in_cache && atomic_load(&v->refs) == 0);
    root_unlink(v);
    for (size_t i = 0; i < v->nr; i++) {
        mt_region *t = v->ranges[i].region;
        t->view_refs_--;
        mt__owner_unref(ctx, t->owner_);
    }
    mt__dispatch_free(v);
    free(v->ranges);
    free(v->root_name);
    free(v);
    ctx->stats.live_views--;
}

static void cache_drop(mt_context *ctx, mt_view *v)
{
    v->in_cache = false;
    if (v->root && mt__rare_get(v->root)->cached_view == v)
        v->root->rare_->cached_view = NULL;
    ctx->cache_entries--;
    mt__view_unref(v);
}

void mt__view_cache_clear(mt_context *ctx)
{
    mt_view *v = ctx->cache;
    ctx->cache = NULL;
    while (v) {
        mt_view *next = v->cache_next;
        v->cache_next = NULL;
        cache_drop(ctx, v);
        v = next;
    }
}

/* Unlinks the entries `drop` selects, with their cache references. */
static void cache_filter(mt_context *ctx, bool (*drop)(const mt_view *, uint64_t),
                         uint64_t epoch)
{
    mt_view **pp = &ctx->cache;
    while (*pp) {
        mt_view *v = *pp;
        if (!drop(v, epoch)) {
            pp = &v->cache_next;
            continue;
        }
        *pp = v->cache_next;
        v->cache_next = NULL;
        cache_drop(ctx, v);
    }
}

static bool is_stale(const mt_view *v, uint64_t epoch)
{
    /* a cached view's root is live: finalisation drops its entry */
    return v->cut || mt__rare_get(v->root)->stale_mark == epoch;
}

/* ---- a view that changed in one part ---------------------------------------- */

/* The references a range holds (docs/lifetimes.md), taken for a copy and dropped for a
 * range merged into its neighbour (which holds them, so never the last). */
static void range_take(mt_range *r)
{
    r->region->view_refs_++;
    mt__owner_ref(r->region->owner_);
}

static void range_merged(mt_range *r)
{
    r->region->view_refs_--;
    if (r->region->owner_)
        r->region->owner_->refs_--;
}

/* Appends `r` (its references held), merged into the last range when the
 * simplification rule (docs/rendering.md) would have made them one. */
static void push_merging(mt_range *out, size_t *n, mt_range *r)
{
    if (*n) {
        mt_range *p = &out[*n - 1];
        if (p->region == r->region && p->last + 1 == r->start &&
            p->offset_in_region + (p->last - p->start) + 1 == r->offset_in_region &&
            p->readonly == r->readonly && p->nonvolatile == r->nonvolatile &&
            p->romd_mode == r->romd_mode && p->dirty_log_mask == r->dirty_log_mask) {
            p->last = r->last;
            range_merged(r);
            return;
        }
    }
    out[(*n)++] = *r;
}

/* The first range of `v` whose last address is >= `a`. */
static size_t first_reaching(const mt_view *v, uint64_t a)
{
    size_t lo = 0, hi = v->nr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->ranges[mid].last < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * The view of `root` after a change that shows only at [lo, last] of it:
 * the old view's ranges outside, the part rendered again inside, merged at
 * the two seams as a full render would. NULL if the part render met a loop
 * through an alias (the caller renders everything then).
 */
static mt_view *view_splice(mt_context *ctx, mt_view *old, mt_region *root, uint64_t lo,
                            uint64_t last)
{
    mt_range *mid;
    size_t nmid;
    if (mt__render_part(ctx, root, lo, last, &mid, &nmid)) {
        for (size_t i = 0; i < nmid; i++) {
            mid[i].region->view_refs_--;
            mt__owner_unref(ctx, mid[i].region->owner_);
        }
        free(mid);
        return NULL;
    }
    size_t i0 = first_reaching(old, lo);
    size_t i1 = last == UINT64_MAX ? old->nr : first_reaching(old, last + 1);
    /* old[i1] may start inside the part too: it is cut there */
    size_t cap = old->nr + nmid + 2;
    mt_range *out = mt__xmalloc(cap * sizeof(*out)), piece;
    size_t n = 0;
    for (size_t i = 0; i < i0; i++) {
        out[n] = old->ranges[i];
        range_take(&out[n++]);
    }
    if (i0 < old->nr && old->ranges[i0].start < lo) {
        piece = old->ranges[i0];
        piece.last = lo - 1;
        range_take(&piece);
        out[n++] = piece;
    }
    for (size_t i = 0; i < nmid; i++)
        push_merging(out, &n, &mid[i]);
    free(mid);
    size_t next = i1;
    if (i1 < old->nr && old->ranges[i1].start <= last) {
        /* the old range across the part's end keeps what lies beyond */
        piece = old->ranges[i1];
        uint64_t cut = last + 1 - piece.start;
        piece.start = last + 1;
        piece.offset_in_region += cut;
        if (piece.host_)
            piece.host_ += (uintptr_t)cut;
        range_take(&piece);
        push_merging(out, &n, &piece);
        next = i1 + 1;
    } else if (i1 < old->nr) {
        mt_range r = old->ranges[i1];
        range_take(&r);
        push_merging(out, &n, &r);
        next = i1 + 1;
    }
    for (size_t i = next; i < old->nr; i++) {
        out[n] = old->ranges[i];
        range_take(&out[n++]);
    }
    mt_view *v = mt__xcalloc(1, sizeof(*v));
    v->ctx = ctx;
    v->root_id = root->id_;
    v->root_name = mt__xstrdup(mt__name(root));
    v->ranges = n < cap ? mt__xrealloc(out, (n ? n : 1) * sizeof(*out)) : out;
    v->nr = n;
    mt__dispatch_build(v);
    root_link(v, root);
    ctx->stats.renders++;
    ctx->stats.live_views++;
    return v;
}

/* The part of its view an edit changed, in view coordinates, or false when
 * it is not one part of a container flat-root. */
static bool changed_part(const mt_view *v, uint64_t epoch, uint64_t *lo, uint64_t *last)
{
    const mt_region *root = v->root;
    const struct mt__region_rare *x = mt__rare_get(root);
    if (v->cut || x->whole_mark == epoch || root->kind_ != MT_KIND_CONTAINER)
        return false;
    /* the root's own address places the view (docs/views.md) */
    mt__i128 base = root->addr_;
    mt__i128 a = base + x->stale_lo, b = base + x->stale_last;
    mt__i128 end = base + mt__size(root) - 1;
    if (b > end)
        b = end;
    if (b > MT__2_64 - 1)
        b = MT__2_64 - 1;
    if (a > b)
        return false; /* nothing visible: render it all, rare */
    *lo = (uint64_t)a;
    *last = (uint64_t)b;
    return true;
}

void mt__view_cache_update_stale(mt_context *ctx, uint64_t epoch)
{
    mt_view *fresh = NULL, **pp = &ctx->cache;
    while (*pp) {
        mt_view *v = *pp;
        if (!is_stale(v, epoch)) {
            pp = &v->cache_next;
            continue;
        }
        mt_region *root = v->root;
        uint64_t lo, last;
        mt_view *nv = changed_part(v, epoch, &lo, &last)
                          ? view_splice(ctx, v, root, lo, last) : NULL;
        *pp = v->cache_next;
        v->cache_next = NULL;
        cache_drop(ctx, v);
        if (nv) {
            nv->cache_next = fresh; /* inserted after the walk */
            fresh = nv;
        }
    }
    while (fresh) {
        mt_view *nv = fresh;
        fresh = nv->cache_next;
        cache_insert(ctx, nv->root, nv);
    }
}

static bool is_unused(const mt_view *v, uint64_t epoch)
{
    return v->used_epoch != epoch;
}

void mt__view_cache_drop_stale(mt_context *ctx, uint64_t epoch)
{
    cache_filter(ctx, is_stale, epoch);
}

void mt__view_cache_drop_unused(mt_context *ctx, uint64_t epoch)
{
    cache_filter(ctx, is_unused, epoch);
}

void mt__view_forget_root(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    mt_view *cached = mt__rare_get(r)->cached_view;
    if (cached) {
        /* unlink it from the cache list, then release the cache's reference:
         * QEMU's posted fix forgot the release and leaked the view */
        mt_view **pp = &ctx->cache;
        while (*pp != cached)
            pp = &(*pp)->cache_next;
        *pp = cached->cache_next;
        cached->cache_next = NULL;
        cache_drop(ctx, cached);
    }
    while (r->rare_ && r->rare_->root_views)
        root_unlink(r->rare_->root_views);
}

/* ---- public accessors --------------------------------------------------- */

size_t mt_view_range_count(const mt_view *v) { return v->nr; }
const mt_range *mt_view_ranges(const mt_view *v) { return v->ranges; }
mt_region *mt_view_root(const mt_view *v) { return v->root; }
bool mt_view_is_empty_view(const mt_view *v) { return v->is_empty_view; }

const char *mt_view_root_name(const mt_view *v)
{
    return v->root_name ? v->root_name : "(none)";
}

