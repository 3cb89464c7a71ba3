/*
 * IOMMU regions beyond translation (docs/access.md, "IOMMUs"): the number of
 * indexes, the minimum page size, and the map/unmap notifiers that the
 * embedder's IOMMU model fires. Translation itself is access.c's.
 *
 * Notifiers are the caller's storage, chained through their private
 * fields. The chain heads ("watches") live in the context rather than in
 * the region, so regions pay nothing for a feature few of them use: one
 * watch per IOMMU region that has notifiers, found by a scan, since a
 * machine has a handful of those at most. A watch exists exactly while its
 * region has notifiers, and finalisation removes it (refusing, or in an
 * owner teardown detaching), so no watch ever names a finalised region.
 */
#include "access_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct watch {
    mt_region *region;          /* a live IOMMU region */
    mt_iommu_notifier *first;   /* never NULL: empty watches are removed */
};

struct mt__iommu_watch {
    struct watch *watches;
    size_t n, cap;
    unsigned firing;            /* mt_iommu_notify calls in progress */
};

/* ---- the watches ------------------------------------------------------------------ */

static struct mt__iommu_watch *state(mt_context *ctx)
{
    if (!ctx->iommu_watch)
        ctx->iommu_watch = mt__xcalloc(1, sizeof(*ctx->iommu_watch));
    return ctx->iommu_watch;
}

static struct watch *watch_of(const mt_region *r)
{
    const struct mt__iommu_watch *s = r->ctx_->iommu_watch;
    if (!s || r->kind_ != MT_KIND_IOMMU)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->watches[i].region == r)
            return &s->watches[i];
    return NULL;
}

static struct watch *watch_add(mt_region *r)
{
    struct mt__iommu_watch *s = state(r->ctx_);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->watches = mt__xrealloc(s->watches, s->cap * sizeof(*s->watches));
    }
    s->watches[s->n] = (struct watch){.region = r};
    return &s->watches[s->n++];
}

/* Order among watches means nothing: the last one fills the hole. */
static void watch_remove(mt_context *ctx, struct watch *w)
{
    struct mt__iommu_watch *s = ctx->iommu_watch;
    *w = s->watches[--s->n];
}

static size_t watch_count(const struct watch *w)
{
    size_t count = 0;
    for (const mt_iommu_notifier *n = w->first; n; n = n->next_)
        count++;
    return count;
}

/* Registration order is delivery order, so new notifiers go last. */
static void watch_append(struct watch *w, mt_iommu_notifier *n)
{
    mt_iommu_notifier **link = &w->first;
    while (*link)
        link = &(*link)->next_;
    n->next_ = NULL;
    *link = n;
}

static void watch_unlink(struct watch *w, mt_iommu_notifier *n)
{
    mt_iommu_notifier **link = &w->first;
    while (*link != n)
        link = &(*link)->next_;
    *link = n->next_;
}

static void notifier_forget(mt_iommu_notifier *n)
{
    n->region_ = NULL;
    n->next_ = NULL;
}

void mt__iommu_watch_free(mt_context *ctx)
{
    if (!ctx->iommu_watch)
        return;
    free(ctx->iommu_watch->watches);
    free(ctx->iommu_watch);
    ctx->iommu_watch = NULL;
}

/* ---- checks ----------------------------------------------------------------------- */

/* The IOMMU region at the end of r's alias chain (docs/access.md, "IOMMUs"),
 * or NULL after a diagnostic. Alias targets outlive their aliases, so the
 * chain is live. */
static mt_region *iommu_target(mt_region *r, const char *op)
{
    if (!mt__region_live(r)) {
        mt__region_misuse(r, op);
        return NULL;
    }
    mt_region *t = r;
    while (t->kind_ == MT_KIND_ALIAS)
        t = t->alias_;
    if (t->kind_ == MT_KIND_IOMMU)
        return t;
    if (t == r)
        mt__diag(r->ctx_, -EINVAL, "%s: '%s' is not an IOMMU region", op, mt__name(r));
    else
        mt__diag(r->ctx_, -EINVAL,
                 "%s: the alias chain from '%s' ends at '%s', which is not an IOMMU region",
                 op, mt__name(r), mt__name(t));
    return NULL;
}

/* ops->num_indexes, or 1; -EINVAL after a diagnostic for a count below 1,
 * which would leave no index to translate with. */
static int index_count(mt_region *t, const char *op)
{
    const mt_iommu_ops *ops = mt__rare_get(t)->iommu_ops;
    if (!ops->num_indexes)
        return 1;
    int n = ops->num_indexes(t->opaque_);
    if (n < 1)
        return mt__diag(t->ctx_, -EINVAL, "%s: IOMMU '%s' reports %d indexes (at least 1 needed)",
                        op, mt__name(t), n);
    return n;
}

static int check_index(mt_region *t, int index, const char *op)
{
    int n = index_count(t, op);
    if (n < 0)
        return n;
    if (index < 0 || index >= n)
        return mt__diag(t->ctx_, -EINVAL, "%s: index %d is out of range for IOMMU '%s' (%d indexes)",
                        op, index, mt__name(t), n);
    return 0;
}

/* The region's last offset; false for a region of size 0, which has none. */
static bool last_offset(const mt_region *t, uint64_t *last)
{
    if (t->size_full_) {
        *last = UINT64_MAX;
        return true;
    }
    *last = t->size_ - 1;
    return t->size_ != 0;
}

static int check_range(mt_region *t, const mt_iommu_notifier *n, const char *op)
{
    uint64_t end;
    if (n->start <= n->last && last_offset(t, &end) && n->last <= end)
        return 0;
    char size[24];
    if (t->size_full_)
        snprintf(size, sizeof(size), "2^64");
    else
        snprintf(size, sizeof(size), "0x%" PRIx64, t->size_);
    return mt__diag(t->ctx_, -EINVAL,
                    "%s: range [0x%" PRIx64 ", 0x%" PRIx64 "] is empty or not inside IOMMU '%s' "
                    "(size %s)", op, n->start, n->last, mt__name(t), size);
}

static int check_notifier(mt_region *t, const mt_iommu_notifier *n, const char *op)
{
    mt_context *ctx = t->ctx_;
    if (!n->notify)
        return mt__diag(ctx, -EINVAL, "%s: notifier %p on IOMMU '%s' has no callback", op,
                        (const void *)n, mt__name(t));
    if (!n->flags || (n->flags & ~(unsigned)MT_IOMMU_NOTIFY_MAP_UNMAP))
        return mt__diag(ctx, -EINVAL,
                        "%s: notifier %p on IOMMU '%s' has flags 0x%x; it needs MAP, UNMAP "
                        "or both and nothing else", op, (const void *)n, mt__name(t), n->flags);
    int err = check_range(t, n, op);
    return err ? err : check_index(t, n->index, op);
}

/* The lists must not change under mt_iommu_notify's walk. */
static int refuse_while_firing(mt_context *ctx, const char *op)
{
    if (ctx->iommu_watch && ctx->iommu_watch->firing)
        return mt__diag(ctx, -EBUSY, "%s: called from an IOMMU notifier callback", op);
    return 0;
}

/* ---- indexes and page size ---------------------------------------------------------- */

int mt_iommu_num_indexes(mt_region *r)
{
    static const char op[] = "mt_iommu_num_indexes";
    mt_region *t = iommu_target(r, op);
    return t ? index_count(t, op) : -EINVAL;
}

uint64_t mt_iommu_min_page_size(mt_region *r)
{
    static const char op[] = "mt_iommu_min_page_size";
    mt_region *t = iommu_target(r, op);
    if (!t)
        return 0;
    const mt_iommu_ops *ops = mt__rare_get(t)->iommu_ops;
    if (!ops->min_page_size)
        return mt__page_size(t->ctx_);
    uint64_t size = ops->min_page_size(t->opaque_);
    if (!size || (size & (size - 1))) {
        mt__diag(t->ctx_, -EINVAL, "%s: IOMMU '%s' reports 0x%" PRIx64
                 ", which is not a power of two", op, mt__name(t), size);
        return 0;
    }
    return size;
}

/* ---- registration --------------------------------------------------------------------- */

void mt_iommu_notifier_init(mt_iommu_notifier *n, mt_iommu_notify_fn notify,
                            unsigned flags, uint64_t start, uint64_t last, int index)
{
    if (mt__null_arg(n, "mt_iommu_notifier_init", "notifier"))
        return;
    *n = (mt_iommu_notifier){.notify = notify, .flags = flags, .start = start,
                             .last = last, .index = index};
}

int mt_iommu_notifier_register(mt_region *r, mt_iommu_notifier *n)
{
    static const char op[] = "mt_iommu_notifier_register";
    mt_region *t = iommu_target(r, op);
    if (!t)
        return -EINVAL;
    mt_context *ctx = t->ctx_;
    if (!n)
        return mt__diag(ctx, -EINVAL, "%s: NULL notifier for IOMMU '%s'", op, mt__name(t));
    if (n->region_)
        return mt__diag(ctx, -EBUSY, "%s: notifier %p is already registered on IOMMU '%s'",
                        op, (const void *)n, mt__name(n->region_));
    int err = refuse_while_firing(ctx, op);
    if (!err)
        err = check_notifier(t, n, op);
    if (err)
        return err;
    struct watch *w = watch_of(t);
    watch_append(w ? w : watch_add(t), n);
    n->region_ = t;
    return 0;
}

int mt_iommu_notifier_unregister(mt_iommu_notifier *n)
{
    if (!n || !n->region_)
        return -ENOENT;
    mt_region *t = n->region_;
    int err = refuse_while_firing(t->ctx_, "mt_iommu_notifier_unregister");
    if (err)
        return err;
    struct watch *w = watch_of(t);
    assert(w);
    watch_unlink(w, n);
    if (!w->first)
        watch_remove(t->ctx_, w);
    notifier_forget(n);
    return 0;
}

/* ---- events ------------------------------------------------------------------------- */

static int check_event(mt_region *t, const mt_iommu_event *ev, const char *op)
{
    mt_context *ctx = t->ctx_;
    if (!ev)
        return mt__diag(ctx, -EINVAL, "%s: NULL event for IOMMU '%s'", op, mt__name(t));
    const mt_iommu_tlb_entry *e = &ev->entry;
    if (ev->type != MT_IOMMU_NOTIFY_MAP && ev->type != MT_IOMMU_NOTIFY_UNMAP)
        return mt__diag(ctx, -EINVAL, "%s: event type %d for IOMMU '%s' is neither MAP nor UNMAP",
                        op, (int)ev->type, mt__name(t));
    /* a mask of low bits keeps iova + addr_mask from wrapping */
    if (e->addr_mask & (e->addr_mask + 1))
        return mt__diag(ctx, -EINVAL, "%s: addr_mask 0x%" PRIx64 " for IOMMU '%s' is not 2^k - 1",
                        op, e->addr_mask, mt__name(t));
    if (e->iova & e->addr_mask)
        return mt__diag(ctx, -EINVAL, "%s: iova 0x%" PRIx64 " for IOMMU '%s' is not aligned to "
                        "addr_mask 0x%" PRIx64, op, e->iova, mt__name(t), e->addr_mask);
    bool unmap = ev->type == MT_IOMMU_NOTIFY_UNMAP;
    if ((unsigned)e->perm > MT_IOMMU_RW || unmap != (e->perm == MT_IOMMU_NONE))
        return mt__diag(ctx, -EINVAL, "%s: %s event for IOMMU '%s' has permissions %d; an unmap "
                        "has none, a map some", op, unmap ? "UNMAP" : "MAP", mt__name(t),
                        (int)e->perm);
    return 0;
}

/* The event as `n` sees it, clipped to n's range (see mt_iommu_notify_fn);
 * false when the two do not overlap. */
static bool clip_event(const mt_iommu_notifier *n, const mt_iommu_event *ev,
                       mt_iommu_event *out)
{
    uint64_t first = ev->entry.iova;
    uint64_t last = first + ev->entry.addr_mask;
    if (n->start > last || n->last < first)
        return false;
    uint64_t lo = first > n->start ? first : n->start;
    uint64_t hi = last < n->last ? last : n->last;
    *out = *ev;
    out->entry.iova = lo;
    out->entry.addr_mask = hi - lo;
    if (ev->type == MT_IOMMU_NOTIFY_MAP) /* an unmap's says nothing */
        out->entry.translated_addr += lo - first;
    return true;
}

static bool wants(const mt_iommu_notifier *n, int index, const mt_iommu_event *ev)
{
    return n->index == index && (n->flags & ev->type);
}

int mt_iommu_notify(mt_region *r, int index, const mt_iommu_event *ev)
{
    static const char op[] = "mt_iommu_notify";
    mt_region *t = iommu_target(r, op);
    if (!t)
        return -EINVAL;
    int err = check_index(t, index, op);
    if (!err)
        err = check_event(t, ev, op);
    if (err)
        return err;
    const struct watch *w = watch_of(t);
    if (!w)
        return 0;
    struct mt__iommu_watch *s = t->ctx_->iommu_watch;
    int called = 0;
    s->firing++;
    /* Registration is refused meanwhile; the region check stops the walk
     * should a callback tear the region's owner down (which detaches). */
    for (mt_iommu_notifier *n = w->first; n && n->region_ == t; n = n->next_) {
        mt_iommu_event seen;
        if (!wants(n, index, ev) || !clip_event(n, ev, &seen))
            continue;
        n->notify(n, &seen);
        called++;
    }
    s->firing--;
    return called;
}

/* ---- finalisation -------------------------------------------------------------------- */

int mt__iommu_finalize_check(mt_region *r)
{
    const struct watch *w = watch_of(r);
    if (!w)
        return 0;
    const mt_iommu_notifier *n = w->first;
    return mt__diag(r->ctx_, -EBUSY,
                    "finalize '%s': %zu IOMMU notifier(s) still registered, the first %p "
                    "(flags 0x%x, index %d, [0x%" PRIx64 ", 0x%" PRIx64 "]); unregister them first",
                    mt__name(r), watch_count(w), (const void *)n, n->flags, n->index, n->start,
                    n->last);
}

void mt__iommu_region_gone(mt_region *r)
{
    struct watch *w = watch_of(r);
    if (!w)
        return;
    size_t count = watch_count(w);
    for (mt_iommu_notifier *n = w->first, *next; n; n = next) {
        next = n->next_;
        notifier_forget(n);
    }
    watch_remove(r->ctx_, w);
    mt__diag(r->ctx_, -EBUSY,
             "finalising IOMMU '%s' detaches %zu notifier(s) still registered on it",
             mt__name(r), count);
}
