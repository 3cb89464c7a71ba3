/*
 * What the two corpus runners (tests/oracle, tests/import) share: reading a
 * case's files and capturing memtree's dumps as strings. Header-only, so the
 * runners need no test library (they link the memtree library alone).
 */
#ifndef MT_CORPUS_FILES_H
#define MT_CORPUS_FILES_H

#include <memtree.h>
#include <memtree/format.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "corpus runner: out of memory\n");
        exit(2);
    }
    return p;
}

static inline char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* "dir/name", allocated. */
static inline char *path_join(const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    char *p = xrealloc(NULL, d + n + 2);
    memcpy(p, dir, d);
    p[d] = '/';
    memcpy(p + d + 1, name, n + 1);
    return p;
}

/* The whole file as a NUL-terminated string, or NULL if it cannot be read. */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (cap - len < 4096)
            buf = xrealloc(buf, cap = cap * 2 + 8192);
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
    } while (n);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* mt_dump's output as a string, or NULL if it failed. */
static inline char *dump(mt_context *ctx, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = mt_dump(ctx, f, flags);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

/*
 * Cases known to fail, read from a file of `CASE reason...` lines (# starts
 * a comment): a runner reports them as XFAIL instead of failing, and fails
 * when one passes (XPASS), so the list shrinks as the fixes land.
 */
struct known_failures {
    char *text;
    char **names;
    size_t n;
};

static inline bool known_failures_load(struct known_failures *k, const char *path)
{
    memset(k, 0, sizeof(*k));
    k->text = slurp(path);
    if (!k->text)
        return false;
    for (char *line = strtok(k->text, "\n"); line; line = strtok(NULL, "\n")) {
        line += strspn(line, " \t");
        if (!*line || *line == '#')
            continue;
        line[strcspn(line, " \t")] = '\0';
        k->names = xrealloc(k->names, (k->n + 1) * sizeof(*k->names));
        k->names[k->n++] = line;
    }
    return true;
}

static inline bool known_failure(const struct known_failures *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->names[i], name))
            return true;
    return false;
}

static inline void known_failures_free(struct known_failures *k)
{
    free(k->text);
    free(k->names);
    memset(k, 0, sizeof(*k));
}

#endif /* MT_CORPUS_FILES_H */
