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
    if (!mt__region_live(root) || root->ctx_ != ctx) {
        mt__diag(ctx, -EINVAL, "address space '%s': root is not a live region of this context",
                 name ? name : "anonymous");
        return NULL;
    }
    mt_address_space *as = mt__xcalloc(1, sizeof(*as));
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
     * cached view of the last commit (5.4). */
    ctx->loop_cuts_reported = 0;
    mt__as_publish(as, mt__view_get(ctx, mt__flat_root(root), as->name));
    return as;
}

void mt__address_space_free(mt_address_space *as)
{
    if (as->view)
        mt__view_unref(as->view);
    mt__owner_unref(as->ctx, as->root_owner);
    free(as->eventfds);
    free(as->name);
    free(as);
}

void mt_address_space_destroy(mt_address_space *as)
{
    if (!as)
        return;
    mt_context *ctx = as->ctx;
    /* Resolving to no flat-root first makes the commit switch it to the
     * empty view and rebuild the cache without its view (7.5). */
    mt__txn_begin(ctx);
    as->root = NULL;
    ctx->topology_pending = true;
    mt__txn_commit(ctx);
    mt__listeners_detach_all(as);
    if (as->prev)
        as->prev->next = as->next;
    else
        ctx->as_first = as->next;
    if (as->next)
        as->next->prev = as->prev;
    else
        ctx->as_last = as->prev;
    ctx->stats.address_spaces--;
    /* Readers may still be inside its view: free it at reclaim. */
    as->next = ctx->retired_as;
    as->prev = NULL;
    ctx->retired_as = as;
}

const char *mt_address_space_name(const mt_address_space *as) { return as->name; }
mt_region *mt_address_space_root(const mt_address_space *as) { return as->root; }
mt_view *mt_address_space_view(const mt_address_space *as)
{
    return __atomic_load_n(&as->view, __ATOMIC_ACQUIRE);
}
mt_address_space *mt_context_first_address_space(const mt_context *ctx) { return ctx->as_first; }
mt_address_space *mt_address_space_next(const mt_address_space *as) { return as->next; }

mt_address_space *mt__as_rooted_at(mt_context *ctx, const mt_region *r)
{
    for (mt_address_space *as = ctx->as_first; as; as = as->next)
        if (as->root == r)
            return as;
    return NULL;
}
