/*
 * Transactions and the commit pipeline: edits only mark the topology
 * pending; the outermost commit rebuilds the view cache once, then, between
 * a global begin and commit to every listener, switches each address space
 * to its new view and sends its listeners the difference
 * (docs/transactions.md, "What the outermost commit does").
 *
 * Re-entrancy (docs/threads.md): listener callbacks may edit and commit.
 * A commit that reaches depth 0 while listener calls are in progress only
 * leaves its edits pending; the outer commit then processes them once its
 * own listener calls are done, so no listener ever sees a begin inside a
 * begin, and a chain of such commits is a loop here, not a recursion.
 *
 * Change tracking: every edit marks the regions whose rendering can show
 * it (mt__touch); the outermost commit re-renders the views of marked
 * flat-roots only and keeps the others, sending their listeners what a
 * re-render would have made them hear: region_nop for each range.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void mt__txn_begin(mt_context *ctx)
{
    /* a writer entry: free what readers are done with (never waits) */
    mt__reclaim_step(ctx);
    /* Every begin, internal ones too: each edit is a transaction (6). The
     * hook may edit the tree itself; those edits begin too, and must not
     * call it again. */
    if (ctx->flush && !ctx->flushing) {
        ctx->flushing = true;
        ctx->flush(ctx->flush_opaque);
        ctx->flushing = false;
    }
    ctx->txn_depth++;
}

/* Destroyed address spaces have had their region_del: unlink them and
 * hand them to reclamation (docs/views.md, "Destroying an address space"). */
static void retire_destroyed(mt_context *ctx)
{
    for (mt_address_space *as = ctx->as_first, *next; as; as = next) {
        next = as->next;
        if (as->root)
            continue;
        mt__listeners_detach_all(as);
        if (as->prev)
            as->prev->next = as->next;
        else
            ctx->as_first = as->next;
        if (as->next)
            as->next->prev = as->prev;
        else
            ctx->as_last = as->prev;
        /* readers may still be inside its last view: freed after them */
        as->prev = NULL;
        as->next = ctx->retired_as;
        ctx->retired_as = as;
    }
}

/* ---- change tracking ------------------------------------------------------ */

/* How many regions one edit's walk may mark before it gives up and has
 * the commit render everything: what a commit would render anyway when
 * an edit reaches that much (a deep chain of containers, an alias of a
 * region every address space shows). Every address space may need a path
 * of its own, hence the part that grows with them. */
static size_t touch_budget(const mt_context *ctx)
{
    return 256 + 4 * (size_t)ctx->stats.address_spaces;
}

/* Marks the regions pushed on ctx->touch_stack (n of them) as changed
 * anywhere, and what reaches them. */
static void touch_pushed(mt_context *ctx, size_t n);

/* Marks what reaches `r` (not r itself) as changed anywhere. */
static void touch_above(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    size_t n = 0;
    if (r->container_)
        MT__PUSH(ctx->touch_stack, n, ctx->touch_cap) = r->container_;
    for (mt_region *a = mt__rare_get(r)->aliases; a; a = a->rare_->alias_next)
        MT__PUSH(ctx->touch_stack, n, ctx->touch_cap) = a;
    touch_pushed(ctx, n);
}

/* The marks serve only the views in the cache: a view built later in the
 * epoch already shows every edit made before it. A loader building a whole
 * machine before its first address space (format/machine.c) so leaves its
 * regions without the side struct the marks live in. */
static bool marks_needed(const mt_context *ctx)
{
    return ctx->cache && !ctx->stale_all;
}

/* Adds [*lo, *last] to x's stale parts, joining the parts it overlaps or
 * touches, and the two closest parts when there would be more than the
 * context's stale_parts; false if one part held it already. What is
 * marked above x must cover x's parts, so a join of two parts widens
 * [*lo, *last] to take in the gap between them, which nothing above has
 * yet. */
static bool stale_add(mt_context *ctx, struct mt__region_rare *x, uint64_t *lo_io,
                      uint64_t *last_io)
{
    size_t limit = ctx->stale_parts;
    if (x->nstale == x->stale_cap) {
        /* doubling from MT__STALE_KEPT, which a region edited in a few
         * places keeps; past it, the commit cuts the array back */
        size_t cap = x->stale_cap ? 2 * (size_t)x->stale_cap : MT__STALE_KEPT;
        if (x->stale_cap == MT__STALE_KEPT)
            MT__PUSH(ctx->parts_grown, ctx->nparts_grown, ctx->parts_grown_cap) = x;
        x->stale = mt__xrealloc(x->stale, cap * sizeof(*x->stale));
        x->stale_cap = (uint16_t)cap;
    }
    struct mt__stale_part *p = x->stale;
    uint64_t lo = *lo_io, last = *last_io;
    size_t n = x->nstale, i = 0, j;
    while (i < n && p[i].last < lo && lo - p[i].last > 1)
        i++; /* wholly before, a gap between */
    for (j = i; j < n && (last == UINT64_MAX || p[j].lo <= last + 1); j++) {
        if (p[j].lo <= lo && last <= p[j].last)
            return false;
        lo = p[j].lo < lo ? p[j].lo : lo;
        last = p[j].last > last ? p[j].last : last;
    }
    /* the parts it meets, [i, j), become one */
    memmove(p + i + 1, p + j, (n - j) * sizeof(*p));
    p[i] = (struct mt__stale_part){lo, last};
    n = n - (j - i) + 1;
    while (n > limit) {
        size_t join = 0;
        for (size_t k = 1; k + 1 < n; k++)
            if (p[k + 1].lo - p[k].last < p[join + 1].lo - p[join].last)
                join = k;
        *lo_io = p[join].lo < *lo_io ? p[join].lo : *lo_io;
        *last_io = p[join + 1].last > *last_io ? p[join + 1].last : *last_io;
        p[join].last = p[join + 1].last;
        memmove(p + join + 1, p + join + 2, (n - join - 2) * sizeof(*p));
        n--;
    }
    x->nstale = (uint16_t)n;
    return true;
}

void mt__stale_parts_trim(mt_context *ctx)
{
    for (size_t i = 0; i < ctx->nparts_grown; i++) {
        struct mt__region_rare *x = ctx->parts_grown[i];
        x->stale = mt__xrealloc(x->stale, MT__STALE_KEPT * sizeof(*x->stale));
        x->stale_cap = MT__STALE_KEPT;
        x->nstale = 0; /* read only by the commit that marked them */
    }
    ctx->nparts_grown = 0;
}

void mt__stale_parts_forget(mt_context *ctx, struct mt__region_rare *x)
{
    if (x->stale_cap <= MT__STALE_KEPT)
        return; /* never listed */
    for (size_t i = 0; i < ctx->nparts_grown; i++)
        if (ctx->parts_grown[i] == x) {
            ctx->parts_grown[i] = ctx->parts_grown[--ctx->nparts_grown];
            return;
        }
}

static void touch_part_walk(mt_region *c, uint64_t lo, uint64_t last, size_t *budget);

/* Region c's part [lo, last] shows through each alias of c whose window
 * meets it, at the alias's own offsets: the alias gets that part. (An
 * alias whose window is all of a bus behind it, as a PCI hole is, so
 * renders only the BAR that moved, not the machine around it.) */
static void touch_aliases_part(mt_region *c, uint64_t lo, uint64_t last, size_t *budget)
{
    for (mt_region *a = mt__rare_get(c)->aliases; a; a = a->rare_->alias_next) {
        mt__i128 off = (mt__i128)a->alias_offset_;
        mt__i128 wlo = (mt__i128)lo - off, wlast = (mt__i128)last - off;
        mt__i128 end = mt__size(a) - 1;
        if (wlo < 0)
            wlo = 0;
        if (wlast > end)
            wlast = end;
        if (wlo > wlast)
            continue; /* outside the window: it shows nothing of it */
        touch_part_walk(a, (uint64_t)wlo, (uint64_t)wlast, budget);
        if (!marks_needed(a->ctx_))
            return;
    }
}

/*
 * A change of region `c` at its offsets [lo, last] shows in its container
 * only there, shifted by c's address and cut to c's extent, and so on up:
 * each container on the way up gets the part, so that a view whose
 * flat-root holds the change a few containers down still renders only that
 * part again (a device's BAR moved inside a bus of many). An alias of any
 * of them shows the part its window holds, which goes up from the alias
 * the same way. `budget` counts the regions marked; when it runs out, the
 * commit renders everything (a loop through aliases shifts the part at
 * every turn, and stops there).
 */
static void touch_part_walk(mt_region *c, uint64_t lo, uint64_t last, size_t *budget)
{
    mt_context *ctx = c->ctx_;
    uint64_t epoch = ctx->stale_epoch;
    for (;;) {
        if (!marks_needed(ctx) || mt__rare_get(c)->whole_mark == epoch)
            return;
        if ((*budget)-- == 0) {
            ctx->stale_all = true;
            return;
        }
        struct mt__region_rare *x = mt__rare(c);
        if (x->stale_mark == epoch) {
            /* what reaches c has the parts marked so far: only a part
             * not among them goes on */
            if (!stale_add(ctx, x, &lo, &last))
                return;
        } else {
            x->stale_mark = epoch;
            x->nstale = 0;
            stale_add(ctx, x, &lo, &last);
        }
        touch_aliases_part(c, lo, last, budget);
        mt_region *up = c->container_;
        if (!up || !marks_needed(ctx))
            return;
        /* c renders only its own extent into `up` (docs/rendering.md) */
        mt__i128 a = (mt__i128)c->addr_ + lo, b = (mt__i128)c->addr_ + last;
        mt__i128 end = (mt__i128)c->addr_ + mt__size(c) - 1;
        if (b > end)
            b = end;
        if (b > MT__2_64 - 1)
            b = MT__2_64 - 1;
        if (a > b)
            return; /* beyond c's end: nothing of it shows above */
        c = up;
        lo = (uint64_t)a;
        last = (uint64_t)b;
    }
}

void mt__touch_part(mt_region *c, uint64_t lo, uint64_t last)
{
    size_t budget = touch_budget(c->ctx_);
    touch_part_walk(c, lo, last, &budget);
}

void mt__touch(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    if (!marks_needed(ctx))
        return;
    /* r itself is walked from every time: it may have gained a container
     * since it was marked, which then knows only r's extent of that time.
     * Its own marks matter only if it is a cached view's flat-root, which
     * has the side struct already; others are not given one for them. */
    if (r->rare_)
        r->rare_->stale_mark = r->rare_->whole_mark = ctx->stale_epoch;
    touch_above(r);
}

void mt__touch_placed(mt_region *r)
{
    /* Its aliases show its content at their own offsets, wherever r is
     * (an alias's target renders relative to itself), so they need
     * nothing: moving a BAR that a window also shows (video RAM) rendered
     * every view reaching the window whole. Only a view whose flat-root r
     * is places it by its address. */
    if (mt__rare_get(r)->cached_view)
        mt__touch(r);
}

void mt__touch_in_place(mt_region *r, mt__i128 size)
{
    mt_context *ctx = r->ctx_;
    if (!marks_needed(ctx))
        return;
    if (size == 0) {
        mt__touch(r); /* no extent to speak of: r and all above, whole */
        return;
    }
    if (r->rare_)
        r->rare_->stale_mark = r->rare_->whole_mark = ctx->stale_epoch;
    /* r's own extent, [0, size - 1] of it, is all that changed: its aliases
     * show their windows of that, and its container its place */
    size_t budget = touch_budget(ctx);
    touch_aliases_part(r, 0, mt__last_before(size), &budget);
    if (r->container_ && marks_needed(ctx))
        touch_part_walk(r->container_, r->addr_, mt__last_before((mt__i128)r->addr_ + size),
                        &budget);
}

static void touch_pushed(mt_context *ctx, size_t n)
{
    uint64_t epoch = ctx->stale_epoch;
    size_t budget = touch_budget(ctx);
    /* Up through containers and across to every alias of what is reached:
     * a region already marked whole this epoch had all of that marked
     * then, and whatever reaches it since was linked by an edit that
     * marked it. */
    while (n) {
        mt_region *x = ctx->touch_stack[--n];
        if (mt__rare_get(x)->whole_mark == epoch)
            continue;
        if (budget-- == 0) {
            ctx->stale_all = true;
            return;
        }
        struct mt__region_rare *xr = mt__rare(x);
        xr->stale_mark = xr->whole_mark = epoch;
        if (x->container_ && mt__rare_get(x->container_)->whole_mark != epoch)
            MT__PUSH(ctx->touch_stack, n, ctx->touch_cap) = x->container_;
        for (mt_region *a = xr->aliases; a; a = a->rare_->alias_next)
            if (mt__rare_get(a)->whole_mark != epoch)
                MT__PUSH(ctx->touch_stack, n, ctx->touch_cap) = a;
    }
}

void mt__alias_link(mt_region *a)
{
    struct mt__region_rare *ar = mt__rare(a), *tr = mt__rare(a->alias_);
    assert(!ar->alias_pprev);
    ar->alias_next = tr->aliases;
    if (tr->aliases)
        tr->aliases->rare_->alias_pprev = &ar->alias_next;
    ar->alias_pprev = &tr->aliases;
    tr->aliases = a;
}

void mt__alias_unlink(mt_region *a)
{
    struct mt__region_rare *ar = a->rare_;
    if (!ar || !ar->alias_pprev)
        return;
    *ar->alias_pprev = ar->alias_next;
    if (ar->alias_next)
        ar->alias_next->rare_->alias_pprev = ar->alias_pprev;
    ar->alias_next = NULL;
    ar->alias_pprev = NULL;
}

void mt__aliases_detach(mt_region *t)
{
    while (t->rare_ && t->rare_->aliases)
        mt__alias_unlink(t->rare_->aliases);
}

int mt_context_set_render_mode(mt_context *ctx, mt_render_mode mode)
{
    if (mt__null_arg(ctx, "mt_context_set_render_mode", "context"))
        return -EINVAL;
    if (mode != MT_RENDER_INCREMENTAL && mode != MT_RENDER_FULL)
        return mt__diag(ctx, -EINVAL, "mt_context_set_render_mode: unknown mode %d",
                        (int)mode);
    ctx->render_full = mode == MT_RENDER_FULL;
    return 0;
}

/* ---- the commit ------------------------------------------------------------- */

static void commit_topology(mt_context *ctx)
{
    ctx->topology_pending = false;
    ctx->eventfds_pending = false; /* listener.c tells which tables changed */
    /* Edits from here on (listener callbacks) belong to the next commit. */
    uint64_t epoch = ctx->stale_epoch++;
    bool full = ctx->render_full || ctx->stale_all;
    ctx->stale_all = false;
    /* The reference rebuilds every view from scratch; otherwise only the
     * views of flat-roots an edit marked are dropped and rendered again.
     * Either way address spaces that share a flat-root share its view
     * through the cache, and a destroyed one resolves to the empty view. */
    if (full)
        mt__view_cache_clear(ctx);
    else
        mt__view_cache_update_stale(ctx, epoch);
    /* before the listeners: what their edits mark is the next commit's */
    mt__stale_parts_trim(ctx);
    ctx->loop_cuts_reported = 0;
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        as->next_view = mt__view_get(ctx, mt__flat_root(as->root), as->name);
        as->next_view->used_epoch = epoch;
    }
    /* a kept entry no address space takes any more goes, as in a rebuild */
    if (!full)
        mt__view_cache_drop_unused(ctx, epoch);
    /* Listener callbacks may edit and commit: those commits wait for the
     * end of this one (mt__txn_commit), so the views below stay put. */
    ctx->notifying++;
    mt__listeners_begin(ctx);
    mt__eventfds_pass_begin(ctx);
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        mt_view *next = as->next_view;
        if (!next)
            continue; /* created by a callback of this commit, with its view */
        as->next_view = NULL;
        mt_view *old = as->view;
        mt__as_publish(as, next);
        if (old == next && !next->is_empty_view) {
            /* a kept view: what a re-render's diff would have sent */
            mt__listeners_nops(as, next);
        } else {
            mt__listeners_diff(as, old, next);
        }
        /* the reference collects every eventfd again (and so does any
         * commit after a table changed); a kept view's set changes only
         * then (listener.c) */
        mt__listeners_eventfds(as, full ? NULL : old);
        mt__view_unref(old);
    }
    mt__eventfds_pass_end(ctx);
    mt__listeners_commit(ctx);
    ctx->notifying--;
    retire_destroyed(ctx);
}

/* Only eventfds changed: no global begin/commit (6). */
static void commit_eventfds(mt_context *ctx)
{
    ctx->eventfds_pending = false;
    ctx->notifying++;
    mt__eventfds_pass_begin(ctx);
    /* the views stay: only where a changed region shows is read again
     * (the reference reads everything) */
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        mt__listeners_eventfds(as, ctx->render_full ? NULL : as->view);
    mt__eventfds_pass_end(ctx);
    ctx->notifying--;
}

/* The outermost commit's work, and then that of every commit its listener
 * callbacks made, in turn: a loop, not a recursion. */
static void process(mt_context *ctx)
{
    while (ctx->txn_depth == 0 && (ctx->topology_pending || ctx->eventfds_pending)) {
        if (ctx->topology_pending)
            commit_topology(ctx);
        else
            commit_eventfds(ctx);
    }
    /* start the grace period of what this commit retired */
    mt__reclaim_step(ctx);
}

void mt__txn_commit(mt_context *ctx)
{
    assert(ctx->txn_depth > 0);
    if (--ctx->txn_depth > 0)
        return;
    /* Inside listener calls (of a commit, a registration replay...): the
     * views they walk must not change under them. Deferred; whoever made
     * those calls processes it when they are done. */
    if (ctx->notifying)
        return;
    process(ctx);
}

int mt__edit_begin(mt_region *r, const char *op)
{
    mt_context *ctx = r->ctx_;
    mt__txn_begin(ctx);
    if (__builtin_expect(!mt__region_live(r), 0)) {
        mt__txn_commit(ctx);
        return mt__region_misuse(r, op);
    }
    return 0;
}

void mt__edit_end(mt_context *ctx, bool visible)
{
    /* what the edit changed was marked by its caller (mt__touch) */
    if (visible)
        ctx->topology_pending = true;
    mt__txn_commit(ctx);
}

void mt__notify_begin(mt_context *ctx)
{
    ctx->notifying++;
}

void mt__notify_end(mt_context *ctx)
{
    assert(ctx->notifying > 0);
    if (--ctx->notifying == 0 && ctx->txn_depth == 0)
        process(ctx);
}

void mt_transaction_begin(mt_context *ctx)
{
    if (mt__null_arg(ctx, "mt_transaction_begin", "context"))
        return;
    mt__txn_begin(ctx);
}

int mt_transaction_commit(mt_context *ctx)
{
    if (mt__null_arg(ctx, "mt_transaction_commit", "context"))
        return -EINVAL;
    if (ctx->txn_depth == 0)
        return mt__diag(ctx, -EINVAL, "commit without an open transaction");
    mt__txn_commit(ctx);
    /* the transaction may have finalised the last region of a closed
     * context: nothing else would free it (docs/lifetimes.md) */
    mt__context_settle(ctx);
    return 0;
}

unsigned mt_transaction_depth(const mt_context *ctx)
{
    return mt__null_arg(ctx, "mt_transaction_depth", "context") ? 0 : ctx->txn_depth;
}

void mt_context_set_flush_hook(mt_context *ctx, mt_flush_fn fn, void *opaque)
{
    if (!ctx)
        return;
    ctx->flush = fn;
    ctx->flush_opaque = opaque;
}
