/*
 * Bug: a backwards range in a dump (the end below the start, on a line
 * QEMU would have marked [DETECTED OVERFLOW!]) was read as a region of
 * nearly 2^64 bytes, and loading failed with "cannot create ram region
 * 'ram': out of memory" (or an MMIO line silently grew to the end of the
 * address space). Fixed in the commit that added this test: the tree and
 * flat readers, and model.txt's VR lines, report a backwards range as
 * such, naming the file and line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt_test.h"

static int load(const char *text, const char *flat, char *err, size_t errlen)
{
    mt_test_loaded L;
    mt_test_load(&L, MT_FORMAT_AUTO, text, "dump.txt", flat, 0);
    snprintf(err, errlen, "%s", L.err);
    mt_test_unload(&L); /* no partial state */
    return L.rc;
}

#define HEAD "address-space: memory\n" \
             "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"

static void tree_dump(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(load(HEAD "    0000000000002000-0000000000001000 (prio 0, ram): ram\n\n",
                          NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "dump.txt:3: backwards range 0000000000002000-0000000000001000: "
                        "the end is below the start (only a line marked [DETECTED "
                        "OVERFLOW!] may wrap)");
    assert_int_equal(load(HEAD "    0000000000002000-0000000000001000 (prio 0, i/o): mmio\n\n",
                          NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "dump.txt:3: backwards range"));
    /* a marked line may wrap: QEMU prints it so */
    assert_int_equal(load(HEAD "[DETECTED OVERFLOW!]     fffffffffffff000-0000000000000fff "
                          "(prio 0, i/o): top\n\n", NULL, err, sizeof(err)), 0);
}

static void flat_dump(void **state)
{
    (void)state;
    char err[1024];
    const char *flat = "FlatView #0\n"
                       " AS \"memory\", root: system\n"
                       " Root memory region: system\n"
                       "  0000000000002000-0000000000001fff (prio 0, i/o): mmio\n\n";
    assert_int_equal(load(HEAD "    0000000000001000-0000000000001fff (prio 0, i/o): mmio\n\n",
                          flat, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "flat.txt:4: backwards range 0000000000002000-0000000000001fff: "
                        "the end is below the start");
}

static void model_view(void **state)
{
    (void)state;
    char err[1024];
    assert_int_equal(load("A 0 memory\n"
                          "R 0 - container 0 10000000000000000 0 - - 0 system\n"
                          "V system\n"
                          "VA memory\n"
                          "VR 2000 1000 0 i/o 0 mmio\n", NULL, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "dump.txt:5: backwards range in VR line: the end 1000 is below "
                        "the start 2000");
}

MT_TEST_MAIN(
    cmocka_unit_test(tree_dump),
    cmocka_unit_test(flat_dump),
    cmocka_unit_test(model_view))
