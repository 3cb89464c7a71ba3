/*
 * Transactions and the commit pipeline: edits only mark the topology
 * pending; the outermost commit rebuilds the view cache once, then, between
 * a global begin and commit to every listener, switches each address space
 * to its new view and sends its listeners the difference (6, 7.7).
 */
#include "internal.h"

void mt__txn_begin(mt_context *ctx)
{
    /* every begin, internal ones too: each edit is a transaction (6) */
    if (ctx->flush)
        ctx->flush(ctx->flush_opaque);
    ctx->txn_depth++;
}

static void commit_topology(mt_context *ctx)
{
    ctx->topology_pending = false;
    ctx->eventfds_pending = false;
    /* Views are rebuilt from scratch for every flat-root; address spaces
     * that share a flat-root share the rebuilt view through the cache. */
    mt__view_cache_clear(ctx);
    ctx->loop_cuts_reported = 0;
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        as->next_view = mt__view_get(ctx, mt__flat_root(as->root), as->name);
    mt__listeners_begin(ctx);
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        mt_view *old = as->view;
        mt__as_publish(as, as->next_view);
        as->next_view = NULL;
        mt__listeners_diff(as, old, as->view);
        mt__listeners_eventfds(as);
        mt__view_unref(old);
    }
    mt__listeners_commit(ctx);
    /* bounded reclamation: see MT_RETIRED_VIEWS_MAX */
    if (atomic_load(&ctx->retired_count) > MT_RETIRED_VIEWS_MAX)
        mt__reclaim_views(ctx);
}

/* Only eventfds changed: no global begin/commit (6). */
static void commit_eventfds(mt_context *ctx)
{
    ctx->eventfds_pending = false;
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        mt__listeners_eventfds(as);
}

void mt__txn_commit(mt_context *ctx)
{
    assert(ctx->txn_depth > 0);
    if (--ctx->txn_depth > 0)
        return;
    if (ctx->topology_pending)
        commit_topology(ctx);
    else if (ctx->eventfds_pending)
        commit_eventfds(ctx);
}

void mt__topology_changed(mt_context *ctx)
{
    ctx->topology_pending = true;
    if (ctx->txn_depth == 0)
        commit_topology(ctx);
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
