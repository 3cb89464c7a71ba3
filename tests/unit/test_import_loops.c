/*
 * Importing a QEMU dump whose aliases show their own container (the shape
 * of the SSE-200 and OMAP boards; docs/rendering.md, "Loops through
 * aliases"): the importer accepts the loop as the library does, builds it,
 * and its views match the flat dump, with and without that dump.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memtree.h"
#include <memtree/format.h>

static const char tree[] =
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): top\n"
    "    0000000000000000-ffffffffffffffff (prio -2, i/o): system\n"
    "      0000000000000000-00000000003fffff (prio 0, ram): ssram\n"
    "    0000000010000000-000000001fffffff (prio -1500, i/o): alias alias 1 @top "
    "0000000000000000-000000000fffffff\n"
    "    0000000020000000-0000000020007fff (prio 0, i/o): mpc\n"
    "    0000000030000000-000000003fffffff (prio -1500, i/o): alias alias 2 @top "
    "0000000020000000-000000002fffffff\n"
    "\n"
    "memory-region: top\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): top\n"
    "    0000000000000000-ffffffffffffffff (prio -2, i/o): system\n"
    "      0000000000000000-00000000003fffff (prio 0, ram): ssram\n"
    "    0000000010000000-000000001fffffff (prio -1500, i/o): alias alias 1 @top "
    "0000000000000000-000000000fffffff\n"
    "    0000000020000000-0000000020007fff (prio 0, i/o): mpc\n"
    "    0000000030000000-000000003fffffff (prio -1500, i/o): alias alias 2 @top "
    "0000000020000000-000000002fffffff\n"
    "\n";

static const char flat[] =
    "FlatView #0\n"
    " AS \"memory\", root: top\n"
    " Root memory region: top\n"
    "  0000000000000000-00000000003fffff (prio 0, ram): ssram\n"
    "  0000000010000000-00000000103fffff (prio 0, ram): ssram\n"
    "  0000000020000000-0000000020007fff (prio 0, i/o): mpc\n"
    "  0000000030000000-0000000030007fff (prio 0, i/o): mpc\n"
    "\n";

static void quiet(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

static void load_and_compare(const char *flat_text)
{
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, quiet, NULL);
    FILE *in = fmemopen((void *)tree, strlen(tree), "r");
    FILE *fl = flat_text ? fmemopen((void *)flat_text, strlen(flat_text), "r") : NULL;
    mt_machine *m = NULL;
    char err[1024] = "";
    int rc = mt_machine_load(ctx, MT_FORMAT_QEMU, in, "dump.txt", fl, "flat.txt", &m, err,
                             sizeof(err));
    fclose(in);
    if (fl)
        fclose(fl);
    if (rc)
        fail_msg("load failed (%d): %s", rc, err);

    char *got = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&got, &len);
    assert_int_equal(mt_dump(ctx, out, MT_DUMP_FLAT), 0);
    fclose(out);
    if (strcmp(got, flat))
        fail_msg("flat dump differs:\n%s\nexpected:\n%s", got, flat);
    free(got);

    mt_machine_free(m);
    mt_context_free(ctx);
}

static void alias_of_own_container_imports_with_flat_dump(void **state)
{
    (void)state;
    load_and_compare(flat);
}

static void alias_of_own_container_imports_from_tree_alone(void **state)
{
    (void)state;
    load_and_compare(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alias_of_own_container_imports_with_flat_dump),
        cmocka_unit_test(alias_of_own_container_imports_from_tree_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
