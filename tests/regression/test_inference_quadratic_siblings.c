/*
 * Bug: settling a QEMU tree dump against its flat dump grew faster than the
 * square of the number of siblings. Every point query looked at every child
 * of every container on its path; a round diagnosed at most 32 differences
 * per view; and each render-order move renumbered its container from the
 * order of the round's start, so only one move per container survived a
 * round. 2,000 equal-priority siblings that each needed a move took 57 s,
 * 2,000 MMIO regions with a child each 2 s. Fixed in the commits that added
 * this test and the interval index of machine_probe.c: the loads below take
 * well under a second.
 * The bound checked is loose (a slow, shared machine under ASan must pass),
 * yet far below what the quadratic code took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt_test.h"

#define N 2000
#define BOUND_SECONDS 20.0

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char head_tree[] =
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n";
static const char head_flat[] =
    "FlatView #0\n"
    " AS \"memory\", root: system\n"
    " Root memory region: system\n";

/*
 * Two lines per pair i, `fmt` given (s + at[0], s + at[1], i, s + at[2],
 * s + at[3], i) with s = 0x2000 * i, after `head`; malloc'd.
 */
static char *pairs(const char *head, const char *fmt, const unsigned long at[4])
{
    size_t cap = 200 * N + 256;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "%s", head);
    for (unsigned long i = 0; i < N; i++) {
        unsigned long s = 0x2000 * i;
        n += (size_t)snprintf(text + n, cap - n, fmt, s + at[0], s + at[1], i, s + at[2],
                              s + at[3], i);
    }
    snprintf(text + n, cap - n, "\n");
    return text;
}

static void load_and_time(char *tree, char *flat)
{
    double t0 = now();
    mt_test_loaded L;
    mt_test_load(&L, MT_FORMAT_QEMU, tree, "tree.txt", flat, 0);
    double took = now() - t0;
    assert_int_equal(L.rc, 0);
    assert_false(mt_machine_flat_differs(L.m));
    mt_test_unload(&L);
    free(tree);
    free(flat);
    if (took > BOUND_SECONDS)
        fail_msg("loading took %.1f s", took);
}

/* Pairs a_i [s, s+2000) and b_i [s+1000, s+2000) at one priority, printed
 * a before b, where the flat dump shows b winning: every b must move. */
static void siblings_that_move(void **state)
{
    (void)state;
    load_and_time(pairs(head_tree,
                        "    %016lx-%016lx (prio 0, i/o): a%lu\n"
                        "    %016lx-%016lx (prio 0, i/o): b%lu\n",
                        (const unsigned long[4]){0, 0x1fff, 0x1000, 0x1fff}),
                  pairs(head_flat,
                        "  %016lx-%016lx (prio 0, i/o): a%lu\n"
                        "  %016lx-%016lx (prio 0, i/o): b%lu\n",
                        (const unsigned long[4]){0, 0xfff, 0x1000, 0x1fff}));
}

/* MMIO regions with one RAM child each, filling their holes: each one,
 * guessed a container, must become MMIO. */
static void mmio_with_children(void **state)
{
    (void)state;
    load_and_time(pairs(head_tree,
                        "    %016lx-%016lx (prio 0, i/o): dev%lu\n"
                        "      %016lx-%016lx (prio 0, ram): r%lu\n",
                        (const unsigned long[4]){0, 0x1fff, 0, 0xfff}),
                  pairs(head_flat,
                        "  %016lx-%016lx (prio 0, ram): r%lu\n"
                        "  %016lx-%016lx (prio 0, i/o): dev%lu @0000000000001000\n",
                        (const unsigned long[4]){0, 0xfff, 0x1000, 0x1fff}));
}

MT_TEST_MAIN(
    cmocka_unit_test(siblings_that_move),
    cmocka_unit_test(mmio_with_children))
