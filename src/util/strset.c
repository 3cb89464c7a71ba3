/*
 * A map from borrowed C strings to indexes (strset.h): open addressing with
 * linear probing over a power-of-two table kept at most half full.
 */
#include "strset.h"

#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t str_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (size_t)(h ^ (h >> 32));
}

static void strset_grow(struct mt__strset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    const char **keys = mt__xcalloc(cap, sizeof(*keys));
    size_t *vals = mt__xcalloc(cap, sizeof(*vals));
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->keys[i])
            continue;
        size_t j = str_hash(s->keys[i]) & (cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = s->keys[i];
        vals[j] = s->vals[i];
    }
    free(s->keys);
    free(s->vals);
    s->keys = keys;
    s->vals = vals;
    s->cap = cap;
}

size_t mt__strset_put(struct mt__strset *s, const char *key, size_t val)
{
    if ((s->count + 1) * 2 > s->cap)
        strset_grow(s);
    size_t j = str_hash(key) & (s->cap - 1);
    while (s->keys[j]) {
        if (!strcmp(s->keys[j], key))
            return s->vals[j];
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = key;
    s->vals[j] = val;
    s->count++;
    return MT__NONE;
}

size_t mt__strset_get(const struct mt__strset *s, const char *key)
{
    if (!s->cap)
        return MT__NONE;
    size_t j = str_hash(key) & (s->cap - 1);
    while (s->keys[j]) {
        if (!strcmp(s->keys[j], key))
            return s->vals[j];
        j = (j + 1) & (s->cap - 1);
    }
    return MT__NONE;
}

void mt__strset_free(struct mt__strset *s)
{
    free(s->keys);
    free(s->vals);
    memset(s, 0, sizeof(*s));
}
