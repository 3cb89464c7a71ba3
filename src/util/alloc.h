/*
 * Allocation with memtree's one out-of-memory policy: small bookkeeping
 * allocations (names, arrays, records) that cannot sensibly fail abort with
 * a message naming the size. Only allocations whose size the user controls
 * (RAM backing, a file's contents) are checked by their callers and turned
 * into an error code instead; they call malloc/mmap directly.
 */
#ifndef MEMTREE_UTIL_ALLOC_H
#define MEMTREE_UTIL_ALLOC_H

#include <stddef.h>

void *mt__xmalloc(size_t size);
void *mt__xcalloc(size_t n, size_t size);
void *mt__xrealloc(void *p, size_t size);
char *mt__xstrdup(const char *s); /* NULL stays NULL */
/* printf into a new heap string. */
char *mt__xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Makes room for `need` elements of `elem` bytes in the array *p of
 * capacity *cap, doubling (at least 16 elements) so appends cost amortised
 * O(1). New elements are not initialised.
 */
void mt__grow(void *p, size_t *cap, size_t need, size_t elem);

/* Appending one element: `MT__PUSH(arr, n, cap) = value;`. */
#define MT__PUSH(arr, n, cap) \
    (*(mt__grow(&(arr), &(cap), (n) + 1, sizeof(*(arr))), &(arr)[(n)++]))

#endif /* MEMTREE_UTIL_ALLOC_H */
