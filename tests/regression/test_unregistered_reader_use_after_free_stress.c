/*
 * Bug (issue 12): a reader thread that forgot mt_reader_register used
 * freed memory silently. Its read-side sections protected nothing, so a
 * grace period did not wait for it: while one of its accesses sat in an
 * MMIO callback, the writer committed a new view and reclaimed the old
 * one, and the access's next chunk walked the freed view (ASan:
 * heap-use-after-free in the dispatch lookup). Fixed in src/rcu.c: a
 * thread's first access registers it (and its exit unregisters it), so
 * the reclaim waits for the access to end.
 * Fixed by commit dc7055b.
 */
#include "mt_test.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <time.h>

struct stage {
    mt_address_space *as;
    sem_t in_callback, go_on;
    atomic_bool reclaimed;
    bool reclaim_done_before_return;
    uint32_t second;
};

static struct stage stage;

static void reg_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque, (void)size;
    if (offset == 0) {
        sem_post(&stage.in_callback);
        sem_wait(&stage.go_on);
    } else {
        stage.second = (uint32_t)value;
        stage.reclaim_done_before_return = atomic_load(&stage.reclaimed);
    }
}

static const mt_region_ops reg_ops = {
    .read = mt_test_read_zero,
    .write = reg_write,
    .endianness = MT_ENDIAN_LITTLE,
    .valid = {.min_access_size = 4, .max_access_size = 4},
};

/* never calls mt_reader_register */
static void *device_thread(void *arg)
{
    (void)arg;
    uint32_t v[2] = {1, 0x5eed};
    mt_address_space_write(stage.as, 0x100, MT_ATTRS_UNSPECIFIED, v, 8);
    return NULL;
}

static void *reclaimer(void *arg)
{
    mt_context_reclaim(arg);
    atomic_store(&stage.reclaimed, true);
    return NULL;
}

static void test_reclaim_waits_for_unregistered_access(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *regs = mt_test_io_ops(e, e->O2, &reg_ops, NULL, "regs", 8);
    mt_test_map(e->C, 0x100, regs);
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    stage.as = e->X;
    sem_init(&stage.in_callback, 0, 0);
    sem_init(&stage.go_on, 0, 0);

    pthread_t dev, rec;
    assert_int_equal(pthread_create(&dev, NULL, device_thread, NULL), 0);
    sem_wait(&stage.in_callback);
    /* the writer replaces the view the access holds, and reclaims */
    mt_test_map(e->C, 0x2000, ram);
    assert_int_equal(pthread_create(&rec, NULL, reclaimer, e->ctx), 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    sem_post(&stage.go_on);
    assert_int_equal(pthread_join(dev, NULL), 0);
    assert_int_equal(pthread_join(rec, NULL), 0);
    assert_int_equal(stage.second, 0x5eed);
    /* the reclaim waited for the access */
    assert_false(stage.reclaim_done_before_return);
    sem_destroy(&stage.in_callback);
    sem_destroy(&stage.go_on);
}

MT_TEST_MAIN(
    MT_TEST(test_reclaim_waits_for_unregistered_access))
