/*
 * src/util/alloc.c: array growth keeps what was stored and gives room for
 * what is asked; the string helpers copy exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

static void grow_keeps_contents_and_doubles(void **state)
{
    (void)state;
    uint32_t *arr = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        MT__PUSH(arr, n, cap) = i * 7u;
        assert_true(n <= cap);
    }
    assert_int_equal(n, 100000);
    /* doubling from 16: the capacity is the first power of two times 16
     * that holds everything */
    assert_int_equal(cap, 131072);
    for (uint32_t i = 0; i < 100000; i++)
        assert_int_equal(arr[i], i * 7u);
    free(arr);
}

static void grow_jumps_to_a_large_need_at_once(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t cap = 0;
    mt__grow(&buf, &cap, 1000, 1);
    assert_true(cap >= 1000);
    memset(buf, 'x', 1000);
    size_t before = cap;
    mt__grow(&buf, &cap, 10, 1); /* already room: nothing moves */
    assert_int_equal(cap, before);
    free(buf);
}

static void strings_are_copied(void **state)
{
    (void)state;
    assert_null(mt__xstrdup(NULL));
    char src[] = "pc.ram";
    char *d = mt__xstrdup(src);
    src[0] = 'X';
    assert_string_equal(d, "pc.ram");
    free(d);
    char *s = mt__xasprintf("%s@%#x", "rom", 0xe0000u);
    assert_string_equal(s, "rom@0xe0000");
    free(s);
    char *e = mt__xasprintf("%s", "");
    assert_string_equal(e, "");
    free(e);
}

MT_TEST_MAIN(
    cmocka_unit_test(grow_keeps_contents_and_doubles),
    cmocka_unit_test(grow_jumps_to_a_large_need_at_once),
    cmocka_unit_test(strings_are_copied))
