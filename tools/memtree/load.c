/*
 * Reading a machine for a subcommand: opening the file (or standard input,
 * or an oracle case folder, or the bundled machine when no file is given),
 * finding a matching flat dump, and handing both to the library's loader.
 * Also where the bundled machine is looked for: beside an installed
 * executable first, then in the source tree the tool was built from.
 */
#include "cli.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MT_CLI_SOURCE_MACHINES
#define MT_CLI_SOURCE_MACHINES ""
#endif

/* The bundled machine: QEMU 7.2's x86 `pc` after SeaBIOS ran. */
#define BUNDLED_FILE "x86-pc-seabios.mtree.txt"

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = cli_alloc(n, 1);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Copies the heap path `p` into `out` when it names a file; frees it. */
static bool keep_if_file(char *p, char *out, size_t len)
{
    bool ok = is_file(p);
    if (ok)
        snprintf(out, len, "%s", p);
    free(p);
    return ok;
}

const char *cli_bundled_machine(void)
{
    static char found[PATH_MAX];
    if (found[0])
        return found;

    /* An explicit override, for packagers and tests. */
    const char *env = getenv("MEMTREE_MACHINES");
    if (env && *env && keep_if_file(join(env, BUNDLED_FILE), found, sizeof(found)))
        return found;

    /* An installed copy keeps its machines in PREFIX/share/memtree. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *dir = dirname(exe);
        char *share = join(dir, "../share/memtree/machines");
        char *p = join(share, BUNDLED_FILE);
        free(share);
        /* realpath drops the "bin/.." from what messages show. */
        if (is_file(p) && realpath(p, found)) {
            free(p);
            return found;
        }
        found[0] = '\0';
        free(p);
    }

    /* Run from the build tree: the source tree it was configured from. */
    if (MT_CLI_SOURCE_MACHINES[0] &&
        keep_if_file(join(MT_CLI_SOURCE_MACHINES, BUNDLED_FILE), found, sizeof(found)))
        return found;
    return NULL;
}

/* True when the first non-blank line looks like `info mtree` tree output.
 * Only for regular files: sniffing a pipe would eat its content. */
static bool looks_like_tree_dump(const char *path)
{
    if (!is_file(path))
        return false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[256];
    bool yes = false;
    /* a few hundred lines at most: a file of NUL bytes has no line ends */
    for (int n = 0; n < 256 && fgets(line, sizeof(line), f); n++) {
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        yes = !strncmp(line, "address-space:", 14) ||
              !strncmp(line, "memory-region:", 14);
        break;
    }
    fclose(f);
    return yes;
}

/*
 * The flat dump that goes with a tree dump, by the naming of the bundled
 * machines (NAME.mtree.txt -> NAME.flat.txt) or of an oracle case folder
 * (mtree-oD.txt -> flat.txt).
 */
static char *sibling_flat(const char *path)
{
    size_t len = strlen(path);
    static const char suffix[] = ".mtree.txt";
    if (len > sizeof(suffix) - 1 && !strcmp(path + len - (sizeof(suffix) - 1), suffix)) {
        char *p = cli_alloc(len + 1, 1);
        memcpy(p, path, len - (sizeof(suffix) - 1));
        strcpy(p + len - (sizeof(suffix) - 1), ".flat.txt");
        if (is_file(p))
            return p;
        free(p);
        return NULL;
    }
    char *copy = cli_strdup(path);
    char *base = basename(copy);
    char *result = NULL;
    if (!strncmp(base, "mtree", 5)) {
        char *copy2 = cli_strdup(path);
        char *p = join(dirname(copy2), "flat.txt");
        if (is_file(p))
            result = p;
        else
            free(p);
        free(copy2);
    }
    free(copy);
    return result;
}

/*
 * The file to read inside an oracle case folder: the resolved model when
 * there is one (it is exact), else the QEMU dump with owners and disabled
 * regions, else the plain dump.
 */
static char *case_file(const char *dir)
{
    static const char *const names[] = {"model.txt", "mtree-oD.txt", "mtree.txt"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *p = join(dir, names[i]);
        if (is_file(p))
            return p;
        free(p);
    }
    return NULL;
}

/*
 * "4096", "64K", "512M", "1G", "1GiB", ... (binary multiples) into *out.
 * 0 is refused: an input limit of nothing can only be a mistake.
 */
static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    static const char units[] = "KMGT";
    unsigned shift = 0;
    if (*end) {
        const char *u = strchr(units, *end >= 'a' ? *end - 32 : *end);
        if (!u)
            return false;
        shift = 10 * (unsigned)(u - units + 1);
        end++;
        if (!strcmp(end, "iB") || !strcmp(end, "B"))
            end += strlen(end);
    }
    if (*end || v == 0 || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

/* The input limit: --max-input, else MEMTREE_MAX_INPUT, else the library's. */
static int input_limit(uint64_t *limit)
{
    *limit = MT_INPUT_LIMIT_DEFAULT;
    if (cli_max_input) {
        if (!parse_size(cli_max_input, limit))
            return cli_usage_error("bad --max-input '%s' (a byte count, maybe with "
                                   "K, M, G or T: 512M, 2G)", cli_max_input);
        return CLI_OK;
    }
    const char *env = getenv("MEMTREE_MAX_INPUT");
    if (env && *env && !parse_size(env, limit)) {
        cli_error("bad MEMTREE_MAX_INPUT '%s' (a byte count, maybe with K, M, G or "
                  "T: 512M, 2G)", env);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Files, pipes and terminals can be read; a device or socket is refused,
 * since /dev/zero and the like never end. */
static bool readable_kind(int fd, const char *shown)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) ||
        isatty(fd))
        return true;
    const char *what = S_ISDIR(st.st_mode) ? "a folder" : S_ISCHR(st.st_mode)
                       ? "a character device" : S_ISBLK(st.st_mode) ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "not a regular file";
    cli_error("%s: %s, not a file: memtree reads regular files, pipes and standard "
              "input", shown, what);
    return false;
}

/* The loader's warnings on stderr: the first few, then how many more. */
static void print_warnings(const mt_machine *m)
{
    enum { SHOWN = 10 };
    size_t n = mt_machine_warning_count(m);
    for (size_t i = 0; i < n && i < SHOWN; i++)
        cli_error("warning: %s", mt_machine_warning(m, i));
    if (n > SHOWN)
        cli_error("warning: %zu more warning(s) like these not shown", n - SHOWN);
}

int cli_load(const char *file, const char *flat, cli_machine *out,
             char *err_out, size_t err_len, int *rc_out)
{
    memset(out, 0, sizeof(*out));
    if (err_out && err_len)
        err_out[0] = '\0';
    if (rc_out)
        *rc_out = 0;

    char *path;
    if (!file) {
        const char *b = cli_bundled_machine();
        if (!b) {
            cli_error("no FILE given and the bundled machine (%s) was not found; "
                      "set MEMTREE_MACHINES to the folder holding it", BUNDLED_FILE);
            return CLI_USAGE;
        }
        path = cli_strdup(b);
    } else if (strcmp(file, "-") && is_dir(file)) {
        path = case_file(file);
        if (!path) {
            cli_error("'%s' is a folder without a machine file in it", file);
            return CLI_USAGE;
        }
    } else {
        path = cli_strdup(file);
    }

    uint64_t limit;
    if (input_limit(&limit)) {
        free(path);
        return CLI_USAGE;
    }
    bool from_stdin = !strcmp(path, "-");
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    if (!in) {
        cli_error("cannot open '%s': %s", path, strerror(errno));
        free(path);
        return CLI_USAGE;
    }
    if (!readable_kind(fileno(in), from_stdin ? "<stdin>" : path)) {
        if (!from_stdin)
            fclose(in);
        free(path);
        return CLI_USAGE;
    }

    char *flat_path = NULL;
    if (flat)
        flat_path = cli_strdup(flat);
    else if (!from_stdin && looks_like_tree_dump(path))
        flat_path = sibling_flat(path);
    FILE *flat_in = NULL;
    if (flat_path) {
        flat_in = fopen(flat_path, "r");
        if (flat_in && !readable_kind(fileno(flat_in), flat_path)) {
            fclose(flat_in);
            if (!from_stdin)
                fclose(in);
            free(path);
            free(flat_path);
            return CLI_USAGE;
        }
        if (!flat_in) {
            cli_error("cannot open '%s': %s", flat_path, strerror(errno));
            if (!from_stdin)
                fclose(in);
            free(path);
            free(flat_path);
            return CLI_USAGE;
        }
    }

    char err[1024] = "";
    mt_context *ctx = mt_context_new();
    mt_machine *m = NULL;
    const char *shown = from_stdin ? "<stdin>" : path;
    int rc;
    if (!ctx) {
        rc = -ENOMEM;
        snprintf(err, sizeof(err), "out of memory");
    } else {
        mt_context_set_input_limit(ctx, limit);
        rc = mt_machine_load(ctx, MT_FORMAT_AUTO, in, shown, flat_in, flat_path,
                             &m, err, sizeof(err));
    }
    if (!from_stdin)
        fclose(in);
    if (flat_in)
        fclose(flat_in);

    if (rc) {
        if (!err[0])
            snprintf(err, sizeof(err), "%s: %s", shown, mt_strerror(rc));
        if (err_out && err_len)
            snprintf(err_out, err_len, "%s", err);
        if (rc_out)
            *rc_out = rc;
        else
            cli_error("%s", err);
        if (ctx)
            mt_context_free(ctx);
        free(path);
        free(flat_path);
        return CLI_USAGE;
    }
    /* Every subcommand works on address spaces: a file without any (an
     * empty file, say) has nothing to show, and is most likely not the file
     * meant. */
    if (!mt_context_first_address_space(ctx)) {
        cli_error("%s: no address space in it (is it a memory map?)", shown);
        mt_machine_free(m);
        mt_context_free(ctx);
        free(path);
        free(flat_path);
        return CLI_USAGE;
    }
    print_warnings(m);
    if (cli_strict && mt_machine_flat_differs(m)) {
        cli_error("%s disagrees with %s (--strict)", flat_path, shown);
        mt_machine_free(m);
        mt_context_free(ctx);
        free(path);
        free(flat_path);
        return CLI_FOUND;
    }
    out->ctx = ctx;
    out->m = m;
    out->path = path;
    out->flat_path = flat_path;
    return CLI_OK;
}

void cli_unload(cli_machine *cm)
{
    if (cm->m)
        mt_machine_free(cm->m);
    if (cm->ctx)
        mt_context_free(cm->ctx);
    free(cm->path);
    free(cm->flat_path);
    memset(cm, 0, sizeof(*cm));
}

int cli_write_dump(const cli_machine *cm, unsigned flags, bool map)
{
    int err = map ? mt_machine_save_map(cm->m, stdout)
                  : mt_dump(cm->ctx, stdout, flags);
    if (err) {
        cli_error("writing the %s: %s", map ? "map" : "dump", mt_strerror(err));
        return CLI_USAGE;
    }
    return CLI_OK;
}
