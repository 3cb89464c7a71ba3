/*
 * The access path against a writer (memory-model.md 8.8, 9.3): a reader
 * thread reads and writes through an address space while the writer maps
 * and unmaps regions over the same addresses, commit after commit, and
 * reclaims. Each access loads the view once inside its read-side section,
 * so every 8-byte read sees one view: all of A's bytes or all of B's, never
 * a mix, and never freed memory (the sanitizers watch).
 */
#include "access_test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define COMMITS 3000

struct shared {
    mt_address_space *as;
    atomic_bool stop;
    atomic_bool started; /* the writer waits for it: a fast writer could
                            otherwise finish before the reader starts */
    unsigned long reads, mixed, bad_result, mmio;
};

static void *reader(void *arg)
{
    struct shared *s = arg;
    mt_reader_register();
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        uint8_t buf[8];
        mt_result r = mt_address_space_read(s->as, 0x1008, A, buf, 8);
        if (r != MT_RESULT_OK)
            s->bad_result++;
        bool all_a = true, all_b = true, all_d = true;
        for (int i = 0; i < 8; i++) {
            all_a &= buf[i] == 0xaa;
            all_b &= buf[i] == 0xbb;
            all_d &= buf[i] == 0xd0;
        }
        if (!all_a && !all_b && !all_d)
            s->mixed++;
        s->mmio += all_d;
        /* writes into whichever is there, never through a dead view */
        mt_address_space_write(s->as, 0x1800, A, buf, 8);
        s->reads++;
        atomic_store_explicit(&s->started, true, memory_order_release);
    }
    mt_reader_unregister();
    return NULL;
}

static uint64_t d_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    return 0xd0d0d0d0d0d0d0d0ull;
}

static void d_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque, (void)offset, (void)value, (void)size;
}

static const mt_region_ops d_ops = {.read = d_read, .write = d_write,
                                    .endianness = MT_ENDIAN_LITTLE,
                                    .impl = {.max_access_size = 8},
                                    .valid = {.max_access_size = 8}};

static void reads_during_commits(void **state)
{
    mt_test_env *e = *state;
    mt_test_std(e);
    mt_region *a = mt_test_ram(e, e->O2, "a", 0x2000);
    mt_region *b = mt_test_ram(e, e->O2, "b", 0x2000);
    mt_region *dev = mt_test_io_ops(e, e->O3, &d_ops, NULL, "dev", 0x2000);
    fill_byte(a, 0x2000, 0xaa);
    fill_byte(b, 0x2000, 0xbb);
    mt_test_map(e->C, 0, a);

    struct shared s = {.as = e->X};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader, &s), 0);
    while (!atomic_load_explicit(&s.started, memory_order_acquire))
        sched_yield();
    for (int i = 0; i < COMMITS; i++) {
        mt_region *top = i % 3 == 2 ? dev : b;
        mt_test_map_prio(e->C, 0, top, 1);
        mt_test_unmap(e->C, top);
        if (i % 100 == 0)
            mt_context_reclaim(e->ctx);
    }
    atomic_store(&s.stop, true);
    pthread_join(t, NULL);
    print_message("%lu accesses during %d commits (%lu from the device)\n", s.reads,
                  COMMITS * 2, s.mmio);
    assert_int_equal(s.mixed, 0);
    assert_int_equal(s.bad_result, 0);
    assert_true(s.reads > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MT_TEST(reads_during_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
