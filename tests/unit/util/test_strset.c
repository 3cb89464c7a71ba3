/*
 * src/util/strset.c: the readers' string map. First value stored wins, a
 * lookup finds exactly what was stored across many growths, and absent keys
 * (including ones colliding in the table) answer MT__NONE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strset.h"

enum { N = 50000 };

static void put_get_and_first_wins(void **state)
{
    (void)state;
    struct mt__strset s = {0};
    assert_int_equal(mt__strset_get(&s, "absent"), MT__NONE); /* empty table */
    static char keys[N][16];
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "region-%zu", i);
        assert_int_equal(mt__strset_put(&s, keys[i], i), MT__NONE);
    }
    assert_int_equal(s.count, N);
    assert_true(s.cap >= 2 * s.count); /* at most half full */
    for (size_t i = 0; i < N; i++)
        assert_int_equal(mt__strset_get(&s, keys[i]), i);
    /* a second put returns the first value and changes nothing */
    assert_int_equal(mt__strset_put(&s, "region-42", 7), 42);
    assert_int_equal(mt__strset_get(&s, "region-42"), 42);
    assert_int_equal(s.count, N);
    char probe[16];
    for (size_t i = N; i < N + 1000; i++) {
        snprintf(probe, sizeof(probe), "region-%zu", i);
        assert_int_equal(mt__strset_get(&s, probe), MT__NONE);
    }
    assert_int_equal(mt__strset_get(&s, ""), MT__NONE);
    mt__strset_free(&s);
    assert_int_equal(s.count, 0);
    assert_int_equal(mt__strset_get(&s, "region-1"), MT__NONE);
}

static void keys_are_compared_by_content(void **state)
{
    (void)state;
    struct mt__strset s = {0};
    char a[] = "pci", b[] = "pci";
    assert_int_equal(mt__strset_put(&s, a, 1), MT__NONE);
    assert_int_equal(mt__strset_get(&s, b), 1);
    assert_int_equal(mt__strset_put(&s, "", 2), MT__NONE); /* empty key is a key */
    assert_int_equal(mt__strset_get(&s, ""), 2);
    mt__strset_free(&s);
}

MT_TEST_MAIN(
    cmocka_unit_test(put_get_and_first_wins),
    cmocka_unit_test(keys_are_compared_by_content))
