/*
 * Views (QEMU's FlatViews): flat-root selection, the cache that shares one
 * view between every address space with the same flat-root, and the view's
 * life: built once, immutable, retired when its last holder lets go.
 *
 * The cache entry of a flat-root lives with the region (cached_view, in its
 * side struct): re-initialising storage starts a new region with no entry,
 * so a lookup can never return a view built for the storage's previous
 * occupant.
 *
 * A view keeps its ranges in immutable chunks (internal.h, docs/views.md
 * "How a view is stored"); a part render makes the new view from the old
 * one's chunk pointers, with new chunks only where the change shows, and
 * the old view's lineage frees the chunks it replaced once no view older
 * than the new one remains.
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

/* Cuts a part render's `n` ranges (their references held) into chunks
 * appended to v->chunks, as even as they come, so that each holds at
 * least half of MT__CHUNK_MAX when there are that many. (A full render's
 * are cut into full ones, chunks_over_full: fewer chunks, fewer levels for
 * lookups.) */
static void chunks_push(mt_view *v, const mt_range *r, size_t n)
{
    size_t k = (n + MT__CHUNK_MAX - 1) / MT__CHUNK_MAX;
    for (size_t i = 0, at = 0; i < k; i++) {
        size_t m = n / k + (i < n % k);
        v->chunks[v->nchunks++] = mt__chunk_new(r + at, m);
        at += m;
    }
    v->nr += n;
}

static size_t chunks_for(size_t n)
{
    return (n + MT__CHUNK_MAX - 1) / MT__CHUNK_MAX;
}

/* A full render's `n` ranges (their references held) cut into full chunks
 * over the render's array `r`, in place: copying them into chunks of their
 * own would fault in as many new pages again (a quarter of the first
 * render of a million regions). The array is freed with its last chunk. */
static void chunks_over_full(mt_view *v, mt_range *r, size_t n)
{
    size_t k = chunks_for(n);
    if (k == 0) {
        free(r);
    } else {
        struct mt__range_block *block = mt__xmalloc(sizeof(*block));
        *block = (struct mt__range_block){.ranges = r};
        for (size_t i = 0; i < k; i++) {
            size_t at = i * MT__CHUNK_MAX;
            v->chunks[i] = mt__chunk_over(block, r + at, i == k - 1 ? n - at : MT__CHUNK_MAX);
        }
    }
    v->nchunks = k;
    v->nr = n;
}

static mt_view *view_new(mt_context *ctx, mt_region *root)
{
    mt_view *v = mt__xcalloc(1, sizeof(*v));
    v->ctx = ctx;
    v->root_id = root->id_;
    v->root_name = mt__xstrdup(mt__name(root));
    return v;
}

static void view_publish(mt_view *v, mt_region *root)
{
    root_link(v, root);
    v->ctx->stats.renders++;
    v->ctx->stats.live_views++;
}

static mt_view *view_build(mt_context *ctx, mt_region *root, const char *as_name)
{
    mt_view *v = view_new(ctx, root);
    mt_range *ranges;
    size_t n;
    /* the render takes each range's references (docs/lifetimes.md) */
    v->cut = mt__render(ctx, root, as_name, &ranges, &n) != 0;
    v->chunks = mt__xmalloc((chunks_for(n) ? chunks_for(n) : 1) * sizeof(*v->chunks));
    chunks_over_full(v, ranges, n);
    v->lin = mt__xcalloc(1, sizeof(*v->lin));
    v->lin->oldest = v;
    mt__dispatch_build(v, NULL, NULL, 0);
    view_publish(v, root);
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

/* The last reference is gone: push on the retired stack; the writer frees
 * it at reclaim. */
static void view_retire(mt_view *v)
{
    mt_context *ctx = v->ctx;
    atomic_fetch_add(&ctx->retired_count, 1);
    mt_view *head = atomic_load_explicit(&ctx->retired, memory_order_relaxed);
    do {
        v->retired_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->retired, &head, v,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

void mt__view_unref(mt_view *v)
{
    unsigned old = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel);
    assert(old > 0);
    if (old == 1 && !v->is_empty_view)
        view_retire(v);
}

bool mt_view_ref(mt_view *v)
{
    if (mt__null_arg(v, "mt_view_ref", "view"))
        return false;
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
    if (mt__null_arg(v, "mt_view_unref", "view"))
        return;
    /* A view released once too often, while nothing has freed it yet, has
     * no reference left: checked, as the count cannot go below zero. (One
     * released too often while others still hold it cannot be told from
     * a right release; its holders then use it after it is freed.) */
    unsigned n = atomic_load_explicit(&v->refs, memory_order_relaxed);
    do {
        if (n == 0) {
            mt__diag(v->ctx, -EINVAL,
                     "mt_view_unref: view of '%s' released more often than referenced",
                     mt_view_root_name(v));
            return;
        }
    } while (!atomic_compare_exchange_weak_explicit(&v->refs, &n, n - 1, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (n == 1 && !v->is_empty_view)
        view_retire(v);
}

static bool moved(const struct mt__chunk *ch, size_t k)
{
    return ch->moved[k / 64] >> (k % 64) & 1;
}

/* Drops the references a range holds (docs/lifetimes.md), for a range
 * nobody keeps. */
static void range_drop(mt_context *ctx, const mt_range *r)
{
    r->region->view_refs_--;
    mt__owner_unref(ctx, r->region->owner_);
}

/* Drops the references its ranges hold, but for those a later chunk took. */
static void chunk_free(mt_context *ctx, struct mt__chunk *ch)
{
    for (size_t i = 0; i < ch->n; i++)
        if (!moved(ch, i))
            range_drop(ctx, &ch->ranges[i]);
    if (ch->over && --ch->over->users == 0) {
        free(ch->over->ranges);
        free(ch->over);
    }
    free(ch);
}

/*
 * Frees all of `v` but the chunks it is to free, which `dead` holds after
 * this: those its successor replaced, or all of them for the newest view
 * of its lineage. A view freed before an older view of its lineage (a
 * reader holds that one) stays so until then: their ranges hold
 * references later chunks took over, which the lineage drops oldest
 * first. Everything else goes at once: its index, its chunk array, its
 * names.
 */
static void view_shed(mt_view *v)
{
    root_unlink(v);
    mt__dispatch_free(v);
    free(atomic_load_explicit(&v->flat, memory_order_relaxed));
    atomic_store_explicit(&v->flat, NULL, memory_order_relaxed);
    if (!v->lin_next) {
        free(v->dead);
        v->dead = v->chunks;
        v->ndead = v->nchunks;
    } else {
        free(v->chunks);
    }
    v->chunks = NULL;
    v->nchunks = 0;
    free(v->kept);
    v->kept = NULL;
    v->nkept = 0;
    free(v->root_name);
    v->root_name = NULL;
    v->shed = true;
    v->lin->waiting += v->ndead;
}

/* Frees view `v`, the oldest of its lineage, with the chunks no later view
 * has. */
static void view_destroy(mt_view *v)
{
    mt_context *ctx = v->ctx;
    if (!v->shed)
        view_shed(v);
    for (size_t i = 0; i < v->ndead; i++)
        chunk_free(ctx, v->dead[i]);
    v->lin->waiting -= v->ndead;
    free(v->dead);
    free(v);
    ctx->stats.live_views--;
}

void mt__view_free(mt_view *v)
{
    assert(!v->in_cache && atomic_load(&v->refs) == 0);
    /* A view may go before older views of its lineage (a reader holds an
     * older one): then it waits, with the chunks it is to free, until
     * they are gone. */
    struct mt__lineage *lin = v->lin;
    v->lin_dead = true;
    if (lin->oldest != v)
        view_shed(v); /* it waits for the older ones */
    while (lin->oldest && lin->oldest->lin_dead) {
        mt_view *w = lin->oldest;
        lin->oldest = w->lin_next;
        view_destroy(w);
    }
    if (!lin->oldest)
        free(lin);
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

/* A growing list of ranges, their references held. */
struct range_list {
    mt_range *r;
    size_t n, cap;
};

static mt_range *list_slot(struct range_list *l)
{
    return &MT__PUSH(l->r, l->n, l->cap);
}

/*
 * A range copied from a chunk the new view replaces takes that range's
 * references over instead of taking new ones (which would touch every
 * region of the chunk): the old chunk is freed with the old view, and a
 * lineage frees its views oldest first, so the new chunk, which holds them
 * now, outlives it. A range copied twice (the two ends of one range across
 * the part) takes new references the second time.
 */
static void inherit(struct mt__chunk *from, size_t k, mt_range *copy)
{
    if (moved(from, k))
        range_take(copy);
    else
        from->moved[k / 64] |= (uint64_t)1 << (k % 64);
}

/* Appends `r` (its references held), merged into the last range when the
 * simplification rule (docs/rendering.md) would have made them one. */
static void push_merging(struct range_list *l, mt_range *r)
{
    if (l->n) {
        mt_range *p = &l->r[l->n - 1];
        if (p->region == r->region && p->last + 1 == r->start &&
            p->offset_in_region + (p->last - p->start) + 1 == r->offset_in_region &&
            p->readonly == r->readonly && p->nonvolatile == r->nonvolatile &&
            p->romd_mode == r->romd_mode && p->dirty_log_mask == r->dirty_log_mask) {
            p->last = r->last;
            range_merged(r);
            return;
        }
    }
    *list_slot(l) = *r;
}

/* A range's place in a view: chunk c, range k of it; c == nchunks: past
 * the end. */
struct pos {
    size_t c, k;
};

size_t mt__view_chunk_reaching(const mt_view *v, uint64_t a)
{
    size_t lo = 0, hi = v->nchunks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mt__chunk *ch = v->chunks[mid];
        if (ch->ranges[ch->n - 1].last < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The place of the first range of `v` whose last address is >= `a`. */
static struct pos first_reaching(const mt_view *v, uint64_t a)
{
    size_t lo = mt__view_chunk_reaching(v, a);
    if (lo == v->nchunks)
        return (struct pos){lo, 0};
    const struct mt__chunk *ch = v->chunks[lo];
    size_t l = 0, h = ch->n;
    while (l < h) {
        size_t mid = l + (h - l) / 2;
        if (ch->ranges[mid].last < a)
            l = mid + 1;
        else
            h = mid;
    }
    return (struct pos){lo, l};
}

const mt_range *mt__view_first_reaching(const mt_view *v, uint64_t a)
{
    struct pos p = first_reaching(v, a);
    return p.c < v->nchunks ? &v->chunks[p.c]->ranges[p.k] : NULL;
}

static struct pos next_pos(const mt_view *v, struct pos p)
{
    if (++p.k == v->chunks[p.c]->n) {
        p.c++;
        p.k = 0;
    }
    return p;
}

/*
 * Appends the ranges of `old` from *p on, up to chunk `limit`, cut to
 * [from, to]: the old ranges around and between the parts a commit
 * renders again. A range reaching past `to` is cut there and stays at *p,
 * for what lies beyond the next part. Each takes the references of the
 * range it copies (inherit), and merges into the range before it where a
 * full render would have made them one (at a part's edges; old
 * neighbours never merge, they did not in `old`).
 */
static void copy_old(struct range_list *l, const mt_view *old, struct pos *p, size_t limit,
                     mt__i128 from, mt__i128 to)
{
    while (p->c < limit) {
        struct mt__chunk *ch = old->chunks[p->c];
        const mt_range *r = &ch->ranges[p->k];
        if ((mt__i128)r->start > to)
            return;
        mt_range piece = *r;
        if ((mt__i128)piece.start < from) {
            uint64_t cut = (uint64_t)(from - (mt__i128)piece.start);
            piece.start = (uint64_t)from;
            piece.offset_in_region += cut;
            if (piece.host_)
                piece.host_ += (uintptr_t)cut;
        }
        bool beyond = (mt__i128)r->last > to;
        if (beyond)
            piece.last = (uint64_t)to;
        inherit(ch, p->k, &piece);
        push_merging(l, &piece);
        if (beyond)
            return;
        *p = next_pos(old, *p);
    }
}

/* Puts the ranges of `ch`, a chunk the new view replaces, before the list's. */
static void list_prepend_chunk(struct range_list *l, struct mt__chunk *ch)
{
    size_t n = l->n;
    for (size_t i = 0; i < ch->n; i++)
        list_slot(l);
    memmove(l->r + ch->n, l->r, n * sizeof(*l->r));
    for (size_t i = 0; i < ch->n; i++) {
        l->r[i] = ch->ranges[i];
        inherit(ch, i, &l->r[i]);
    }
}

/* A part a commit renders again, and where it meets the old view. */
struct part {
    uint64_t lo, last;
    mt_range *mid; /* its ranges rendered again */
    size_t nmid;
    struct pos after; /* the first old range reaching past it */
    size_t ca, cb;    /* the old chunks it replaces (see view_splice) */
};

/* Old chunks [ca, cb) replaced by the ranges of `l` (parts [first, end)). */
struct group {
    size_t ca, cb;
    size_t first, end;
    struct range_list l;
};

/*
 * Builds the ranges of the group of parts from parts[*j] on: the old
 * ranges of the chunks they meet, the parts rendered again between them,
 * merged at each seam as a full render would. Parts whose chunks meet
 * join the group, and so do chunks beside it while it holds fewer ranges
 * than half a chunk (so each chunk keeps at least that many when there
 * are that many): the old chunks after it, up to the next part's, then
 * the next part itself, then the old chunks before it, down to `floor`.
 */
static struct group group_build(const mt_view *old, struct part *parts, size_t nparts,
                                size_t *j, size_t floor)
{
    size_t m = old->nchunks;
    struct group g = {.ca = parts[*j].ca, .first = *j};
    struct pos p = {g.ca, 0};
    mt__i128 from = 0;
    for (;;) {
        struct part *pt = &parts[*j];
        copy_old(&g.l, old, &p, m, from, (mt__i128)pt->lo - 1);
        for (size_t i = 0; i < pt->nmid; i++)
            push_merging(&g.l, &pt->mid[i]);
        free(pt->mid);
        pt->mid = NULL;
        p = pt->after;
        from = (mt__i128)pt->last + 1;
        g.cb = pt->cb;
        bool next_meets = *j + 1 < nparts && parts[*j + 1].ca <= g.cb;
        while (!next_meets) {
            copy_old(&g.l, old, &p, g.cb, from, MT__2_64 - 1);
            if (g.l.n >= MT__CHUNK_MAX / 2)
                break;
            if (g.cb < m && (*j + 1 == nparts || g.cb < parts[*j + 1].ca))
                g.cb++;
            else if (*j + 1 < nparts)
                next_meets = true;
            else if (g.ca > floor)
                list_prepend_chunk(&g.l, old->chunks[--g.ca]);
            else
                break;
        }
        ++*j;
        if (!next_meets)
            break;
    }
    g.end = *j;
    return g;
}

/*
 * The view of `root` after a change that shows only in `nparts` parts of
 * it (sorted, disjoint, in view coordinates): the old view's chunks
 * outside them, new chunks where they are. A part replaces the old chunks
 * from the one holding the range before it (which can merge with its
 * first range) to the one holding the range after it. NULL if a part's
 * render met a loop through an alias (the caller renders everything then).
 */
static mt_view *view_splice(mt_context *ctx, mt_view *old, mt_region *root,
                            const struct mt__stale_part *want, size_t nparts)
{
    struct part *parts = mt__xmalloc(nparts * sizeof(*parts));
    size_t m = old->nchunks;
    struct pos end = {m, 0};
    bool loop = false;
    for (size_t j = 0; j < nparts; j++) {
        struct part *pt = &parts[j];
        *pt = (struct part){.lo = want[j].lo, .last = want[j].last};
        loop |= mt__render_part(ctx, root, pt->lo, pt->last, &pt->mid, &pt->nmid) != 0;
        struct pos i0 = first_reaching(old, pt->lo);
        pt->after = pt->last == UINT64_MAX ? end : first_reaching(old, pt->last + 1);
        pt->ca = i0.k > 0 ? i0.c : i0.c > 0 ? i0.c - 1 : 0;
        pt->cb = pt->after.c < m ? pt->after.c + 1 : m;
    }
    if (loop) {
        for (size_t j = 0; j < nparts; j++) {
            for (size_t i = 0; i < parts[j].nmid; i++)
                range_drop(ctx, &parts[j].mid[i]);
            free(parts[j].mid);
        }
        free(parts);
        return NULL;
    }

    struct group *groups = mt__xmalloc(nparts * sizeof(*groups));
    size_t ngroups = 0, nfresh = 0, gone = 0, added = 0, ndead = 0;
    for (size_t j = 0, floor = 0; j < nparts;) {
        struct group *g = &groups[ngroups++];
        *g = group_build(old, parts, nparts, &j, floor);
        floor = g->cb;
        nfresh += chunks_for(g->l.n);
        ndead += g->cb - g->ca;
        added += g->l.n;
        for (size_t c = g->ca; c < g->cb; c++)
            gone += old->chunks[c]->n;
    }

    /* the chunks: those kept before each group, the group's new ones,
     * those kept after the last */
    mt_view *v = view_new(ctx, root);
    v->chunks = mt__xmalloc((m - ndead + nfresh + 1) * sizeof(*v->chunks));
    struct mt__kept *kept = mt__xmalloc((ngroups + 1) * sizeof(*kept));
    size_t nkept = 0, from = 0;
    size_t *fresh_from = mt__xmalloc(ngroups * sizeof(*fresh_from));
    for (size_t i = 0; i <= ngroups; i++) {
        size_t to = i < ngroups ? groups[i].ca : m;
        if (to > from) {
            kept[nkept++] = (struct mt__kept){.at = v->nchunks, .from = from, .n = to - from};
            memcpy(v->chunks + v->nchunks, old->chunks + from, (to - from) * sizeof(*v->chunks));
            v->nchunks += to - from;
        }
        if (i == ngroups)
            break;
        fresh_from[i] = v->nchunks;
        chunks_push(v, groups[i].l.r, groups[i].l.n);
        free(groups[i].l.r);
        from = groups[i].cb;
    }
    v->nr = old->nr - gone + added;
    /* the old view's lineage frees the replaced chunks after it */
    old->ndead = ndead;
    old->dead = mt__xmalloc((ndead ? ndead : 1) * sizeof(*old->dead));
    for (size_t i = 0, at = 0; i < ngroups; i++) {
        memcpy(old->dead + at, old->chunks + groups[i].ca,
               (groups[i].cb - groups[i].ca) * sizeof(*old->dead));
        at += groups[i].cb - groups[i].ca;
    }
    assert(!old->lin_next); /* a cached view is the newest of its lineage */
    old->lin_next = v;
    v->lin = old->lin;
    v->kept = kept;
    v->nkept = (uint16_t)nkept;
    mt__dispatch_build(v, old, kept, nkept);
    for (size_t i = 0; i < ngroups; i++)
        mt__dispatch_warm(v, fresh_from[i], fresh_from[i] + chunks_for(groups[i].l.n),
                          parts[groups[i].first].lo, parts[groups[i].end - 1].last);
    view_publish(v, root);
    free(fresh_from);
    free(groups);
    free(parts);
    return v;
}

struct mt__unshared *mt__views_unshared(const mt_view *old, const mt_view *nv, size_t *nout)
{
    size_t on = old ? old->nchunks : 0, nn = nv->nchunks, n = 0;
    /* at most one run more than the runs kept */
    struct mt__unshared *out = mt__xmalloc(((size_t)nv->nkept + 1) * sizeof(*out));
    if (old && old->lin_next == nv) {
        /* made from old: around the runs it kept */
        for (size_t i = 0, o = 0, w = 0; i <= nv->nkept; i++) {
            size_t ot = i < nv->nkept ? nv->kept[i].from : on;
            size_t nt = i < nv->nkept ? nv->kept[i].at : nn;
            if (ot > o || nt > w)
                out[n++] = (struct mt__unshared){o, ot, w, nt};
            if (i < nv->nkept) {
                o = ot + nv->kept[i].n;
                w = nt + nv->kept[i].n;
            }
        }
        *nout = n;
        return out;
    }
    /* otherwise only the chunks both start or end with can be the same */
    size_t h = 0, t = 0;
    while (h < on && h < nn && old->chunks[h] == nv->chunks[h])
        h++;
    while (t < on - h && t < nn - h && old->chunks[on - 1 - t] == nv->chunks[nn - 1 - t])
        t++;
    if (h < on - t || h < nn - t)
        out[n++] = (struct mt__unshared){h, on - t, h, nn - t};
    *nout = n;
    return out;
}

/* The parts of its view an edit changed, in view coordinates, sorted, in
 * an array the caller frees; *n of them. NULL and 0 when they are not
 * parts of a container flat-root (or none of them shows). */
static struct mt__stale_part *changed_parts(const mt_view *v, uint64_t epoch, size_t *nout)
{
    const mt_region *root = v->root;
    const struct mt__region_rare *x = mt__rare_get(root);
    *nout = 0;
    if (v->cut || x->whole_mark == epoch || root->kind_ != MT_KIND_CONTAINER || !x->nstale)
        return NULL;
    struct mt__stale_part *out = mt__xmalloc(x->nstale * sizeof(*out));
    /* the root's own address places the view (docs/views.md) */
    mt__i128 base = root->addr_;
    mt__i128 end = base + mt__size(root) - 1;
    if (end > MT__2_64 - 1)
        end = MT__2_64 - 1;
    size_t n = 0;
    for (size_t i = 0; i < x->nstale; i++) {
        mt__i128 a = base + x->stale[i].lo, b = base + x->stale[i].last;
        if (b > end)
            b = end;
        if (a > b)
            break; /* past the root's end, and so are the parts after it */
        out[n++] = (struct mt__stale_part){(uint64_t)a, (uint64_t)b};
    }
    *nout = n;
    return out;
}

/*
 * Whether the lineage of `v` keeps more waiting chunks than about two
 * views' worth: a reader holds an old view while commits go on, and every
 * view freed since waits for it. Then the next view is rendered whole and
 * starts a lineage of its own, whose views are freed in turn; the old one
 * keeps what it has until the reader lets go. Without this bound, holding
 * one view kept one chunk a commit, without end.
 */
static bool lineage_full(const mt_view *v)
{
    return v->lin->waiting > 64 + 2 * v->nchunks;
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
        size_t nparts;
        struct mt__stale_part *parts = changed_parts(v, epoch, &nparts);
        mt_view *nv = nparts && !lineage_full(v) ? view_splice(ctx, v, root, parts, nparts)
                                                 : NULL;
        free(parts);
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

size_t mt_view_range_count(const mt_view *v)
{
    return mt__null_arg(v, "mt_view_range_count", "view") ? 0 : v->nr;
}

const mt_range *mt_view_ranges(const mt_view *v)
{
    if (mt__null_arg(v, "mt_view_ranges", "view"))
        return NULL;
    if (v->nchunks <= 1)
        return v->nchunks ? v->chunks[0]->ranges : NULL;
    /* One contiguous copy, made on the first call (O(n)) and kept with
     * the view; racing first callers each make one, the first stored wins. */
    _Atomic(mt_range *) *flat = (_Atomic(mt_range *) *)&v->flat;
    mt_range *f = atomic_load_explicit(flat, memory_order_acquire);
    if (f)
        return f;
    mt_range *mine = mt__xmalloc(v->nr * sizeof(*mine)), *none = NULL;
    size_t n = 0;
    MT__FOR_RANGES(v, r)
        mine[n++] = *r;
    if (atomic_compare_exchange_strong_explicit(flat, &none, mine, memory_order_acq_rel,
                                                memory_order_acquire))
        return mine;
    free(mine);
    return none;
}

const mt_range *mt_view_next_range(const mt_view *v, mt_view_cursor *c)
{
    if (mt__null_arg(v, "mt_view_next_range", "view"))
        return NULL;
    if (!c) {
        mt__diag(v->ctx, -EINVAL, "mt_view_next_range: NULL cursor");
        return NULL;
    }
    while (c->chunk_ < v->nchunks) {
        const struct mt__chunk *k = v->chunks[c->chunk_];
        if (c->index_ < k->n)
            return &k->ranges[c->index_++];
        c->chunk_++;
        c->index_ = 0;
    }
    return NULL;
}

mt_region *mt_view_root(const mt_view *v)
{
    return mt__null_arg(v, "mt_view_root", "view") ? NULL : v->root;
}

bool mt_view_is_empty_view(const mt_view *v)
{
    return mt__null_arg(v, "mt_view_is_empty_view", "view") ? false : v->is_empty_view;
}

const char *mt_view_root_name(const mt_view *v)
{
    if (mt__null_arg(v, "mt_view_root_name", "view"))
        return "(none)";
    return v->root_name ? v->root_name : "(none)";
}

