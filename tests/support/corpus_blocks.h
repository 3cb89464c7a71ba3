/*
 * What the two corpus runners (tests/oracle, tests/import) compare dumps
 * with: text split into blank-line separated blocks of lines, compared as
 * multisets (QEMU prints address spaces and views in no fixed order), with
 * the flat-dump normalisation, and a message naming the first difference.
 * Header-only, like corpus_files.h.
 */
#ifndef MT_CORPUS_BLOCKS_H
#define MT_CORPUS_BLOCKS_H

#include "corpus_files.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct strv {
    char **v;
    size_t n, cap;
};

static inline void strv_push(struct strv *s, char *owned)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = owned;
}

static inline void strv_free(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (struct strv){0};
}

static inline int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A block: its lines, and `key`, the lines joined, for multiset comparison. */
struct block {
    struct strv lines;
    char *key;
};

struct blocks {
    struct block *v;
    size_t n, cap;
};

static inline struct block *blocks_add(struct blocks *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 16;
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n] = (struct block){0};
    return &b->v[b->n++];
}

static inline void blocks_free(struct blocks *b)
{
    for (size_t i = 0; i < b->n; i++) {
        strv_free(&b->v[i].lines);
        free(b->v[i].key);
    }
    free(b->v);
    *b = (struct blocks){0};
}

static inline void block_seal(struct block *b)
{
    size_t len = 1;
    for (size_t i = 0; i < b->lines.n; i++)
        len += strlen(b->lines.v[i]) + 1;
    char *k = xrealloc(NULL, len), *p = k;
    for (size_t i = 0; i < b->lines.n; i++) {
        size_t n = strlen(b->lines.v[i]);
        memcpy(p, b->lines.v[i], n);
        p += n;
        *p++ = '\n';
    }
    *p = '\0';
    b->key = k;
}

/* Splits text into blank-line separated blocks; CRLF is accepted. */
static inline void parse_blocks(const char *text, struct blocks *out)
{
    struct block *cur = NULL;
    while (*text) {
        size_t n = strcspn(text, "\n");
        size_t len = n;
        if (len && text[len - 1] == '\r')
            len--;
        if (len == 0) {
            cur = NULL;
        } else {
            if (!cur)
                cur = blocks_add(out);
            char *line = xrealloc(NULL, len + 1);
            memcpy(line, text, len);
            line[len] = '\0';
            strv_push(&cur->lines, line);
        }
        text += n + (text[n] == '\n');
    }
}

struct keyed {
    const char *key;
    size_t idx;
};

static inline int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static inline size_t common_prefix(const struct block *a, const struct block *b)
{
    size_t k = 0;
    while (k < a->lines.n && k < b->lines.n && !strcmp(a->lines.v[k], b->lines.v[k]))
        k++;
    return k;
}

/*
 * Compares two lists of blocks as multisets. On a difference, `why` names
 * the first expected block without a twin and its first line that differs
 * from the most similar unmatched block we produced.
 */
static inline bool same_blocks(struct blocks *exp, struct blocks *got, char *why,
                               size_t whylen)
{
    for (size_t i = 0; i < exp->n; i++)
        if (!exp->v[i].key)
            block_seal(&exp->v[i]);
    for (size_t i = 0; i < got->n; i++)
        if (!got->v[i].key)
            block_seal(&got->v[i]);
    struct keyed *e = xrealloc(NULL, exp->n * sizeof(*e));
    struct keyed *g = xrealloc(NULL, got->n * sizeof(*g));
    bool *e_ok = calloc(exp->n + 1, 1), *g_ok = calloc(got->n + 1, 1);
    for (size_t i = 0; i < exp->n; i++)
        e[i] = (struct keyed){exp->v[i].key, i};
    for (size_t i = 0; i < got->n; i++)
        g[i] = (struct keyed){got->v[i].key, i};
    qsort(e, exp->n, sizeof(*e), cmp_keyed);
    qsort(g, got->n, sizeof(*g), cmp_keyed);
    size_t i = 0, j = 0, e_bad = exp->n, g_bad = got->n;
    while (i < exp->n && j < got->n) {
        int c = strcmp(e[i].key, g[j].key);
        if (c == 0) {
            e_ok[e[i++].idx] = g_ok[g[j++].idx] = true;
            e_bad--, g_bad--;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    free(e);
    free(g);
    bool same = !e_bad && !g_bad;
    if (!same) {
        size_t ei = 0, best = SIZE_MAX, best_len = 0;
        while (ei < exp->n && e_ok[ei])
            ei++;
        for (size_t k = 0; ei < exp->n && k < got->n; k++) {
            size_t len = g_ok[k] ? 0 : common_prefix(&exp->v[ei], &got->v[k]);
            if (!g_ok[k] && (best == SIZE_MAX || len > best_len))
                best = k, best_len = len;
        }
        int n = snprintf(why, whylen, "%zu expected block(s) unmatched, %zu extra; ",
                         e_bad, g_bad);
        char *p = why + n;
        size_t room = (size_t)n < whylen ? whylen - (size_t)n : 0;
        if (ei == exp->n) {
            for (best = 0; g_ok[best]; best++)
                ;
            snprintf(p, room, "extra block `%s`", got->v[best].lines.v[0]);
        } else if (best == SIZE_MAX) {
            snprintf(p, room, "nothing produced for block `%s`", exp->v[ei].lines.v[0]);
        } else {
            const struct block *x = &exp->v[ei], *y = &got->v[best];
            snprintf(p, room, "block `%s` line %zu: expected `%s`, got `%s`",
                     x->lines.v[0], best_len + 1,
                     best_len < x->lines.n ? x->lines.v[best_len] : "(end of block)",
                     best_len < y->lines.n ? y->lines.v[best_len] : "(end of block)");
        }
    }
    free(e_ok);
    free(g_ok);
    return same;
}



/* Flat blocks: the `FlatView #N` numbers follow print order, and AS lines
 * are a set (QEMU walks hash tables), so drop the first and sort the second. */
static inline void normalise_flat(struct blocks *b)
{
    for (size_t i = 0; i < b->n; i++) {
        struct strv *l = &b->v[i].lines;
        size_t k = 0;
        if (l->n && !strncmp(l->v[0], "FlatView #", 10)) {
            free(l->v[0]);
            memmove(l->v, l->v + 1, --l->n * sizeof(*l->v));
        }
        while (k < l->n && !strncmp(l->v[k], " AS ", 4))
            k++;
        qsort(l->v, k, sizeof(*l->v), cmp_str);
    }
}

#endif /* MT_CORPUS_BLOCKS_H */
