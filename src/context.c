/*
 * The context: one independent memory system. Owns the diagnostic hook, the
 * identity counter, and the retired lists and their reclamation.
 */
#include "internal.h"
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

/* ThreadSanitizer cannot see the ordering liburcu (not instrumented)
 * provides between a reader leaving its section and synchronize_rcu
 * returning; tell it, so it checks everything else. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT__TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MT__TSAN 1
#endif
#ifdef MT__TSAN
#include <sanitizer/tsan_interface.h>
static char tsan_grace_period; /* an address to synchronise on, no state */
#define TSAN_READER_LEAVES() __tsan_release(&tsan_grace_period)
#define TSAN_GRACE_PERIOD_ENDS() __tsan_acquire(&tsan_grace_period)
#else
#define TSAN_READER_LEAVES() ((void)0)
#define TSAN_GRACE_PERIOD_ENDS() ((void)0)
#endif

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
    mt__diag(mt__region_live(r) ? r->ctx_ : NULL, -EFAULT,
             "lifetime hazard: %s", buf);
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
    ctx->diag = default_diag;
    mt_view *empty = mt__xcalloc(1, sizeof(*empty));
    empty->ctx = ctx;
    atomic_init(&empty->refs, 1); /* the context's: never reclaimed */
    empty->is_empty_view = true;
    ctx->empty_view = empty;
    ctx->access = mt__xcalloc(1, sizeof(*ctx->access));
    return ctx;
}

void mt_context_set_diag(mt_context *ctx, mt_diag_fn fn, void *opaque)
{
    ctx->diag = fn ? fn : default_diag;
    ctx->diag_opaque = fn ? opaque : NULL;
}

int mt_context_set_input_limit(mt_context *ctx, uint64_t bytes)
{
    if (!ctx)
        return -EINVAL;
    ctx->input_limit = bytes;
    return 0;
}

uint64_t mt_context_input_limit(const mt_context *ctx)
{
    return ctx->input_limit ? ctx->input_limit : MT_INPUT_LIMIT_DEFAULT;
}

mt_diag_fn mt_context_diag(const mt_context *ctx, void **opaque)
{
    if (opaque)
        *opaque = ctx->diag_opaque;
    return ctx->diag ? ctx->diag : default_diag;
}

void mt_context_get_stats(const mt_context *ctx, mt_stats *out)
{
    *out = ctx->stats;
    out->cache_entries = ctx->cache_entries;
    out->retired_views = atomic_load(&((mt_context *)ctx)->retired_count);
}

/* ---- readers and reclamation (RCU, liburcu's memb flavour) --------------- */

void mt_reader_register(void)
{
    urcu_memb_register_thread();
}

void mt_reader_unregister(void)
{
    urcu_memb_unregister_thread();
}

void mt_read_lock(void)
{
    urcu_memb_read_lock();
}

void mt_read_unlock(void)
{
    TSAN_READER_LEAVES();
    urcu_memb_read_unlock();
}

/* Frees what was retired before the grace period; returns whether
 * anything was there. */
static bool reclaim_once(mt_context *ctx)
{
    mt_view *views = atomic_exchange(&ctx->retired, NULL);
    mt_address_space *spaces = ctx->retired_as;
    ctx->retired_as = NULL;
    if (!views && !spaces)
        return false;
    /* every reader that could still see them entered before this point */
    urcu_memb_synchronize_rcu();
    TSAN_GRACE_PERIOD_ENDS();
    ctx->stats.grace_periods++;
    while (spaces) {
        mt_address_space *next = spaces->next;
        mt__address_space_free(spaces);
        spaces = next;
    }
    while (views) {
        mt_view *next = views->retired_next;
        mt__view_free(views);
        atomic_fetch_sub(&ctx->retired_count, 1);
        views = next;
    }
    return true;
}

void mt__reclaim_views(mt_context *ctx)
{
    reclaim_once(ctx);
}

void mt_context_reclaim(mt_context *ctx)
{
    /* Freeing views and address spaces releases owner references, which
     * may queue owners; tearing an owner down may retire more. Loop until
     * everything settles. */
    for (;;) {
        bool freed = reclaim_once(ctx);
        if (!freed && !atomic_load_explicit(&ctx->pending_owners, memory_order_acquire))
            break;
        mt__owners_reap(ctx);
    }
}

void mt_context_free(mt_context *ctx)
{
    if (!ctx)
        return;
    while (ctx->as_first)
        mt_address_space_destroy(ctx->as_first);
    mt__view_cache_clear(ctx);
    mt_context_reclaim(ctx);
    if (ctx->stats.live_regions)
        mt__diag(ctx, -EBUSY,
                 "context freed with %llu live region(s); finalise them first",
                 (unsigned long long)ctx->stats.live_regions);
    mt__render_scratch_free(ctx->scratch);
    mt__access_free(ctx);
    mt__iommu_watch_free(ctx);
    free(ctx->access);
    free(ctx->empty_view);
    free(ctx);
}
