/*
 * The lookup index (docs/access.md, "Lookups and the dispatch index"):
 * byte-exact answers equal to a search of the sorted ranges, for random
 * views, at range boundaries and at the top of the address space; views of
 * 1,000,000 ranges; index memory per range; the hints (the most recent range
 * and the hint table) shared by racing readers never giving a wrong answer.
 * ctest runs it as is, without the hint table (MT_TEST_LOOKUP_HINTS=0), and
 * with each narrower walk (MT_TEST_LOOKUP_ISA=scalar, avx2).
 */
#include "access_test.h"

#include <pthread.h>

/* The reference answer: binary search of the ranges, written apart from
 * the index. */
static const mt_range *ref_find(const mt_view *v, uint64_t addr)
{
    return mt_test_ranges_find(mt_view_ranges(v), mt_view_range_count(v), addr);
}

static void check_addr(const mt_view *v, uint64_t addr)
{
    const mt_range *want = ref_find(v, addr), *got = mt_view_find_range(v, addr);
    /* equal ranges, not pointers: mt_view_ranges may be a copy of the
     * view's chunks (docs/views.md) */
    if (!got != !want || (got && (got->start != want->start || got->last != want->last ||
                                  got->region != want->region)))
        fail_msg("0x%llx: mt_view_find_range disagrees with the reference",
                 (unsigned long long)addr);
    mt_section s;
    mt_view_lookup(v, addr, &s);
    if (!want) {
        if (s.region)
            fail_msg("0x%llx: found '%s' where nothing is", (unsigned long long)addr,
                     mt_region_name(s.region));
        assert_int_equal(s.start, 0);
        assert_int_equal(s.last, UINT64_MAX);
        return;
    }
    if (s.region != want->region || s.start != want->start || s.last != want->last)
        fail_msg("0x%llx: got [%llx, %llx], want [%llx, %llx]", (unsigned long long)addr,
                 (unsigned long long)s.start, (unsigned long long)s.last,
                 (unsigned long long)want->start, (unsigned long long)want->last);
    assert_int_equal(s.offset_in_region, want->offset_in_region);
    assert_int_equal(s.readonly, want->readonly);
}

/* Every boundary of every range, plus its neighbours. */
static void check_boundaries(const mt_view *v)
{
    const mt_range *r = mt_view_ranges(v);
    for (size_t i = 0; i < mt_view_range_count(v); i++) {
        check_addr(v, r[i].start);
        check_addr(v, r[i].last);
        check_addr(v, r[i].start - 1);
        check_addr(v, r[i].last + 1);
        check_addr(v, r[i].start + (r[i].last - r[i].start) / 2);
    }
    check_addr(v, 0);
    check_addr(v, UINT64_MAX);
}


/* Random trees: overlapping MMIO and RAM regions of random sizes and
 * priorities, some at the very top of the space, some readonly aliases;
 * every lookup agrees with the reference, hint or no hint. */
static void random_views_agree(void **state)
{
    mt_test_env *e = *state;
    mt_region *top = mt_test_container(e, e->O1, "top", UINT64_MAX);
    mt_address_space *as = mt_test_as(e, top, "rand");
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x10000);
    for (int round = 0; round < 40; round++) {
        mt_transaction_begin(e->ctx);
        int n = 1 + (int)(mt_test_xorshift(&seed) % 60);
        for (int i = 0; i < n; i++) {
            uint64_t size = 1 + mt_test_xorshift(&seed) % (round % 3 == 0 ? 0x10 : 0x3000);
            uint64_t at = mt_test_xorshift(&seed) % 0x40000;
            if (mt_test_xorshift(&seed) % 16 == 0)
                at = UINT64_MAX - size + 1; /* ends at the top */
            mt_region *r;
            if (mt_test_xorshift(&seed) % 5 == 0) {
                r = mt_test_alias(e, e->O2, "a", ram, mt_test_xorshift(&seed) % 0x8000,
                                  size < 0x8000 ? size : 0x8000);
                mt_region_set_readonly(r, mt_test_xorshift(&seed) & 1);
            } else {
                r = mt_test_io(e, e->O2, "m", size);
            }
            mt_test_map_prio(top, at, r, (int32_t)(mt_test_xorshift(&seed) % 5) - 2);
        }
        assert_int_equal(mt_transaction_commit(e->ctx), 0);
        const mt_view *v = mt_address_space_view(as);
        check_boundaries(v);
        for (int i = 0; i < 2000; i++)
            check_addr(v, mt_test_xorshift(&seed) % 0x50000);
    }
}

/* A view with no ranges, the empty view, and a single range. */
static void small_views(void **state)
{
    mt_test_env *e = *state;
    mt_section s;
    mt_test_std(e);
    const mt_view *v = mt_address_space_view(e->X);
    assert_true(mt_view_is_empty_view(v));
    mt_view_lookup(v, 0x1234, &s);
    assert_null(s.region);
    assert_int_equal(mt_view_index_bytes(v), 0);
    mt_test_io_at(e, 0x100, "one", 0x10);
    v = mt_address_space_view(e->X);
    check_boundaries(v);
    for (uint64_t a = 0; a < 0x300; a++)
        check_addr(v, a);
    assert_true(mt_view_index_bytes(v) > 0);
}

/* 1,000,000 ranges of 3 bytes, 4 apart: every boundary resolves, every
 * gap is unassigned, and the index stays small. */
static void one_million_ranges(void **state)
{
    mt_test_env *e = *state;
    enum { N = 1000000 };
    mt_region *top = mt_test_container(e, e->O1, "top", UINT64_MAX);
    mt_region **p = malloc(N * sizeof(*p));
    mt_transaction_begin(e->ctx);
    for (int i = 0; i < N; i++) {
        p[i] = mt_test_io(e, e->O2, NULL, 3);
        mt_test_map(top, 0x1000 + 4 * (uint64_t)i, p[i]);
    }
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_address_space *as = mt_test_as(e, top, "million");
    const mt_view *v = mt_address_space_view(as);
    assert_int_equal(mt_view_range_count(v), N);
    for (int i = 0; i < N; i++) {
        uint64_t base = 0x1000 + 4 * (uint64_t)i;
        mt_section s;
        mt_view_lookup(v, base, &s);
        assert_ptr_equal(s.region, p[i]);
        mt_view_lookup(v, base + 2, &s);
        assert_ptr_equal(s.region, p[i]);
        assert_int_equal(s.start, base);
        assert_int_equal(s.last, base + 2);
        mt_view_lookup(v, base + 3, &s);
        assert_null(s.region);
    }
    uint64_t seed = 42;
    for (int i = 0; i < 200000; i++)
        check_addr(v, mt_test_xorshift(&seed) % (0x2000 + 4 * (uint64_t)N));
    size_t bytes = mt_view_index_bytes(v);
    print_message("index: %zu bytes for %d ranges (%.2f bytes per range)\n", bytes, N,
                  (double)bytes / N);
    assert_true(bytes <= 64 * (size_t)N);
    /* 8.5 bytes of keys, 8 of the ranges' host field, 8 to 16 of hint table */
    assert_true(bytes <= 33 * (size_t)N);
    free(p);
}

/* Readers racing on one view's hint: each thread looks up its own
 * addresses, so the hint flips constantly; every answer must stay right. */
struct racer {
    const mt_view *v;
    uint64_t seed;
    unsigned wrong;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    mt_reader_register();
    for (int i = 0; i < 300000; i++) {
        uint64_t addr = mt_test_xorshift(&r->seed) % 0x20000;
        mt_read_lock();
        mt_section s;
        mt_view_lookup(r->v, addr, &s);
        const mt_range *want = ref_find(r->v, addr);
        if ((want ? want->region : NULL) != s.region ||
            (want && (s.start != want->start || s.last != want->last)))
            r->wrong++;
        mt_read_unlock();
    }
    mt_reader_unregister();
    return NULL;
}

static void racing_hint(void **state)
{
    mt_test_env *e = *state;
    mt_region *top = mt_test_container(e, e->O1, "top", UINT64_MAX);
    mt_transaction_begin(e->ctx);
    for (int i = 0; i < 512; i++)
        mt_test_map(top, 0x100 * (uint64_t)i + (uint64_t)(i % 7), mt_test_io(e, e->O2, "m", 0x80));
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_address_space *as = mt_test_as(e, top, "race");
    struct racer r[2] = {{mt_address_space_view(as), 1, 0}, {mt_address_space_view(as), 2, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].wrong + r[1].wrong, 0);
}

MT_TEST_MAIN(
    MT_TEST(random_views_agree),
    MT_TEST(small_views),
    MT_TEST(one_million_ranges),
    MT_TEST(racing_hint))
