/*
 * How two views of one lineage share their chunks (docs/views.md, "How a
 * view is stored"), for tests that check a commit rebuilt only what it
 * changed: read from the views' internals.
 */
#ifndef MT_TEST_VIEW_CHUNKS_H
#define MT_TEST_VIEW_CHUNKS_H

#include "internal.h"

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
