/*
 * What the files of the `memtree` command-line tool share: exit codes, the
 * subcommand entry points, option parsing, loading a machine (or the bundled
 * one), printing helpers and the JSON writer. Each subcommand lives in its
 * own cmd_*.c file and uses only the public library API plus this header.
 */
#ifndef MEMTREE_CLI_H
#define MEMTREE_CLI_H

#include <memtree.h>
#include <memtree/format.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Exit codes, the same for every subcommand. */
enum {
    CLI_OK = 0,       /* success, nothing found */
    CLI_FOUND = 1,    /* differences or problems found */
    CLI_USAGE = 2,    /* bad usage or unreadable input */
};

/* ------------------------------------------------------------------------ */
/* Subcommands (argv[0] is the subcommand's name)                            */
/* ------------------------------------------------------------------------ */

int cmd_show(int argc, char **argv);
int cmd_flat(int argc, char **argv);
int cmd_at(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_draw(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_watch(int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* Options and messages (opts.c)                                             */
/* ------------------------------------------------------------------------ */

/* The subcommand being run, for messages ("memtree at: ..."). */
extern const char *cli_cmd;

/* "memtree CMD: message" on stderr. */
__attribute__((format(printf, 1, 2)))
void cli_error(const char *fmt, ...);

/*
 * Reports a usage error, points at --help and returns CLI_USAGE, so that a
 * subcommand can `return cli_usage_error(...)`.
 */
__attribute__((format(printf, 1, 2)))
int cli_usage_error(const char *fmt, ...);

/*
 * One option of a subcommand. `arg` says whether it takes a value; `id` is
 * what cli_next_option returns for it (use a character for options with a
 * short form).
 */
typedef struct cli_option {
    const char *long_name; /* without the dashes */
    char short_name;       /* 0 if none */
    bool arg;
    int id;
} cli_option;

/*
 * Walks argv like getopt_long with permutation, so options may follow the
 * positional arguments; "--" ends the options. Returns the id of the next
 * option (its value in *value), 0 when every argument has been seen, or -1
 * after reporting an unknown option or a missing value. Positional arguments
 * are collected into pos[] (at most maxpos; one more is reported as an
 * error). `--help`/`-h` is always known: it prints a->help and returns
 * CLI_HELP_SHOWN.
 */
typedef struct cli_args {
    int argc;
    char **argv;
    int next;
    const char *pending_short; /* rest of a "-abc" group */
    const char *pos[4];
    int npos;
    int maxpos;
    /* "--" ends the parse and leaves argv[next..] to the caller (a command
     * line to run) instead of collecting it as positional arguments. */
    bool stop_at_dashdash;
    const char *help;     /* printed for --help */
    bool json;            /* --json, for commands that list CLI_OPTION_JSON */
    const char *flat;     /* --flat, for commands that list CLI_OPTION_FLAT */
    const char *qmp;      /* --qmp, for commands that list CLI_OPTION_QMP */
    double timeout;       /* --timeout, for CLI_OPTION_TIMEOUT (default 10) */
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv, int maxpos,
                   const char *help);

/* Options several subcommands take: listed in a command's table, they are
 * gathered by cli_next_option into a->json, a->flat, a->qmp and a->timeout
 * (a bad --timeout is a usage error). */
enum {
    CLI_OPT_JSON = -200,
    CLI_OPT_FLAT = -201,
    CLI_OPT_QMP = -202,
    CLI_OPT_TIMEOUT = -203,
    CLI_HELP_SHOWN = -2,
};
#define CLI_OPTION_JSON {"json", 0, false, CLI_OPT_JSON}
#define CLI_OPTION_FLAT {"flat", 0, true, CLI_OPT_FLAT}
#define CLI_OPTION_QMP {"qmp", 0, true, CLI_OPT_QMP}
#define CLI_OPTION_TIMEOUT {"timeout", 0, true, CLI_OPT_TIMEOUT}

/* The help lines of the options cli_next_option handles for every command. */
#define CLI_HELP_LOAD_OPTIONS \
    "  --strict        exit 1 if the flat dump disagrees with the views\n" \
    "  --max-input SIZE  read at most SIZE bytes of each input (512M, 2G;\n" \
    "                  default: MEMTREE_MAX_INPUT, else 1G)\n"
#define CLI_HELP_HELP \
    "  -h, --help      this help\n"

/* The loading options every subcommand takes, gathered by cli_next_option
 * (docs/cli.md): --strict (a flat dump that disagrees with the views is an
 * error) and --max-input SIZE (the most bytes read from one input). */
extern bool cli_strict;
extern const char *cli_max_input;
int cli_next_option(cli_args *a, const cli_option *opts, const char **value);
/* What a subcommand returns when cli_next_option returned id < 0: CLI_OK
 * once it printed the help (CLI_HELP_SHOWN), else CLI_USAGE. */
int cli_options_exit(int id);

/*
 * Parses a number the same way in every command: 0x for hexadecimal, else
 * decimal (so 4096 is 0x1000), `_` between digits allowed, at most 64 bits.
 * cli_number_problem returns NULL on success, else what is wrong ("hexadecimal
 * digits without 0x ...") for the error message.
 */
bool cli_parse_number(const char *s, uint64_t *out);
const char *cli_number_problem(const char *s, uint64_t *out);

/* Prints a subcommand's help text (usage line first) on stdout. */
void cli_print_help(const char *text);

/* ------------------------------------------------------------------------ */
/* Machines (load.c)                                                         */
/* ------------------------------------------------------------------------ */

/* A machine read from a file, with the context it lives in. */
typedef struct cli_machine {
    mt_context *ctx;
    mt_machine *m;
    char *path;       /* the file read (for messages and reports) */
    char *flat_path;  /* the matching flat dump used, or NULL */
} cli_machine;

/*
 * Loads `file` (any format the library reads; a directory is searched for
 * an oracle case's files) or, if NULL, the bundled machine. `flat` is an
 * optional `info mtree -f` dump of the same machine; without it a sibling
 * flat file is used when one exists. Devices other than a terminal are
 * refused, and no input may be longer than the input limit (--max-input,
 * MEMTREE_MAX_INPUT, else 1 GiB). The loader's warnings (guesses, and
 * differences with the flat dump) go to stderr; with --strict a difference
 * with the flat dump returns CLI_FOUND after them. On failure prints
 * "memtree CMD: ..." naming the file (and line) and returns CLI_USAGE. With `rc_out`, a
 * loader failure is not printed: its message goes to `err_out` and its
 * return code to *rc_out (0 when the failure was not the loader's), so that
 * `check` can report an alias cycle as a finding.
 */
int cli_load(const char *file, const char *flat, cli_machine *out,
             char *err_out, size_t err_len, int *rc_out);
void cli_unload(cli_machine *cm);

/* Writes the tree dump (mt_dump with `flags`) or, with `map`, the map of
 * the machine on stdout; a write error is reported: CLI_OK or CLI_USAGE. */
int cli_write_dump(const cli_machine *cm, unsigned flags, bool map);

/* The bundled machine's tree dump, or NULL if it cannot be found. */
const char *cli_bundled_machine(void);

/* ------------------------------------------------------------------------ */
/* Regions, ranges and views (util.c)                                        */
/* ------------------------------------------------------------------------ */

/*
 * Memory for n items of `size` bytes: zeroed (cli_alloc) or resized
 * (cli_grow). A short-lived tool has nothing better to do when memory runs
 * out than to say so and stop, so these never return NULL.
 */
void *cli_alloc(size_t n, size_t size);
void *cli_grow(void *p, size_t n, size_t size);
/* Makes room for `need` items in the array *pp of capacity *cap, doubling
 * (at least 16 items) so appends cost amortised O(1). */
void cli_reserve(void *pp, size_t *cap, size_t need, size_t size);
char *cli_strdup(const char *s);

/* memtree's kind word: container, alias, ram, rom, romd, ramd, io, ... */
const char *cli_region_kind(const mt_region *r);
/* The device path of the region's owner ("/machine/q35/mch"), or its
 * label when it has no path, or NULL when the file named no owner. */
const char *cli_owner(const mt_region *r);
/* The region's name, "(null)" when it has none. */
const char *cli_name(const mt_region *r);

/* Size as an unsigned 128-bit number, so 2^64 is exact. */
__extension__ typedef unsigned __int128 cli_u128;
__extension__ typedef __int128 cli_i128;
cli_u128 cli_region_size(const mt_region *r);

/* "4 KiB", "1.5 GiB", "16 EiB" (2^64), into buf. */
const char *cli_human_size(cli_u128 size, char *buf, size_t len);

/*
 * Address spaces grouped by the view they share, in the creation order of
 * the first address space of each group (the order of the flat dump).
 */
typedef struct cli_view_group {
    const mt_view *view;
    const mt_address_space **spaces;
    size_t nspaces;
} cli_view_group;

size_t cli_view_groups(mt_context *ctx, cli_view_group **out);
void cli_view_groups_free(cli_view_group *g, size_t n);

/* Address spaces in creation order. */
size_t cli_address_spaces(mt_context *ctx, const mt_address_space ***out);

/*
 * Every region reachable from an address-space root, through subregions
 * and alias targets, each once, in a depth-first order (roots in creation
 * order, children in render order). Works for any machine, whatever the
 * file format recorded.
 */
size_t cli_reachable_regions(mt_context *ctx, const mt_region ***out);

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. Names
 * come from files and may hold any byte; JSON and XML need valid text. */
size_t cli_utf8_len(const unsigned char *s);

/* The index of the first range of the view that ends at or after addr
 * (the range count when there is none). */
size_t cli_first_range_from(const mt_view *v, uint64_t addr);

/* Writes one flat-dump range line ("  S-E (prio P, T): name[ @OFF]"). */
void cli_print_range(FILE *out, const char *indent, const mt_range *r);

/* ------------------------------------------------------------------------ */
/* Hidden regions (hidden.c)                                                 */
/* ------------------------------------------------------------------------ */

/* One region on the way down from a view's root, with where its offset 0
 * sits in the address space (signed and wide: alias arithmetic can put it
 * below 0). A path is root .. region. */
typedef struct cli_step {
    const mt_region *r;
    cli_i128 base;
} cli_step;

typedef struct cli_path {
    cli_step *s;
    size_t n, cap;
} cli_path;

void cli_path_push(cli_path *p, const mt_region *r, cli_i128 base);

/*
 * The terminal region that rendering `r` (its container's offset 0 at
 * `base`) puts at `addr`, or NULL; the regions passed through are left on p.
 */
const mt_region *cli_resolve(const mt_region *r, cli_i128 base, uint64_t addr,
                             cli_path *p);

/* Why a region that covers an address does not answer there. */
typedef enum cli_why {
    CLI_WHY_NONE,           /* the winner */
    CLI_WHY_SUBREGION,      /* a terminal region under one of its subregions */
    CLI_WHY_PRIORITY,       /* an earlier sibling with a higher priority */
    CLI_WHY_SIBLING,        /* an earlier sibling with the same priority */
    CLI_WHY_ZERO_SIZE,
    CLI_WHY_ALIAS_BEYOND,   /* alias offset beyond its target's end */
    CLI_WHY_CLIPPED,        /* outside a container's or alias's window */
    CLI_WHY_DISABLED,
    CLI_WHY_LOOP,           /* an alias loop pass the renderer stops (rules a, b) */
} cli_why;

typedef struct cli_loser {
    const mt_region *r;
    cli_i128 base;          /* where its offset 0 sits */
    cli_why why;
    const mt_region *by;    /* the sibling, container, alias or region at fault */
    cli_path chain;         /* root .. r, for the alias chain */
} cli_loser;

typedef struct cli_losers {
    cli_loser *l;
    size_t n, cap;
    size_t visits;          /* regions the walk visited */
    bool cut;               /* the walk stopped at its depth or visit budget */
} cli_losers;

/*
 * Every region that covers `addr` in a view and does not answer there
 * (`winner` is left out), each once with the reason closest to answering.
 * `as_root` stands in for the root of an empty view.
 */
void cli_find_losers(const mt_view *v, const mt_region *as_root,
                     const mt_region *winner, uint64_t addr, cli_losers *ls);
void cli_losers_free(cli_losers *ls);
/* "lower priority", "disabled", ... */
const char *cli_why_word(cli_why w);
/* The reason in a sentence, naming the region at fault. */
void cli_explain_loser(FILE *out, const cli_loser *l);

/*
 * A stretch of a region's extent where a view does not show it, in
 * address-space coordinates: the region is enabled or not, reached from
 * the view's root through containers and aliases, and something else (or
 * nothing) answers there. Alias windows select what shows of a target, so
 * the part of a target outside an alias's window is not counted, unless no
 * route shows any of the region (clipped to nothing); a zero-size region is
 * one address long. Sorted by first address, then last, then order.
 */
typedef struct cli_hidden {
    const mt_region *r;
    uint64_t first, last;
    size_t order;   /* the walk met r before regions of higher order */
} cli_hidden;

/* The hidden stretches of a view's regions, in one walk of the tree. */
size_t cli_hidden_stretches(const mt_view *v, const mt_region *as_root,
                            cli_hidden **out);

/* ------------------------------------------------------------------------ */
/* JSON writer (json.c, on json-c)                                          */
/* ------------------------------------------------------------------------ */

/*
 * A writer called as a stream (begin, key, value, end) that builds the
 * document with json-c and prints it at json_finish. Addresses and sizes
 * are written as "0x..." strings, since JSON numbers lose precision above
 * 2^53 and sizes reach 2^64.
 */
struct json_object;
typedef struct cli_json {
    FILE *out;
    int depth;
    struct json_object *stack[64]; /* the open objects and arrays */
    struct json_object *root;
    char *key;                     /* given, its value not yet */
} cli_json;

void json_init(cli_json *j, FILE *out);
void json_begin_object(cli_json *j);
void json_end_object(cli_json *j);
void json_begin_array(cli_json *j);
void json_end_array(cli_json *j);
void json_key(cli_json *j, const char *key);
void json_string(cli_json *j, const char *s); /* NULL writes null */
void json_int(cli_json *j, int64_t v);
void json_uint(cli_json *j, uint64_t v);
void json_hex(cli_json *j, uint64_t v);
void json_hex128(cli_json *j, cli_u128 v);
void json_bool(cli_json *j, bool v);
void json_null(cli_json *j);
/* Ends the document with a newline. */
void json_finish(cli_json *j);

/* A key and its value in one call. */
void json_field_string(cli_json *j, const char *key, const char *s);
void json_field_int(cli_json *j, const char *key, int64_t v);
void json_field_uint(cli_json *j, const char *key, uint64_t v);
void json_field_hex(cli_json *j, const char *key, uint64_t v);
void json_field_hex128(cli_json *j, const char *key, cli_u128 v);
void json_field_bool(cli_json *j, const char *key, bool v);

/* A range as an object: start, last, size, region, type, offset, flags. */
void json_range(cli_json *j, const mt_range *r);

/* ------------------------------------------------------------------------ */
/* Causes of a difference (causes.c)                                         */
/* ------------------------------------------------------------------------ */

/*
 * One reason two machines differ: a region added or removed, or one of a
 * paired region's properties changed. `what` is one of: added, removed,
 * moved, resized, enabled, disabled, priority, retargeted, re-offset,
 * readonly, kind. Regions pair by their place in the tree (container names
 * down from the root, rank among same-named siblings).
 */
typedef struct cli_cause {
    const char *what;
    const mt_region *a, *b; /* in A and in B; one is NULL for added/removed */
    char *detail;           /* "from 0x...-0x... in pci to ...", heap */
} cli_cause;

size_t cli_find_causes(mt_context *a, mt_context *b, cli_cause **out);
void cli_causes_free(cli_cause *c, size_t n);
/* "added      e1000-mmio (io) at 0x...-0x... in pci, owner /machine/..." */
void cli_print_cause(FILE *out, const char *prefix, const cli_cause *c);
void cli_json_cause(cli_json *j, const cli_cause *c);

/* ------------------------------------------------------------------------ */
/* QMP and captures (qmp.c, cmd_capture.c)                                   */
/* ------------------------------------------------------------------------ */

/* Monotonic seconds. */
double cli_now(void);

/* Seconds as a non-negative decimal number ("0.5", "10"). */
bool cli_parse_seconds(const char *s, double *out);

/*
 * A QMP connection (json-c objects; json-c's `json_object` is this struct).
 * Every wait is bounded by `timeout` seconds; failures return NULL with a
 * message in err. Events that arrive while a reply is awaited are queued
 * for qmp_next_event.
 */
typedef struct qmp_conn qmp_conn;

/* Connects (a unix socket path, or HOST:PORT), checks the greeting and
 * negotiates capabilities. */
qmp_conn *qmp_connect(const char *addr, double timeout, char *err, size_t errlen);
void qmp_close(qmp_conn *q);
/* Runs `cmd` (args may be NULL; it is consumed) and returns its "return"
 * value, which the caller puts. */
struct json_object *qmp_execute(qmp_conn *q, const char *cmd,
                                struct json_object *args, char *err, size_t errlen);
/* A human-monitor command's output (caller frees). */
char *qmp_hmp(qmp_conn *q, const char *line, char *err, size_t errlen);
/* The next event, waiting up to `wait` seconds; NULL when none came (err
 * empty) or the connection failed (err set). */
struct json_object *qmp_next_event(qmp_conn *q, double wait, char *err, size_t errlen);

/* One snapshot of a machine's map: the three `info mtree` dumps and the
 * facts around them. */
typedef struct cli_capture {
    char *tree, *flat, *flat_o; /* info mtree -o -D, -f, -f -o */
    char *pci, *qom;            /* info pci, info qom-tree (may be NULL) */
    char *version;              /* "QEMU emulator version ..." */
    char *status;               /* query-status before the capture */
    bool was_running;           /* then stopped and resumed around it */
    struct timespec when;       /* wall-clock time of the dumps */
    double seconds;             /* how long the capture took */
} cli_capture;

/* Takes a snapshot, stopping a running VM around the dumps. */
int cli_capture_take(qmp_conn *q, cli_capture *c, char *err, size_t errlen);
void cli_capture_free(cli_capture *c);
/* Loads a snapshot's tree with its flat dump into a new context. */
int cli_capture_load(const cli_capture *c, const char *name, mt_context **ctx,
                     mt_machine **m, char *err, size_t errlen);

#endif /* MEMTREE_CLI_H */
