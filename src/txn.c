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
 */
#include "internal.h"

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

static void commit_topology(mt_context *ctx)
{
    ctx->topology_pending = false;
    ctx->eventfds_pending = false;
    /* Views are rebuilt from scratch for every flat-root; address spaces
     * that share a flat-root share the rebuilt view through the cache. A
     * destroyed address space resolves to the empty view. */
    mt__view_cache_clear(ctx);
    ctx->loop_cuts_reported = 0;
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        as->next_view = mt__view_get(ctx, mt__flat_root(as->root), as->name);
    /* Listener callbacks may edit and commit: those commits wait for the
     * end of this one (mt__txn_commit), so the views below stay put. */
    ctx->notifying++;
    mt__listeners_begin(ctx);
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        mt_view *next = as->next_view;
        if (!next)
            continue; /* created by a callback of this commit, with its view */
        as->next_view = NULL;
        mt_view *old = as->view;
        mt__as_publish(as, next);
        mt__listeners_diff(as, old, next);
        mt__listeners_eventfds(as);
        mt__view_unref(old);
    }
    mt__listeners_commit(ctx);
    ctx->notifying--;
    retire_destroyed(ctx);
}

/* Only eventfds changed: no global begin/commit (6). */
static void commit_eventfds(mt_context *ctx)
{
    ctx->eventfds_pending = false;
    ctx->notifying++;
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        mt__listeners_eventfds(as);
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
    mt__txn_begin(ctx);
}

int mt_transaction_commit(mt_context *ctx)
{
    if (ctx->txn_depth == 0)
        return mt__diag(ctx, -EINVAL, "commit without an open transaction");
    mt__txn_commit(ctx);
    return 0;
}

unsigned mt_transaction_depth(const mt_context *ctx)
{
    return ctx->txn_depth;
}

void mt_context_set_flush_hook(mt_context *ctx, mt_flush_fn fn, void *opaque)
{
    if (!ctx)
        return;
    ctx->flush = fn;
    ctx->flush_opaque = opaque;
}
