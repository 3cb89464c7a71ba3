/*
 * The context: one independent memory system. Owns the diagnostic hook, the
 * identity counter, the context's creation and freeing, and the small
 * allocation helpers the other files share. Readers and reclamation are
 * rcu.c's.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void default_diag(void *opaque, const char *message)
{
    (void)opaque;
    fprintf(stderr, "memtree: %s\n", message);
}

static void out_of_memory(size_t size)
{
    fprintf(stderr, "memtree: out of memory allocating %zu bytes\n", size);
    abort();
}

void *mt__xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

void *mt__xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *mt__xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        out_of_memory(size);
    return q;
}

char *mt__xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = mt__xmalloc(n);
    memcpy(d, s, n);
    return d;
}

uint64_t mt__walk_begin(mt_context *ctx)
{
    return ++ctx->walk_gen;
}

int mt__diag(mt_context *ctx, int err, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (ctx && ctx->diag)
        ctx->diag(ctx->diag_opaque, buf);
    else
        default_diag(NULL, buf);
    return err;
}

void mt__hazard(const mt_region *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    bool named = r && (r->magic_ == MT__REGION_LIVE || r->magic_ == MT__REGION_DEAD);
    mt__diag(named ? r->ctx_ : NULL, -EFAULT,
             "lifetime hazard: %s", buf);
    abort();
}

const char *mt_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case -EINVAL: return "invalid argument";
    case -EBUSY: return "still in use";
    case -ENOENT: return "not found";
    case -ELOOP: return "the mapping or alias would form a loop";
    case -EOVERFLOW: return "value overflows the 64-bit address space";
    case -ENOMEM: return "out of memory";
    case -EEXIST: return "already exists";
    case -EIO: return "input/output error";
    case -EDEADLK: return "the call would wait for the calling thread itself";
    case -EACCES: return "access refused";
    case -ESTALE: return "the view was replaced; look the address up again";
    default: return "unknown error";
    }
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

void mt_context_get_stats(const mt_context *ctx, mt_stats *out)
{
    *out = ctx->stats;
    out->cache_entries = ctx->cache_entries;
    out->retired_views = atomic_load(&((mt_context *)ctx)->retired_count);
}

void mt_context_free(mt_context *ctx)
{
    if (!ctx)
        return;
    /* Freeing now would free what this thread, or a commit below it, is
     * still using: refuse, and leave the context to a later call. */
    if (mt__in_read_section() || ctx->notifying) {
        mt__diag(ctx, -EBUSY, "mt_context_free: called %s; the context is not freed",
                 ctx->notifying ? "from a listener callback during a commit"
                                : "inside a read-side section");
        return;
    }
    if (ctx->txn_depth) {
        /* checked in every build: the edits of the open transaction would
         * otherwise never reach the listeners */
        mt__diag(ctx, -EBUSY,
                 "mt_context_free: %u transaction(s) still open; committing them now",
                 ctx->txn_depth);
        ctx->txn_depth = 1;
        mt__txn_commit(ctx);
    }
    for (mt_address_space *as; (as = mt_context_first_address_space(ctx));)
        mt_address_space_destroy(as);
    mt__view_cache_clear(ctx);
    mt_context_reclaim(ctx);
    if (ctx->stats.live_regions)
        mt__diag(ctx, -EBUSY,
                 "context freed with %llu live region(s); finalise them first",
                 (unsigned long long)ctx->stats.live_regions);
    mt__address_space_shells_free(ctx);
    mt__render_scratch_free(ctx->scratch);
    mt__access_free(ctx);
    mt__iommu_watch_free(ctx);
    free(ctx->access);
    free(ctx->empty_view);
    free(ctx);
}
