/*
 * Readers against a writer (issue 5): reader threads look up and read RAM
 * through the published view, lock-free, while the writer maps, unmaps,
 * moves and resizes RAM regions, one commit or a nested transaction at a
 * time. Every region's bytes are a stamp naming it, and the writer keeps the
 * slot -> region map of every committed version; a reader checks that what
 * it read at an address is what some version published during its read
 * section says is there. Runs for MT_STRESS_SECONDS (default 3) seconds.
 */
#include "mt_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 64
#define REGIONS 48
#define SLOT_SIZE 0x1000u
#define READERS 4
#define MAX_VERSIONS 2000000

/* history[v][slot] = region index + 1 mapped at the slot's start in
 * version v, 0 if nothing starts covering it there, 0xff if covered by the
 * tail of a resized region (readers then accept any stamp of a region that
 * could reach there). Kept small: one byte per slot. */
static _Atomic uint8_t (*history)[SLOTS];
static atomic_uint_fast64_t version;
static atomic_bool stop;
static mt_address_space *as;
static uint64_t stamps_base;

struct reader_stats {
    uint64_t reads, hits, misses, refs;
    char failure[256];
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}


/* Is region `k` (stamp) what version v shows at `slot`? Resized regions may
 * reach into the next slots, so a region mapped at an earlier slot with a
 * larger size also counts (the writer records 0xff there). */
static bool version_allows(uint64_t v, unsigned slot, unsigned k)
{
    _Atomic uint8_t *map = history[v % MAX_VERSIONS];
    if (atomic_load_explicit(&map[slot], memory_order_relaxed) == k + 1)
        return true;
    if (atomic_load_explicit(&map[slot], memory_order_relaxed) == 0xff)
        for (unsigned s = slot; s-- > 0;) {
            uint8_t m = atomic_load_explicit(&map[s], memory_order_relaxed);
            if (m != 0xff)
                return m == k + 1;
        }
    return false;
}

static void *reader(void *arg)
{
    struct reader_stats *st = arg;
    uint64_t seed = (uint64_t)(uintptr_t)arg | 1;
    mt_reader_register();
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t addr = mt_test_xorshift(&seed) % (SLOTS * SLOT_SIZE);
        uint64_t v_before = atomic_load_explicit(&version, memory_order_acquire);
        mt_read_lock();
        mt_view *v = mt_address_space_view(as);
        const mt_range *r = mt_view_find_range(v, addr);
        uint64_t stamp = 0;
        if (r) {
            const uint8_t *host = mt_region_ram_ptr(r->region);
            memcpy(&stamp, host + ((r->offset_in_region + (addr - r->start)) & ~7ull), 8);
        }
        /* now and then, a counted reference outlives the read section */
        mt_view *kept = NULL;
        if ((seed & 63) == 0 && mt_view_ref(v))
            kept = v;
        mt_read_unlock();
        uint64_t v_after = atomic_load_explicit(&version, memory_order_acquire);
        if (kept) {
            st->refs++;
            if (r && mt_view_find_range(kept, addr) != r)
                snprintf(st->failure, sizeof(st->failure), "a kept view changed");
            mt_view_unref(kept);
        }
        st->reads++;
        unsigned slot = (unsigned)(addr / SLOT_SIZE);
        bool ok = false;
        if (!r) {
            st->misses++;
            for (uint64_t ver = v_before; ver <= v_after + 1 && !ok; ver++)
                ok = atomic_load_explicit(&history[ver % MAX_VERSIONS][slot],
                                          memory_order_relaxed) == 0;
        } else {
            st->hits++;
            uint64_t k = stamp - stamps_base;
            for (uint64_t ver = v_before; ver <= v_after + 1 && !ok && k < REGIONS; ver++)
                ok = version_allows(ver, slot, (unsigned)k);
        }
        if (!ok && !st->failure[0])
            snprintf(st->failure, sizeof(st->failure),
                     "read at %llx gave stamp %llx (%s), not in versions %llu..%llu",
                     (unsigned long long)addr, (unsigned long long)stamp,
                     r ? "hit" : "miss", (unsigned long long)v_before,
                     (unsigned long long)v_after);
    }
    mt_reader_unregister();
    return NULL;
}

struct world {
    mt_context *ctx;
    mt_region root;
    mt_region ram[REGIONS];
    uint64_t *backing[REGIONS];
    int slot_of[REGIONS];   /* -1 when unmapped */
    unsigned pages[REGIONS]; /* size in slots */
    int owner_of[SLOTS];    /* region index whose start is the slot, or -1 */
};

/* Records the map the next commit publishes, before it publishes it: a
 * reader that sees the new view (an acquire load) then sees this record.
 * Mappings never overlap (the writer keeps them disjoint), so each slot has
 * at most one region. */
static void record_version(struct world *w, uint64_t next)
{
    uint8_t map[SLOTS] = {0};
    for (int k = 0; k < REGIONS; k++) {
        if (w->slot_of[k] < 0)
            continue;
        map[w->slot_of[k]] = (uint8_t)(k + 1);
        for (unsigned p = 1; p < w->pages[k] && w->slot_of[k] + (int)p < SLOTS; p++)
            map[w->slot_of[k] + (int)p] = 0xff;
    }
    for (int i = 0; i < SLOTS; i++)
        atomic_store_explicit(&history[next % MAX_VERSIONS][i], map[i], memory_order_relaxed);
}

static bool slots_free(struct world *w, int slot, unsigned pages, int except)
{
    if (slot + (int)pages > SLOTS)
        return false;
    for (int k = 0; k < REGIONS; k++) {
        if (k == except || w->slot_of[k] < 0)
            continue;
        int a = w->slot_of[k], b = a + (int)w->pages[k];
        if (slot < b && a < slot + (int)pages)
            return false;
    }
    return true;
}

static void writer_step(struct world *w, uint64_t *seed)
{
    int k = (int)(mt_test_xorshift(seed) % REGIONS);
    int slot = (int)(mt_test_xorshift(seed) % SLOTS);
    switch (mt_test_xorshift(seed) % 4) {
    case 0: /* map or unmap */
        if (w->slot_of[k] >= 0) {
            assert_int_equal(mt_region_del_subregion(&w->root, &w->ram[k]), 0);
            w->slot_of[k] = -1;
        } else if (slots_free(w, slot, w->pages[k], k)) {
            assert_int_equal(mt_region_add_subregion(&w->root, (uint64_t)slot * SLOT_SIZE,
                                                     &w->ram[k]), 0);
            w->slot_of[k] = slot;
        }
        break;
    case 1: /* move */
        if (w->slot_of[k] >= 0 && slots_free(w, slot, w->pages[k], k)) {
            assert_int_equal(mt_region_set_address(&w->ram[k], (uint64_t)slot * SLOT_SIZE), 0);
            w->slot_of[k] = slot;
        }
        break;
    default: { /* resize between 1 and 3 slots */
        unsigned pages = 1 + (unsigned)(mt_test_xorshift(seed) % 3);
        if (w->slot_of[k] < 0 || slots_free(w, w->slot_of[k], pages, k)) {
            assert_int_equal(mt_region_set_size(&w->ram[k], pages * SLOT_SIZE), 0);
            w->pages[k] = pages;
        }
        break;
    }
    }
}

static void readers_see_only_committed_maps(void **state)
{
    (void)state;
    double seconds = getenv("MT_STRESS_SECONDS") ? atof(getenv("MT_STRESS_SECONDS")) : 3.0;
    history = calloc(MAX_VERSIONS, sizeof(*history)); /* zero: atomics' initial value */
    assert_non_null(history);
    struct world *w = calloc(1, sizeof(*w));
    w->ctx = mt_context_new();
    stamps_base = 0x5354414d50000000ull; /* "STAMP" */
    assert_int_equal(mt_region_init_container(&w->root, w->ctx, NULL, "root",
                                              SLOTS * SLOT_SIZE), 0);
    for (int k = 0; k < REGIONS; k++) {
        /* 3 slots of backing, so resizing never reaches past it */
        w->backing[k] = malloc(3 * SLOT_SIZE);
        for (unsigned i = 0; i < 3 * SLOT_SIZE / 8; i++)
            w->backing[k][i] = stamps_base + (uint64_t)k;
        char name[16];
        snprintf(name, sizeof(name), "ram%d", k);
        assert_int_equal(mt_region_init_ram_ptr(&w->ram[k], w->ctx, NULL, name, SLOT_SIZE,
                                                w->backing[k]), 0);
        w->slot_of[k] = -1;
        w->pages[k] = 1;
    }
    /* a root with a background so the flat-root stays the root */
    as = mt_address_space_new(w->ctx, &w->root, "stress");
    record_version(w, 0);
    atomic_store(&version, 0);

    pthread_t th[READERS];
    struct reader_stats st[READERS];
    memset(st, 0, sizeof(st));
    atomic_store(&stop, false);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &st[i]), 0);

    uint64_t seed = 0x9e3779b97f4a7c15ull, commits = 0;
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
    mt_stats ms;
    uint64_t peak_retired = 0;
    while (now_ns() < end && commits < MAX_VERSIONS - 2) {
        /* one step, or three nested in a transaction of their own */
        int steps = mt_test_xorshift(&seed) % 4 == 0 ? 3 : 1;
        mt_transaction_begin(w->ctx);
        if (steps > 1)
            mt_transaction_begin(w->ctx);
        for (int i = 0; i < steps; i++)
            writer_step(w, &seed);
        if (steps > 1)
            assert_int_equal(mt_transaction_commit(w->ctx), 0); /* still invisible */
        record_version(w, commits + 1);
        assert_int_equal(mt_transaction_commit(w->ctx), 0);
        atomic_store_explicit(&version, ++commits, memory_order_release);
        mt_context_get_stats(w->ctx, &ms);
        if (ms.retired_views > peak_retired)
            peak_retired = ms.retired_views;
        if (commits % 256 == 0)
            mt_context_reclaim(w->ctx);
    }
    atomic_store(&stop, true);
    uint64_t reads = 0, hits = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        if (st[i].failure[0])
            fail_msg("reader %d: %s", i, st[i].failure);
        reads += st[i].reads;
        hits += st[i].hits;
    }
    fprintf(stderr, "stress: %llu commits, %llu reads (%llu hits), peak %llu retired views\n",
            (unsigned long long)commits, (unsigned long long)reads,
            (unsigned long long)hits, (unsigned long long)peak_retired);
    assert_true(commits > 100);
    assert_true(reads > 1000 && hits > 0 && hits < reads);
    /* Commits never wait for readers; views retired between two explicit
     * reclaims are freed by later commits once readers are done, so the
     * backlog stays below what 256 commits retire. */
    assert_true(peak_retired <= 256 + 1);

    mt_address_space_destroy(as);
    mt_context_reclaim(w->ctx);
    for (int k = 0; k < REGIONS; k++) {
        if (w->slot_of[k] >= 0)
            assert_int_equal(mt_region_del_subregion(&w->root, &w->ram[k]), 0);
    }
    mt_context_reclaim(w->ctx);
    for (int k = 0; k < REGIONS; k++) {
        assert_int_equal(mt_region_finalize(&w->ram[k]), 0);
        free(w->backing[k]);
    }
    assert_int_equal(mt_region_finalize(&w->root), 0);
    mt_context_get_stats(w->ctx, &ms);
    assert_int_equal(ms.live_views, 0);
    mt_context_free(w->ctx);
    free(w);
    free(history);
}

MT_TEST_MAIN(
    cmocka_unit_test(readers_see_only_committed_maps))
