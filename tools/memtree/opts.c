/*
 * Option parsing and messages for every subcommand. A small parser of our
 * own rather than getopt_long, so that each error names the argument in the
 * tool's own words and options may follow positional arguments
 * (`memtree at FILE ADDR --as memory`).
 */
#include "cli.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

const char *cli_cmd = NULL;

static void vmessage(const char *fmt, va_list ap)
{
    if (cli_cmd)
        fprintf(stderr, "memtree %s: ", cli_cmd);
    else
        fputs("memtree: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    if (cli_cmd)
        fprintf(stderr, "Try 'memtree %s --help'.\n", cli_cmd);
    else
        fputs("Try 'memtree --help'.\n", stderr);
    return CLI_USAGE;
}

void cli_print_help(const char *text)
{
    fputs(text, stdout);
}

void cli_args_init(cli_args *a, int argc, char **argv, int maxpos,
                   const char *help)
{
    memset(a, 0, sizeof(*a));
    a->argc = argc;
    a->argv = argv;
    a->next = 1; /* argv[0] is the subcommand */
    a->maxpos = maxpos;
    a->help = help;
    a->timeout = 10;
}

int cli_options_exit(int id)
{
    return id == CLI_HELP_SHOWN ? CLI_OK : CLI_USAGE;
}

static const cli_option help_option = {"help", 'h', false, 'h'};

bool cli_strict = false;
const char *cli_max_input = NULL;

/* Options every subcommand takes, because every one loads a machine:
 * handled here so that each subcommand's parser never sees them. */
enum { LOAD_STRICT = -100, LOAD_MAX_INPUT = -101 };
static const cli_option load_options[] = {
    {"strict", 0, false, LOAD_STRICT},
    {"max-input", 0, true, LOAD_MAX_INPUT},
    {NULL, 0, false, 0},
};

static const cli_option *find_long(const cli_option *opts, const char *name,
                                   size_t len)
{
    if (len == 4 && !strncmp(name, "help", 4))
        return &help_option;
    for (const cli_option *o = load_options; o->long_name; o++)
        if (strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
            return o;
    for (const cli_option *o = opts; o && o->long_name; o++)
        if (strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
            return o;
    return NULL;
}

static const cli_option *find_short(const cli_option *opts, char c)
{
    if (c == 'h')
        return &help_option;
    for (const cli_option *o = opts; o && o->long_name; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

static int add_positional(cli_args *a, const char *arg)
{
    if (a->npos >= a->maxpos || a->npos >= (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
        cli_usage_error("unexpected argument '%s'", arg);
        return -1;
    }
    a->pos[a->npos++] = arg;
    return 0;
}

/* A short option inside a "-xyz" group; a value may be attached ("-oOUT"). */
static int next_short(cli_args *a, const cli_option *opts, const char **value)
{
    char c = *a->pending_short++;
    const cli_option *o = find_short(opts, c);
    if (!o) {
        cli_usage_error("unknown option '-%c'", c);
        return -1;
    }
    if (o->arg) {
        if (*a->pending_short) {
            *value = a->pending_short;
        } else if (a->next < a->argc) {
            *value = a->argv[a->next++];
        } else {
            cli_usage_error("option '-%c' needs a value", c);
            return -1;
        }
        a->pending_short = NULL;
    } else if (!*a->pending_short) {
        a->pending_short = NULL;
    }
    return o->id;
}

static int next_option(cli_args *a, const cli_option *opts, const char **value);

int cli_next_option(cli_args *a, const cli_option *opts, const char **value)
{
    for (;;) {
        int id = next_option(a, opts, value);
        if (id == LOAD_STRICT)
            cli_strict = true;
        else if (id == LOAD_MAX_INPUT)
            cli_max_input = *value;
        else if (id == CLI_OPT_JSON)
            a->json = true;
        else if (id == CLI_OPT_FLAT)
            a->flat = *value;
        else if (id == CLI_OPT_QMP)
            a->qmp = *value;
        else if (id == CLI_OPT_TIMEOUT) {
            if (!cli_parse_seconds(*value, &a->timeout) || a->timeout <= 0) {
                cli_usage_error("bad --timeout '%s': expected seconds", *value);
                return -1;
            }
        }
        else if (id == 'h') {
            cli_print_help(a->help);
            return CLI_HELP_SHOWN;
        } else
            return id;
    }
}

static int next_option(cli_args *a, const cli_option *opts, const char **value)
{
    *value = NULL;
    if (a->pending_short)
        return next_short(a, opts, value);
    while (a->next < a->argc) {
        const char *arg = a->argv[a->next++];
        if (!strcmp(arg, "--")) {
            if (a->stop_at_dashdash)
                return 0;
            while (a->next < a->argc)
                if (add_positional(a, a->argv[a->next++]))
                    return -1;
            return 0;
        }
        if (arg[0] == '-' && arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_option *o = find_long(opts, name, len);
            if (!o) {
                cli_usage_error("unknown option '%.*s'", (int)(len + 2), arg);
                return -1;
            }
            if (o->arg) {
                if (eq) {
                    *value = eq + 1;
                } else if (a->next < a->argc) {
                    *value = a->argv[a->next++];
                } else {
                    cli_usage_error("option '--%s' needs a value", o->long_name);
                    return -1;
                }
            } else if (eq) {
                cli_usage_error("option '--%s' takes no value", o->long_name);
                return -1;
            }
            return o->id;
        }
        /* "-" alone is a positional argument: standard input. */
        if (arg[0] == '-' && arg[1]) {
            a->pending_short = arg + 1;
            return next_short(a, opts, value);
        }
        if (add_positional(a, arg))
            return -1;
    }
    return 0;
}

/*
 * Every number on the command line: "0x" makes it hexadecimal, anything
 * else is decimal, so `at 4096` is 0x1000. A bare number with hex letters
 * (fee00000) would be read as hex by some tools and rejected by others:
 * it is an error that says so rather than a guess.
 */
const char *cli_number_problem(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* Underscores group digits the way addresses are often written. */
    uint64_t v = 0;
    int digits = 0;
    bool hex_letters = false;
    for (; *s; s++) {
        if (*s == '_' && digits)
            continue;
        if (!isxdigit((unsigned char)*s))
            return "not a number";
        int d = isdigit((unsigned char)*s) ? *s - '0'
                                           : tolower((unsigned char)*s) - 'a' + 10;
        if (d >= base) {
            hex_letters = true;
            continue;
        }
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return "more than 64 bits";
        v = v * (uint64_t)base + (uint64_t)d;
        digits++;
    }
    if (hex_letters)
        return "hexadecimal digits without 0x (write 0x for hexadecimal)";
    if (!digits)
        return "not a number";
    *out = v;
    return NULL;
}

bool cli_parse_number(const char *s, uint64_t *out)
{
    return cli_number_problem(s, out) == NULL;
}
