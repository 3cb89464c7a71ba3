/*
 * What the machine loader does with input it should not trust, and what it
 * says when it guessed: the input limit (exact at the boundary, for the
 * dump and for its flat dump), binary bytes named by line, parse errors that
 * name file, line and what was expected, no partial state after a failure,
 * the warnings for guesses made without a flat dump, and the warnings and
 * mt_machine_flat_differs for a flat dump that contradicts the tree.
 * docs/import.md describes the behaviour checked here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mt_test.h"

static void load(mt_test_loaded *L, const char *text, const char *flat, uint64_t limit)
{
    mt_test_load(L, MT_FORMAT_AUTO, text, "tree.txt", flat, limit);
}


static bool has_warning(const mt_machine *m, const char *text)
{
    for (size_t i = 0; i < mt_machine_warning_count(m); i++)
        if (strstr(mt_machine_warning(m, i), text))
            return true;
    return false;
}

static const char tree[] =
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
    "    0000000000000000-0000000000000fff (prio 0, ram): ram\n"
    "    0000000000001000-0000000000001fff (prio 0, i/o): dev\n"
    "    0000000000002000-0000000000002000 (prio 0, i/o): port\n"
    "\n";

static const char flat[] =
    "FlatView #0\n"
    " AS \"memory\", root: system\n"
    " Root memory region: system\n"
    "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
    "  0000000000001000-0000000000001fff (prio 0, i/o): dev\n"
    "  0000000000002000-0000000000002000 (prio 0, i/o): port\n"
    "\n";

static void limit_is_exact(void **state)
{
    (void)state;
    mt_test_loaded L;
    load(&L, tree, NULL, strlen(tree));
    assert_int_equal(L.rc, 0);
    mt_test_unload(&L);
    load(&L, tree, NULL, strlen(tree) - 1);
    assert_int_equal(L.rc, -EFBIG);
    char want[256];
    snprintf(want, sizeof(want), "tree.txt: larger than the input limit of %zu bytes (raise "
             "it with mt_context_set_input_limit; the CLI's --max-input or "
             "MEMTREE_MAX_INPUT)", strlen(tree) - 1);
    assert_string_equal(L.err, want);
    mt_test_unload(&L);
    /* the flat dump has the same limit (blank lines make it the longer) */
    char padded[sizeof(flat) + sizeof(tree)];
    snprintf(padded, sizeof(padded), "%s%*s", flat, (int)sizeof(tree), "");
    load(&L, tree, padded, strlen(tree));
    assert_int_equal(L.rc, -EFBIG);
    assert_non_null(strstr(L.err, "flat.txt: larger than the input limit"));
    mt_test_unload(&L);
    /* 0 restores the default */
    load(&L, tree, flat, 0);
    assert_int_equal(L.rc, 0);
    mt_test_unload(&L);
}

static void binary_named_by_line(void **state)
{
    (void)state;
    char text[sizeof(tree)];
    memcpy(text, tree, sizeof(tree));
    text[strlen("address-space: memory\n  0000") + 60] = '\x01'; /* on line 3 */
    mt_test_loaded L;
    load(&L, text, NULL, 0);
    assert_int_equal(L.rc, -EINVAL);
    assert_string_equal(L.err, "tree.txt:3: binary data (byte 0x01): not a text file");
    mt_test_unload(&L);
}

/* Each message names the file, the line and what was expected. */
static void parse_errors_say_what_was_expected(void **state)
{
    (void)state;
    static const struct {
        const char *tree, *flat, *err;
    } cases[] = {
        {"address-space: memory\n  0000000000000000-ffffffffffffffff (pri 0, i/o): x\n",
         NULL, "tree.txt:2: ' (prio ' expected after the range"},
        {"address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0 i/o): x\n",
         NULL, "tree.txt:2: bad priority column ('(prio P, TYPE): ' expected)"},
        {tree, "FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
               "  0000000000000000-0000000000000fff (prio 0 ram): ram\n",
         "flat.txt:4: bad priority column ('(prio P, TYPE): NAME' expected)"},
        {tree, "FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
               " what is this\n",
         "flat.txt:4: unrecognised line in a FlatView block (an AS line"},
        {tree, "FlatView #0\n AS \"memory\", root: system\n Root memory region: system\n"
               "  0000000000000000-0000000000000fff (prio 0, ram: ram\n",
         "flat.txt:4: bad type column ('TYPE): NAME' expected after the priority)"},
        {"A 0 memory\nR 0 - box 0 1000 0 - - 0 x\n", NULL,
         "tree.txt:2: unknown region kind 'box' (container, alias, io, ram, romd or ramd "
         "expected)"},
        {"A 0 memory\nR 0 - container 0 1000 0 - - 0 x\nQ\n", NULL,
         "tree.txt:3: unknown line type 'Q' (A, R, V, VA, VR or a # comment expected)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mt_test_loaded L;
        load(&L, cases[i].tree, cases[i].flat, 0);
        assert_int_equal(L.rc, -EINVAL);
        if (!strstr(L.err, cases[i].err))
            fail_msg("case %zu: got '%s', expected '%s'", i, L.err, cases[i].err);
        mt_test_unload(&L);
    }
}

static void guesses_are_warnings(void **state)
{
    (void)state;
    mt_test_loaded L;
    load(&L, tree, NULL, 0);
    assert_int_equal(L.rc, 0);
    assert_false(mt_machine_flat_differs(L.m));
    assert_true(has_warning(L.m, "tree.txt:2: 'system' prints i/o: guessed a container"));
    assert_true(has_warning(L.m, "tree.txt:4: 'dev' prints i/o: guessed MMIO"));
    assert_true(has_warning(L.m, "tree.txt:5: 'port' prints a one-address range: guessed "
                            "size 1"));
    assert_true(has_warning(L.m, "tree.txt: the own readonly flags"));
    assert_false(has_warning(L.m, "'ram'")); /* ram is printed as such */
    mt_test_unload(&L);
    /* the flat dump agrees: nothing to warn about */
    load(&L, tree, flat, 0);
    assert_int_equal(L.rc, 0);
    assert_int_equal(mt_machine_warning_count(L.m), 0);
    assert_false(mt_machine_flat_differs(L.m));
    mt_test_unload(&L);
}

static void contradicting_flat_dump(void **state)
{
    (void)state;
    /* a range no region of the tree can print */
    const char *bad = "FlatView #0\n"
                      " AS \"memory\", root: system\n"
                      " Root memory region: system\n"
                      "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
                      "  0000000000001000-0000000000001fff (prio 0, i/o): other\n"
                      "  0000000000002000-0000000000002000 (prio 0, i/o): port\n"
                      "\n"
                      "FlatView #1\n"
                      " AS \"ghost\", root: nothing\n"
                      " Root memory region: (none)\n"
                      "  No rendered FlatView\n"
                      "\n";
    mt_test_loaded L;
    load(&L, tree, bad, 0);
    assert_int_equal(L.rc, 0); /* still a machine: the tree's */
    assert_true(mt_machine_flat_differs(L.m));
    assert_true(has_warning(L.m, "flat.txt:5: address space 'memory' at 0000000000001000: "
                            "the flat dump prints 'other' (prio 0, i/o), memtree renders "
                            "'dev' (prio 0, i/o) (tree.txt:4)"));
    assert_true(has_warning(L.m, "flat.txt:9: address space 'ghost' is not in the tree "
                            "dump tree.txt"));
    mt_test_unload(&L);
    /* another machine's flat dump is ignored, and said so */
    const char *other = "FlatView #0\n"
                        " AS \"elsewhere\", root: system\n"
                        " Root memory region: system\n"
                        "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
                        "\n";
    load(&L, tree, other, 0);
    assert_int_equal(L.rc, 0);
    assert_true(mt_machine_flat_differs(L.m));
    assert_true(has_warning(L.m, "flat.txt: ignored: most address spaces of tree.txt are "
                            "not in it"));
    mt_test_unload(&L);
    /* queries on a machine without one are harmless */
    assert_int_equal(mt_machine_warning_count(NULL), 0);
    assert_null(mt_machine_warning(NULL, 0));
    assert_false(mt_machine_flat_differs(NULL));
}

MT_TEST_MAIN(
    cmocka_unit_test(limit_is_exact),
    cmocka_unit_test(binary_named_by_line),
    cmocka_unit_test(parse_errors_say_what_was_expected),
    cmocka_unit_test(guesses_are_warnings),
    cmocka_unit_test(contradicting_flat_dump))
