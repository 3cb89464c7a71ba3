/*
 * Bug: the builder filled containers in file order, and the library's
 * loop check walks the subtree of every region it maps, so a file listing
 * a deep chain from the bottom up (each container after what it holds) was
 * O(n^2) to load: 30,000 levels took 6.2 s, 1M would take hours. Fixed by
 * filling containers from the top down (src/machine.c, place_regions);
 * the speed is shown by `bench/run scale`. This checks what the new order
 * must keep: a bottom-up chain renders as the top-down one does, siblings
 * keep their described render order, and a cycle of containers, which no
 * root leads to, is still refused with -ELOOP naming the line.
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

#define DEPTH 20000

/* Loads `text`, which must load, and returns its flat dump (caller frees). */
static char *flat_dump_of(const char *text)
{
    mt_test_loaded L;
    mt_test_load_ok(&L, MT_FORMAT_MAP, text, "m.map", NULL);
    char *dump = mt_test_dump(L.ctx, MT_DUMP_FLAT);
    mt_test_unload(&L);
    return dump;
}

/* The chain's lines, top down (c0 first) or bottom up. */
static char *chain_text(int bottom_up)
{
    char **lines = calloc(DEPTH, sizeof(*lines));
    for (int i = 1; i < DEPTH - 1; i++)
        assert_true(asprintf(&lines[i], "region c%d c%d container 10 4000000000000000 0 - - "
                             "- - c%d\n", i, i - 1, i) > 0);
    assert_true(asprintf(&lines[0],
                         "region c0 - container 0 10000000000000000 0 - - - - sys\n") > 0);
    assert_true(asprintf(&lines[DEPTH - 1], "region leaf c%d ram 10 1000 0 - - - - leaf\n",
                         DEPTH - 2) > 0);
    mt_test_text t;
    FILE *f = mt_test_text_open(&t);
    fputs("memtree-map 1\n", f);
    for (int k = 0; k < DEPTH; k++) {
        int i = bottom_up ? DEPTH - 1 - k : k;
        fputs(lines[i], f);
        free(lines[i]);
    }
    fputs("as c0 memory\n", f);
    free(lines);
    return mt_test_text_close(&t);
}

static void bottom_up_chain_renders_as_top_down(void **state)
{
    (void)state;
    char *down = chain_text(0), *up = chain_text(1);
    char *a = flat_dump_of(down), *b = flat_dump_of(up);
    assert_string_equal(a, b);
    /* the leaf sits 0x10 below each of the DEPTH - 1 levels above it */
    char leaf[128];
    snprintf(leaf, sizeof(leaf), "%016llx-%016llx (prio 0, ram): leaf",
             (unsigned long long)(DEPTH - 1) * 0x10,
             (unsigned long long)(DEPTH - 1) * 0x10 + 0xfff);
    assert_non_null(strstr(a, leaf));
    free(a);
    free(b);
    free(down);
    free(up);
}

static void siblings_keep_their_order_when_listed_before_their_container(void **state)
{
    (void)state;
    /* x and y overlap at 0x800 with equal priority: x is listed first, so
     * x renders first and wins, whatever comes before their container */
    char *dump = flat_dump_of("memtree-map 1\n"
                              "region x box ram 0 1000 0 - - - - x\n"
                              "region y box ram 800 1000 0 - - - - y\n"
                              "region box sys container 0 10000 0 - - - - box\n"
                              "region sys - container 0 10000000000000000 0 - - - - sys\n"
                              "as sys memory\n");
    assert_non_null(strstr(dump, "0000000000000000-0000000000000fff (prio 0, ram): x\n"));
    assert_non_null(strstr(dump, "0000000000001000-00000000000017ff (prio 0, ram): y @"));
    free(dump);
}

static void a_cycle_of_containers_is_refused(void **state)
{
    (void)state;
    mt_test_loaded L;
    mt_test_load(&L, MT_FORMAT_MAP,
                 "memtree-map 1\n"
                 "region sys - container 0 10000000000000000 0 - - - - sys\n"
                 "region a b container 0 1000 0 - - - - a\n"
                 "region b a container 0 1000 0 - - - - b\n"
                 "as sys memory\n",
                 "m.map", NULL, 0);
    assert_int_equal(L.rc, -ELOOP);
    assert_null(L.m);
    assert_non_null(strstr(L.err, "m.map:"));
    assert_non_null(strstr(L.err, "cannot map"));
    mt_test_unload(&L);
}

MT_TEST_MAIN(
    cmocka_unit_test(bottom_up_chain_renders_as_top_down),
    cmocka_unit_test(siblings_keep_their_order_when_listed_before_their_container),
    cmocka_unit_test(a_cycle_of_containers_is_refused))
