/*
 * Dirty logging: which clients (VGA, migration, code) log writes to a
 * region, global logging, and the embedder's log requests (sync, clear).
 * Listeners see the effects as log_start/log_stop on the view's ranges at
 * the next commit, log_global_start/stop at once, and log_sync/log_clear
 * on request (docs/listeners.md, "Dirty logging").
 */
#include "internal.h"

#include <stdlib.h>

int mt_region_set_log(mt_region *r, bool on, unsigned client)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "set_log");
    if (client >= 8)
        return mt__diag(r->ctx_, -EINVAL, "set_log '%s': client %u out of range (0-7)",
                        mt__name(r), client);
    struct mt__region_rare *rare = mt__rare(r);
    if (!rare->log_counts)
        rare->log_counts = mt__xcalloc(8, sizeof(*rare->log_counts));
    uint32_t *count = &rare->log_counts[client];
    if (!on && *count == 0)
        return mt__diag(r->ctx_, -EINVAL, "set_log '%s': client %u is not logging",
                        mt__name(r), client);
    bool change = on ? (*count)++ == 0 : --(*count) == 0;
    if (!change)
        return 0;
    mt__txn_begin(r->ctx_);
    if (on)
        r->dirty_clients_ |= (uint8_t)(1u << client);
    else
        r->dirty_clients_ &= (uint8_t)~(1u << client);
    mt__touch_in_place(r, mt__size(r)); /* the masks of its ranges alone */
    if (mt__enabled(r))
        r->ctx_->topology_pending = true;
    mt__txn_commit(r->ctx_);
    return 0;
}

void mt_context_set_global_dirty_log(mt_context *ctx, bool on)
{
    if (mt__null_arg(ctx, "mt_context_set_global_dirty_log", "context") ||
        ctx->global_dirty_log == on)
        return;
    mt__txn_begin(ctx);
    ctx->global_dirty_log = on;
    mt__notify_begin(ctx);
    if (on) {
        MT__FOR_CTX_FORWARD(l, ctx)
            if (l->log_global_start)
                l->log_global_start(l);
    } else {
        MT__FOR_CTX_REVERSE(l, ctx)
            if (l->log_global_stop)
                l->log_global_stop(l);
    }
    mt__notify_end(ctx);
    /* the masks of every RAM range change: re-render every view */
    ctx->topology_pending = true;
    ctx->stale_all = true;
    mt__txn_commit(ctx);
}

/* ---- the embedder's dirty-log requests --------------------------------------- */

/* log_sync_global once, or log_sync for each logged range of l's view (of
 * `only`, when given). */
static void sync_listener(mt_listener *l, const mt_region *only)
{
    if (l->log_sync_global) {
        l->log_sync_global(l);
        return;
    }
    if (!l->log_sync)
        return;
    mt_address_space *as = l->as_;
    mt_view *v = as->view;
    MT__FOR_RANGES(v, r) {
        if (!r->dirty_log_mask || (only && r->region != only))
            continue;
        mt_section s;
        mt__section_of(&s, r, v, as);
        l->log_sync(l, &s);
    }
}

void mt_context_log_sync(mt_context *ctx)
{
    if (!ctx)
        return;
    mt__notify_begin(ctx);
    MT__FOR_CTX_FORWARD(l, ctx)
        sync_listener(l, NULL);
    mt__notify_end(ctx);
}

int mt_region_log_sync(mt_region *r)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "log_sync");
    mt_context *ctx = r->ctx_;
    mt__notify_begin(ctx);
    MT__FOR_CTX_FORWARD(l, ctx)
        sync_listener(l, r);
    mt__notify_end(ctx);
    return 0;
}

void mt_context_after_log_sync(mt_context *ctx)
{
    if (!ctx)
        return;
    mt__notify_begin(ctx);
    MT__FOR_CTX_FORWARD(l, ctx)
        if (l->log_global_after_sync)
            l->log_global_after_sync(l);
    mt__notify_end(ctx);
}

int mt_region_log_clear(mt_region *r, uint64_t offset, uint64_t len)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "log_clear");
    if (len == 0)
        return 0;
    /* inclusive end, clipped at 2^64 - 1 (UINT64_MAX means 2^64) */
    mt__u128 end = (mt__u128)offset + (len == UINT64_MAX ? (mt__u128)MT__2_64 : len);
    uint64_t last = end > UINT64_MAX ? UINT64_MAX : (uint64_t)(end - 1);
    mt_context *ctx = r->ctx_;
    mt__notify_begin(ctx);
    MT__FOR_CTX_FORWARD(l, ctx) {
        if (!l->log_clear)
            continue;
        mt_view *v = l->as_->view;
        MT__FOR_RANGES(v, rg) {
            if (rg->region != r)
                continue;
            mt_section s;
            mt__section_of(&s, rg, v, l->as_);
            if (mt__section_cut(&s, offset, last))
                l->log_clear(l, &s);
        }
    }
    mt__notify_end(ctx);
    return 0;
}
