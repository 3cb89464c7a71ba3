/*
 * `memtree diff A B`: how the views changed between two machines (typically
 * one machine before and after its firmware ran), by cause (region moved,
 * resized, enabled, ...: causes.c) or, with --lines, range by range.
 * For the lines, address spaces are paired
 * by name and order of appearance; pairs that share a view on both sides
 * are compared once. Ranges equal on both sides are dropped; what is left is
 * grouped into runs connected by overlap, each reported as added (only in
 * B), removed (only in A) or changed (both).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: memtree diff A B [--lines] [--flat-a FLATFILE] [--flat-b FLATFILE] [--json]\n"
    "\n"
    "Tells why two machines' maps differ, one cause per line: a region added\n"
    "or removed, moved, resized, enabled or disabled, its priority changed,\n"
    "an alias retargeted or re-offset, read-only changed, each with the\n"
    "region's owner (the QEMU device path). Regions are paired by their place\n"
    "in the tree. A summary line counts the flat-view ranges that changed.\n"
    "\n"
    "With --lines, compares the flat views instead, address space by address\n"
    "space (paired by name and order of appearance), and prints the ranges\n"
    "that were added, removed or changed from A to B. Address spaces that\n"
    "share a view in both machines are reported together. Exit status 1 when\n"
    "the machines differ, 0 when they do not.\n"
    "\n"
    "  A, B            QEMU `info mtree [-o] [-D]` dumps, model.txt files,\n"
    "                  maps, or oracle case folders (one may be - for\n"
    "                  standard input)\n"
    "  --flat-a FILE   QEMU `info mtree -f` dump matching A (likewise --flat-b)\n"
    "  --lines         the changed flat-view ranges instead of the causes\n"
    "  --json          the differences as JSON (causes and ranges)\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP
    "\n"
    "Examples:\n"
    "  memtree diff reset firmware\n"
    "  memtree diff --lines reset firmware\n"
    "(reset and firmware: case folders written by `memtree capture`)\n";

enum { OPT_FLAT_A = 1000, OPT_FLAT_B, OPT_LINES };

static const cli_option options[] = {
    CLI_OPTION_JSON,
    {"lines", 0, false, OPT_LINES},
    {"flat-a", 0, true, OPT_FLAT_A},
    {"flat-b", 0, true, OPT_FLAT_B},
    {NULL, 0, false, 0},
};

/* One pairing of address spaces with the views they show in A and in B. */
struct group {
    const mt_view *va, *vb;
    const char **names;
    size_t nnames;
};

/* A run of unmatched ranges connected by overlap. */
struct cluster {
    uint64_t first, last;
    const mt_range **a, **b;
    size_t na, nb;
};

static bool same_range(const mt_range *x, const mt_range *y)
{
    return x->start == y->start && x->last == y->last &&
           x->offset_in_region == y->offset_in_region &&
           x->readonly == y->readonly && x->nonvolatile == y->nonvolatile &&
           mt_region_priority(x->region) == mt_region_priority(y->region) &&
           !strcmp(mt_dump_range_type(x), mt_dump_range_type(y)) &&
           !strcmp(cli_name(x->region), cli_name(y->region));
}

/* Same region seen the same way: an unchanged stretch of a range that was
 * only split or merged (a device appearing inside a background region). */
static bool consistent(const mt_range *x, const mt_range *y)
{
    return x->offset_in_region - x->start == y->offset_in_region - y->start &&
           x->readonly == y->readonly && x->nonvolatile == y->nonvolatile &&
           mt_region_priority(x->region) == mt_region_priority(y->region) &&
           !strcmp(mt_dump_range_type(x), mt_dump_range_type(y)) &&
           !strcmp(cli_name(x->region), cli_name(y->region));
}

/* Whether the other side shows all of `r` unchanged. */
static bool covered(const mt_range *r, const mt_range **other, size_t n)
{
    uint64_t next = r->start;
    for (size_t i = 0; i < n; i++) {
        const mt_range *o = other[i];
        if (o->last < next || o->start > r->last)
            continue;
        if (o->start > next || !consistent(r, o))
            return false;
        if (o->last >= r->last)
            return true;
        next = o->last + 1;
    }
    return false;
}

/*
 * Drops from a cluster the ranges the other side shows unchanged, so that
 * a device mapped over a background region reads as "background, now
 * device" and not as every piece of the split background.
 */
static void trim_cluster(struct cluster *c)
{
    bool *keep_a = cli_alloc(c->na, sizeof(bool)), *keep_b = cli_alloc(c->nb, sizeof(bool));
    size_t ka = 0, kb = 0;
    for (size_t i = 0; i < c->na; i++)
        ka += keep_a[i] = !covered(c->a[i], c->b, c->nb);
    for (size_t i = 0; i < c->nb; i++)
        kb += keep_b[i] = !covered(c->b[i], c->a, c->na);
    /* Differences only in what the dump does not show (romd mode, dirty
     * logging) would trim everything: keep the whole cluster then. */
    if (ka || kb) {
        size_t n = 0;
        for (size_t i = 0; i < c->na; i++)
            if (keep_a[i])
                c->a[n++] = c->a[i];
        c->na = n;
        n = 0;
        for (size_t i = 0; i < c->nb; i++)
            if (keep_b[i])
                c->b[n++] = c->b[i];
        c->nb = n;
    }
    free(keep_a);
    free(keep_b);
}

/* Both range lists are sorted and disjoint, so equal ranges meet in a merge
 * by start address. */
static size_t compare_views(const mt_view *va, const mt_view *vb,
                            struct cluster **out)
{
    const mt_range *ra = mt_view_ranges(va), *rb = mt_view_ranges(vb);
    size_t na = mt_view_range_count(va), nb = mt_view_range_count(vb);
    bool *ma = cli_alloc(na, sizeof(bool)), *mb = cli_alloc(nb, sizeof(bool));
    for (size_t i = 0, k = 0; i < na && k < nb;) {
        if (ra[i].start == rb[k].start) {
            ma[i] = mb[k] = same_range(&ra[i], &rb[k]);
            i++;
            k++;
        } else if (ra[i].start < rb[k].start) {
            i++;
        } else {
            k++;
        }
    }

    /* Sweep the leftovers of both sides in address order; a range starting
     * after everything so far in the cluster starts a new cluster. */
    struct cluster *c = cli_alloc(na + nb, sizeof(*c));
    size_t nc = 0;
    size_t i = 0, k = 0;
    for (;;) {
        while (i < na && ma[i])
            i++;
        while (k < nb && mb[k])
            k++;
        if (i == na && k == nb)
            break;
        bool take_a = k == nb || (i < na && ra[i].start <= rb[k].start);
        const mt_range *r = take_a ? &ra[i++] : &rb[k++];
        if (!nc || r->start > c[nc - 1].last) {
            c[nc].first = r->start;
            c[nc].last = r->last;
            c[nc].a = cli_alloc(na, sizeof(*c[nc].a));
            c[nc].b = cli_alloc(nb, sizeof(*c[nc].b));
            nc++;
        }
        struct cluster *cur = &c[nc - 1];
        if (r->last > cur->last)
            cur->last = r->last;
        if (take_a)
            cur->a[cur->na++] = r;
        else
            cur->b[cur->nb++] = r;
    }
    free(ma);
    free(mb);
    for (size_t i = 0; i < nc; i++)
        trim_cluster(&c[i]);
    *out = c;
    return nc;
}

static void free_clusters(struct cluster *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].a);
        free(c[i].b);
    }
    free(c);
}

static const char *root_name(const mt_view *v)
{
    return mt_view_is_empty_view(v) ? "(none)" : mt_view_root_name(v);
}

/*
 * Pairs the address spaces of A and B; those without a partner go to the
 * `only` lists. Returns the number of groups.
 */
static size_t pair_spaces(mt_context *a, mt_context *b, struct group **out,
                          const char ***only_a, size_t *nonly_a,
                          const char ***only_b, size_t *nonly_b)
{
    const mt_address_space **sa, **sb;
    size_t na = cli_address_spaces(a, &sa), nb = cli_address_spaces(b, &sb);
    bool *used_b = cli_alloc(nb, sizeof(bool));
    struct group *g = cli_alloc(na, sizeof(*g));
    size_t ng = 0;
    *only_a = cli_alloc(na, sizeof(char *));
    *only_b = cli_alloc(nb, sizeof(char *));
    *nonly_a = *nonly_b = 0;

    for (size_t i = 0; i < na; i++) {
        const char *name = mt_address_space_name(sa[i]);
        /* The k-th space called `name` in A pairs with the k-th in B. */
        size_t nth = 0;
        for (size_t p = 0; p < i; p++)
            nth += !strcmp(name, mt_address_space_name(sa[p]));
        size_t match = nb;
        for (size_t q = 0, seen = 0; q < nb; q++) {
            if (strcmp(name, mt_address_space_name(sb[q])))
                continue;
            if (seen++ == nth) {
                match = q;
                break;
            }
        }
        if (match == nb) {
            (*only_a)[(*nonly_a)++] = name;
            continue;
        }
        used_b[match] = true;
        const mt_view *va = mt_address_space_view(sa[i]);
        const mt_view *vb = mt_address_space_view(sb[match]);
        size_t k = 0;
        while (k < ng && !(g[k].va == va && g[k].vb == vb))
            k++;
        if (k == ng) {
            g[ng].va = va;
            g[ng].vb = vb;
            g[ng].names = cli_alloc(na, sizeof(char *));
            ng++;
        }
        g[k].names[g[k].nnames++] = name;
    }
    for (size_t q = 0; q < nb; q++)
        if (!used_b[q])
            (*only_b)[(*nonly_b)++] = mt_address_space_name(sb[q]);
    free(used_b);
    free(sa);
    free(sb);
    *out = g;
    return ng;
}

/*
 * A group whose view appears or disappears entirely (bus mastering switched
 * on, say) usually just starts sharing another group's view: point there
 * instead of listing every range again. Returns that group or NULL.
 */
static const struct group *same_as(const struct group *g, size_t i)
{
    bool appears = mt_view_is_empty_view(g[i].va) && !mt_view_is_empty_view(g[i].vb);
    bool vanishes = !mt_view_is_empty_view(g[i].va) && mt_view_is_empty_view(g[i].vb);
    for (size_t k = 0; k < i; k++) {
        if (appears && g[k].vb == g[i].vb)
            return &g[k];
        if (vanishes && g[k].va == g[i].va)
            return &g[k];
    }
    return NULL;
}

static void print_group(const struct group *g, const struct group *ref,
                        const struct cluster *c, size_t nc)
{
    for (size_t i = 0; i < g->nnames; i++)
        printf("address-space: %s\n", g->names[i]);
    const char *ra = root_name(g->va), *rb = root_name(g->vb);
    if (strcmp(ra, rb))
        printf("  root: %s -> %s\n", ra, rb);
    if (ref) {
        bool appears = mt_view_is_empty_view(g->va);
        printf("  %s the view of address-space %s (%zu ranges %s)\n\n",
               appears ? "now shares" : "no longer shares", ref->names[0],
               mt_view_range_count(appears ? g->vb : g->va),
               appears ? "added" : "removed");
        return;
    }
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].na) {
            for (size_t k = 0; k < c[i].nb; k++)
                cli_print_range(stdout, "  added   ", c[i].b[k]);
        } else if (!c[i].nb) {
            for (size_t k = 0; k < c[i].na; k++)
                cli_print_range(stdout, "  removed ", c[i].a[k]);
        } else {
            printf("  changed %016" PRIx64 "-%016" PRIx64 "\n", c[i].first, c[i].last);
            for (size_t k = 0; k < c[i].na; k++)
                cli_print_range(stdout, "     was  ", c[i].a[k]);
            for (size_t k = 0; k < c[i].nb; k++)
                cli_print_range(stdout, "     now  ", c[i].b[k]);
        }
    }
    putchar('\n');
}

static void json_ranges(cli_json *j, const mt_range **r, size_t n)
{
    json_begin_array(j);
    for (size_t i = 0; i < n; i++)
        json_range(j, r[i]);
    json_end_array(j);
}

/* Under `key`, the ranges of the clusters only one side has: side b's
 * (what was added) or side a's (what was removed). */
static void json_one_sided(cli_json *j, const char *key, const struct cluster *c, size_t nc,
                           bool added)
{
    json_key(j, key);
    json_begin_array(j);
    for (size_t i = 0; i < nc; i++) {
        size_t mine = added ? c[i].nb : c[i].na, theirs = added ? c[i].na : c[i].nb;
        const mt_range **r = added ? c[i].b : c[i].a;
        for (size_t k = 0; !theirs && k < mine; k++)
            json_range(j, r[k]);
    }
    json_end_array(j);
}

static void json_group(cli_json *j, const struct group *g, const struct group *ref,
                       const struct cluster *c, size_t nc)
{
    json_begin_object(j);
    json_key(j, "names");
    json_begin_array(j);
    for (size_t i = 0; i < g->nnames; i++)
        json_string(j, g->names[i]);
    json_end_array(j);
    json_field_string(j, "root_a", mt_view_is_empty_view(g->va) ? NULL : mt_view_root_name(g->va));
    json_field_string(j, "root_b", mt_view_is_empty_view(g->vb) ? NULL : mt_view_root_name(g->vb));
    json_field_string(j, "same_view_as", ref ? ref->names[0] : NULL);
    json_one_sided(j, "added", c, nc, true);
    json_one_sided(j, "removed", c, nc, false);
    json_key(j, "changed");
    json_begin_array(j);
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].na || !c[i].nb)
            continue;
        json_begin_object(j);
        json_field_hex(j, "start", c[i].first);
        json_field_hex(j, "last", c[i].last);
        json_key(j, "before");
        json_ranges(j, c[i].a, c[i].na);
        json_key(j, "after");
        json_ranges(j, c[i].b, c[i].nb);
        json_end_object(j);
    }
    json_end_array(j);
    json_end_object(j);
}

static void json_names(cli_json *j, const char **names, size_t n)
{
    json_begin_array(j);
    for (size_t i = 0; i < n; i++)
        json_string(j, names[i]);
    json_end_array(j);
}

int cmd_diff(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 2, help);
    const char *value, *flat_a = NULL, *flat_b = NULL;
    bool lines = false;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case OPT_LINES:
            lines = true;
            break;
        case OPT_FLAT_A:
            flat_a = value;
            break;
        case OPT_FLAT_B:
            flat_b = value;
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    if (a.npos < 2)
        return cli_usage_error(a.npos ? "missing B" : "missing A and B");
    if (!strcmp(a.pos[0], "-") && !strcmp(a.pos[1], "-"))
        return cli_usage_error("only one of A and B can be standard input");

    cli_machine ma, mb;
    int rc = cli_load(a.pos[0], flat_a, &ma, NULL, 0, NULL);
    if (rc)
        return rc;
    rc = cli_load(a.pos[1], flat_b, &mb, NULL, 0, NULL);
    if (rc) {
        cli_unload(&ma);
        return rc;
    }

    struct group *g;
    const char **only_a, **only_b;
    size_t nonly_a, nonly_b;
    size_t ng = pair_spaces(ma.ctx, mb.ctx, &g, &only_a, &nonly_a, &only_b, &nonly_b);
    size_t differences = nonly_a + nonly_b;

    cli_json j;
    if (a.json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_field_string(&j, "a", ma.path);
        json_field_string(&j, "b", mb.path);
        json_key(&j, "address_spaces");
        json_begin_array(&j);
    }
    cli_cause *causes;
    size_t ncauses = cli_find_causes(ma.ctx, mb.ctx, &causes);
    /* Like diff(1): identical machines print nothing. */
    bool header = a.json;
    size_t changed_ranges = 0, changed_views = 0;
    for (size_t i = 0; i < ng; i++) {
        struct cluster *c;
        size_t nc = compare_views(g[i].va, g[i].vb, &c);
        bool root_changed = strcmp(root_name(g[i].va), root_name(g[i].vb)) != 0;
        if (nc || root_changed) {
            const struct group *ref = same_as(g, i);
            differences += nc + root_changed;
            changed_views++;
            for (size_t k = 0; k < nc; k++)
                changed_ranges += c[k].na + c[k].nb;
            if (!header && (lines || ncauses)) {
                printf("--- %s\n+++ %s\n", ma.path, mb.path);
                header = true;
            }
            if (a.json)
                json_group(&j, &g[i], ref, c, nc);
            else if (lines)
                print_group(&g[i], ref, c, nc);
        }
        free_clusters(c, nc);
    }
    /* A cause alone (a disabled region re-offset, say) changes no view
     * but is still a difference between the machines. */
    differences += ncauses;
    if (!a.json && !lines) {
        if (!header && differences) {
            printf("--- %s\n+++ %s\n", ma.path, mb.path);
            header = true;
        }
        for (size_t i = 0; i < ncauses; i++)
            cli_print_cause(stdout, "", &causes[i]);
        if (differences)
            printf("%zu cause%s; %zu flat-view range%s changed in %zu view%s "
                   "(--lines lists them)\n", ncauses, ncauses == 1 ? "" : "s",
                   changed_ranges, changed_ranges == 1 ? "" : "s", changed_views,
                   changed_views == 1 ? "" : "s");
    }
    if (a.json) {
        json_end_array(&j);
        json_key(&j, "causes");
        json_begin_array(&j);
        for (size_t i = 0; i < ncauses; i++)
            cli_json_cause(&j, &causes[i]);
        json_end_array(&j);
        json_key(&j, "only_in_a");
        json_names(&j, only_a, nonly_a);
        json_key(&j, "only_in_b");
        json_names(&j, only_b, nonly_b);
        json_field_uint(&j, "differences", differences);
        json_end_object(&j);
        json_finish(&j);
    } else {
        if (!header && differences)
            printf("--- %s\n+++ %s\n", ma.path, mb.path);
        for (size_t i = 0; i < nonly_a; i++)
            printf("address-space only in A: %s\n", only_a[i]);
        for (size_t i = 0; i < nonly_b; i++)
            printf("address-space only in B: %s\n", only_b[i]);
    }

    cli_causes_free(causes, ncauses);
    for (size_t i = 0; i < ng; i++)
        free(g[i].names);
    free(g);
    free(only_a);
    free(only_b);
    cli_unload(&ma);
    cli_unload(&mb);
    return differences ? CLI_FOUND : CLI_OK;
}
