/*
 * The import runner: checks the QEMU dump importer and the map format
 * against dumps of real QEMU machines.
 *
 * Every folder holding `mtree-oD.txt` and `flat.txt` is one case. The tree
 * dump is imported with the flat dump as its companion (mt_machine_load),
 * and then:
 *   flat   mt_dump -f must equal flat.txt, comparing blocks as a multiset
 *          and AS lines within a block as a set (QEMU prints them in no
 *          fixed order),
 *          and the importer must say so too (mt_machine_flat_differs);
 *   map    the machine saved as a map, read back into a fresh context and
 *          saved again: identical bytes, and identical flat and tree (-o -D)
 *          dumps of the two machines.
 * One line per case; the last line is `N passed, M failed`. With -v the
 * importer's inferred facts and the first difference are printed too.
 *
 * With -x FILE, the cases FILE lists (`CASE reason`) are known failures:
 * XFAIL when they fail, and a failure (XPASS) when they pass.
 *
 * Usage: mt_import_runner [-v] [-n] [-t TREE] [-x FILE] DIR...
 * (-t names another tree dump of each case, for example mtree.txt, the dump
 * without owners and disabled lines; -n imports it without the flat dump,
 * to see how far the documented guesses go.)
 */
#include <memtree.h>
#include <memtree/format.h>

#include "../support/corpus_blocks.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Flat-dump blocks, normalised (blocks and AS lines in no fixed order). */
static void flat_blocks(const char *text, struct blocks *out)
{
    parse_blocks(text, out);
    normalise_flat(out);
}

/* ---- files and dumps ------------------------------------------------------------ */

static char *save_map(const mt_machine *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = mt_machine_save_map(m, f);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

static mt_machine *load_text(mt_context *ctx, const char *text, const char *name,
                             char *err, size_t errlen)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    mt_machine *m = NULL;
    if (!in)
        return NULL;
    mt_machine_load(ctx, MT_FORMAT_MAP, in, name, NULL, NULL, &m, err, errlen);
    fclose(in);
    return m;
}

/* ---- one case --------------------------------------------------------------------- */

static bool verbose;
static struct known_failures known;
static size_t xfailed;
static const char *tree_file = "mtree-oD.txt";
static bool no_flat;

/* The map round trip: same bytes on a second save, same dumps. */
static bool round_trip(mt_machine *m, char *why, size_t whylen)
{
    char *map1 = save_map(m);
    if (!map1) {
        snprintf(why, whylen, "save_map failed");
        return false;
    }
    mt_context *ctx2 = mt_context_new();
    char err[1024] = "";
    mt_machine *m2 = load_text(ctx2, map1, "saved map", err, sizeof(err));
    bool ok = m2 != NULL;
    if (!ok)
        snprintf(why, whylen, "reading the saved map: %s", err);
    char *map2 = ok ? save_map(m2) : NULL;
    if (ok && (!map2 || strcmp(map1, map2))) {
        snprintf(why, whylen, "the map changed when saved a second time");
        ok = false;
    }
    unsigned modes[] = {MT_DUMP_FLAT, MT_DUMP_DISABLED | MT_DUMP_OWNER};
    for (size_t i = 0; ok && i < 2; i++) {
        char *a = dump(mt_machine_context(m), modes[i]), *b = dump(ctx2, modes[i]);
        if (!a || !b || strcmp(a, b)) {
            snprintf(why, whylen, "the %s dump changed through the map",
                     i ? "tree" : "flat");
            ok = false;
        }
        free(a);
        free(b);
    }
    mt_machine_free(m2);
    mt_context_free(ctx2);
    free(map1);
    free(map2);
    return ok;
}

static bool run_case(const char *dir, const char *name)
{
    char why[2048] = "";
    char *tree_path = path_join(dir, tree_file), *flat_path = path_join(dir, "flat.txt");
    FILE *tree = fopen(tree_path, "r"), *flat = fopen(flat_path, "r");
    char *expected = slurp(flat_path);
    mt_context *ctx = mt_context_new();
    mt_machine *m = NULL;
    char err[1024] = "";
    bool ok = tree && flat && expected;
    if (!ok)
        snprintf(why, sizeof(why), "cannot read the dumps");
    if (ok && mt_machine_load(ctx, MT_FORMAT_AUTO, tree, tree_path, no_flat ? NULL : flat,
                              flat_path, &m, err, sizeof(err))) {
        snprintf(why, sizeof(why), "load failed: %s", err);
        ok = false;
    }
    if (tree)
        fclose(tree);
    if (flat)
        fclose(flat);
    const char *stage = "load";
    if (ok) {
        stage = "flat";
        char *got = dump(ctx, MT_DUMP_FLAT);
        struct blocks eb = {0}, gb = {0};
        flat_blocks(expected, &eb);
        flat_blocks(got ? got : "", &gb);
        ok = same_blocks(&eb, &gb, why, sizeof(why));
        blocks_free(&eb);
        blocks_free(&gb);
        free(got);
        /* the importer's own verdict must agree: no warning of a
         * difference the dumps do not show, and none missing */
        if (!no_flat && ok == mt_machine_flat_differs(m)) {
            if (ok)
                snprintf(why, sizeof(why), "the dumps agree, yet the importer says they "
                         "differ: %s", mt_machine_warning_count(m) ? mt_machine_warning(m, 0)
                         : "(no warning)");
            else
                snprintf(why + strlen(why), sizeof(why) - strlen(why), "; and the "
                         "importer did not warn of it");
            ok = false;
        }
    }
    if (ok) {
        stage = "map";
        ok = round_trip(m, why, sizeof(why));
    }
    bool listed = known_failure(&known, name);
    printf("%-40s %s%s%s%s\n", name, ok ? (listed ? "XPASS" : "PASS") : listed ? "XFAIL"
           : "FAIL", ok ? "" : " (", ok ? "" : stage, ok ? "" : ")");
    if (!ok)
        printf("    %s\n", why);
    if (ok && listed)
        printf("    listed as a known failure; remove it from the list\n");
    if (!ok && listed)
        xfailed++;
    if (verbose && m) {
        for (size_t i = 0; i < mt_machine_inference_count(m); i++)
            printf("    inferred: %s\n", mt_machine_inference(m, i));
        for (size_t i = 0; i < mt_machine_warning_count(m); i++)
            printf("    warning: %s\n", mt_machine_warning(m, i));
    }
    mt_machine_free(m);
    mt_context_free(ctx);
    free(expected);
    free(tree_path);
    free(flat_path);
    return ok != listed;
}

static bool exists(const char *dir, const char *name)
{
    struct stat st;
    char *p = path_join(dir, name);
    bool found = stat(p, &st) == 0;
    free(p);
    return found;
}

static bool is_case(const char *dir)
{
    return exists(dir, tree_file) && exists(dir, "flat.txt");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    size_t pass = 0, fail = 0;
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "-v")) {
            verbose = true;
        } else if (!strcmp(argv[first], "-n")) {
            no_flat = true;
        } else if (!strcmp(argv[first], "-t") && first + 1 < argc) {
            tree_file = argv[++first];
        } else if (!strcmp(argv[first], "-x") && first + 1 < argc) {
            if (!known_failures_load(&known, argv[++first])) {
                fprintf(stderr, "cannot read %s\n", argv[first]);
                return 2;
            }
        } else {
            break;
        }
    }
    if (first >= argc) {
        fprintf(stderr, "usage: %s [-v] [-n] [-t TREE] [-x FILE] DIR...\n", argv[0]);
        return 2;
    }
    for (int a = first; a < argc; a++) {
        if (is_case(argv[a])) {
            const char *base = strrchr(argv[a], '/');
            (run_case(argv[a], base && base[1] ? base + 1 : argv[a]) ? &pass : &fail)[0]++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "cannot open %s\n", argv[a]);
            fail++;
            continue;
        }
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.')
                continue;
            names = xrealloc(names, (n + 1) * sizeof(*names));
            names[n++] = xstrdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_name);
        for (size_t i = 0; i < n; i++) {
            char *p = path_join(argv[a], names[i]);
            if (is_case(p))
                (run_case(p, names[i]) ? &pass : &fail)[0]++;
            free(p);
            free(names[i]);
        }
        free(names);
    }
    if (xfailed)
        printf("%zu known failure(s), counted as passed\n", xfailed);
    printf("%zu passed, %zu failed\n", pass, fail);
    known_failures_free(&known);
    return fail ? 1 : 0;
}
