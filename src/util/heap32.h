/*
 * A binary min-heap of 32-bit keys in a caller's array: the renderer's
 * sweep keeps the ranks of the fills covering the current address in one
 * (src/render.c), the lowest rank on top. Inline, and keyed by the values
 * themselves, so the sweep's inner loop compares integers and calls
 * nothing, where a general heap with a comparison callback would make an
 * indirect call per comparison (not measured against one here: this is the
 * renderer's own loop, moved out of render.c unchanged). The caller sizes
 * the array: a push needs one free entry.
 */
#ifndef MEMTREE_UTIL_HEAP32_H
#define MEMTREE_UTIL_HEAP32_H

#include <stddef.h>
#include <stdint.h>

/* Adds `key` to the heap h[0..*n). */
static inline void mt__heap32_push(uint32_t *h, size_t *n, uint32_t key)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent] <= key)
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = key;
}

/* Removes the top, h[0] (the heap must not be empty). */
static inline void mt__heap32_pop(uint32_t *h, size_t *n)
{
    uint32_t x = h[--(*n)];
    size_t i = 0, size = *n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= size)
            break;
        if (child + 1 < size && h[child + 1] < h[child])
            child++;
        if (h[child] >= x)
            break;
        h[i] = h[child];
        i = child;
    }
    if (size)
        h[i] = x;
}

#endif /* MEMTREE_UTIL_HEAP32_H */
