/*
 * The context: one independent memory system. Owns the diagnostic hook, the
 * identity counter, the context's creation and freeing. Readers and
 * reclamation are rcu.c's.
 */
#include "internal.h"
#include "errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The contexts alive. Contexts share nothing, but storage the caller keeps
 * can outlive its context: a finalised region's tombstone and a released
 * owner keep a pointer to theirs and its serial, so that a later misuse is
 * reported through its hook. Such a report first asks here whether the
 * context still exists: the same address and the same serial, as a
 * context made later can take a freed one's memory. Only creation,
 * freeing and those reports take the lock.
 * The links are kept complemented: LeakSanitizer takes any pointer it
 * finds in memory for a reference, and a context that its caller never
 * frees (or that nothing ever lets go) must still show as a leak.
 */
static pthread_mutex_t alive_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t alive_first = UINTPTR_MAX; /* hide(NULL) */

static uintptr_t hide(mt_context *ctx)
{
    return ~(uintptr_t)ctx;
}

static mt_context *unhide(uintptr_t link)
{
    return (mt_context *)~link;
}

static uint64_t last_serial; /* under alive_lock */

static void alive_add(mt_context *ctx)
{
    pthread_mutex_lock(&alive_lock);
    ctx->serial = ++last_serial;
    mt_context *next = unhide(alive_first);
    ctx->alive_prev = hide(NULL);
    ctx->alive_next = alive_first;
    if (next)
        next->alive_prev = hide(ctx);
    alive_first = hide(ctx);
    pthread_mutex_unlock(&alive_lock);
}

static void alive_remove(mt_context *ctx)
{
    pthread_mutex_lock(&alive_lock);
    mt_context *prev = unhide(ctx->alive_prev), *next = unhide(ctx->alive_next);
    if (prev)
        prev->alive_next = ctx->alive_next;
    else
        alive_first = ctx->alive_next;
    if (next)
        next->alive_prev = ctx->alive_prev;
    pthread_mutex_unlock(&alive_lock);
}

mt_context *mt__context_alive(mt_context *ctx, uint64_t serial)
{
    pthread_mutex_lock(&alive_lock);
    mt_context *c = unhide(alive_first);
    while (c && c != ctx)
        c = unhide(c->alive_next);
    if (c && c->serial != serial)
        c = NULL; /* freed, and another made at its address */
    pthread_mutex_unlock(&alive_lock);
    return c;
}

static void default_diag(void *opaque, const char *message)
{
    (void)opaque;
    fprintf(stderr, "memtree: %s\n", message);
}

uint64_t mt__walk_begin(mt_context *ctx)
{
    return ++ctx->walk_gen;
}

static int report(mt_context *ctx, int err, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (ctx && ctx->diag)
        ctx->diag(ctx->diag_opaque, buf);
    else
        default_diag(NULL, buf);
    return err;
}

int mt__diag(mt_context *ctx, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, err, fmt, ap);
    va_end(ap);
    return err;
}

int mt_context_report(mt_context *ctx, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(ctx, err, fmt ? fmt : "(no message)", ap);
    va_end(ap);
    return err;
}

void mt__hazard(const mt_region *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    mt__diag(mt__region_report_context(r), -EFAULT, "lifetime hazard: %s", buf);
    abort();
}

const char *mt_strerror(int err)
{
#define MT__ERROR_TEXT(code, text) \
    if (err == -(code))            \
        return text;
    MT__ERRORS(MT__ERROR_TEXT)
#undef MT__ERROR_TEXT
    return "unknown error";
}

mt_context *mt_context_new(void)
{
    mt_context *ctx = mt__xcalloc(1, sizeof(*ctx));
    ctx->next_id = 1;
    ctx->stale_epoch = 1; /* a new region's mark, 0, is never current */
    ctx->stale_parts = MT__STALE_PARTS;
    ctx->diag = default_diag;
    mt_view *empty = mt__xcalloc(1, sizeof(*empty));
    empty->ctx = ctx;
    atomic_init(&empty->refs, 1); /* the context's: never reclaimed */
    empty->is_empty_view = true;
    ctx->empty_view = empty;
    ctx->access = mt__xcalloc(1, sizeof(*ctx->access));
    alive_add(ctx);
    return ctx;
}

void mt_context_set_diag(mt_context *ctx, mt_diag_fn fn, void *opaque)
{
    if (mt__null_arg(ctx, "mt_context_set_diag", "context"))
        return;
    ctx->diag = fn ? fn : default_diag;
    ctx->diag_opaque = fn ? opaque : NULL;
}

int mt_context_set_input_limit(mt_context *ctx, uint64_t bytes)
{
    if (mt__null_arg(ctx, "mt_context_set_input_limit", "context"))
        return -EINVAL;
    ctx->input_limit = bytes;
    return 0;
}

uint64_t mt_context_input_limit(const mt_context *ctx)
{
    if (mt__null_arg(ctx, "mt_context_input_limit", "context"))
        return MT_INPUT_LIMIT_DEFAULT;
    return ctx->input_limit ? ctx->input_limit : MT_INPUT_LIMIT_DEFAULT;
}

mt_diag_fn mt_context_diag(const mt_context *ctx, void **opaque)
{
    if (mt__null_arg(ctx, "mt_context_diag", "context")) {
        if (opaque)
            *opaque = NULL;
        return default_diag;
    }
    if (opaque)
        *opaque = ctx->diag_opaque;
    return ctx->diag ? ctx->diag : default_diag;
}

void mt_context_get_stats(const mt_context *ctx, mt_stats *out)
{
    if (mt__null_arg(out, "mt_context_get_stats", "stats"))
        return;
    if (mt__null_arg(ctx, "mt_context_get_stats", "context")) {
        *out = (mt_stats){0};
        return;
    }
    *out = ctx->stats;
    out->cache_entries = ctx->cache_entries;
    out->retired_views = atomic_load(&((mt_context *)ctx)->retired_count);
}

/* Views the caller still holds once the address spaces are gone and
 * reclaimed: counted references, the empty view's beyond the context's. */
static uint64_t views_held(mt_context *ctx)
{
    return ctx->stats.live_views + (atomic_load(&ctx->empty_view->refs) - 1);
}

static void context_destroy(mt_context *ctx)
{
    alive_remove(ctx);
    mt__address_space_shells_free(ctx);
    mt__render_scratch_free(ctx->scratch);
    free(ctx->touch_stack);
    free(ctx->parts_grown);
    mt__eventfds_tracking_free(ctx);
    mt__access_free(ctx);
    mt__iommu_watch_free(ctx);
    free(ctx->access);
    free(ctx->empty_view);
    free(ctx);
}

void mt_context_free(mt_context *ctx)
{
    if (!ctx)
        return;
    /* Freeing now would free what this thread, or a commit below it, is
     * still using: refuse, and leave the context to a later call. */
    if (mt__in_read_section() || ctx->notifying || ctx->holds) {
        mt__diag(ctx, -EBUSY, "mt_context_free: called %s; the context is not freed",
                 ctx->notifying ? "from a listener callback during a commit"
                 : ctx->holds   ? "from an owner's release or another call on the context"
                                : "inside a read-side section");
        return;
    }
    if (!ctx->closed) {
        if (ctx->txn_depth) {
            /* checked in every build: the edits of the open transaction
             * would otherwise never reach the listeners */
            mt__diag(ctx, -EBUSY,
                     "mt_context_free: %u transaction(s) still open; committing them now",
                     ctx->txn_depth);
            ctx->txn_depth = 1;
            mt__txn_commit(ctx);
        }
        for (mt_address_space *as; (as = mt_context_first_address_space(ctx));)
            mt_address_space_destroy(as);
        mt__view_cache_clear(ctx);
        ctx->closed = true;
    }
    mt__context_reclaim(ctx);
    /* The caller's storage outlives the context: regions left live, and
     * views held, keep it (closed) until they are finalised and released;
     * freeing it under them would leave them pointing at freed memory. */
    uint64_t held = views_held(ctx);
    if (ctx->stats.live_regions || held) {
        mt__diag(ctx, -EBUSY,
                 "context freed with %llu live region(s) and %llu view(s) still held; it is "
                 "closed, and goes once they are finalised and released (docs/lifetimes.md)",
                 (unsigned long long)ctx->stats.live_regions, (unsigned long long)held);
        return;
    }
    context_destroy(ctx);
}

void mt__context_settle(mt_context *ctx)
{
    if (!ctx->closed || ctx->stats.live_regions || ctx->txn_depth || ctx->notifying ||
        ctx->holds || mt__in_read_section())
        return;
    mt__context_reclaim(ctx); /* the views released since */
    if (!ctx->stats.live_regions && !views_held(ctx))
        context_destroy(ctx);
}
