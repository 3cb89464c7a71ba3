/*
 * The oracle runner: checks memtree against dumps of real QEMU 7.2 machines.
 *
 * Every folder holding a `model.txt` is one case (docs/format.md, "The
 * oracle's `model.txt`"). The model is loaded through mt_machine_load_model,
 * and then:
 *   views  each address space's flat-root name and ranges, and which address
 *          spaces share one view, against the model's V blocks (8.3 step 5);
 *   flat   mt_dump -f against flat.txt;
 *   tree   mt_dump against mtree.txt;
 *   treeD  mt_dump -D against mtree-oD.txt without its owner suffixes.
 * Dumps are compared as multisets of blocks (QEMU prints them in no fixed
 * order). A case passes when
 * views and flat match; a case without flat.txt is judged on its views
 * alone. Tree differences are warnings, because the model does not record
 * everything the tree dump shows. With -x FILE, the cases FILE lists
 * (`CASE reason`) are known failures: XFAIL when they fail, and a failure
 * (XPASS) when they pass, so that the list is kept short.
 *
 * Usage: mt_oracle_runner [-v] [-x FILE] DIR...   (prints `N passed, M failed` last)
 */
#include <memtree.h>
#include <memtree/format.h>

#include "../support/corpus_blocks.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WHY_LEN 1024

__attribute__((format(printf, 1, 2)))
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xrealloc(NULL, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Removes ` owner:{...}`, ` parent:{...}` (braces matched) and ` orphan`
 * from the end of a region line of an `-o` dump. */
static void strip_owner(char *line)
{
    size_t n = strlen(line);
    if (n >= 7 && !strcmp(line + n - 7, " orphan")) {
        line[n - 7] = '\0';
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        n = strlen(line);
        if (!n || line[n - 1] != '}')
            return;
        size_t i = n, depth = 0;
        while (i-- > 0) {
            if (line[i] == '}')
                depth++;
            else if (line[i] == '{' && --depth == 0)
                break;
        }
        if (depth)
            return;
        if (i >= 7 && !strncmp(line + i - 7, " owner:", 7))
            line[i - 7] = '\0';
        else if (i >= 8 && !strncmp(line + i - 8, " parent:", 8))
            line[i - 8] = '\0';
        else
            return;
    }
}

static void strip_owners(struct blocks *b)
{
    for (size_t i = 0; i < b->n; i++)
        for (size_t k = 0; k < b->v[i].lines.n; k++) {
            char *l = b->v[i].lines.v[k];
            if (strncmp(l, "address-space: ", 15) && strncmp(l, "memory-region: ", 15))
                strip_owner(l);
        }
}

/* ---- views ---------------------------------------------------------------- */

/* A range as `info mtree -f` prints it: the form of both sides' lines. */
static char *range_line(uint64_t start, uint64_t last, int32_t prio, const char *type,
                        uint64_t offset, const char *name)
{
    char off[32] = "";
    if (offset)
        snprintf(off, sizeof(off), " @%016" PRIx64, offset);
    return xasprintf("  %016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s): %s%s",
                     start, last, prio, type, name, off);
}

/* The printed type: `rom` for any readonly range, else the terminal's. */
static const char *range_type(const mt_range *r)
{
    /* each entry without its first three characters drops the nv- prefix */
    static const char *const nv[] = {"nv-rom", "nv-ram", "nv-romd", "nv-ramd", "nv-i/o"};
    int t = 4;
    if (r->readonly)
        t = 0;
    else if (mt_region_get_kind(r->region) == MT_KIND_RAM)
        t = 1;
    else if (mt_region_get_kind(r->region) == MT_KIND_ROM_DEVICE && r->romd_mode)
        t = 2;
    else if (mt_region_get_kind(r->region) == MT_KIND_RAM_DEVICE)
        t = 3;
    return r->nonvolatile ? nv[t] : nv[t] + 3;
}

/* The views as blocks: sorted `AS <name>` lines, `root: <name>`, ranges. */
static void finish_view_block(struct block *b, size_t nas)
{
    qsort(b->lines.v, nas, sizeof(*b->lines.v), cmp_str);
}

/* Expected views from the model's V, VA and VR lines. */
static int model_views(const char *text, struct blocks *out, char *why)
{
    struct blocks raw = {0};
    parse_blocks(text, &raw); /* model.txt has no blank lines: one block */
    struct block *cur = NULL;
    size_t nas = 0;
    for (size_t i = 0; i < raw.n; i++) {
        for (size_t k = 0; k < raw.v[i].lines.n; k++) {
            const char *l = raw.v[i].lines.v[k];
            if (!strncmp(l, "V ", 2)) {
                if (cur)
                    finish_view_block(cur, nas);
                cur = blocks_add(out);
                nas = 0;
                strv_push(&cur->lines, xasprintf("root: %s", l + 2));
            } else if (!strncmp(l, "VA ", 3) && cur) {
                /* AS lines go first; the root line moves behind them */
                strv_push(&cur->lines, xasprintf("AS %s", l + 3));
                char *t = cur->lines.v[cur->lines.n - 1];
                memmove(cur->lines.v + nas + 1, cur->lines.v + nas,
                        (cur->lines.n - 1 - nas) * sizeof(char *));
                cur->lines.v[nas++] = t;
            } else if (!strncmp(l, "VR ", 3) && cur) {
                uint64_t s, e, off;
                int32_t prio;
                char type[16];
                int name_at = 0;
                if (sscanf(l + 3, "%" SCNx64 " %" SCNx64 " %" SCNd32 " %15s %" SCNx64 " %n",
                           &s, &e, &prio, type, &off, &name_at) < 5 || !name_at) {
                    snprintf(why, WHY_LEN, "model.txt: bad VR line `%s`", l);
                    blocks_free(&raw);
                    return -1;
                }
                strv_push(&cur->lines, range_line(s, e, prio, type, off, l + 3 + name_at));
            }
        }
    }
    if (cur)
        finish_view_block(cur, nas);
    blocks_free(&raw);
    return 0;
}

/* The views memtree published, one block per distinct mt_view. */
static void actual_views(mt_context *ctx, struct blocks *out)
{
    const mt_view **seen = NULL; /* views already given a block */
    size_t nseen = 0;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        mt_view *v = mt_address_space_view(as);
        size_t k = 0;
        while (k < nseen && seen[k] != v)
            k++;
        if (k < nseen)
            continue;
        seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
        seen[nseen++] = v;
        struct block *b = blocks_add(out);
        size_t nas = 0;
        for (mt_address_space *o = as; o; o = mt_address_space_next(o))
            if (mt_address_space_view(o) == v) {
                const char *n = mt_address_space_name(o);
                strv_push(&b->lines, xasprintf("AS %s", n ? n : "anonymous"));
                nas++;
            }
        finish_view_block(b, nas);
        strv_push(&b->lines, xasprintf("root: %s", mt_view_root_name(v)));
        const mt_range *r = mt_view_ranges(v);
        for (size_t i = 0; i < mt_view_range_count(v); i++) {
            const char *name = mt_region_name(r[i].region);
            strv_push(&b->lines, range_line(r[i].start, r[i].last,
                                            mt_region_priority(r[i].region),
                                            range_type(&r[i]), r[i].offset_in_region,
                                            name ? name : "(null)"));
        }
    }
    free(seen);
}

/* ---- one case ------------------------------------------------------------- */

struct totals {
    unsigned passed, failed, xfailed, tree_warnings;
    bool verbose;
    struct known_failures known;
};

/* Counts one verdict, minding the known failures. */
static void verdict(struct totals *t, const char *name, bool ok, const char *why)
{
    bool known = known_failure(&t->known, name);
    if (ok && !known) {
        printf("PASS %s\n", name);
        t->passed++;
    } else if (ok) {
        printf("XPASS %s: listed as a known failure; remove it from the list\n", name);
        t->failed++;
    } else if (known) {
        printf("XFAIL %s: %s\n", name, why);
        t->xfailed++;
    } else {
        printf("FAIL %s: %s\n", name, why);
        t->failed++;
    }
}

/* Compares one dump with a file of the case; "missing" if there is none. */
static const char *check_dump(mt_context *ctx, const char *dir, const char *file,
                              unsigned flags, char *why)
{
    char *path = path_join(dir, file);
    char *want = slurp(path);
    free(path);
    if (!want)
        return "missing";
    char *have = dump(ctx, flags);
    if (!have) {
        free(want);
        snprintf(why, WHY_LEN, "mt_dump failed");
        return "differs";
    }
    struct blocks exp = {0}, got = {0};
    parse_blocks(want, &exp);
    parse_blocks(have, &got);
    if (flags & MT_DUMP_FLAT) {
        normalise_flat(&exp);
        normalise_flat(&got);
    }
    if (flags & MT_DUMP_DISABLED)
        strip_owners(&exp);
    bool same = same_blocks(&exp, &got, why, WHY_LEN);
    blocks_free(&exp);
    blocks_free(&got);
    free(want);
    free(have);
    return same ? "ok" : "differs";
}

static void run_case(const char *dir, struct totals *t)
{
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    char why_views[WHY_LEN] = "", why_flat[WHY_LEN] = "";
    char why_tree[WHY_LEN] = "", why_treed[WHY_LEN] = "", err[512] = "";
    char *model_path = path_join(dir, "model.txt");
    char *model = slurp(model_path);
    FILE *in = fopen(model_path, "r");
    mt_context *ctx = mt_context_new();
    mt_machine *m = NULL;
    int rc = in ? mt_machine_load_model(ctx, in, model_path, &m, err, sizeof(err)) : -1;
    if (in)
        fclose(in);
    if (rc || !model) {
        char why[WHY_LEN];
        snprintf(why, sizeof(why), "cannot load model: %s", in ? err : "cannot open model.txt");
        verdict(t, name, false, why);
        goto out;
    }

    struct blocks exp = {0}, got = {0};
    bool views_ok = model_views(model, &exp, why_views) == 0;
    if (views_ok) {
        actual_views(ctx, &got);
        views_ok = same_blocks(&exp, &got, why_views, WHY_LEN);
    }
    blocks_free(&exp);
    blocks_free(&got);
    const char *flat = check_dump(ctx, dir, "flat.txt", MT_DUMP_FLAT, why_flat);
    const char *tree = check_dump(ctx, dir, "mtree.txt", 0, why_tree);
    const char *treed = check_dump(ctx, dir, "mtree-oD.txt", MT_DUMP_DISABLED, why_treed);

    /* without flat.txt the model's V blocks (copied from it) still judge */
    bool flat_ok = !strcmp(flat, "ok") || !strcmp(flat, "missing");
    char why[3 * WHY_LEN];
    snprintf(why, sizeof(why), "%s%s%s%s%s", views_ok ? "" : "views: ",
             views_ok ? "" : why_views, !views_ok && !flat_ok ? "; " : "",
             flat_ok ? "" : "flat: ", flat_ok ? "" : why_flat);
    verdict(t, name, views_ok && flat_ok, why);
    if (strcmp(tree, "ok") || strcmp(treed, "ok")) {
        t->tree_warnings++;
        if (strcmp(tree, "ok"))
            printf("WARN %s: tree: %s\n", name, *why_tree ? why_tree : "mtree.txt missing");
        if (strcmp(treed, "ok"))
            printf("WARN %s: treeD: %s\n", name,
                   *why_treed ? why_treed : "mtree-oD.txt missing");
    }
    if (t->verbose)
        printf("     %s: views %s, flat %s, tree %s, treeD %s\n", name,
               views_ok ? "ok" : "differs", flat, tree, treed);
out:
    mt_machine_free(m);
    mt_context_free(ctx);
    free(model);
    free(model_path);
}

/* A folder with a model.txt is a case; any other folder is searched. */
static void walk(const char *dir, struct totals *t, unsigned *found)
{
    char *model = path_join(dir, "model.txt");
    struct stat st;
    bool is_case = stat(model, &st) == 0 && S_ISREG(st.st_mode);
    free(model);
    if (is_case) {
        (*found)++;
        run_case(dir, t);
        return;
    }
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *e = ents[i]->d_name;
        if (strcmp(e, ".") && strcmp(e, "..")) {
            char *sub = path_join(dir, e);
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                walk(sub, t, found);
            free(sub);
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
}

int main(int argc, char **argv)
{
    struct totals t = {0};
    unsigned found = 0;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "-v")) {
            t.verbose = true;
        } else if (!strcmp(argv[first], "-x") && first + 1 < argc) {
            if (!known_failures_load(&t.known, argv[++first])) {
                fprintf(stderr, "mt_oracle_runner: cannot read %s\n", argv[first]);
                return 2;
            }
        } else {
            break;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] [-x FILE] DIR...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        char *dir = xstrdup(argv[i]);
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        walk(dir, &t, &found);
        free(dir);
    }
    if (!found)
        fprintf(stderr, "mt_oracle_runner: no case folder (with model.txt) found\n");
    if (t.tree_warnings)
        printf("%u case(s) with tree-dump warnings\n", t.tree_warnings);
    if (t.xfailed)
        printf("%u known failure(s)\n", t.xfailed);
    printf("%u passed, %u failed\n", t.passed, t.failed);
    known_failures_free(&t.known);
    return t.failed || !found ? 1 : 0;
}
