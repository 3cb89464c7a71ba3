/*
 * How two views of one lineage share their chunks (docs/views.md, "How a
 * view is stored"), for tests that check a commit rebuilt only what it
 * changed: read from the views' internals.
 */
#ifndef MT_TEST_VIEW_CHUNKS_H
#define MT_TEST_VIEW_CHUNKS_H

#include "internal.h"

/* The most parts of one region a commit of `ctx` renders apart
 * (MT__STALE_PARTS unless lowered): the small machines of the randomized
 * tests reach the joins of parts (txn.c, stale_add) only below it. */
static inline void mt_test_limit_parts(mt_context *ctx, unsigned n)
{
    ctx->stale_parts = (uint16_t)n;
}

/* The limit a randomized test sets for `seed`: 1 to 4 parts for odd
 * seeds, the default for even ones. */
static inline unsigned mt_test_parts_for_seed(uint64_t seed)
{
    return seed & 1 ? 1 + (unsigned)(seed / 2 % 4) : MT__STALE_PARTS;
}

/* Chunks of `now` that `before` has too (both in address order). */
static inline size_t mt_test_shared_chunks(const mt_view *before, const mt_view *now)
{
    size_t shared = 0;
    for (size_t i = 0, j = 0; i < before->nchunks && j < now->nchunks;) {
        if (before->chunks[i] == now->chunks[j]) {
            shared++, i++, j++;
        } else if (before->chunks[i]->ranges[0].start < now->chunks[j]->ranges[0].start) {
            i++;
        } else {
            j++;
        }
    }
    return shared;
}

/* Chunks of `now` it did not keep of `before`. */
static inline size_t mt_test_chunks_replaced(const mt_view *before, const mt_view *now)
{
    return now->nchunks - mt_test_shared_chunks(before, now);
}

static inline size_t mt_test_chunk_count(const mt_view *v)
{
    return v->nchunks;
}

#endif
