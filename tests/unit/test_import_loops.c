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

#include "mt_test.h"

/* The tree under `top`, printed once under the address space and once as
 * the region the aliases name. */
#define TOP_TREE \
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): top\n" \
    "    0000000000000000-ffffffffffffffff (prio -2, i/o): system\n" \
    "      0000000000000000-00000000003fffff (prio 0, ram): ssram\n" \
    "    0000000010000000-000000001fffffff (prio -1500, i/o): alias alias 1 @top " \
    "0000000000000000-000000000fffffff\n" \
    "    0000000020000000-0000000020007fff (prio 0, i/o): mpc\n" \
    "    0000000030000000-000000003fffffff (prio -1500, i/o): alias alias 2 @top " \
    "0000000020000000-000000002fffffff\n"

static const char tree[] =
    "address-space: memory\n" TOP_TREE "\n"
    "memory-region: top\n" TOP_TREE "\n";

static const char flat[] =
    "FlatView #0\n"
    " AS \"memory\", root: top\n"
    " Root memory region: top\n"
    "  0000000000000000-00000000003fffff (prio 0, ram): ssram\n"
    "  0000000010000000-00000000103fffff (prio 0, ram): ssram\n"
    "  0000000020000000-0000000020007fff (prio 0, i/o): mpc\n"
    "  0000000030000000-0000000030007fff (prio 0, i/o): mpc\n"
    "\n";

static void load_and_compare(const char *flat_text)
{
    mt_test_loaded L;
    mt_test_load(&L, MT_FORMAT_QEMU, tree, "dump.txt", flat_text, 0);
    if (L.rc)
        fail_msg("load failed (%d): %s", L.rc, L.err);
    char *got = mt_test_dump(L.ctx, MT_DUMP_FLAT);
    if (strcmp(got, flat))
        fail_msg("flat dump differs:\n%s\nexpected:\n%s", got, flat);
    free(got);
    mt_test_unload(&L);
}

MT_TEST_CASE(alias_of_own_container_imports_with_flat_dump, load_and_compare(flat))
MT_TEST_CASE(alias_of_own_container_imports_from_tree_alone, load_and_compare(NULL))

MT_TEST_MAIN(
    cmocka_unit_test(alias_of_own_container_imports_with_flat_dump),
    cmocka_unit_test(alias_of_own_container_imports_from_tree_alone))
