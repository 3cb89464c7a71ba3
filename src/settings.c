/*
 * The context's settings for the access path: the target's byte order, the
 * page size, how views index their ranges, who handles eventfds, and the
 * embedder's hooks for guest errors and dirty writes (with the two calls
 * the access path reports through). Writers set them; readers only read.
 */
#include "access_internal.h"

#include <inttypes.h>
#include <stdio.h>

void mt__guest_error(const mt_context *ctx, const char *fmt, ...)
{
    const struct mt__access_settings *s = mt__access(ctx);
    if (!s->guest_error)
        return; /* formatting costs more than most accesses */
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    s->guest_error(s->guest_error_opaque, buf);
}

void mt__dirty_report(const mt_context *ctx, mt_region *t, uint64_t offset, uint64_t len,
                      uint8_t mask)
{
    const struct mt__access_settings *s = mt__access(ctx);
    if (mask && s->dirty && len)
        s->dirty(s->dirty_opaque, t, offset, len, mask);
}


#define CHECK_CTX(ctx, op)                                                     \
    do {                                                                       \
        if (mt__null_arg((ctx), (op), "context"))                              \
            return -EINVAL;                                                    \
    } while (0)

int mt_context_set_target_endian(mt_context *ctx, mt_endian order)
{
    CHECK_CTX(ctx, "mt_context_set_target_endian");
    if (order != MT_ENDIAN_LITTLE && order != MT_ENDIAN_BIG)
        return mt__diag(ctx, -EINVAL,
                        "mt_context_set_target_endian: the target order must be little or big");
    ctx->target_big_endian = order == MT_ENDIAN_BIG;
    return 0;
}

mt_endian mt_context_target_endian(const mt_context *ctx)
{
    return ctx && ctx->target_big_endian ? MT_ENDIAN_BIG : MT_ENDIAN_LITTLE;
}

int mt_context_set_page_size(mt_context *ctx, uint64_t page_size)
{
    CHECK_CTX(ctx, "mt_context_set_page_size");
    if (!page_size || (page_size & (page_size - 1)))
        return mt__diag(ctx, -EINVAL,
                        "mt_context_set_page_size: 0x%" PRIx64 " is not a power of two",
                        page_size);
    mt__access(ctx)->page_size = page_size;
    return 0;
}

int mt_context_set_lookup_options(mt_context *ctx, unsigned options)
{
    CHECK_CTX(ctx, "mt_context_set_lookup_options");
    const unsigned known = MT_LOOKUP_NO_HINTS | MT_LOOKUP_SCALAR | MT_LOOKUP_NO_AVX512;
    if (options & ~known)
        return mt__diag(ctx, -EINVAL, "mt_context_set_lookup_options: unknown bits 0x%x",
                        options & ~known);
    mt__access(ctx)->lookup_options = options;
    return 0;
}

void mt_context_set_eventfds_external(mt_context *ctx, bool external)
{
    if (ctx)
        mt__access(ctx)->eventfds_external = external;
}

void mt_context_set_guest_error_hook(mt_context *ctx, mt_diag_fn fn, void *opaque)
{
    if (!ctx)
        return;
    mt__access(ctx)->guest_error = fn;
    mt__access(ctx)->guest_error_opaque = opaque;
}

void mt_context_set_dirty_hook(mt_context *ctx, mt_dirty_fn fn, void *opaque)
{
    if (!ctx)
        return;
    mt__access(ctx)->dirty = fn;
    mt__access(ctx)->dirty_opaque = opaque;
}
