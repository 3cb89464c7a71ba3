/*
 * Helpers the subcommands share to look at a loaded machine through the
 * public API: printed types and kind words, sizes, address spaces grouped
 * by shared view (the grouping of QEMU's flat dump), and the set of regions
 * reachable from the address spaces. Nothing here edits the tree.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(void)
{
    fputs("memtree: out of memory\n", stderr);
    exit(CLI_USAGE);
}

void *cli_alloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void cli_reserve(void *pp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return;
    size_t n = *cap < 16 ? 16 : *cap;
    while (n < need)
        n *= 2;
    void **p = pp;
    *p = cli_grow(*p, n, size);
    *cap = n;
}

void *cli_grow(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        out_of_memory();
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q)
        out_of_memory();
    return q;
}

char *cli_strdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        out_of_memory();
    return p;
}

const char *cli_name(const mt_region *r)
{
    const char *n = r ? mt_region_name(r) : NULL;
    return n ? n : "(null)";
}

const char *cli_region_kind(const mt_region *r)
{
    switch (mt_region_get_kind(r)) {
    case MT_KIND_CONTAINER:
        return "container";
    case MT_KIND_RAM:
        return mt_region_readonly(r) ? "rom" : "ram";
    case MT_KIND_ROM_DEVICE:
        return "romd";
    case MT_KIND_RAM_DEVICE:
        return "ramd";
    case MT_KIND_IO:
        return "io";
    case MT_KIND_RESERVATION:
        return "reservation";
    case MT_KIND_IOMMU:
        return "iommu";
    case MT_KIND_ALIAS:
        return "alias";
    }
    return "?";
}

cli_u128 cli_region_size(const mt_region *r)
{
    uint64_t low;
    if (mt_region_size_exact(r, &low))
        return (cli_u128)1 << 64;
    return low;
}

const char *cli_human_size(cli_u128 size, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    unsigned u = 0;
    cli_u128 whole = size;
    while (whole >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        whole >>= 10;
        u++;
    }
    /* One decimal when the value is not a whole number of units. */
    cli_u128 unit = (cli_u128)1 << (10 * u);
    cli_u128 tenths = (size % unit) * 10 / unit;
    if (tenths && whole < 100)
        snprintf(buf, len, "%u.%u %s", (unsigned)whole, (unsigned)tenths, units[u]);
    else if (size % unit)
        snprintf(buf, len, "~%u %s", (unsigned)whole, units[u]);
    else
        snprintf(buf, len, "%u %s", (unsigned)whole, units[u]);
    return buf;
}

size_t cli_address_spaces(mt_context *ctx, const mt_address_space ***out)
{
    size_t n = 0, cap = 0;
    const mt_address_space **v = NULL;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        cli_reserve(&v, &cap, n + 1, sizeof(*v));
        v[n++] = as;
    }
    *out = v;
    return n;
}

size_t cli_view_groups(mt_context *ctx, cli_view_group **out)
{
    const mt_address_space **spaces;
    size_t ns = cli_address_spaces(ctx, &spaces);
    cli_view_group *g = cli_alloc(ns, sizeof(*g));
    size_t ng = 0;
    /* Quadratic in the number of views, which stays small (tens). */
    for (size_t i = 0; i < ns; i++) {
        const mt_view *v = mt_address_space_view(spaces[i]);
        size_t k = 0;
        while (k < ng && g[k].view != v)
            k++;
        if (k == ng) {
            g[ng].view = v;
            g[ng].spaces = cli_alloc(ns, sizeof(*g[ng].spaces));
            g[ng].nspaces = 0;
            ng++;
        }
        g[k].spaces[g[k].nspaces++] = spaces[i];
    }
    free(spaces);
    *out = g;
    return ng;
}

void cli_view_groups_free(cli_view_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(g[i].spaces);
    free(g);
}

/* An open-addressing set of region identities (never 0 in practice, but we
 * store id + 1 so that 0 can mean "empty"). */
struct idset {
    uint64_t *slot;
    size_t cap, n;
};

static bool idset_add(struct idset *s, uint64_t id)
{
    if (2 * (s->n + 1) > s->cap) {
        struct idset bigger = {NULL, s->cap ? 2 * s->cap : 256, 0};
        bigger.slot = cli_alloc(bigger.cap, sizeof(uint64_t));
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                idset_add(&bigger, s->slot[i] - 1);
        free(s->slot);
        *s = bigger;
    }
    size_t i = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 7) & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == id + 1)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = id + 1;
    s->n++;
    return true;
}

size_t cli_reachable_regions(mt_context *ctx, const mt_region ***out)
{
    struct idset seen = {0};
    const mt_region **list = NULL, **stack = NULL;
    size_t n = 0, cap = 0, sp = 0, scap = 0;

    const mt_address_space **spaces;
    size_t ns = cli_address_spaces(ctx, &spaces);
    for (size_t i = 0; i < ns; i++) {
        const mt_region *root = mt_address_space_root(spaces[i]);
        if (!root || !idset_add(&seen, mt_region_id(root)))
            continue;
        /* Depth first with an explicit stack: real trees are shallow, but
         * generated ones need not be. */
        sp = 0;
        cli_reserve(&stack, &scap, sp + 1, sizeof(*stack));
        stack[sp++] = root;
        while (sp) {
            const mt_region *r = stack[--sp];
            cli_reserve(&list, &cap, n + 1, sizeof(*list));
            list[n++] = r;
            /* Push in reverse so that the first child is visited first. */
            size_t mark = sp;
            const mt_region *t = mt_region_alias_target(r);
            if (t && idset_add(&seen, mt_region_id(t))) {
                if (sp == scap) {
                    scap *= 2;
                    stack = cli_grow(stack, scap, sizeof(*stack));
                }
                stack[sp++] = t;
            }
            for (const mt_region *c = mt_region_first_subregion(r); c;
                 c = mt_region_next_sibling(c)) {
                if (!idset_add(&seen, mt_region_id(c)))
                    continue;
                if (sp == scap) {
                    scap *= 2;
                    stack = cli_grow(stack, scap, sizeof(*stack));
                }
                stack[sp++] = c;
            }
            for (size_t a = mark, b = sp; a + 1 < b; a++, b--) {
                const mt_region *tmp = stack[a];
                stack[a] = stack[b - 1];
                stack[b - 1] = tmp;
            }
        }
    }
    free(spaces);
    free(stack);
    free(seen.slot);
    *out = list;
    return n;
}

size_t cli_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    /* A NUL ends the string early and fails the continuation test. */
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void cli_print_range(FILE *out, const char *indent, const mt_range *r)
{
    fprintf(out, "%s%016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s%s): %s",
            indent, r->start, r->last, mt_region_priority(r->region),
            r->nonvolatile ? "nv-" : "", mt_dump_range_type(r), cli_name(r->region));
    if (r->offset_in_region)
        fprintf(out, " @%016" PRIx64, r->offset_in_region);
    fputc('\n', out);
}

const char *cli_owner(const mt_region *r)
{
    const mt_owner *o = mt_region_owner(r);
    const char *label = o ? mt_owner_label(o) : NULL;
    if (!label || !*label)
        return NULL;
    /* QEMU's "dev path=/machine/..." and "obj path=...": the path is what
     * names the device. */
    const char *p = strstr(label, "path=");
    return p ? p + 5 : label;
}

size_t cli_first_range_from(const mt_view *v, uint64_t addr)
{
    const mt_range *r = mt_view_ranges(v);
    size_t lo = 0, hi = mt_view_range_count(v);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].last < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
