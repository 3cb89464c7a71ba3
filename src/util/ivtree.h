/*
 * An interval index: a set of closed intervals [start, last], each with an
 * opaque payload, that lists the ones meeting a query interval. memtree
 * keeps one over the children of a container that has many
 * (src/subregions.c), so that rendering a small part of it visits only the
 * children there (src/render.c).
 *
 * A B+ tree ordered by (start, payload), every subtree summarised by its
 * first key and its largest `last`: a query descends only into subtrees
 * whose first start is at most the query's last and whose largest last
 * reaches the query's start. Insert, remove and changing an interval's
 * last are O(log n); a query is O(log n + k) for intervals that do not
 * nest deeply (every subtree it enters holds an answer, except along the
 * one path at the query's end), O(k log n) at worst.
 *
 * Why not a packaged tree: the Debian -dev packages with ordered trees
 * (libbsd's sys/tree.h red-black macros, which have an augment hook;
 * libavl; GLib's GTree; liburcu has hash tables and lists, no tree;
 * libjudy maps words to words but cannot answer "which intervals contain
 * x") all take a node per element of 40 to 64 bytes plus the allocator's
 * overhead, and a red-black tree's max-last augment has to be refreshed
 * by hand on every rotation. Leaves of 64 entries of 24 bytes cost about
 * 24 bytes an interval when filled in address order (a machine's build),
 * about 30 in random order, and keep each query to a few cache lines. Checked by
 * tests/unit/util/test_ivtree.c.
 *
 * Payloads are never dereferenced; (start, payload) must be unique.
 */
#ifndef MEMTREE_UTIL_IVTREE_H
#define MEMTREE_UTIL_IVTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mt__ivtree;

struct mt__ivtree *mt__ivtree_new(void);
void mt__ivtree_free(struct mt__ivtree *t);
size_t mt__ivtree_count(const struct mt__ivtree *t);
/* Bytes the tree holds (its nodes and itself). */
size_t mt__ivtree_bytes(const struct mt__ivtree *t);

/* Adds [start, last] (start <= last) with `payload`; the pair (start,
 * payload) must not be in the tree. */
void mt__ivtree_insert(struct mt__ivtree *t, uint64_t start, uint64_t last, void *payload);
/* Removes the interval added with (start, payload), which must be there. */
void mt__ivtree_remove(struct mt__ivtree *t, uint64_t start, void *payload);
/* Gives the interval added with (start, payload) a new last. */
void mt__ivtree_set_last(struct mt__ivtree *t, uint64_t start, void *payload, uint64_t last);

/* Appends to the array *out (*n used, *cap allocated; grown as needed)
 * the payload of every interval meeting [lo, last], in (start, payload)
 * order. Stops and returns false once more than `limit` were found (the
 * first ones stay appended); true otherwise. */
bool mt__ivtree_query(const struct mt__ivtree *t, uint64_t lo, uint64_t last, size_t limit,
                      void ***out, size_t *n, size_t *cap);

/* Checks every invariant (order, summaries, counts, equal leaf depths);
 * false if one fails. For tests. */
bool mt__ivtree_check(const struct mt__ivtree *t);

#endif /* MEMTREE_UTIL_IVTREE_H */
