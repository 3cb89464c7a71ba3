/*
 * Address spaces: named entry points over a root region, each publishing
 * the view of its flat-root. Kept in creation order, which commits and
 * dumps follow.
 */
#include "internal.h"

#include <stdlib.h>

mt_address_space *mt_address_space_new(mt_context *ctx, mt_region *root,
                                       const char *name)
{
    if (!ctx)
        return NULL;
    if (ctx->closed) {
        mt__diag(ctx, -EINVAL, "address space '%s': the context was freed (mt_context_free)",
                 name ? name : "anonymous");
        return NULL;
    }
    if (!mt__region_live(root) || root->ctx_ != ctx) {
        mt__diag(ctx, -EINVAL, "address space '%s': root is not a live region of this context",
                 name ? name : "anonymous");
        return NULL;
    }
    mt_address_space *as = mt__xcalloc(1, sizeof(*as));
    as->magic = MT__AS_LIVE;
    as->ctx = ctx;
    as->root = root;
    as->name = mt__xstrdup(name ? name : "anonymous");
    as->root_owner = root->owner_;
    mt__owner_ref(as->root_owner);
    as->prev = ctx->as_last;
    if (ctx->as_last)
        ctx->as_last->next = as;
    else
        ctx->as_first = as;
    ctx->as_last = as;
    ctx->stats.address_spaces++;
    /* Inside a transaction this renders the uncommitted tree, or reuses the
     * cached view of the last commit (docs/views.md, "When views are built"). */
    ctx->loop_cuts_reported = 0;
    mt__as_publish(as, mt__view_get(ctx, mt__flat_root(root), as->name));
    return as;
}

void mt__address_space_release(mt_address_space *as)
{
    mt_context *ctx = as->ctx;
    assert(as->magic == MT__AS_DEAD);
    mt__view_unref(as->view); /* the empty view, since its last commit */
    as->view = ctx->empty_view;
    mt__owner_unref(ctx, as->root_owner);
    as->root_owner = NULL;
    free(as->eventfds);
    as->eventfds = NULL;
    as->neventfds = 0;
    as->next = ctx->dead_as;
    ctx->dead_as = as;
}

void mt__address_space_shells_free(mt_context *ctx)
{
    while (ctx->dead_as) {
        mt_address_space *as = ctx->dead_as;
        ctx->dead_as = as->next;
        free(as->name);
        free(as);
    }
}

int mt_address_space_destroy(mt_address_space *as)
{
    if (mt__null_arg(as, "mt_address_space_destroy", "address space"))
        return -EINVAL;
    mt_context *ctx = as->ctx;
    /* mt_context_free destroyed it, and the context is still closing (the
     * caller's teardown, or a machine's, may come after the context's) */
    if (as->magic != MT__AS_LIVE && ctx->closed)
        return 0;
    if (as->magic != MT__AS_LIVE)
        return mt__diag(ctx, -EINVAL,
                        "mt_address_space_destroy: address space '%s' was already destroyed",
                        as->name);
    as->magic = MT__AS_DEAD;
    /* Resolving to no flat-root makes the outermost commit switch it to
     * the empty view, which sends its listeners region_del for every range,
     * then unlink it and hand it to reclamation (docs/views.md, txn.c). Inside an
     * open transaction that happens at the transaction's commit. */
    mt__txn_begin(ctx);
    as->root = NULL;
    ctx->topology_pending = true;
    ctx->stats.address_spaces--;
    mt__txn_commit(ctx);
    return 0;
}

/* A destroyed address space stays on the context's list until the commit
 * that sends its region_del; the public walk skips it. */
static mt_address_space *live_from(mt_address_space *as)
{
    while (as && !as->root)
        as = as->next;
    return as;
}

const char *mt_address_space_name(const mt_address_space *as)
{
    return mt__null_arg(as, "mt_address_space_name", "address space") ? "(none)" : as->name;
}

mt_region *mt_address_space_root(const mt_address_space *as)
{
    return mt__null_arg(as, "mt_address_space_root", "address space") ? NULL : as->root;
}

mt_view *mt_address_space_view(const mt_address_space *as)
{
    if (mt__null_arg(as, "mt_address_space_view", "address space"))
        return NULL;
    return __atomic_load_n(&as->view, __ATOMIC_ACQUIRE);
}

mt_address_space *mt_context_first_address_space(const mt_context *ctx)
{
    if (mt__null_arg(ctx, "mt_context_first_address_space", "context"))
        return NULL;
    return live_from(ctx->as_first);
}

mt_address_space *mt_address_space_next(const mt_address_space *as)
{
    return mt__null_arg(as, "mt_address_space_next", "address space") ? NULL
                                                                        : live_from(as->next);
}

mt_address_space *mt__as_rooted_at(mt_context *ctx, const mt_region *r)
{
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        if (as->root == r)
            return as;
    return NULL;
}
