/*
 * Rendering: a flat-root's tree -> the sorted, disjoint, merged ranges of a
 * view (memory-model.md section 4), and nothing else.
 *
 * QEMU walks the tree and, for every terminal region, inserts the parts of
 * its clip not yet covered into a sorted array: O(n^2) in the worst case.
 * The walk itself only decides an order. Each terminal region visited
 * "fills" its clip, and an address belongs to the FIRST fill whose clip
 * contains it. So memtree:
 *   1. walks the tree once, recording every fill in walk order: a fill's
 *      index in that array is its rank;
 *   2. lists the ranks by start address: the walk order itself when it is
 *      already sorted or reversed (maps built in address order), else a
 *      radix sort (linear);
 *   3. sweeps the address space left to right with a min-heap of the ranks
 *      of the fills covering the current address: the heap's top owns the
 *      address until it ends or a new fill starts;
 *   4. merges neighbours as QEMU's simplification does, while emitting.
 * That is O(n log n) with a small constant, and gives QEMU's exact result:
 * the merge rule makes the output depend only on which fill owns each byte.
 *
 * The walk is bound by memory latency: regions, child arrays and alias
 * targets sit anywhere. It prefetches each link of those chains a few
 * siblings ahead (prefetch_ahead), so the misses overlap.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* One terminal region's contribution: the clip [start, last] it fills,
 * its offset at `start`, and the flags inherited along its path. Its rank
 * is its index in the walk-order array, so the fill does not store it. */
struct fill {
    uint64_t start;
    uint64_t last;
    uint64_t offset;
    mt_region *region;
    uintptr_t ram;           /* the region's RAM backing, 0 if not RAM */
    uint32_t ranges;         /* ranges this fill started, set by the sweep */
    uint8_t attrs;           /* FILL_* */
    uint8_t dirty_mask;
};

enum { FILL_READONLY = 1, FILL_NONVOLATILE = 2, FILL_ROMD = 4 };

struct sort_item {
    uint64_t key;
    uint32_t rank;
};

/* How the sweep finds the k-th fill by start address. */
enum fill_order { ORDER_WALK, ORDER_REVERSED, ORDER_SORTED };

struct mt__render_scratch {
    const mt_context *ctx;
    struct fill *fills;      /* in walk order: fills[rank] */
    size_t nfills, cap_fills;
    enum fill_order order_kind;
    struct sort_item *order, *tmp; /* ORDER_SORTED: (start, rank) by start */
    uint32_t *heap;          /* ranks */
    size_t cap_order;
};

void mt__render_scratch_free(struct mt__render_scratch *s)
{
    if (!s)
        return;
    free(s->fills);
    free(s->order);
    free(s->tmp);
    free(s->heap);
    free(s);
}

/* ---- 1. the walk -------------------------------------------------------- */

static void add_fill(struct mt__render_scratch *s, mt_region *r, mt__i128 base,
                     mt__i128 lo, mt__i128 hi, bool ro, bool nv)
{
    if (s->nfills == s->cap_fills) {
        s->cap_fills = s->cap_fills ? s->cap_fills * 2 : 256;
        s->fills = mt__xrealloc(s->fills, s->cap_fills * sizeof(*s->fills));
    }
    /* Copy what the ranges need now, while the region is in cache, and
     * take the references of one range (8.3): most fills make exactly one,
     * and finish_refs() corrects the others without touching the rest. */
    r->view_refs_++;
    mt__owner_ref(r->owner_);
    s->fills[s->nfills++] = (struct fill){
        .start = (uint64_t)lo,
        .last = (uint64_t)(hi - 1),
        .offset = (uint64_t)(lo - base),
        .region = r,
        .ram = r->kind_ == MT_KIND_RAM ? (uintptr_t)r->ram_ : 0,
        .attrs = (uint8_t)((ro ? FILL_READONLY : 0) | (nv ? FILL_NONVOLATILE : 0) |
                           ((r->flags_ & MT__F_ROMD) ? FILL_ROMD : 0)),
        .dirty_mask = mt__dirty_mask(s->ctx, r),
    };
}

/* The fields the walk reads may straddle two cache lines: the line of the
 * start, and that of alias_offset_, which only aliases need. */
static inline void prefetch_region(const mt_region *r)
{
    __builtin_prefetch(r);
    __builtin_prefetch((const char *)r + offsetof(mt_region, alias_));
}
static inline void prefetch_alias_tail(const mt_region *r)
{
    __builtin_prefetch((const char *)r + offsetof(mt_region, alias_offset_));
}

/* What a region renders the children of: an alias's target, else itself. */
static inline const mt_region *rendered(const mt_region *c)
{
    return c->alias_ ? c->alias_ : c;
}

/* A container's children are few and walked soon: fetch up to this many. */
#define PREFETCH_FANOUT 32

/* The walk's misses come in chains: a child's fields, then its alias
 * target or its child index, then the slot array, then the grandchildren.
 * Prefetching a link just before reading it waits for every link in turn,
 * so while the walk is at child i, child i - d gets link d of its chain
 * (prefetch_ahead): each link has some siblings' worth of time to arrive,
 * and each stage reads only lines an earlier stage fetched. */
#define PREFETCH_STAGES 4
static inline void prefetch_stage(const mt_region *c, unsigned stage)
{
    const struct mt__child_index *ix;
    switch (stage) {
    case 4:
        prefetch_region(c);
        break;
    case 3:
        if (c->alias_) {
            prefetch_alias_tail(c);
            prefetch_region(c->alias_);
        } else if (c->child_index_) {
            __builtin_prefetch(c->child_index_);
        }
        break;
    case 2:
        /* the slots, from the end: the walk reads them backwards */
        if ((ix = rendered(c)->child_index_) != NULL) {
            size_t n = ix->n < PREFETCH_FANOUT ? ix->n : PREFETCH_FANOUT;
            for (size_t k = 0; k < n; k += 8)
                __builtin_prefetch(&ix->slots[ix->n - 1 - k]);
        }
        break;
    case 1:
        if ((ix = rendered(c)->child_index_) != NULL) {
            size_t n = ix->n < PREFETCH_FANOUT ? ix->n : PREFETCH_FANOUT;
            for (size_t k = 1; k <= n; k++)
                prefetch_region(ix->slots[ix->n - k]);
        }
        break;
    }
}

static inline void prefetch_ahead(mt_region *const *children, size_t i)
{
    for (unsigned d = PREFETCH_STAGES; d >= 1; d--)
        if (i >= d)
            prefetch_stage(children[i - d], d);
}

/* Before a container's children are walked: the first few get what
 * prefetch_ahead() is too late for, and every child's alias target (they
 * sit anywhere) is started now, the children being in cache or on their
 * way (stage 1 of the parent's walk). */
static inline void prefetch_children(mt_region *const *children, size_t n)
{
    size_t first = n < PREFETCH_STAGES ? n : PREFETCH_STAGES;
    for (size_t k = 1; k <= first; k++)
        prefetch_region(children[n - k]);
    size_t m = n < PREFETCH_FANOUT ? n : PREFETCH_FANOUT;
    for (size_t k = 1; k <= m; k++)
        if (children[n - k]->alias_)
            prefetch_region(children[n - k]->alias_);
}

/* Rules 1-7 of 4.1, with the clip kept as [lo, hi). */
static void walk(struct mt__render_scratch *s, mt_region *r, mt__i128 base,
                 mt__i128 lo, mt__i128 hi, bool ro, bool nv)
{
    if (!mt__enabled(r))
        return;
    base += r->addr_;
    ro |= (r->flags_ & MT__F_READONLY) != 0;
    nv |= (r->flags_ & MT__F_NONVOLATILE) != 0;
    mt__i128 end = base + mt__size(r);
    if (base > lo)
        lo = base;
    if (end < hi)
        hi = end;
    if (lo >= hi)
        return;
    if (r->kind_ == MT_KIND_ALIAS) {
        mt_region *t = r->alias_;
#ifdef MT_CHECKING
        /* only an owner teardown with an alias of another owner gets here */
        if (t->magic_ != MT__REGION_LIVE)
            mt__hazard(r, "alias '%s' targets finalised region '%s' (id %llu)",
                       mt__name(r), mt__tombstone_name(t), (unsigned long long)t->id_);
#endif
        walk(s, t, base - (mt__i128)t->addr_ - (mt__i128)r->alias_offset_, lo, hi, ro, nv);
        return;
    }
    size_t n;
    mt_region *const *children = mt__children(r, &n);
    prefetch_children(children, n);
    for (size_t i = n; i-- > 0;) {
        prefetch_ahead(children, i);
        mt_region *c = children[i];
        /* Most children are plain terminal leaves: rules 1-7 inline, without
         * the cost of a recursive call. */
        if (mt__terminal(c) && !c->child_index_ &&
            (c->flags_ & (MT__F_ENABLED | MT__F_READONLY | MT__F_NONVOLATILE)) == MT__F_ENABLED) {
            mt__i128 cbase = base + c->addr_;
            mt__i128 clo = cbase > lo ? cbase : lo;
            mt__i128 cend = cbase + mt__size(c);
            mt__i128 chi = cend < hi ? cend : hi;
            if (clo < chi)
                add_fill(s, c, cbase, clo, chi, ro, nv);
            continue;
        }
        walk(s, c, base, lo, hi, ro, nv);
    }
    if (mt__terminal(r))
        add_fill(s, r, base, lo, hi, ro, nv);
}

/* ---- 2. listing the fills by start -------------------------------------- */

static void ensure_order(struct mt__render_scratch *s, size_t n)
{
    if (n <= s->cap_order)
        return;
    s->cap_order = n;
    s->order = mt__xrealloc(s->order, n * sizeof(*s->order));
    s->tmp = mt__xrealloc(s->tmp, n * sizeof(*s->tmp));
    s->heap = mt__xrealloc(s->heap, n * sizeof(*s->heap));
    /* order and tmp are touched only when the fills need sorting, so maps
     * built in address order never fault their pages in */
}

/* LSD radix sort on 11-bit digits, stable, skipping digits that are the
 * same for every key (the high digits of most maps). Small digits keep the
 * count table in L1 and cheap to clear for small views. */
#define DIGIT_BITS 11
#define DIGIT_VALUES (1u << DIGIT_BITS)
static void sort_by_start(struct mt__render_scratch *s, size_t n)
{
    struct sort_item *a = s->order, *b = s->tmp;
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < n; i++) {
        all_or |= a[i].key;
        all_and &= a[i].key;
    }
    uint64_t varying = all_or ^ all_and;
    size_t count[DIGIT_VALUES];
    const uint64_t mask = DIGIT_VALUES - 1;
    for (unsigned shift = 0; shift < 64; shift += DIGIT_BITS) {
        if (((varying >> shift) & mask) == 0)
            continue;
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[(a[i].key >> shift) & mask]++;
        size_t sum = 0;
        for (size_t d = 0; d < DIGIT_VALUES; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[(a[i].key >> shift) & mask]++] = a[i];
        struct sort_item *t = a;
        a = b;
        b = t;
    }
    s->order = a;
    s->tmp = b;
}

static void insertion_sort(struct sort_item *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct sort_item x = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].key > x.key) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
}

/* Decides how the sweep finds the fills in start order. Maps built in
 * address order come out of the walk sorted or reversed (newest mapped
 * renders first), so check that before sorting. */
static void order_fills(struct mt__render_scratch *s)
{
    size_t n = s->nfills;
    const struct fill *fills = s->fills;
    bool ascending = true, descending = true;
    for (size_t i = 1; i < n && (ascending || descending); i++) {
        ascending &= fills[i - 1].start <= fills[i].start;
        descending &= fills[i - 1].start >= fills[i].start;
    }
    /* Fills with equal starts enter the heap together, so neither their
     * order here nor the sort's stability matters. */
    if (ascending) {
        s->order_kind = ORDER_WALK;
        return;
    }
    if (descending) {
        s->order_kind = ORDER_REVERSED;
        return;
    }
    s->order_kind = ORDER_SORTED;
    for (size_t i = 0; i < n; i++)
        s->order[i] = (struct sort_item){.key = fills[i].start, .rank = (uint32_t)i};
    if (n < 64)
        insertion_sort(s->order, n);
    else
        sort_by_start(s, n);
}

/* The rank of the k-th fill by start address. */
static inline uint32_t rank_by_start(const struct mt__render_scratch *s, size_t k)
{
    switch (s->order_kind) {
    case ORDER_WALK:
        return (uint32_t)k;
    case ORDER_REVERSED:
        return (uint32_t)(s->nfills - 1 - k);
    default:
        return s->order[k].rank;
    }
}

/* The start of the k-th fill by start address (the sort items carry it,
 * so a sorted sweep reads a fill only once it enters the heap). */
static inline uint64_t start_by_start(const struct mt__render_scratch *s, size_t k)
{
    if (s->order_kind == ORDER_SORTED)
        return s->order[k].key;
    return s->fills[rank_by_start(s, k)].start;
}

/* ---- 3. the sweep: a min-heap of ranks ---------------------------------- */

static void heap_push(uint32_t *h, size_t *n, uint32_t rank)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent] <= rank)
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = rank;
}

static void heap_pop(uint32_t *h, size_t *n)
{
    uint32_t x = h[--(*n)];
    size_t i = 0, size = *n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size)
            break;
        if (child + 1 < size && h[child + 1] < h[child])
            child++;
        if (h[child] >= x)
            break;
        h[i] = h[child];
        i = child;
    }
    if (size)
        h[i] = x;
}

/* Ended fills are removed lazily, only when they reach the top. A fill that
 * ends while a better one is on top stays buried: with regions mapped in
 * address order every new fill outranks the old ones and the heap would
 * grow to n. So when it doubles, drop what has ended and heapify again. */
static void heap_prune(uint32_t *h, size_t *n, const struct fill *f, uint64_t pos)
{
    size_t live = 0;
    for (size_t i = 0; i < *n; i++)
        if (f[h[i]].last >= pos)
            h[live++] = h[i];
    *n = 0;
    for (size_t i = 0; i < live; i++)
        heap_push(h, n, h[i]);
}

/* ---- 4. emitting with QEMU's merge rule (4.6) --------------------------- */

struct out {
    mt_range *ranges;
    size_t n, cap;
};

static void emit(struct out *o, struct fill *f, uint64_t start, uint64_t last)
{
    uint64_t offset = f->offset + (start - f->start);
    mt_region *r = f->region;
    bool ro = (f->attrs & FILL_READONLY) != 0;
    bool nv = (f->attrs & FILL_NONVOLATILE) != 0;
    bool romd = (f->attrs & FILL_ROMD) != 0;
    if (o->n) {
        mt_range *p = &o->ranges[o->n - 1];
        if (p->region == r && p->last + 1 == start &&
            p->offset_in_region + (p->last - p->start) + 1 == offset &&
            p->readonly == ro && p->nonvolatile == nv && p->romd_mode == romd &&
            p->dirty_log_mask == f->dirty_mask) {
            p->last = last;
            return;
        }
    }
    assert(o->n < o->cap);
    o->ranges[o->n++] = (mt_range){
        .start = start,
        .last = last,
        .offset_in_region = offset,
        .region = r,
        .readonly = ro,
        .nonvolatile = nv,
        .romd_mode = romd,
        .dirty_log_mask = f->dirty_mask,
        .host_ = f->ram ? f->ram + (uintptr_t)offset : 0,
    };
    f->ranges++;
}

/* Each fill took one range's references in the walk; settle the fills that
 * started none (hidden) or several (split by a higher-ranked fill). */
static void finish_refs(struct fill *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].ranges == 1)
            continue;
        mt_region *r = f[i].region;
        int32_t delta = (int32_t)f[i].ranges - 1;
        r->view_refs_ += (uint32_t)delta;
        if (r->owner_)
            r->owner_->refs_ += (uint32_t)delta;
    }
}

/* How far ahead a sorted sweep starts loading the fills it will push. */
#define SWEEP_PREFETCH 16

static void sweep(struct mt__render_scratch *s, struct out *o)
{
    struct fill *f = s->fills;
    uint32_t *heap = s->heap;
    size_t n = s->nfills, next = 0, hn = 0, prune_at = 32;
    bool sorted = s->order_kind == ORDER_SORTED;
    uint64_t pos = 0;
    for (;;) {
        if (hn == 0) {
            if (next == n)
                break;
            pos = start_by_start(s, next);
        }
        while (next < n && start_by_start(s, next) <= pos) {
            if (sorted && next + SWEEP_PREFETCH < n)
                __builtin_prefetch(&f[s->order[next + SWEEP_PREFETCH].rank]);
            heap_push(heap, &hn, rank_by_start(s, next++));
        }
        if (hn >= prune_at) {
            heap_prune(heap, &hn, f, pos);
            prune_at = 2 * hn + 32;
        }
        while (hn && f[heap[0]].last < pos)
            heap_pop(heap, &hn);
        if (hn == 0)
            continue;
        struct fill *winner = &f[heap[0]];
        uint64_t last = winner->last;
        /* a fill starting later may outrank the winner: stop before it */
        if (next < n && start_by_start(s, next) - 1 < last)
            last = start_by_start(s, next) - 1;
        emit(o, winner, pos, last);
        if (last == UINT64_MAX)
            break;
        pos = last + 1;
    }
}

int mt__render(mt_context *ctx, mt_region *root, mt_range **out, size_t *nr)
{
    if (!ctx->scratch)
        ctx->scratch = mt__xcalloc(1, sizeof(*ctx->scratch));
    struct mt__render_scratch *s = ctx->scratch;
    s->ctx = ctx;
    s->nfills = 0;
    walk(s, root, 0, 0, MT__2_64, false, false);

    size_t n = s->nfills;
    if (n > UINT32_MAX / 2) {
        /* fatal, but said through the context's hook first */
        mt__diag(ctx, -ENOMEM, "a view of more than 2^31 fills is not supported");
        abort();
    }
    ensure_order(s, n);
    order_fills(s);

    /* each fill ends at most one range and starts at most one: the bound
     * lets emit() append without checks; untouched pages cost nothing */
    struct out o = {.cap = 2 * n + 1};
    o.ranges = mt__xmalloc(o.cap * sizeof(*o.ranges));
    sweep(s, &o);
    finish_refs(s->fills, n);
    if (o.n < o.cap)
        o.ranges = mt__xrealloc(o.ranges, (o.n ? o.n : 1) * sizeof(*o.ranges));
    *out = o.ranges;
    *nr = o.n;
    return 0;
}
