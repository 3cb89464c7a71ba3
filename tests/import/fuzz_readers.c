/*
 * libFuzzer target for the machine readers (clang only). The first byte
 * picks the format (auto, model, QEMU, map); the rest is the file. For QEMU
 * dumps, text from the first "FlatView #" on is given as the flat companion,
 * so the inference loop is fuzzed too. A machine that loads is saved as a
 * map, and the map must read back.
 *
 * Build: configure with clang (-DCMAKE_C_COMPILER=clang); the target is
 * fuzz_readers. Run: fuzz_readers -max_total_time=60 CORPUS_DIR
 */
#include <memtree.h>
#include <memtree/format.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

static mt_machine *load(mt_context *ctx, mt_file_format fmt, const char *text, size_t n,
                        const char *flat, size_t fn)
{
    mt_machine *m = NULL;
    char err[512];
    /* fmemopen refuses empty buffers: an empty file is a space-less read */
    FILE *in = fmemopen((void *)(n ? text : " "), n ? n : 1, "r");
    FILE *fl = flat ? fmemopen((void *)flat, fn, "r") : NULL;
    if (!in)
        abort();
    if (!n)
        fgetc(in);
    int rc = mt_machine_load(ctx, fmt, in, "fuzz", fl, "flat", &m, err, sizeof(err));
    fclose(in);
    if (fl)
        fclose(fl);
    if (rc && strncmp(err, "fuzz", 4) && strncmp(err, "flat", 4))
        abort(); /* every error names its file */
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    mt_file_format fmt = (mt_file_format)(data[0] % 4);
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t n = size - 1;
    const char *flat = NULL;
    size_t fn = 0;
    char *split = memmem(text, n, "FlatView #", 10);
    if (split && split != text) {
        flat = split;
        fn = n - (size_t)(split - text);
        n = (size_t)(split - text);
    }
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, quiet, NULL);
    mt_machine *m = load(ctx, fmt, text, n, flat, fn);
    if (m) {
        char *map = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&map, &len);
        int saved = mt_machine_save_map(m, f);
        fclose(f);
        /* free the first machine before reading its map back: both at once
         * can exceed the address space (a dump may declare tens of TiB of
         * RAM, whose backing is reserved, not touched) */
        mt_machine_free(m);
        if (saved == 0) {
            mt_context *ctx2 = mt_context_new();
            mt_context_set_diag(ctx2, quiet, NULL);
            mt_machine *m2 = load(ctx2, MT_FORMAT_MAP, map, len, NULL, 0);
            if (!m2)
                abort(); /* what we write we must read */
            mt_machine_free(m2);
            mt_context_free(ctx2);
        }
        free(map);
    }
    mt_context_free(ctx);
    free(text);
    return 0;
}
