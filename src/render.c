/*
 * Rendering: a flat-root's tree -> the sorted, disjoint, merged ranges of a
 * view (the rules: docs/rendering.md), and nothing else.
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
 *
 * A container with many children keeps them by address too (subregions.c);
 * when the clip is a small part of it, the walk takes from that index only
 * the children meeting the clip, in their render order (frame_children),
 * so a part render of a flat-root of a million children visits a few.
 * Children outside the clip fill nothing, so skipping them changes no
 * rank order among the fills that remain.
 *
 * The walk keeps its own stack on the heap (struct frame), so a chain of a
 * million nested containers costs memory, not C stack. An alias may show a
 * region that contains it; the walk then renders that region again,
 * shifted, with the rules that keep such loops finite (docs/rendering.md,
 * "Loops through aliases"; tests/unit/test_alias_loops.c).
 */
#include "internal.h"
#include "util/heap32.h"

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

struct frame;

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
    struct frame *frames;    /* the walk's stack, kept while small */
    size_t cap_frames;
    /* the children frames take from address indexes, a stack: each such
     * frame's run starts at its `sel` (frame_children) */
    mt_region **sel;
    size_t nsel, cap_sel;
    void **found;            /* what an index query returns */
    size_t nfound, cap_found;
    /* the first loop passes this render cut by rule (b) and by the budget
     * (the alias of each), for the commit's diagnostics */
    const mt_region *cut_alias, *budget_alias;
    bool loop_seen;          /* an alias hop came back to the path */
};

void mt__render_scratch_free(struct mt__render_scratch *s)
{
    if (!s)
        return;
    free(s->fills);
    free(s->order);
    free(s->tmp);
    free(s->heap);
    free(s->frames);
    free(s->sel);
    free(s->found);
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
     * take the references of one range (docs/lifetimes.md): most fills make exactly one,
     * and finish_refs() corrects the others without touching the rest. */
    r->view_refs_++;
    mt__owner_ref(r->owner_);
    s->fills[s->nfills++] = (struct fill){
        .start = (uint64_t)lo,
        .last = (uint64_t)(hi - 1),
        .offset = (uint64_t)(lo - base),
        .region = r,
        /* a reader may be making a deferred backing (region.c) */
        .ram = r->kind_ == MT_KIND_RAM
                   ? (uintptr_t)__atomic_load_n(&r->ram_, __ATOMIC_ACQUIRE) : 0,
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
            /* its frame records and sets the loop mark */
            __builtin_prefetch(&c->walk_mark_, 1);
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
                if (ix->slots[ix->n - k]) /* a hole, not closed until walked */
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

/* One region whose children are being walked: a level of the explicit
 * stack that replaces recursion (a million nested containers must render
 * without a million C frames). Packed, and the clip kept in 64 bits (a
 * frame's clip is never empty, so it ends by 2^64 - 1): 64 bytes a level
 * rather than 80, for a chain a million deep. */
struct __attribute__((packed, aligned(8))) frame {
    mt__i128 base;           /* after rules 2-3 for `region` */
    uint64_t lo, last;       /* the clip [lo, last], after rules 2-3 */
    mt_region *region;
    uint64_t saved_mark;     /* region->walk_mark_ before this frame */
    uint32_t next;           /* children still to walk: [0, next) */
    uint32_t sel;            /* they are s->sel + sel; NO_SEL: the slots */
    uint8_t in_flags;        /* FILL_READONLY/NONVOLATILE inherited from above */
    uint8_t flags;           /* ... with the region's own flags added */
    uint8_t loops;           /* loop passes on the path down to here */
};
_Static_assert(sizeof(struct frame) == 64, "a render frame is one cache line");

/* Loop passes (docs/rendering.md, "Loops through aliases"): a path holds at
 * most this many nested ones; the next renders nothing and is reported. */
#define MT__LOOP_PASSES_MAX 16

/* The work loop passes may do in one render: 16 passes over every region
 * of the context, plus some slack. Past it, loop passes render nothing (and
 * are reported like rule (b)), so many aliases each looping back cannot
 * multiply the work without bound. */
#define MT__LOOP_BUDGET(regions) ((uint64_t)(regions) * MT__LOOP_PASSES_MAX + 65536)

/* Frames kept in the scratch between renders; a deeper stack is freed. */
#define MT__FRAMES_KEPT 4096

/* While the walk is in progress a region with a frame has walk_mark_ = the
 * index of its innermost frame; the frame keeps the value it replaced, so
 * popping restores it (other graph walks see their own marks again) and
 * the frames of one region form a chain. A region off the path may hold
 * any stale value: frame_of() checks the frame it names. */

struct walk {
    struct mt__render_scratch *s;
    struct frame *stack;
    size_t depth, cap;
    uint64_t loop_work;      /* regions visited inside loop passes */
    uint64_t loop_budget;
};

/* The innermost frame of `r`, or SIZE_MAX when r is not on the path. */
static inline size_t frame_of(const struct walk *w, uint64_t mark, const mt_region *r)
{
    return mark < w->depth && w->stack[mark].region == r ? (size_t)mark : SIZE_MAX;
}

/* An alias hop (the last alias `via`) arrives at `t`, which has children
 * and already has frame k on the path; `base` and `in_flags` are t's, as
 * its frame would record them. Decides whether this loop pass renders
 * (docs/rendering.md). Returns false when it renders nothing; `loops` gets
 * the new pass count. */
static bool loop_pass_allowed(struct walk *w, const mt_region *via, const mt_region *t,
                              size_t k, mt__i128 base, uint8_t in_flags, uint8_t *loops)
{
    struct mt__render_scratch *s = w->s;
    /* Rule (a): the same start and inherited flags as a pass further up
     * can only repeat that pass at the same addresses. */
    for (size_t j = k;;) {
        if (w->stack[j].base == base && w->stack[j].in_flags == in_flags)
            return false;
        /* the previous frame of t, which lies above j (a stale value may
         * name a frame below: the chain ends there) */
        size_t up = frame_of(w, w->stack[j].saved_mark, t);
        if (up >= j)
            break;
        j = up;
    }
    /* Rule (b), and the budget that keeps many looping aliases finite. */
    if (*loops >= MT__LOOP_PASSES_MAX) {
        if (!s->cut_alias)
            s->cut_alias = via;
        return false;
    }
    if (w->loop_work > w->loop_budget) {
        if (!s->budget_alias)
            s->budget_alias = via;
        return false;
    }
    ++*loops;
    return true;
}

/* Slot order: priority classes ascending, then the place in the class. */
static int by_slot(const void *a, const void *b)
{
    const mt_region *x = *(mt_region *const *)a, *y = *(mt_region *const *)b;
    if (x->priority_ != y->priority_)
        return x->priority_ < y->priority_ ? -1 : 1;
    return x->slot_ < y->slot_ ? -1 : x->slot_ > y->slot_;
}

/* How many of a container's children an index query may return before
 * the walk takes them all instead: sorting k found children by slot costs
 * about what passing over 8k children does. */
#define SEL_SHARE 8

/* frame.sel of a frame that walks its region's own slots */
#define NO_SEL UINT32_MAX

/*
 * The children of `r` a new frame walks, in reverse render order, and
 * where they are (*sel: an offset in s->sel, or NO_SEL for r's slots).
 * When r keeps an address index and [lo, hi) is a part of it, only the
 * children meeting [lo, hi), sorted by slot: that is their render order,
 * holes and all. Not inside loop passes, whose budget counts the children
 * they visit (MT__LOOP_BUDGET): a render visits the same ones there
 * whether a container has an index or not.
 */
static mt_region *const *frame_children(struct mt__render_scratch *s, mt_region *r,
                                        mt__i128 base, mt__i128 lo, mt__i128 hi,
                                        uint8_t loops, size_t *n, uint32_t *sel)
{
    const struct mt__child_index *ix = r->child_index_;
    *sel = NO_SEL;
    /* enter() clipped [lo, hi) to r's own extent */
    struct mt__ivtree *addr = mt__children_addr(ix);
    if (addr && !loops && (lo > base || hi < base + mt__size(r))) {
        size_t live = ix->n - ix->holes;
        s->nfound = 0;
        if (mt__ivtree_query(addr, (uint64_t)(lo - base), (uint64_t)(hi - 1 - base),
                             live / SEL_SHARE, &s->found, &s->nfound, &s->cap_found)) {
            size_t at = s->nsel, k = s->nfound;
            assert(at < NO_SEL); /* the selections of one path down */
            mt__grow(&s->sel, &s->cap_sel, at + k, sizeof(*s->sel));
            mt_region **run = s->sel + at;
            for (size_t i = 0; i < k; i++)
                run[i] = s->found[i];
            if (k > 1)
                qsort(run, k, sizeof(*run), by_slot);
            s->nsel = at + k;
            *n = k;
            *sel = (uint32_t)at;
            return run;
        }
    }
    return mt__children(r, n);
}

static inline mt_region *const *frame_slots(const struct mt__render_scratch *s,
                                            const struct frame *f)
{
    return f->sel == NO_SEL ? f->region->child_index_->slots : s->sel + f->sel;
}

static void push_frame(struct walk *w, mt_region *r, mt__i128 base, mt__i128 lo,
                       mt__i128 hi, uint8_t in_flags, uint8_t flags, uint8_t loops)
{
    if (w->depth == w->cap)
        mt__grow(&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
    size_t n;
    uint32_t sel;
    mt_region *const *children = frame_children(w->s, r, base, lo, hi, loops, &n, &sel);
    prefetch_children(children, n);
    w->stack[w->depth] = (struct frame){
        .base = base, .lo = (uint64_t)lo, .last = (uint64_t)(hi - 1), .region = r,
        .next = (uint32_t)n, .sel = sel,
        .saved_mark = r->walk_mark_, .in_flags = in_flags, .flags = flags, .loops = loops,
    };
    r->walk_mark_ = w->depth;
    w->depth++;
}

/* Rules 1-4 (docs/rendering.md) for `r` with inherited base, clip and
 * flags, following alias hops; then either a fill (a terminal without
 * children), a new frame (its children are walked next), or nothing. */
static void enter(struct walk *w, mt_region *r, mt__i128 base, mt__i128 lo,
                  mt__i128 hi, uint8_t in_flags, uint8_t loops)
{
    const mt_region *via = NULL; /* the alias whose hop led to r */
    for (;;) {
        if (!mt__enabled(r))
            return;
        base += r->addr_;
        uint8_t flags = in_flags | ((r->flags_ & MT__F_READONLY) ? FILL_READONLY : 0) |
                        ((r->flags_ & MT__F_NONVOLATILE) ? FILL_NONVOLATILE : 0);
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
            base -= (mt__i128)t->addr_ + (mt__i128)r->alias_offset_;
            in_flags = flags;
            via = r;
            r = t;
            continue;
        }
        if (!r->child_index_) {
            if (mt__terminal(r))
                add_fill(w->s, r, base, lo, hi, flags & FILL_READONLY, flags & FILL_NONVOLATILE);
            return;
        }
        /* A loop pass is an alias hop reaching a region already on the
         * path. (Through subregions alone none can: container cycles are
         * refused at the map. Inside a loop pass the walk meets regions
         * of the path again as children; that is the pass itself.) */
        if (via) {
            size_t k = frame_of(w, r->walk_mark_, r);
            w->s->loop_seen |= k != SIZE_MAX;
            if (k != SIZE_MAX &&
                !loop_pass_allowed(w, via, r, k, base, in_flags, &loops))
                return;
        }
        push_frame(w, r, base, lo, hi, in_flags, flags, loops);
        return;
    }
}

/* The rules (docs/rendering.md) over the whole tree under `root`, in
 * QEMU's order: a region's children in render order, then its own fill. */
static void walk(struct mt__render_scratch *s, mt_region *root, mt__i128 clip_lo,
                 mt__i128 clip_hi)
{
    struct walk w = {
        .s = s, .stack = s->frames, .cap = s->cap_frames,
        .loop_budget = MT__LOOP_BUDGET(s->ctx->stats.live_regions),
    };
    enter(&w, root, 0, clip_lo, clip_hi, 0, 0);
    while (w.depth) {
        /* The top frame's children, with its fields in locals: most are
         * plain leaves, filled here without touching the stack. */
        struct frame *f = &w.stack[w.depth - 1];
        const mt__i128 base = f->base, lo = f->lo, hi = (mt__i128)f->last + 1;
        const uint8_t flags = f->flags, loops = f->loops;
        const bool ro = flags & FILL_READONLY, nv = flags & FILL_NONVOLATILE;
        mt_region *const *children = f->next ? frame_slots(s, f) : NULL;
        size_t i = f->next;
        bool pushed = false;
        while (i > 0 && !pushed) {
            prefetch_ahead(children, --i);
            mt_region *c = children[i];
            w.loop_work += loops != 0;
            if (mt__terminal(c) && !c->child_index_ &&
                (c->flags_ & (MT__F_ENABLED | MT__F_READONLY | MT__F_NONVOLATILE)) ==
                    MT__F_ENABLED) {
                mt__i128 cbase = base + c->addr_;
                mt__i128 clo = cbase > lo ? cbase : lo;
                mt__i128 cend = cbase + mt__size(c);
                mt__i128 chi = cend < hi ? cend : hi;
                if (clo < chi)
                    add_fill(s, c, cbase, clo, chi, ro, nv);
                continue;
            }
            size_t depth = w.depth;
            enter(&w, c, base, lo, hi, flags, loops); /* may move the stack */
            pushed = w.depth != depth;
        }
        if (pushed) {
            w.stack[w.depth - 2].next = (uint32_t)i; /* resume there once the child is done */
            continue;
        }
        /* every child done: rule 6, then the frame goes */
        mt_region *r = w.stack[w.depth - 1].region;
        r->walk_mark_ = w.stack[w.depth - 1].saved_mark;
        if (w.stack[w.depth - 1].sel != NO_SEL)
            s->nsel = w.stack[w.depth - 1].sel;
        if (mt__terminal(r))
            add_fill(s, r, base, lo, hi, ro, nv);
        w.depth--;
    }
    /* keep a small stack for the next render, not a deep chain's */
    if (w.cap > MT__FRAMES_KEPT) {
        free(w.stack);
        w.stack = NULL;
        w.cap = 0;
    }
    s->frames = w.stack;
    s->cap_frames = w.cap;
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
        mt__heap32_push(h, n, h[i]);
}

/* ---- 4. emitting with QEMU's merge rule (docs/rendering.md, "Merging") ----------------------- */

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
            mt__heap32_push(heap, &hn, rank_by_start(s, next++));
        }
        if (hn >= prune_at) {
            heap_prune(heap, &hn, f, pos);
            prune_at = 2 * hn + 32;
        }
        while (hn && f[heap[0]].last < pos)
            mt__heap32_pop(heap, &hn);
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

/* Loop passes the render cut are reported once per commit: one
 * diagnostic for rule (b), one for the budget (MT__LOOP_BUDGET). */
enum { CUT_RULE_B = 1, CUT_BUDGET = 2 };
static void report_cuts(mt_context *ctx, const struct mt__render_scratch *s,
                        const char *as_name)
{
    if (s->cut_alias && !(ctx->loop_cuts_reported & CUT_RULE_B)) {
        ctx->loop_cuts_reported |= CUT_RULE_B;
        mt__diag(ctx, -ELOOP,
                 "address space '%s': rendering loop through alias '%s' cut after %d passes",
                 as_name, mt__name(s->cut_alias), MT__LOOP_PASSES_MAX);
    }
    if (s->budget_alias && !(ctx->loop_cuts_reported & CUT_BUDGET)) {
        ctx->loop_cuts_reported |= CUT_BUDGET;
        mt__diag(ctx, -ELOOP,
                 "address space '%s': rendering loops through alias '%s' cut after "
                 "%llu regions rendered in loop passes", as_name, mt__name(s->budget_alias),
                 (unsigned long long)MT__LOOP_BUDGET(ctx->stats.live_regions));
    }
}

/* The walk and the sweep over [lo, last]; `as_name` NULL: a part render,
 * which reports nothing and says whether a loop pass was met. */
static int render_clip(mt_context *ctx, mt_region *root, const char *as_name, mt__i128 lo,
                       mt__i128 hi, mt_range **out, size_t *nr)
{
    if (!ctx->scratch)
        ctx->scratch = mt__xcalloc(1, sizeof(*ctx->scratch));
    struct mt__render_scratch *s = ctx->scratch;
    s->ctx = ctx;
    s->nfills = 0;
    s->nsel = 0;
    s->cut_alias = s->budget_alias = NULL;
    s->loop_seen = false;
    walk(s, root, lo, hi);
    if (as_name)
        report_cuts(ctx, s, as_name);

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
    if (!as_name)
        return s->loop_seen;
    /* a cut render depends on more than the tree (the loop budget counts
     * every live region): the caller must not keep it across commits */
    return s->cut_alias || s->budget_alias;
}

int mt__render(mt_context *ctx, mt_region *root, const char *as_name, mt_range **out,
               size_t *nr)
{
    return render_clip(ctx, root, as_name, 0, MT__2_64, out, nr);
}

int mt__render_part(mt_context *ctx, mt_region *root, uint64_t lo, uint64_t last,
                    mt_range **out, size_t *nr)
{
    return render_clip(ctx, root, NULL, lo, (mt__i128)last + 1, out, nr);
}
