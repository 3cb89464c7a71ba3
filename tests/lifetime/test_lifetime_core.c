/*
 * Lifetime safety (docs/lifetimes.md, "Finalising a region" and "The
 * FlatView-root problem, and why memtree is safe"): finalising regions that
 * are view flat-roots, re-using their storage inside and outside
 * transactions, the cache's reference, usage errors, and owner teardown in
 * any order. Storage that is finalised and re-used lives in the test; between
 * finalisation and re-initialisation it is filled with a pattern and, under
 * ASan, made unaddressable, so any library access to it fails the test.
 */
#include "mt_test.h"
#include "ref_render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static void poison(mt_region *storage)
{
    memset(storage, 0x5a, sizeof(*storage));
    POISON(storage, sizeof(*storage));
}

static void unpoison(mt_region *storage)
{
    UNPOISON(storage, sizeof(*storage));
}

/* ---- the setup of the lifetime tests ------------------------------------------------ */

/* `W` lives here, outside the environment, because its storage is re-used;
 * the bridge-like owner O3 owns it. */
typedef struct window_setup {
    mt_region *B, *T, *d;
    mt_region W;
    mt_address_space *Y;
    uint64_t id0;
} window_setup;

static void build_window(mt_test_env *e, window_setup *s)
{
    s->B = mt_test_container(e, e->O1, "B", 0x100000000ull);
    s->T = mt_test_container(e, e->O2, "T", 0x100000000ull);
    s->d = mt_test_io(e, e->O2, "d", 0x40);
    mt_test_map(s->T, 0x2000, s->d);
    memset(&s->W, 0, sizeof(s->W));
    assert_int_equal(mt_region_init_alias(&s->W, e->ctx, e->O3, "W", s->T, 0, 0x1000), 0);
    mt_test_map(s->B, 0, &s->W);
    s->Y = mt_test_as(e, s->B, "Y");
    s->id0 = mt_region_id(&s->W);
}

/* Finalises W (unmapping it if mapped), poisons its storage, and
 * re-initialises it as an alias of T. Leaves it unmapped. */
static void reprogram(mt_test_env *e, window_setup *s, uint64_t offset, uint64_t size)
{
    assert_int_equal(mt_region_finalize(&s->W), 0);
    poison(&s->W);
    unpoison(&s->W);
    assert_int_equal(mt_region_init_alias(&s->W, e->ctx, e->O3, "W", s->T, offset, size), 0);
}

/* Unmaps W from B and finalises it: W must go before the environment's
 * teardown finalises T (W targets it). */
static void drop_window(window_setup *s)
{
    mt_test_unmap(s->B, &s->W);
    assert_int_equal(mt_region_finalize(&s->W), 0);
}

static const char d_view[] = "  0000000000000000-000000000000003f (prio 0, i/o): d\n";

static void reuse_storage_of_flat_root_alias(void **state)
{
    mt_test_env *e = *state;
    window_setup s;
    build_window(e, &s);
    mt_view *v0 = mt_address_space_view(s.Y);
    assert_ptr_equal(mt_view_root(v0), &s.W);
    assert_int_equal(mt_view_range_count(v0), 0);

    mt_transaction_begin(e->ctx);
    mt_test_unmap(s.B, &s.W);
    reprogram(e, &s, 0x2000, 0x1000);
    mt_test_map(s.B, 0, &s.W);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    assert_true(mt_region_id(&s.W) != s.id0);
    assert_ptr_equal(mt_view_root(mt_address_space_view(s.Y)), &s.W);
    mt_assert_view(s.Y, d_view);

    mt_test_reclaim(e);
    mt_stats st = mt_test_stats(e->ctx);
    assert_int_equal(st.live_views, 1); /* one flat-root: W */
    assert_int_equal(st.cache_entries, 1);
    /* 8.3: O1 one address space; O2 one range (d); O3 the B->W link. The
     * flat-root link counts nothing. */
    assert_int_equal(mt_owner_refcount(e->O1), 2);
    assert_int_equal(mt_owner_refcount(e->O2), 2);
    assert_int_equal(mt_owner_refcount(e->O3), 2);
    drop_window(&s);
}

static void nested_finalise_then_new_address_space(void **state)
{
    mt_test_env *e = *state;
    window_setup s;
    build_window(e, &s);
    mt_view *old = mt_address_space_view(s.Y);
    assert_true(mt_view_ref(old)); /* a reader keeps it */

    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    mt_test_unmap(s.B, &s.W);
    reprogram(e, &s, 0x2000, 0x1000);
    mt_test_map(s.B, 0, &s.W);
    mt_address_space *Y2 = mt_test_as(e, s.B, "Y2");
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    /* Y2 is rendered from the uncommitted tree, never the old view */
    assert_ptr_not_equal(mt_address_space_view(Y2), old);
    mt_assert_view(Y2, d_view);
    assert_ptr_equal(mt_view_root(mt_address_space_view(Y2)), &s.W);
    /* Y still publishes the old view, which keeps working */
    assert_ptr_equal(mt_address_space_view(s.Y), old);
    assert_null(mt_view_find_range(old, 0x10));
    assert_null(mt_view_root(old));
    assert_string_equal(mt_view_root_name(old), "W");
    mt_assert_dump_contains(e->ctx, MT_DUMP_FLAT,
                            " AS \"Y\", root: B\n Root memory region: W\n  No rendered FlatView\n");

    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_ptr_equal(mt_address_space_view(s.Y), mt_address_space_view(Y2));
    mt_assert_view(s.Y, d_view);
    mt_view_unref(old);
    mt_test_reclaim(e);
    assert_int_equal(mt_test_stats(e->ctx).live_views, 1);
    mt_test_as_destroy(e, Y2);
    drop_window(&s);
}

static void finalise_clears_weak_link_and_cache_entry(void **state)
{
    mt_test_env *e = *state;
    window_setup s;
    build_window(e, &s);
    mt_view *v0 = mt_address_space_view(s.Y);
    assert_true(mt_view_ref(v0));
    mt_stats before = mt_test_stats(e->ctx);

    mt_transaction_begin(e->ctx);
    mt_test_unmap(s.B, &s.W);
    assert_int_equal(mt_region_finalize(&s.W), 0);
    poison(&s.W);
    /* immediately: the entry is gone and its reference released */
    mt_stats now = mt_test_stats(e->ctx);
    assert_int_equal(now.cache_entries, before.cache_entries - 1);
    assert_null(mt_view_root(v0));
    assert_string_equal(mt_view_root_name(v0), "W");
    assert_ptr_equal(mt_address_space_view(s.Y), v0);
    assert_null(mt_view_find_range(v0, 0));
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    assert_true(mt_view_is_empty_view(mt_address_space_view(s.Y)));
    mt_test_reclaim(e);
    assert_int_equal(mt_test_stats(e->ctx).live_views, before.live_views); /* still held */
    mt_view_unref(v0);
    mt_test_reclaim(e);
    assert_int_equal(mt_test_stats(e->ctx).live_views, before.live_views - 1);
    unpoison(&s.W);
}

static void cache_reference_released(void **state)
{
    mt_test_env *e = *state;
    mt_region *T = mt_test_container(e, e->O2, "T", 0x100000000ull);
    mt_test_map(T, 0x3000, mt_test_ram(e, e->O2, "t-ram", 0x1000));
    mt_test_reclaim(e);
    uint64_t views_before = mt_test_stats(e->ctx).live_views;
    static mt_region W[10];
    for (int i = 0; i < 10; i++) {
        char name[8];
        snprintf(name, sizeof(name), "W%d", i);
        mt_region *B = mt_test_container(e, e->O1, "B", 0x100000000ull);
        assert_int_equal(mt_region_init_alias(&W[i], e->ctx, e->O3, name, T,
                                              0x1000ull * (uint64_t)i, 0x1000), 0);
        mt_test_map(B, 0, &W[i]);
        mt_address_space *Y = mt_test_as(e, B, name);
        assert_ptr_equal(mt_view_root(mt_address_space_view(Y)), &W[i]);
    }
    mt_test_reclaim(e);
    assert_int_equal(mt_test_stats(e->ctx).live_views, views_before + 10);

    mt_transaction_begin(e->ctx);
    for (int i = 0; i < 10; i++) {
        mt_test_unmap(mt_region_container(&W[i]), &W[i]);
        assert_int_equal(mt_region_finalize(&W[i]), 0);
    }
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_test_reclaim(e);
    /* QEMU's posted patch leaks all ten views here */
    assert_int_equal(mt_test_stats(e->ctx).live_views, views_before);
    assert_int_equal(mt_test_stats(e->ctx).cache_entries, 0);
}

static void ten_thousand_reprogramming_cycles(void **state)
{
    mt_test_env *e = *state;
    window_setup s;
    build_window(e, &s);
    mt_stats first = {0};
    uint32_t owners_first[3] = {0};
    for (unsigned k = 0; k < 10000; k++) {
        mt_transaction_begin(e->ctx);
        if (mt_region_container(&s.W))
            mt_test_unmap(s.B, &s.W);
        reprogram(e, &s, (k * 0x1000ull) % 0x4000, k % 2 == 0 ? 0x1000 : 0);
        mt_test_map(s.B, k % 4 < 2 ? 0 : 0x1000, &s.W);
        assert_int_equal(mt_transaction_commit(e->ctx), 0);

        mt_view *v = mt_address_space_view(s.Y);
        mt_region *expect_root = k % 4 < 2 ? &s.W : s.B;
        assert_ptr_equal(mt_view_root(v), expect_root);
        assert_ptr_equal(ref_flat_root(s.B), expect_root);
        char why[512];
        if (!ref_render_matches(expect_root, v, why, sizeof(why)))
            fail_msg("cycle %u: %s", k, why);
        if (k % 100 == 99)
            mt_test_reclaim(e);
        if (k == 0) {
            mt_test_reclaim(e);
            first = mt_test_stats(e->ctx);
            for (int i = 0; i < 3; i++)
                owners_first[i] = mt_owner_refcount(&e->owners[i].owner);
        }
    }
    mt_test_reclaim(e);
    mt_stats last = mt_test_stats(e->ctx);
    assert_int_equal(last.live_views, first.live_views);
    assert_int_equal(last.cache_entries, first.cache_entries);
    assert_int_equal(last.live_regions, first.live_regions);
    /* cycle 0 and the last cycle (9999) differ in the W mapping phase
     * (0 vs 1000), not in who holds owner references: compare the owners */
    for (int i = 0; i < 3; i++)
        assert_int_equal(mt_owner_refcount(&e->owners[i].owner), owners_first[i]);
    drop_window(&s);
}

/* ---- usage errors ----------------------------------------------- */

static void usage_errors_detected(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0, "r", 0x1000);

    /* the root of a live address space */
    mt_assert_refused(e, mt_region_finalize(e->C), -EBUSY, "C");
    assert_true(mt_region_enabled(e->C));
    mt_assert_view(e->X, "  0000000000000000-0000000000000fff (prio 0, ram): r\n");

    /* an alias whose target chain contains itself */
    mt_region a1;
    memset(&a1, 0, sizeof(a1));
    assert_int_equal(mt_region_init_alias(&a1, e->ctx, e->O2, "a1", r, 0, 0x1000), 0);
    mt_region *a2 = mt_test_alias(e, e->O2, "a2", &a1, 0, 0x1000);
    mt_assert_refused(e, mt_region_init_alias(&a1, e->ctx, e->O2, "a1", a2, 0, 0x1000), -ELOOP,
                      "a1");
    assert_ptr_equal(mt_region_alias_target(&a1), r); /* unchanged */

    /* a terminal region still named by a live view */
    mt_test_unmap(e->C, r);
    mt_transaction_begin(e->ctx);
    mt_test_map(e->C, 0x2000, r);
    mt_test_unmap(e->C, r);
    mt_assert_refused(e, mt_region_finalize(r), -EBUSY, "r");
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    /* a region that a live alias targets */
    mt_assert_refused(e, mt_region_finalize(&a1), -EBUSY, "a1");
    assert_int_equal(mt_test_finalize(e, a2), 0);
    assert_int_equal(mt_region_finalize(&a1), 0);
}

/* ---- finalising a mapped alias ------------------------------------------- */

static void finalising_mapped_alias_unmaps_it(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region W;
    memset(&W, 0, sizeof(W));
    assert_int_equal(mt_region_init_alias(&W, e->ctx, e->O3, "W", t, 0, 0x1000), 0);
    mt_test_map_prio(e->C, 0x4000, &W, 1);
    char *text = mt_test_as_text(e->X);
    mt_assert_contains(text, "(prio 0, ram): t\n");
    free(text);
    unsigned before = e->diag.count;
    assert_int_equal(mt_region_finalize(&W), 0);
    assert_int_equal(e->diag.count, before);
    for (mt_region *c = mt_region_first_subregion(e->C); c; c = mt_region_next_sibling(c))
        assert_ptr_not_equal(c, &W);
    mt_assert_view(e->X, "  0000000000000000-000000000000ffff (prio -1, i/o): bg\n");
    assert_false(mt_region_is_mapped(t));
}

static void destroy_then_finalise_root(void **state)
{
    mt_test_env *e = *state;
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_region B;
    memset(&B, 0, sizeof(B));
    assert_int_equal(mt_region_init_container(&B, e->ctx, e->O1, "B", 0x10000), 0);
    mt_region *a = mt_test_alias(e, e->O2, "a", t, 0, 0x1000);
    mt_test_map(&B, 0x1000, a);
    mt_address_space *Y = mt_address_space_new(e->ctx, &B, "Y");
    assert_non_null(Y);
    mt_address_space_destroy(Y);
    unsigned before = e->diag.count;
    assert_int_equal(mt_region_finalize(&B), 0);
    assert_int_equal(e->diag.count, before);
    poison(&B);
    mt_test_reclaim(e); /* frees Y and its view; must not touch B */
    unpoison(&B);
    assert_null(mt_region_container(a));
}

/* ---- owner teardown in any order -------------------------------- */

static unsigned releases;
static void count_release(mt_owner *o)
{
    (void)o;
    releases++;
}

/* Drops the last reference on `o`, the only owner of ctx's regions: it is
 * released once, with no diagnostic, and no region is left; then frees
 * the context. */
static void expect_clean_teardown(mt_context *ctx, mt_owner *o, const mt_test_diag *diag)
{
    releases = 0;
    mt_owner_unref(o);
    assert_int_equal(releases, 1);
    assert_int_equal(diag->count, 0);
    mt_test_assert_no_regions(ctx);
    mt_context_free(ctx);
}

/* The owner finalises its regions newest-initialised first, so the init
 * order chooses the finalisation order. */
static void teardown_in_order(const int order[3])
{
    mt_context *ctx = mt_context_new();
    mt_test_diag diag = {0};
    mt_test_diag_install(ctx, &diag);
    mt_owner O3;
    assert_int_equal(mt_owner_init(&O3, "dev id=k", count_release), 0);
    mt_region *K = mt_region_alloc(), *k1 = mt_region_alloc(), *k2 = mt_region_alloc();
    for (int i = 0; i < 3; i++) {
        switch (order[i]) {
        case 0: assert_int_equal(mt_region_init_container(K, ctx, &O3, "K", 0x2000), 0); break;
        case 1: assert_int_equal(mt_region_init_ram(k1, ctx, &O3, "k1", 0x1000), 0); break;
        default: assert_int_equal(mt_region_init_io(k2, ctx, &O3, NULL, NULL, "k2", 0x1000), 0); break;
        }
    }
    assert_int_equal(mt_region_add_subregion(K, 0, k1), 0);
    assert_int_equal(mt_region_add_subregion(K, 0x1000, k2), 0);
    assert_int_equal(mt_owner_refcount(&O3), 1); /* same-owner links count nothing */
    expect_clean_teardown(ctx, &O3, &diag);
}

static void owner_teardown_any_order(void **state)
{
    (void)state;
    static const int orders[6][3] = {
        {0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0},
    };
    for (int i = 0; i < 6; i++)
        teardown_in_order(orders[i]);
}

/* Aliases of the owner's own regions (an alias of an alias too) die with
 * their targets: whichever goes first, no hazard is reported and nothing
 * is left counted. The container is initialised first or last. */
static void teardown_with_own_aliases(bool container_last)
{
    mt_context *ctx = mt_context_new();
    mt_test_diag diag = {0};
    mt_test_diag_install(ctx, &diag);
    mt_owner O;
    assert_int_equal(mt_owner_init(&O, "dev id=flash", count_release), 0);
    mt_region *K = mt_region_alloc(), *t = mt_region_alloc();
    mt_region *a1 = mt_region_alloc(), *a2 = mt_region_alloc();
    if (!container_last)
        assert_int_equal(mt_region_init_container(K, ctx, &O, "K", 0x4000), 0);
    assert_int_equal(mt_region_init_ram(t, ctx, &O, "flash", 0x1000), 0);
    assert_int_equal(mt_region_init_alias(a1, ctx, &O, "flash-alias", t, 0, 0x1000), 0);
    assert_int_equal(mt_region_init_alias(a2, ctx, &O, "flash-alias2", a1, 0, 0x800), 0);
    if (container_last)
        assert_int_equal(mt_region_init_container(K, ctx, &O, "K", 0x4000), 0);
    assert_int_equal(mt_region_add_subregion(K, 0, t), 0);
    assert_int_equal(mt_region_add_subregion(K, 0x1000, a1), 0);
    assert_int_equal(mt_region_add_subregion(K, 0x2000, a2), 0);
    mt_address_space *as = mt_address_space_new(ctx, K, "k");
    mt_address_space_destroy(as);
    mt_context_reclaim(ctx);
    expect_clean_teardown(ctx, &O, &diag);
}

static void owner_teardown_with_own_aliases(void **state)
{
    (void)state;
    teardown_with_own_aliases(false);
    teardown_with_own_aliases(true);
}

static void cross_owner_link_keeps_owner(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_owner O4;
    assert_int_equal(mt_owner_init(&O4, "dev id=k", count_release), 0);
    mt_region *K = mt_region_alloc(), *k1 = mt_region_alloc();
    assert_int_equal(mt_region_init_container(K, e->ctx, &O4, "K", 0x2000), 0);
    assert_int_equal(mt_region_init_ram(k1, e->ctx, &O4, "k1", 0x1000), 0);
    assert_int_equal(mt_region_add_subregion(K, 0, k1), 0);
    mt_test_map(e->C, 0x4000, K);
    releases = 0;
    mt_owner_unref(&O4); /* the C->K link and k1's range still hold it */
    assert_int_equal(releases, 0);
    assert_true(mt_region_enabled(K));
    mt_test_unmap(e->C, K);
    assert_int_equal(releases, 0); /* released only at reclaim */
    mt_test_reclaim(e);
    assert_int_equal(releases, 1);
}

/* ---- the lifetime checker ------------------------------------------------ */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs `fn` in a child whose stderr is captured; returns what it printed
 * and whether it died of SIGABRT. */
static char *run_in_child(void (*fn)(void), bool *aborted)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    static char buf[4096];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof(buf) - 1 && (got = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = 0;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    return buf;
}

static void use_after_finalise(void)
{
    mt_context *ctx = mt_context_new();
    static mt_region r;
    mt_region_init_ram(&r, ctx, NULL, "pc.bios", 0x1000);
    mt_region_finalize(&r);
    mt_region_set_enabled(&r, false); /* the caller's mistake */
}

static void alias_outlives_target_owner(void)
{
    mt_context *ctx = mt_context_new();
    static mt_owner dev;
    static mt_region target, alias;
    mt_owner_init(&dev, "dev id=flash", NULL);
    mt_region_init_ram(&target, ctx, &dev, "flash", 0x1000);
    mt_region_init_alias(&alias, ctx, NULL, "flash-alias", &target, 0, 0x1000);
    mt_owner_unref(&dev); /* tears `dev` down under the alias */
}

static void checker_names_the_hazard(void **state)
{
    (void)state;
#ifdef MT_TEST_CHECKING_OFF
    skip();
#endif
    bool aborted;
    char *out = run_in_child(use_after_finalise, &aborted);
    /* an edit can refuse: reported through the context's hook, -EINVAL */
    assert_false(aborted);
    mt_assert_contains(out, "set_enabled: region 'pc.bios'");
    mt_assert_contains(out, "was finalised");

    out = run_in_child(alias_outlives_target_owner, &aborted);
    assert_true(aborted);
    mt_assert_contains(out, "lifetime hazard: owner teardown finalises 'flash' while 1 alias(es) "
                            "of other owners still target it");
}

MT_TEST_MAIN(
    MT_TEST(reuse_storage_of_flat_root_alias),
    MT_TEST(nested_finalise_then_new_address_space),
    MT_TEST(finalise_clears_weak_link_and_cache_entry),
    MT_TEST(cache_reference_released),
    MT_TEST(ten_thousand_reprogramming_cycles),
    MT_TEST(usage_errors_detected),
    MT_TEST(finalising_mapped_alias_unmaps_it),
    MT_TEST(destroy_then_finalise_root),
    cmocka_unit_test(owner_teardown_any_order),
    MT_TEST(owner_teardown_with_own_aliases),
    MT_TEST(cross_owner_link_keeps_owner),
    cmocka_unit_test(checker_names_the_hazard))
