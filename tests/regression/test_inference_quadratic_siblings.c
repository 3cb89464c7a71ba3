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

#include <cmocka.h>

#include "memtree.h"
#include <memtree/format.h>

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

static void load_and_time(const char *tree, const char *flat)
{
    mt_context *ctx = mt_context_new();
    FILE *in = fmemopen((void *)tree, strlen(tree), "r");
    FILE *fl = fmemopen((void *)flat, strlen(flat), "r");
    mt_machine *m = NULL;
    char err[512] = "";
    double t0 = now();
    assert_int_equal(mt_machine_load(ctx, MT_FORMAT_QEMU, in, "tree.txt", fl, "flat.txt",
                                     &m, err, sizeof(err)), 0);
    double took = now() - t0;
    fclose(in);
    fclose(fl);
    assert_false(mt_machine_flat_differs(m));
    mt_machine_free(m);
    mt_context_free(ctx);
    if (took > BOUND_SECONDS)
        fail_msg("loading took %.1f s", took);
}

/* Pairs a_i [s, s+2000) and b_i [s+1000, s+2000) at one priority, printed
 * a before b, where the flat dump shows b winning: every b must move. */
static void siblings_that_move(void **state)
{
    (void)state;
    size_t cap = 200 * N + 256;
    char *tree = malloc(cap), *flat = malloc(cap);
    size_t t = (size_t)snprintf(tree, cap, "%s", head_tree);
    size_t f = (size_t)snprintf(flat, cap, "%s", head_flat);
    for (unsigned long i = 0; i < N; i++) {
        unsigned long s = 0x2000 * i;
        t += (size_t)snprintf(tree + t, cap - t,
                              "    %016lx-%016lx (prio 0, i/o): a%lu\n"
                              "    %016lx-%016lx (prio 0, i/o): b%lu\n",
                              s, s + 0x1fff, i, s + 0x1000, s + 0x1fff, i);
        f += (size_t)snprintf(flat + f, cap - f,
                              "  %016lx-%016lx (prio 0, i/o): a%lu\n"
                              "  %016lx-%016lx (prio 0, i/o): b%lu\n",
                              s, s + 0xfff, i, s + 0x1000, s + 0x1fff, i);
    }
    snprintf(tree + t, cap - t, "\n");
    snprintf(flat + f, cap - f, "\n");
    load_and_time(tree, flat);
    free(tree);
    free(flat);
}

/* MMIO regions with one RAM child each, filling their holes: each one,
 * guessed a container, must become MMIO. */
static void mmio_with_children(void **state)
{
    (void)state;
    size_t cap = 200 * N + 256;
    char *tree = malloc(cap), *flat = malloc(cap);
    size_t t = (size_t)snprintf(tree, cap, "%s", head_tree);
    size_t f = (size_t)snprintf(flat, cap, "%s", head_flat);
    for (unsigned long i = 0; i < N; i++) {
        unsigned long s = 0x2000 * i;
        t += (size_t)snprintf(tree + t, cap - t,
                              "    %016lx-%016lx (prio 0, i/o): dev%lu\n"
                              "      %016lx-%016lx (prio 0, ram): r%lu\n",
                              s, s + 0x1fff, i, s, s + 0xfff, i);
        f += (size_t)snprintf(flat + f, cap - f,
                              "  %016lx-%016lx (prio 0, ram): r%lu\n"
                              "  %016lx-%016lx (prio 0, i/o): dev%lu @0000000000001000\n",
                              s, s + 0xfff, i, s + 0x1000, s + 0x1fff, i);
    }
    snprintf(tree + t, cap - t, "\n");
    snprintf(flat + f, cap - f, "\n");
    load_and_time(tree, flat);
    free(tree);
    free(flat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(siblings_that_move),
        cmocka_unit_test(mmio_with_children),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
