/*
 * A map from strings to indexes, for the dump readers' name lookups. Keys
 * are borrowed, not copied: they must outlive the map.
 *
 * Why not a packaged table: uthash needs a handle embedded in each entry and
 * an allocation per entry, and glibc's hsearch_r cannot grow; this table is
 * two flat arrays (16 bytes a slot) and grows by doubling. Its behaviour is
 * checked by tests/unit/util/test_strset.c.
 */
#ifndef MEMTREE_UTIL_STRSET_H
#define MEMTREE_UTIL_STRSET_H

#include <stddef.h>

/* "No index": what a lookup of an absent key returns. */
#define MT__NONE ((size_t)-1)

struct mt__strset {
    const char **keys;
    size_t *vals;
    size_t cap, count;
};

/* Returns the value stored for `key`, or MT__NONE after storing `val`. */
size_t mt__strset_put(struct mt__strset *s, const char *key, size_t val);
/* The value stored for `key`, or MT__NONE. */
size_t mt__strset_get(const struct mt__strset *s, const char *key);
void mt__strset_free(struct mt__strset *s);

#endif /* MEMTREE_UTIL_STRSET_H */
