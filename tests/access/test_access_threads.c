/*
 * The access path against a writer (docs/access.md, "Threads"): a reader
 * thread reads and writes through an address space while the writer maps
 * and unmaps regions over the same addresses, commit after commit, and
 * reclaims. Each access loads the view once inside its read-side section,
 * so every 8-byte read sees one view: all of A's bytes or all of B's, never
 * a mix, and never freed memory (the sanitizers watch). A second reader
 * maps, copies sections and unmaps (reader calls) during the same churn:
 * what it holds stays alive across commits and reclaims, and every
 * reference it took is given back.
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

/* 8 bytes seen by a reader: all A's, all B's or all the device's, never a
 * mix of views. */
static void tally(struct shared *s, const uint8_t *p)
{
    bool all_a = true, all_b = true, all_d = true;
    for (int i = 0; i < 8; i++) {
        all_a &= p[i] == 0xaa;
        all_b &= p[i] == 0xbb;
        all_d &= p[i] == 0xd0;
    }
    if (!all_a && !all_b && !all_d)
        s->mixed++;
    s->mmio += all_d;
}

static void *reader(void *arg)
{
    struct shared *s = arg;
    mt_reader_register();
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        uint8_t buf[8];
        mt_result r = mt_address_space_read(s->as, 0x1008, A, buf, 8);
        if (r != MT_RESULT_OK)
            s->bad_result++;
        tally(s, buf);
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

/* RAM A (0xaa) mapped at 0 of the standard container, RAM B (0xbb) and the
 * device (0xd0) ready to cover it. */
struct stage {
    mt_region *a, *b, *dev;
};

static void stage_build(mt_test_env *e, struct stage *st)
{
    mt_test_std(e);
    st->a = mt_test_ram(e, e->O2, "a", 0x2000);
    st->b = mt_test_ram(e, e->O2, "b", 0x2000);
    st->dev = mt_test_io_ops(e, e->O3, &d_ops, NULL, "dev", 0x2000);
    fill_byte(st->a, 0x2000, 0xaa);
    fill_byte(st->b, 0x2000, 0xbb);
    mt_test_map(e->C, 0, st->a);
}

/* Runs `fn` on a reader thread while the writer maps B or the device over A
 * and unmaps it again, COMMITS times, reclaiming now and then; then stops
 * and joins the reader. */
static void churn(mt_test_env *e, const struct stage *st, struct shared *s,
                  void *(*fn)(void *))
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, s), 0);
    while (!atomic_load_explicit(&s->started, memory_order_acquire))
        sched_yield();
    for (int i = 0; i < COMMITS; i++) {
        mt_region *top = i % 3 == 2 ? st->dev : st->b;
        mt_test_map_prio(e->C, 0, top, 1);
        mt_test_unmap(e->C, top);
        if (i % 100 == 0)
            mt_context_reclaim(e->ctx);
    }
    atomic_store(&s->stop, true);
    pthread_join(t, NULL);
}

/* What every churn must end with: the reader ran, and saw no mixed view
 * and no failed call. */
static void assert_clean_churn(const struct shared *s)
{
    assert_int_equal(s->mixed, 0);
    assert_int_equal(s->bad_result, 0);
    assert_true(s->reads > 0);
}

static void reads_during_commits(void **state)
{
    mt_test_env *e = *state;
    struct stage st;
    stage_build(e, &st);
    struct shared s = {.as = e->X};
    churn(e, &st, &s, reader);
    print_message("%lu accesses during %d commits (%lu from the device)\n", s.reads,
                  COMMITS * 2, s.mmio);
    assert_clean_churn(&s);
}

/* Maps for reading (RAM: direct; the device: the bounce buffer) and copies
 * the section it finds, keeps both while the writer commits, checks the
 * bytes, then unmaps and releases. */
static void *mapper(void *arg)
{
    struct shared *s = arg;
    mt_reader_register();
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        mt_mapping m;
        if (mt_address_space_map(s->as, 0x1000, 8, false, A, &m) != 0) {
            s->bad_result++;
            continue;
        }
        mt_section copy;
        mt_read_lock();
        mt_section looked;
        mt_view_lookup(mt_address_space_view(s->as), 0x1000, &looked);
        int rc = mt_section_copy(&looked, &copy);
        mt_read_unlock();
        sched_yield(); /* let commits pass while both are held */
        tally(s, m.host);
        if (rc == 0) {
            if (!copy.region || copy.start > 0x1000 || copy.last < 0x1000)
                s->mixed++;
            mt_section_release(&copy);
        }
        if (mt_address_space_unmap(&m, 0) != 0)
            s->bad_result++;
        s->reads++;
        atomic_store_explicit(&s->started, true, memory_order_release);
    }
    mt_reader_unregister();
    return NULL;
}

static void maps_during_commits(void **state)
{
    mt_test_env *e = *state;
    struct stage st;
    stage_build(e, &st);
    mt_test_reclaim(e);
    uint32_t o2 = mt_owner_refcount(e->O2), o3 = mt_owner_refcount(e->O3);
    struct shared s = {.as = e->X};
    churn(e, &st, &s, mapper);
    print_message("%lu mappings during %d commits (%lu bounced from the device)\n", s.reads,
                  COMMITS * 2, s.mmio);
    assert_clean_churn(&s);
    /* every reference taken on the reader thread was given back */
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), o2);
    assert_int_equal(mt_owner_refcount(e->O3), o3);
}

/* A device unplugged (its owner's last writer reference dropped) while a
 * reader thread still maps its RAM: the teardown waits for the unmap, and
 * happens at the first reclaim after it. */
static unsigned unplugged;
static void on_unplug(mt_owner *o)
{
    (void)o;
    unplugged++;
}

struct holder {
    mt_address_space *as;
    atomic_int phase; /* 1: mapped, 2: may unmap, 3: unmapped */
    uint8_t seen;
};

static void *map_and_wait(void *arg)
{
    struct holder *h = arg;
    mt_reader_register();
    mt_mapping m;
    if (mt_address_space_map(h->as, 0x7000, 4, true, A, &m) == 0) {
        atomic_store(&h->phase, 1);
        while (atomic_load(&h->phase) != 2)
            sched_yield();
        h->seen = *(uint8_t *)m.host; /* the backing is still there */
        ((uint8_t *)m.host)[1] = 0x5a;
        mt_address_space_unmap(&m, 2);
    }
    atomic_store(&h->phase, 3);
    mt_reader_unregister();
    return NULL;
}

static void unplug_while_mapped_on_another_thread(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_owner dev;
    assert_int_equal(mt_owner_init(&dev, "dev id=nvme0", on_unplug), 0);
    mt_region *bar = mt_region_alloc();
    assert_int_equal(mt_region_init_ram(bar, e->ctx, &dev, "nvme.bar", 0x1000), 0);
    fill_byte(bar, 0x1000, 0x77);
    mt_test_map(e->C, 0x7000, bar);
    unplugged = 0;

    struct holder h = {.as = e->X};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, map_and_wait, &h), 0);
    while (atomic_load(&h.phase) == 0)
        sched_yield();
    assert_int_equal(atomic_load(&h.phase), 1);
    /* unplug: unmap the BAR, drop the device's reference, reclaim */
    mt_test_unmap(e->C, bar);
    mt_owner_unref(&dev);
    mt_test_reclaim(e);
    assert_int_equal(unplugged, 0); /* the mapping holds it */
    atomic_store(&h.phase, 2);
    pthread_join(t, NULL);
    assert_int_equal(h.seen, 0x77);
    assert_int_equal(unplugged, 0); /* not on the reader's thread */
    mt_test_reclaim(e);
    assert_int_equal(unplugged, 1); /* at the first reclaim after the unmap */
}

MT_TEST_MAIN(
    MT_TEST(reads_during_commits),
    MT_TEST(maps_during_commits),
    MT_TEST(unplug_while_mapped_on_another_thread))
