/*
 * Loads a machine description (the oracle's model.txt format) and prints its
 * flat views the way QEMU's `info mtree -f` does. This is the smallest
 * complete use of memtree: a context, a machine built through the public
 * API, one dump.
 *
 * Usage: flatview_demo [--tree] [MODEL.txt]
 *   With no file it loads the bundled x86 pc machine. --tree prints the
 *   region tree (`info mtree -D`) instead of the flat views.
 */
#include <memtree.h>
#include <memtree/format.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef MT_DEFAULT_MODEL
#define MT_DEFAULT_MODEL "examples/machines/x86-pc-default.model.txt"
#endif

int main(int argc, char **argv)
{
    unsigned flags = MT_DUMP_FLAT;
    const char *path = MT_DEFAULT_MODEL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tree") == 0) {
            flags = MT_DUMP_DISABLED;
        } else if (argv[i][0] == '-') {
            bool help = strcmp(argv[i], "--help") == 0;
            fprintf(help ? stdout : stderr, "usage: %s [--tree] [MODEL.txt]\n", argv[0]);
            return help ? 0 : 2;
        } else {
            path = argv[i];
        }
    }

    FILE *in = fopen(path, "r");
    if (!in) {
        fprintf(stderr, "flatview_demo: %s: %s\n", path, strerror(errno));
        return 2;
    }

    mt_context *ctx = mt_context_new();
    if (!ctx) {
        fclose(in);
        fprintf(stderr, "flatview_demo: out of memory\n");
        return 1;
    }

    mt_machine *m = NULL;
    char err[256] = "";
    int rc = mt_machine_load_model(ctx, in, path, &m, err, sizeof err);
    fclose(in);
    if (rc < 0) {
        fprintf(stderr, "flatview_demo: %s\n", err[0] ? err : mt_strerror(rc));
        mt_context_free(ctx);
        return 2;
    }

    rc = mt_dump(ctx, stdout, flags);
    if (rc < 0)
        fprintf(stderr, "flatview_demo: writing the dump: %s\n", mt_strerror(rc));

    mt_machine_free(m);
    mt_context_free(ctx);
    return rc < 0 ? 1 : 0;
}
