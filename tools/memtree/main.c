/*
 * `memtree`: the entry point. Picks the subcommand and hands it argv; every
 * subcommand parses its own options (one file each, cmd_*.c). Also the
 * top-level help and version.
 */
#include "cli.h"

#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"show", cmd_show, "print the region tree (QEMU's `info mtree` or memtree's map format)"},
    {"flat", cmd_flat, "print the flat views (QEMU's `info mtree -f`)"},
    {"at", cmd_at, "what answers at an address, the path there, and what it hides and why"},
    {"diff", cmd_diff, "why two machines differ, by cause (or range by range)"},
    {"check", cmd_check, "lint a memory map for overlaps, overflows and overreach"},
    {"draw", cmd_draw, "draw each address space as an SVG picture"},
    {"capture", cmd_capture, "snapshot a running QEMU's map over QMP into a case folder"},
    {"watch", cmd_watch, "follow a running QEMU's map over QMP, printing changes as causes"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *out)
{
    fputs("usage: memtree COMMAND [ARGS...]\n"
          "       memtree COMMAND --help\n"
          "\n"
          "Reads a machine's memory map (QEMU `info mtree -o -D` dump, with an\n"
          "optional `info mtree -f` dump beside it, the oracle's model.txt, or\n"
          "memtree's map format) and answers questions about it. Without FILE\n"
          "the commands use a bundled real machine (QEMU 7.2 x86 `pc` after\n"
          "SeaBIOS ran). `capture` and `watch` take the map from a running QEMU\n"
          "over QMP.\n"
          "\n"
          "In every command -o means owners, -O the output, and numbers are\n"
          "decimal unless they start with 0x (4096 = 0x1000).\n"
          "\n"
          "Commands:\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Exit status: 0 success, 1 differences or problems found,\n"
          "2 bad usage or unreadable input.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        /* `memtree help CMD` is CMD's help. */
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            for (size_t i = 0; i < NCOMMANDS; i++) {
                if (!strcmp(argv[2], commands[i].name)) {
                    char *args[] = {argv[2], "--help", NULL};
                    cli_cmd = commands[i].name;
                    return commands[i].run(2, args);
                }
            }
            return cli_usage_error("unknown command '%s'", argv[2]);
        }
        print_help(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("memtree %d.%d.%d\n", MT_VERSION_MAJOR, MT_VERSION_MINOR,
               MT_VERSION_PATCH);
        return CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (!strcmp(cmd, commands[i].name)) {
            cli_cmd = commands[i].name;
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    if (cmd[0] == '-')
        return cli_usage_error("unknown option '%s' (a command comes first)", cmd);
    return cli_usage_error("unknown command '%s'", cmd);
}
