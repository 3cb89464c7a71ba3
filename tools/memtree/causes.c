/*
 * Why two machines' maps differ, as causes rather than lines: regions of A
 * and B are paired by their place in the tree (the chain of container
 * names, and the rank among same-named siblings), and each pair's
 * properties are compared: address (moved), size (resized), enabled,
 * priority, alias target and offset, read-only, kind; unpaired regions
 * were added or removed. Used by `diff` and `watch`.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A region's place: "system/pci/e1000-mmio", with "#k" when k same-named
 * siblings come before it. Regions outside any container (address-space
 * roots, alias targets) rank among each other in `tops` order. */
static char *place(const mt_region *r, const mt_region **tops, size_t ntops)
{
    const mt_region *c = mt_region_container(r);
    size_t rank = 0;
    char *prefix;
    if (c) {
        for (const mt_region *s = mt_region_first_subregion(c); s && s != r;
             s = mt_region_next_sibling(s))
            rank += !strcmp(cli_name(s), cli_name(r));
        prefix = place(c, tops, ntops);
    } else {
        for (size_t i = 0; i < ntops && tops[i] != r; i++)
            rank += !strcmp(cli_name(tops[i]), cli_name(r));
        prefix = cli_strdup("");
    }
    size_t n = strlen(prefix) + strlen(cli_name(r)) + 32;
    char *key = cli_alloc(n, 1);
    snprintf(key, n, "%s%s%s", prefix, *prefix ? "/" : "", cli_name(r));
    if (rank)
        snprintf(key + strlen(key), n - strlen(key), "#%zu", rank);
    free(prefix);
    return key;
}

struct keyed {
    const mt_region *r;
    char *key;
};

static int by_key(const void *x, const void *y)
{
    return strcmp(((const struct keyed *)x)->key, ((const struct keyed *)y)->key);
}

/* Every reachable region with its place, sorted by place. */
static size_t keyed_regions(mt_context *ctx, struct keyed **out)
{
    const mt_region **all;
    size_t n = cli_reachable_regions(ctx, &all);
    const mt_region **tops = cli_alloc(n ? n : 1, sizeof(*tops));
    size_t ntops = 0;
    for (size_t i = 0; i < n; i++)
        if (!mt_region_container(all[i]))
            tops[ntops++] = all[i];
    struct keyed *k = cli_alloc(n ? n : 1, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        k[i].r = all[i];
        k[i].key = place(all[i], tops, ntops);
    }
    qsort(k, n, sizeof(*k), by_key);
    free(tops);
    free(all);
    *out = k;
    return n;
}

static void free_keyed(struct keyed *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i].key);
    free(k);
}

struct list {
    cli_cause *c;
    size_t n, cap;
};

__attribute__((format(printf, 5, 6)))
static void add(struct list *l, const char *what, const mt_region *a,
                const mt_region *b, const char *fmt, ...)
{
    cli_reserve(&l->c, &l->cap, l->n + 1, sizeof(*l->c));
    cli_cause *c = &l->c[l->n++];
    *c = (cli_cause){.what = what, .a = a, .b = b};
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&c->detail, fmt, ap) < 0)
        c->detail = NULL;
    va_end(ap);
}

/* Where a region sits: "0xfebc0000-0xfebdffff in pci". */
static void where(const mt_region *r, char *buf, size_t len)
{
    cli_u128 size = cli_region_size(r);
    uint64_t first = mt_region_addr(r);
    cli_u128 last = size ? (cli_u128)first + size - 1 : first;
    const mt_region *c = mt_region_container(r);
    snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 "%s%s", first,
             last > UINT64_MAX ? UINT64_MAX : (uint64_t)last, c ? " in " : "",
             c ? cli_name(c) : "");
}

static void compare_pair(struct list *l, const mt_region *a, const mt_region *b,
                         const char *target_a, const char *target_b)
{
    char wa[160], wb[160], sa[32], sb[32];
    if (mt_region_addr(a) != mt_region_addr(b)) {
        where(a, wa, sizeof(wa));
        where(b, wb, sizeof(wb));
        add(l, "moved", a, b, "from %s to %s", wa, wb);
    }
    if (cli_region_size(a) != cli_region_size(b))
        add(l, "resized", a, b, "from %s to %s",
            cli_human_size(cli_region_size(a), sa, sizeof(sa)),
            cli_human_size(cli_region_size(b), sb, sizeof(sb)));
    if (mt_region_enabled(a) != mt_region_enabled(b)) {
        where(b, wb, sizeof(wb));
        add(l, mt_region_enabled(b) ? "enabled" : "disabled", a, b, "at %s", wb);
    }
    if (mt_region_priority(a) != mt_region_priority(b))
        add(l, "priority", a, b, "from %" PRId32 " to %" PRId32,
            mt_region_priority(a), mt_region_priority(b));
    if (target_a && target_b && strcmp(target_a, target_b))
        add(l, "retargeted", a, b, "from %s to %s", target_a, target_b);
    if (mt_region_get_kind(a) == MT_KIND_ALIAS && mt_region_get_kind(b) == MT_KIND_ALIAS &&
        mt_region_alias_offset(a) != mt_region_alias_offset(b))
        add(l, "re-offset", a, b, "from +0x%" PRIx64 " to +0x%" PRIx64,
            mt_region_alias_offset(a), mt_region_alias_offset(b));
    if (mt_region_readonly(a) != mt_region_readonly(b))
        add(l, "readonly", a, b, "%s", mt_region_readonly(b) ? "became read-only"
                                                             : "became writable");
    if (strcmp(cli_region_kind(a), cli_region_kind(b)))
        add(l, "kind", a, b, "from %s to %s", cli_region_kind(a), cli_region_kind(b));
}

/* The place of an alias's target, found in the sorted list. */
static const char *target_key(const mt_region *r, const struct keyed *k, size_t n)
{
    if (mt_region_get_kind(r) != MT_KIND_ALIAS || !mt_region_alias_target(r))
        return NULL;
    const mt_region *t = mt_region_alias_target(r);
    for (size_t i = 0; i < n; i++)
        if (k[i].r == t)
            return k[i].key;
    return NULL;
}

size_t cli_find_causes(mt_context *a, mt_context *b, cli_cause **out)
{
    struct keyed *ka, *kb;
    size_t na = keyed_regions(a, &ka), nb = keyed_regions(b, &kb);
    struct list l = {0};
    size_t i = 0, k = 0;
    char w[160];
    while (i < na || k < nb) {
        int cmp = i == na ? 1 : k == nb ? -1 : strcmp(ka[i].key, kb[k].key);
        if (cmp < 0) {
            where(ka[i].r, w, sizeof(w));
            add(&l, "removed", ka[i].r, NULL, "was at %s", w);
            i++;
        } else if (cmp > 0) {
            where(kb[k].r, w, sizeof(w));
            add(&l, "added", NULL, kb[k].r, "at %s%s", w,
                mt_region_enabled(kb[k].r) ? "" : " (disabled)");
            k++;
        } else {
            compare_pair(&l, ka[i].r, kb[k].r, target_key(ka[i].r, ka, na),
                         target_key(kb[k].r, kb, nb));
            i++;
            k++;
        }
    }
    free_keyed(ka, na);
    free_keyed(kb, nb);
    *out = l.c;
    return l.n;
}

void cli_causes_free(cli_cause *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(c[i].detail);
    free(c);
}

static const mt_region *subject(const cli_cause *c)
{
    return c->b ? c->b : c->a;
}

void cli_print_cause(FILE *out, const char *prefix, const cli_cause *c)
{
    const mt_region *r = subject(c);
    fprintf(out, "%s%-10s %s (%s", prefix, c->what, cli_name(r), cli_region_kind(r));
    if (mt_region_get_kind(r) == MT_KIND_ALIAS && mt_region_alias_target(r))
        fprintf(out, " -> %s +0x%" PRIx64, cli_name(mt_region_alias_target(r)),
                mt_region_alias_offset(r));
    fprintf(out, ") %s", c->detail ? c->detail : "");
    const char *owner = cli_owner(r);
    if (owner)
        fprintf(out, ", owner %s", owner);
    fputc('\n', out);
}

void cli_json_cause(cli_json *j, const cli_cause *c)
{
    const mt_region *r = subject(c);
    json_begin_object(j);
    json_field_string(j, "cause", c->what);
    json_field_string(j, "region", mt_region_name(r));
    json_field_string(j, "kind", cli_region_kind(r));
    json_field_string(j, "container", mt_region_container(r) ? cli_name(mt_region_container(r)) : NULL);
    json_field_string(j, "owner", cli_owner(r));
    json_field_string(j, "detail", c->detail);
    json_key(j, "address_before");
    if (c->a)
        json_hex(j, mt_region_addr(c->a));
    else
        json_null(j);
    json_key(j, "address_after");
    if (c->b)
        json_hex(j, mt_region_addr(c->b));
    else
        json_null(j);
    json_end_object(j);
}
