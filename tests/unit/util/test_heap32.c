/*
 * src/util/heap32.h: popping returns the keys in ascending order whatever
 * order they were pushed in, duplicates included, with pushes and pops
 * interleaved as the renderer's sweep does them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mt_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "util/heap32.h"

#define N 20000

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void pops_in_ascending_order(void **state)
{
    (void)state;
    static uint32_t heap[N], keys[N];
    uint64_t rng = 7;
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        keys[i] = (uint32_t)(mt_test_xorshift(&rng) % 5000); /* many duplicates */
        mt__heap32_push(heap, &n, keys[i]);
    }
    qsort(keys, N, sizeof(keys[0]), by_value);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(heap[0], keys[i]);
        mt__heap32_pop(heap, &n);
    }
    assert_int_equal(n, 0);
}

/* Interleaved: the top is always the least key still in, checked against
 * a plain count of what was pushed and not yet popped. */
static void interleaved_matches_a_count(void **state)
{
    (void)state;
    static uint32_t heap[N];
    static uint32_t count[256];
    uint64_t rng = 11;
    size_t n = 0;
    for (int step = 0; step < 100000; step++) {
        uint64_t r = mt_test_xorshift(&rng);
        if (n < N && (n == 0 || r % 3)) {
            uint32_t k = (uint32_t)(r >> 8) % 256;
            mt__heap32_push(heap, &n, k);
            count[k]++;
        } else {
            uint32_t least = 0;
            while (!count[least])
                least++;
            assert_int_equal(heap[0], least);
            count[least]--;
            mt__heap32_pop(heap, &n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pops_in_ascending_order),
        cmocka_unit_test(interleaved_matches_a_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
