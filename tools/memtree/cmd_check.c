/*
 * `memtree check FILE`: lints a memory map for what is legal but suspect:
 * equal-priority siblings that overlap (the winner is decided by mapping
 * order, which the map does not show), aliases reaching past the end of
 * their target, regions reaching past their container's end, regions whose
 * address plus size passes 2^64, aliases that show their own container at
 * the very place they sit (a loop of displacement zero, which renders
 * nothing), and alias cycles (which the loader refuses, so they arrive as a
 * load error). Only regions reachable from an address space are checked:
 * the others are never rendered or printed.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: memtree check [FILE] [--flat FLATFILE] [--json]\n"
    "\n"
    "Looks for legal but suspect constructions, and exits with 1 if it finds\n"
    "any:\n"
    "  overlap   enabled siblings of equal priority overlap: which one is seen\n"
    "            depends on the order they were mapped in\n"
    "  alias     an alias reaches past the end of its target\n"
    "  overhang  a region reaches past the end of its container (it is cut)\n"
    "  overflow  a region's address plus its size passes 2^64\n"
    "  loop      an alias shows its own container at the very place it sits\n"
    "            in it: the loop has displacement zero and renders nothing\n"
    "  cycle     aliases lead back to themselves (the file cannot be loaded)\n"
    "Addresses are absolute, as in `info mtree`.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default: the bundled x86 pc machine\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine\n"
    "  --json          the problems as JSON\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP;


static const cli_option options[] = {
    CLI_OPTION_JSON,
    CLI_OPTION_FLAT,
    {NULL, 0, false, 0},
};

struct problem {
    const char *kind;
    char *message;
    const mt_region *r[2];    /* the regions concerned (second may be NULL) */
    uint64_t first, last;     /* the addresses concerned */
};

struct report {
    struct problem *p;
    size_t n, cap;
    struct places *places;   /* where the regions sit (below) */
};

__attribute__((format(printf, 7, 8)))
static void add(struct report *rep, const char *kind, const mt_region *a,
                const mt_region *b, uint64_t first, uint64_t last,
                const char *fmt, ...)
{
    cli_reserve(&rep->p, &rep->cap, rep->n + 1, sizeof(*rep->p));
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    rep->p[rep->n++] = (struct problem){kind, msg, {a, b}, first, last};
}

/*
 * Where each region sits, found once per region: the tree dump's address
 * (the sum of the addresses up its chain of containers, kept without the
 * modulo), its depth and its outermost containers. Walking up the chain
 * for every region and every message made `check` cubic on deep trees
 * (tests/cli/check_deep.sh).
 */
struct place {
    const mt_region *r;      /* the key; NULL: a free slot */
    cli_u128 start;
    size_t depth;            /* 1 for a region without a container */
    const mt_region *top;    /* the outermost container, or r itself */
    const mt_region *below;  /* top's child on the way to r, or NULL */
};

struct places {
    struct place *slot;
    size_t cap, n;
    const mt_region **stack; /* scratch for place_of */
    size_t scap;
};

static size_t place_hash(const struct places *P, const mt_region *r)
{
    return (size_t)(((uintptr_t)r * 0x9e3779b97f4a7c15ull) >> 11) & (P->cap - 1);
}

static struct place *place_slot(struct places *P, const mt_region *r)
{
    size_t i = place_hash(P, r);
    while (P->slot[i].r && P->slot[i].r != r)
        i = (i + 1) & (P->cap - 1);
    return &P->slot[i];
}

static struct place *place_insert(struct places *P, const mt_region *r)
{
    if (2 * (P->n + 1) > P->cap) {
        struct places bigger = {NULL, P->cap ? 2 * P->cap : 1024, 0, P->stack, P->scap};
        bigger.slot = cli_alloc(bigger.cap, sizeof(*bigger.slot));
        for (size_t i = 0; i < P->cap; i++)
            if (P->slot[i].r)
                *place_slot(&bigger, P->slot[i].r) = P->slot[i];
        bigger.n = P->n;
        free(P->slot);
        *P = bigger;
    }
    struct place *p = place_slot(P, r);
    p->r = r;
    P->n++;
    return p;
}

/* r's place, computing it and every unknown container's on the way: each
 * region is climbed past once. */
static const struct place *place_of(struct places *P, const mt_region *r)
{
    size_t sp = 0;
    const struct place *known = NULL;
    for (const mt_region *c = r; c; c = mt_region_container(c)) {
        if (P->cap) {
            struct place *p = place_slot(P, c);
            if (p->r) {
                known = p;
                break;
            }
        }
        cli_reserve(&P->stack, &P->scap, sp + 1, sizeof(*P->stack));
        P->stack[sp++] = c;
    }
    struct place up = known ? *known : (struct place){0};
    while (sp) {
        const mt_region *c = P->stack[--sp];
        struct place *p = place_insert(P, c);
        p->start = up.start + mt_region_addr(c);
        p->depth = up.depth + 1;
        p->top = up.r ? up.top : c;
        p->below = !up.r ? NULL : up.depth == 1 ? c : up.below;
        up = *p;
    }
    return place_slot(P, r);
}

static void places_free(struct places *P)
{
    free(P->slot);
    free(P->stack);
}

/* Where a region starts, as the tree dump prints it (modulo 2^64). */
static uint64_t abs_start(struct places *P, const mt_region *r)
{
    return (uint64_t)place_of(P, r)->start;
}

/* The same sum without the modulo. */
static cli_u128 abs_start_wide(struct places *P, const mt_region *r)
{
    return place_of(P, r)->start;
}

/* "system/pci/vga.mmio": names repeat, their containers tell them apart.
 * Deep paths keep their two outermost and three innermost names, so that a
 * message stays short however deep the tree is:
 * "system/c1/...(99994 more).../c99997/c99998/leaf". */
#define PATH_INNER 3
static char *region_path(struct places *P, const mt_region *r)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) {
        fputs("memtree: out of memory\n", stderr);
        exit(CLI_USAGE);
    }
    const struct place *p = place_of(P, r);
    size_t depth = p->depth;
    const mt_region *inner[PATH_INNER];
    size_t ninner = 0;
    for (const mt_region *c = r; c && ninner < PATH_INNER; c = mt_region_container(c))
        inner[ninner++] = c;
    if (depth > PATH_INNER + 2) {
        fprintf(f, "%s/%s/...(%zu more).../", cli_name(p->top), cli_name(p->below),
                depth - PATH_INNER - 2);
    } else {
        /* shallow: the names above the innermost ones, from the top */
        for (size_t level = depth; level-- > ninner;) {
            const mt_region *c = r;
            for (size_t k = 0; k < level; k++)
                c = mt_region_container(c);
            fprintf(f, "%s/", cli_name(c));
        }
    }
    for (size_t k = ninner; k-- > 0;)
        fprintf(f, "%s%s", cli_name(inner[k]), k ? "/" : "");
    if (fclose(f) != 0 || !s) {
        fputs("memtree: out of memory\n", stderr);
        exit(CLI_USAGE);
    }
    return s;
}

/* The last address of [start, start + size), clipped to 64 bits. */
static uint64_t last_of(uint64_t start, cli_u128 size)
{
    if (!size)
        return start;
    cli_u128 end = (cli_u128)start + size - 1;
    return end > UINT64_MAX ? UINT64_MAX : (uint64_t)end;
}

/*
 * Whether rendering `r` (its container's offset 0 at `base`) puts anything
 * in [lo, hi]: the renderer's clipping and alias arithmetic, stopping at
 * the first terminal region met. An overlap only matters where both
 * siblings render something; closed bridge windows and empty containers
 * overlap harmlessly all the time. Iterative, as trees may be deep; an
 * alias loop that keeps the window open would run forever, so after
 * RENDERS_IN_BUDGET steps the answer is a cautious yes.
 */
#define RENDERS_IN_BUDGET 1000000
struct pending {
    const mt_region *r;
    cli_i128 base, lo, hi;
};

static bool renders_in(const mt_region *r0, cli_i128 base0, cli_i128 lo0, cli_i128 hi0)
{
    struct pending *stack = NULL;
    size_t sp = 0, cap = 0, steps = 0;
    bool found = false;
    struct pending cur = {r0, base0, lo0, hi0};
    for (;;) {
        const mt_region *r = cur.r;
        cli_i128 base = cur.base + mt_region_addr(r), lo = cur.lo, hi = cur.hi;
        cli_i128 end = base + (cli_i128)cli_region_size(r) - 1;
        if (base > lo)
            lo = base;
        if (end < hi)
            hi = end;
        if (++steps > RENDERS_IN_BUDGET) {
            found = true;
            break;
        }
        if (mt_region_enabled(r) && lo <= hi) {
            const mt_region *t = mt_region_alias_target(r);
            if (mt_region_get_kind(r) == MT_KIND_ALIAS) {
                if (t) {
                    cur = (struct pending){t, base - (cli_i128)mt_region_addr(t) -
                                                  (cli_i128)mt_region_alias_offset(r), lo, hi};
                    continue;
                }
            } else if (mt_region_is_terminal(r)) {
                found = true;
                break;
            } else {
                for (const mt_region *c = mt_region_first_subregion(r); c;
                     c = mt_region_next_sibling(c)) {
                    cli_reserve(&stack, &cap, sp + 1, sizeof(*stack));
                    stack[sp++] = (struct pending){c, base, lo, hi};
                }
            }
        }
        if (!sp)
            break;
        cur = stack[--sp];
    }
    free(stack);
    return found;
}

struct child {
    const mt_region *r;
    size_t order;          /* position in render order */
    cli_u128 first, end;   /* offsets in the container, end exclusive */
};

static int cmp_child(const void *a, const void *b)
{
    const struct child *x = a, *y = b;
    int32_t px = mt_region_priority(x->r), py = mt_region_priority(y->r);
    if (px != py)
        return px < py ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Equal-priority overlaps among the enabled children of `c`: sorted by
 * priority then address, each child is compared with the one reaching
 * furthest so far in its class, which finds every overlapping region with
 * at most one report each.
 */
static void check_overlaps(struct report *rep, const mt_region *c)
{
    size_t n = 0;
    for (const mt_region *k = mt_region_first_subregion(c); k;
         k = mt_region_next_sibling(k))
        n++;
    if (n < 2)
        return;
    struct child *v = cli_alloc(n, sizeof(*v));
    size_t m = 0, order = 0;
    for (const mt_region *k = mt_region_first_subregion(c); k;
         k = mt_region_next_sibling(k), order++) {
        cli_u128 size = cli_region_size(k);
        if (!mt_region_enabled(k) || !size)
            continue;
        v[m++] = (struct child){k, order, mt_region_addr(k), mt_region_addr(k) + size};
    }
    qsort(v, m, sizeof(*v), cmp_child);
    uint64_t base = abs_start(rep->places, c);
    const struct child *reach = NULL;
    for (size_t i = 0; i < m; i++) {
        if (reach && mt_region_priority(reach->r) == mt_region_priority(v[i].r) &&
            v[i].first < reach->end) {
            const struct child *win = reach->order < v[i].order ? reach : &v[i];
            const struct child *lose = win == reach ? &v[i] : reach;
            cli_u128 end = reach->end < v[i].end ? reach->end : v[i].end;
            /* Both are children of `c`: offsets in `c` are their frame. */
            cli_i128 lo = (cli_i128)v[i].first, hi = (cli_i128)end - 1;
            if (renders_in(win->r, 0, lo, hi) && renders_in(lose->r, 0, lo, hi)) {
                uint64_t first = base + (uint64_t)v[i].first;
                uint64_t last = last_of(first, end - v[i].first);
                char *where = region_path(rep->places, c);
                add(rep, "overlap", win->r, lose->r, first, last,
                    "in %s: '%s' (at %016" PRIx64 ") and '%s' (at %016" PRIx64
                    "), both priority %" PRId32 ", overlap at %016" PRIx64
                    "-%016" PRIx64 "; '%s' wins there only because it was "
                    "mapped later",
                    where, cli_name(win->r), abs_start(rep->places, win->r), cli_name(lose->r),
                    abs_start(rep->places, lose->r), mt_region_priority(v[i].r), first, last,
                    cli_name(win->r));
                free(where);
            }
        }
        if (!reach || mt_region_priority(reach->r) != mt_region_priority(v[i].r) ||
            v[i].end > reach->end)
            reach = &v[i];
    }
    free(v);
}

/*
 * An alias inside its own target `t`, showing `t` from the offset at which
 * the alias itself sits in `t`: rendering meets `t` again at the same
 * address with the same flags and stops there (docs/rendering.md, rule a),
 * so the alias renders nothing, which is almost certainly not what was
 * meant. A readonly or nonvolatile flag on the way changes the flags of the
 * second pass, which then renders once: not reported. Chains of aliases
 * adding up to displacement zero are not looked for.
 */
static void check_self_alias(struct report *rep, const mt_region *r, const mt_region *t)
{
    cli_u128 inside = 0; /* r's offset in t */
    bool flags = false;
    const mt_region *p = r;
    for (; p && p != t; p = mt_region_container(p)) {
        inside += mt_region_addr(p);
        flags |= mt_region_readonly(p) || mt_region_nonvolatile(p);
    }
    if (!p || flags || inside != mt_region_alias_offset(r) || !cli_region_size(r))
        return;
    uint64_t first = abs_start(rep->places, r);
    char *where = region_path(rep->places, r);
    add(rep, "loop", r, t, first, last_of(first, cli_region_size(r)),
        "alias %s shows its own container '%s' from 0x%" PRIx64 ", the very place "
        "it sits in it: the loop has displacement zero and renders nothing",
        where, cli_name(t), mt_region_alias_offset(r));
    free(where);
}

static void check_region(struct report *rep, const mt_region *r)
{
    cli_u128 size = cli_region_size(r);
    const mt_region *c = mt_region_container(r);
    cli_u128 start = abs_start_wide(rep->places, r);
    cli_u128 top = (cli_u128)1 << 64;

    /* Overflow is reported where it starts, not again for every child. */
    bool container_over = c && abs_start_wide(rep->places, c) >= top;
    if (!container_over && start + size > top) {
        uint64_t first = (uint64_t)start;
        char *where = region_path(rep->places, r);
        char sz[32];
        add(rep, "overflow", r, NULL, first, UINT64_MAX,
            "%s at %016" PRIx64 " with size %s passes the end of the 64-bit "
            "space (QEMU prints [DETECTED OVERFLOW!])",
            where, first, cli_human_size(size, sz, sizeof(sz)));
        free(where);
    } else if (c && (cli_u128)mt_region_addr(r) + size > cli_region_size(c)) {
        uint64_t first = (uint64_t)start;
        cli_u128 csize = cli_region_size(c);
        uint64_t cut = (uint64_t)(abs_start_wide(rep->places, c) + csize);
        char *where = region_path(rep->places, r);
        add(rep, "overhang", r, c, cut, last_of(first, size),
            "%s (%016" PRIx64 "-%016" PRIx64 ") reaches past the end of its "
            "container '%s' at %016" PRIx64 "; the part beyond is never seen",
            where, first, last_of(first, size), cli_name(c), cut);
        free(where);
    }

    const mt_region *t = mt_region_alias_target(r);
    if (mt_region_get_kind(r) == MT_KIND_ALIAS && t) {
        cli_u128 need = (cli_u128)mt_region_alias_offset(r) + size;
        cli_u128 have = cli_region_size(t);
        if (size && need > have) {
            uint64_t first = (uint64_t)start;
            cli_u128 inside = have > mt_region_alias_offset(r)
                                  ? have - mt_region_alias_offset(r) : 0;
            char *where = region_path(rep->places, r);
            char sz[32];
            add(rep, "alias", r, t, (uint64_t)(start + inside),
                last_of(first, size),
                "alias %s shows 0x%" PRIx64 "+%s of '%s', which is only %s long;"
                " the part beyond shows nothing",
                where, mt_region_alias_offset(r),
                cli_human_size(size, sz, sizeof(sz)), cli_name(t),
                cli_human_size(have, (char[32]){0}, 32));
            free(where);
        }
    }

    if (mt_region_get_kind(r) == MT_KIND_ALIAS && t && mt_region_enabled(r))
        check_self_alias(rep, r, t);

    /* Subregions of an alias are never rendered: their overlaps are moot. */
    if (mt_region_get_kind(r) != MT_KIND_ALIAS)
        check_overlaps(rep, r);
}

static void print_json(const char *file, const struct report *rep,
                       const char *load_error)
{
    cli_json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_field_string(&j, "file", file);
    json_key(&j, "problems");
    json_begin_array(&j);
    if (load_error) {
        json_begin_object(&j);
        json_field_string(&j, "kind", "cycle");
        json_field_string(&j, "message", load_error);
        json_end_object(&j);
    }
    for (size_t i = 0; rep && i < rep->n; i++) {
        const struct problem *p = &rep->p[i];
        json_begin_object(&j);
        json_field_string(&j, "kind", p->kind);
        json_key(&j, "regions");
        json_begin_array(&j);
        for (int k = 0; k < 2; k++)
            if (p->r[k])
                json_string(&j, cli_name(p->r[k]));
        json_end_array(&j);
        json_field_hex(&j, "start", p->first);
        json_field_hex(&j, "last", p->last);
        json_field_string(&j, "message", p->message);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_field_uint(&j, "count", (load_error ? 1 : 0) + (rep ? rep->n : 0));
    json_end_object(&j);
    json_finish(&j);
}

int cmd_check(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 1, help);
    const char *value;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        }
    }
    if (id < 0)
        return cli_options_exit(id);

    cli_machine cm;
    char err[1024];
    int lib_rc;
    const char *file = a.npos ? a.pos[0] : NULL;
    int rc = cli_load(file, a.flat, &cm, err, sizeof(err), &lib_rc);
    if (rc) {
        /* An alias cycle is a finding, not unreadable input; the loader
         * refuses it with -ELOOP or names it in its message. */
        bool cycle = lib_rc == -ELOOP || strstr(err, "cycle");
        if (!cycle) {
            if (lib_rc)
                cli_error("%s", err);
            return rc;
        }
        if (a.json)
            print_json(file ? file : "(bundled)", NULL, err);
        else
            printf("cycle: %s\n", err);
        return CLI_FOUND;
    }

    struct places places = {0};
    struct report rep = {.places = &places};
    const mt_region **regions;
    size_t n = cli_reachable_regions(cm.ctx, &regions);
    for (size_t i = 0; i < n; i++)
        check_region(&rep, regions[i]);
    free(regions);

    if (a.json) {
        print_json(cm.path, &rep, NULL);
    } else {
        for (size_t i = 0; i < rep.n; i++)
            printf("%s: %s\n", rep.p[i].kind, rep.p[i].message);
        fprintf(stderr, "memtree check: %s: %zu region(s), %zu problem(s)\n",
                cm.path, n, rep.n);
    }
    for (size_t i = 0; i < rep.n; i++)
        free(rep.p[i].message);
    free(rep.p);
    places_free(&places);
    rc = rep.n ? CLI_FOUND : CLI_OK;
    cli_unload(&cm);
    return rc;
}
