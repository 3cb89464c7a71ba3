/*
 * The listener features around accelerators (docs/listeners.md, "Coalesced
 * MMIO" and "Dirty logging"; docs/transactions.md): the flush hook of
 * transaction begin, coalesced-MMIO ranges and what listeners hear of them,
 * and the dirty-log requests of the embedder (log_sync, log_sync_global,
 * log_clear, log_global_after_sync). The tests are named after what they
 * check.
 */
#include "mt_rec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a recording listener (tests/support/mt_rec.h) -------------------- */

/* Coalesced ranges: the section, then "=ADDR+LEN". */
static void on_cadd(mt_listener *l, const mt_section *s, uint64_t addr, uint64_t len)
{
    mt_rec_section(l, "cadd", s);
    mt_rec_put(l, "=%llx+%llx", (unsigned long long)addr, (unsigned long long)len);
}
static void on_cdel(mt_listener *l, const mt_section *s, uint64_t addr, uint64_t len)
{
    mt_rec_section(l, "cdel", s);
    mt_rec_put(l, "=%llx+%llx", (unsigned long long)addr, (unsigned long long)len);
}

static void on_sync(mt_listener *l, const mt_section *s) { mt_rec_section(l, "sync", s); }
static void on_sync_global(mt_listener *l) { mt_rec_put(l, "sync_global"); }
static void on_clear(mt_listener *l, const mt_section *s) { mt_rec_section(l, "clear", s); }
static void on_after_sync(mt_listener *l) { mt_rec_put(l, "after_sync"); }

/* Sections with their sizes, and the coalesced-range callbacks. */
static void rec_init(mt_rec *r, int priority, const char *tag, mt_rec *shared)
{
    mt_rec_init(r, priority, tag, shared, MT_REC_SIZES);
    r->l.coalesced_io_add = on_cadd;
    r->l.coalesced_io_del = on_cdel;
}

/* The usual setup with MMIO `m` (0x1000 bytes, owned by O2) at 0x2000 in C. */
static mt_region *std_with_mmio(mt_test_env *e)
{
    mt_test_std(e);
    mt_region *m = mt_test_io_at(e, 0x2000, "m", 0x1000);
    return m;
}

/* An untagged listener of priority 0 on `as`, its log cleared. */
static void rec_listen(mt_rec *r, mt_address_space *as)
{
    rec_init(r, 0, NULL, NULL);
    mt_rec_attach(r, as);
}

/* ---- the flush hook ------------------------------------------------------- */

struct flushes {
    mt_context *ctx;
    unsigned calls;
    char depths[64]; /* the depth seen by each call, as digits */
};

static void on_flush(void *opaque)
{
    struct flushes *f = opaque;
    if (f->calls < sizeof(f->depths) - 1)
        f->depths[f->calls] = (char)('0' + mt_transaction_depth(f->ctx));
    f->calls++;
}

static void begin_calls_the_flush_hook_first(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    struct flushes f = {.ctx = e->ctx};
    mt_context_set_flush_hook(e->ctx, on_flush, &f);
    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    assert_string_equal(f.depths, "01"); /* before depth += 1, nested too */
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(f.calls, 2); /* commit does not flush */

    /* an edit outside a transaction opens one of its own */
    f.calls = 0;
    mt_test_ram_at(e, 0, "r1", 0x1000);
    assert_true(f.calls >= 1);
    assert_int_equal(f.depths[0], '0');

    mt_context_set_flush_hook(e->ctx, NULL, NULL);
    f.calls = 0;
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    assert_int_equal(f.calls, 0);
}

/* ---- changing a region's coalesced ranges --------------------------------- */

static void changes_are_told_at_once(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    mt_rec L;
    rec_listen(&L, e->X);

    assert_int_equal(mt_region_add_coalescing(m, 0x100, 0x10), 0);
    mt_rec_check(&L, "cadd(m@2000:1000) =2100+10"); /* no begin/commit */
    /* the old list goes, the whole new one comes */
    assert_int_equal(mt_region_add_coalescing(m, 0x800, 0x100), 0);
    mt_rec_check(&L, "cdel(m@2000:1000) =2100+10 cadd(m@2000:1000) =2100+10 "
                  "cadd(m@2000:1000) =2800+100");
    assert_int_equal(mt_region_coalesced_count(m), 2);
    /* inside a transaction too, at once, with the published view */
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_region_set_coalescing(m), 0);
    mt_rec_check(&L, "cdel(m@2000:1000) =2100+10 cdel(m@2000:1000) =2800+100 "
                  "cadd(m@2000:1000) =2000+1000");
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_region_clear_coalescing(m), 0);
    mt_rec_check(&L, "cdel(m@2000:1000) =2000+1000");
    assert_int_equal(mt_region_clear_coalescing(m), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_region_coalesced_count(m), 0);
    mt_rec_free(&L);
}

static void parts_shown_by_each_range(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    mt_test_map(e->C, 0x5000, mt_test_alias(e, e->O2, "a", m, 0x800, 0x400));
    mt_test_io_at(e, 0x8000, "other", 0x1000);
    mt_rec L;
    rec_listen(&L, e->X);
    /* crosses the alias's start: cut to what each range shows */
    assert_int_equal(mt_region_add_coalescing(m, 0x700, 0x200), 0);
    mt_rec_check(&L, "cadd(m@2000:1000) =2700+200 cadd(m@5000+800:400) =5000+100");
    /* outside the alias's window: only the direct mapping */
    assert_int_equal(mt_region_clear_coalescing(m), 0);
    L.log[0] = '\0';
    assert_int_equal(mt_region_add_coalescing(m, 0, 0x10), 0);
    mt_rec_check(&L, "cadd(m@2000:1000) =2000+10");
    /* an unmapped region is in no view: nobody hears of it */
    mt_region *u = mt_test_io(e, e->O2, "u", 0x1000);
    assert_int_equal(mt_region_set_coalescing(u), 0);
    mt_rec_check(&L, "");
    mt_rec_free(&L);
}

static void every_address_space_and_direction(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    mt_address_space *Z = mt_test_as(e, e->C, "Z");
    mt_rec log, L1, L2, Lz;
    rec_init(&log, 0, NULL, NULL);
    rec_init(&L1, 10, "L1", &log);
    rec_init(&L2, 20, "L2", &log);
    rec_init(&Lz, 15, "Lz", &log);
    mt_rec_attach(&L2, e->X);
    mt_rec_attach(&L1, e->X);
    mt_rec_attach(&Lz, Z);
    assert_int_equal(mt_region_add_coalescing(m, 0, 0x10), 0);
    mt_rec_check(&log, "L1:cadd(m@2000:1000) L1:=2000+10 L2:cadd(m@2000:1000) L2:=2000+10 "
                    "Lz:cadd(m@2000:1000) Lz:=2000+10");
    assert_int_equal(mt_region_clear_coalescing(m), 0);
    mt_rec_check(&log, "L2:cdel(m@2000:1000) L2:=2000+10 L1:cdel(m@2000:1000) L1:=2000+10 "
                    "Lz:cdel(m@2000:1000) Lz:=2000+10");
    mt_rec_free(&L1);
    mt_rec_free(&L2);
    mt_rec_free(&Lz);
}

/* ---- the diff ---------------------------------------------------------------- */

static void coalesced_with_add_and_del_only(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *m = mt_test_io(e, e->O2, "m", 0x1000);
    assert_int_equal(mt_region_add_coalescing(m, 0x10, 0x20), 0);
    mt_rec L;
    rec_listen(&L, e->X);
    mt_test_map(e->C, 0x2000, m);
    mt_rec_check(&L, "begin add(m@2000:1000) cadd(m@2000:1000) =2010+20 commit");
    /* an unchanged range is a no-op: nothing about its coalesced parts */
    mt_test_ram_at(e, 0x4000, "r", 0x1000);
    mt_rec_check(&L, "begin nop(m@2000:1000) add(r@4000:1000) commit");
    assert_int_equal(mt_region_set_address(m, 0x6000), 0);
    mt_rec_check(&L, "begin cdel(m@2000:1000) =2010+20 del(m@2000:1000) nop(r@4000:1000) "
                  "add(m@6000:1000) cadd(m@6000:1000) =6010+20 commit");
    mt_test_unmap(e->C, m);
    mt_rec_check(&L, "begin cdel(m@6000:1000) =6010+20 del(m@6000:1000) nop(r@4000:1000) "
                  "commit");
    mt_rec_free(&L);
}

static void destroying_an_address_space(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    assert_int_equal(mt_region_add_coalescing(m, 0x10, 0x20), 0);
    mt_rec L;
    rec_listen(&L, e->X);
    mt_test_as_destroy(e, e->X);
    mt_rec_check(&L, "begin cdel(m@2000:1000) =2010+20 del(m@2000:1000) commit");
    /* detached: later changes reach nobody */
    assert_int_equal(mt_region_clear_coalescing(m), 0);
    mt_rec_check(&L, "");
}

/* ---- replay ------------------------------------------------------------------- */

static void replay_includes_coalesced(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x1000);
    assert_int_equal(mt_region_set_log(r1, true, MT_DIRTY_VGA), 0);
    assert_int_equal(mt_region_add_coalescing(r1, 0x100, 0x100), 0);
    mt_test_io_at(e, 0x2000, "m", 0x1000);
    mt_rec L;
    rec_init(&L, 0, NULL, NULL);
    assert_int_equal(mt_listener_register(&L.l, e->X), 0);
    mt_rec_check(&L, "begin add(r1@0:1000) cadd(r1@0:1000) =100+100 log_start(r1,0->1) "
                  "add(m@2000:1000) commit");
    mt_rec_free(&L);
    mt_rec_check(&L, "begin log_stop(r1,1->0) cdel(r1@0:1000) =100+100 del(r1@0:1000) "
                  "del(m@2000:1000) commit");
    assert_int_equal(mt_region_set_log(r1, false, MT_DIRTY_VGA), 0);
}

/* ---- errors, 2^64, finalisation ------------------------------------------------------ */

static void coalescing_misuse_changes_nothing(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    mt_rec L;
    rec_listen(&L, e->X);
    unsigned diags = e->diag.count;
    assert_int_equal(mt_region_add_coalescing(m, 0, 0), -EINVAL);
    assert_int_equal(mt_region_add_coalescing(m, 0xfff, 2), -EINVAL);
    assert_int_equal(mt_region_add_coalescing(m, 0x1000, 1), -EINVAL);
    assert_int_equal(mt_region_add_coalescing(m, UINT64_MAX - 1, 4), -EINVAL);
    assert_int_equal(mt_region_add_coalescing(m, 0, UINT64_MAX), -EINVAL);
    mt_region *empty = mt_test_io(e, e->O2, "empty", 0);
    assert_int_equal(mt_region_set_coalescing(empty), -EINVAL);
    assert_int_equal(e->diag.count, diags + 6);
    /* no context to report to: the default hook prints it */
    assert_int_equal(mt_region_add_coalescing(NULL, 0, 1), -EINVAL);
    assert_int_equal(mt_region_coalesced_count(m), 0);
    mt_rec_check(&L, "");
    /* the last byte alone is fine */
    assert_int_equal(mt_region_add_coalescing(m, 0xfff, 1), 0);
    mt_rec_check(&L, "cadd(m@2000:1000) =2fff+1");
    mt_rec_free(&L);
}

static void whole_2_64_region(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = mt_test_io(e, e->O1, "io", UINT64_MAX);
    mt_address_space *Y = mt_test_as(e, io, "Y");
    mt_rec L;
    rec_listen(&L, Y);
    assert_int_equal(mt_region_set_coalescing(io), 0);
    mt_rec_check(&L, "cadd(io@0:0) =0+ffffffffffffffff"); /* 2^64 both times */
    assert_int_equal(mt_region_add_coalescing(io, UINT64_MAX - 0xf, 0x10), 0);
    mt_rec_check(&L, "cdel(io@0:0) =0+ffffffffffffffff cadd(io@0:0) =0+ffffffffffffffff "
                  "cadd(io@0:0) =fffffffffffffff0+10");
    mt_rec_free(&L);
}

static void finalisation_drops_the_ranges(void **state)
{
    mt_test_env *e = *state;
    mt_region *m = std_with_mmio(e);
    assert_int_equal(mt_region_add_coalescing(m, 0, 0x10), 0);
    assert_int_equal(mt_region_add_coalescing(m, 0x20, 0x10), 0);
    mt_rec L;
    rec_listen(&L, e->X);
    mt_test_unmap(e->C, m);
    mt_rec_check(&L, "begin cdel(m@2000:1000) =2000+10 cdel(m@2000:1000) =2020+10 "
                  "del(m@2000:1000) commit");
    mt_test_reclaim(e);
    /* nothing more to tell: the region is in no view; the leak checker
     * sees the list go */
    assert_int_equal(mt_test_finalize(e, m), 0);
    mt_rec_check(&L, "");
    mt_rec_free(&L);
}

/* ---- the embedder's dirty-log requests -------------------------------------- */

/* r1 RAM logged (VGA) at 0, r2 RAM at 2000, m MMIO at 4000 in C; X and Z
 * over C. L1 (prio 10, log_sync) and L2 (20, log_sync_global) on X, Lz (15,
 * log_sync) on Z; all log into `log`. */
struct sync_setup {
    mt_region *r1, *r2, *m;
    mt_rec log, L1, L2, Lz;
};

static void sync_setup(mt_test_env *e, struct sync_setup *t)
{
    mt_test_std(e);
    t->r1 = mt_test_ram(e, e->O2, "r1", 0x1000);
    t->r2 = mt_test_ram(e, e->O2, "r2", 0x1000);
    t->m = mt_test_io(e, e->O2, "m", 0x1000);
    mt_test_map(e->C, 0, t->r1);
    mt_test_map(e->C, 0x2000, t->r2);
    mt_test_map(e->C, 0x4000, t->m);
    assert_int_equal(mt_region_set_log(t->r1, true, MT_DIRTY_VGA), 0);
    mt_address_space *Z = mt_test_as(e, e->C, "Z");
    rec_init(&t->log, 0, NULL, NULL);
    rec_init(&t->L1, 10, "L1", &t->log);
    rec_init(&t->L2, 20, "L2", &t->log);
    rec_init(&t->Lz, 15, "Lz", &t->log);
    mt_rec *all[] = {&t->L1, &t->L2, &t->Lz};
    for (size_t i = 0; i < 3; i++) {
        all[i]->l = (mt_listener){.log_sync = on_sync, .log_clear = on_clear,
                                  .log_global_after_sync = on_after_sync,
                                  .priority = all[i]->l.priority};
    }
    t->L2.l.log_sync = NULL;
    t->L2.l.log_sync_global = on_sync_global;
    t->L2.l.log_clear = NULL;
    mt_rec_attach(&t->L1, e->X);
    mt_rec_attach(&t->L2, e->X);
    mt_rec_attach(&t->Lz, Z);
}

static void sync_teardown(struct sync_setup *t)
{
    mt_listener_unregister(&t->L1.l);
    mt_listener_unregister(&t->L2.l);
    mt_listener_unregister(&t->Lz.l);
    mt_rec_check(&t->log, "");
    assert_int_equal(mt_region_set_log(t->r1, false, MT_DIRTY_VGA), 0);
}

static void log_sync_per_logged_range_or_global(void **state)
{
    mt_test_env *e = *state;
    struct sync_setup t;
    sync_setup(e, &t);
    struct flushes f = {.ctx = e->ctx};
    mt_context_set_flush_hook(e->ctx, on_flush, &f);
    mt_context_log_sync(e->ctx);
    mt_rec_check(&t.log, "L1:sync(r1@0:1000) Lz:sync(r1@0:1000) L2:sync_global");
    mt_context_after_log_sync(e->ctx);
    mt_rec_check(&t.log, "L1:after_sync Lz:after_sync L2:after_sync");
    assert_int_equal(f.calls, 0); /* no transaction */
    mt_context_set_flush_hook(e->ctx, NULL, NULL);

    /* global logging: every RAM range is logged (MIGRATION) */
    mt_context_set_global_dirty_log(e->ctx, true);
    mt_context_log_sync(e->ctx);
    mt_rec_check(&t.log, "L1:sync(r1@0:1000) L1:sync(r2@2000:1000) Lz:sync(r1@0:1000) "
                      "Lz:sync(r2@2000:1000) L2:sync_global");
    /* one region: log_sync for its ranges only, log_sync_global regardless */
    assert_int_equal(mt_region_log_sync(t.r2), 0);
    mt_rec_check(&t.log, "L1:sync(r2@2000:1000) Lz:sync(r2@2000:1000) L2:sync_global");
    assert_int_equal(mt_region_log_sync(t.m), 0); /* not logged */
    mt_rec_check(&t.log, "L2:sync_global");
    mt_context_set_global_dirty_log(e->ctx, false);
    sync_teardown(&t);
}

static void log_clear_cut_to_each_range(void **state)
{
    mt_test_env *e = *state;
    struct sync_setup t;
    sync_setup(e, &t);
    /* r1 also seen through an alias window at 5000 */
    mt_test_map(e->C, 0x5000, mt_test_alias(e, e->O2, "a", t.r1, 0x800, 0x400));
    mt_rec_check(&t.log, "");
    assert_int_equal(mt_region_log_clear(t.r1, 0x700, 0x200), 0);
    mt_rec_check(&t.log, "L1:clear(r1@700+700:200) L1:clear(r1@5000+800:100) "
                      "Lz:clear(r1@700+700:200) Lz:clear(r1@5000+800:100)");
    /* clipped to the region; nothing for an empty span or a region in no view */
    assert_int_equal(mt_region_log_clear(t.r1, 0xf00, UINT64_MAX), 0);
    mt_rec_check(&t.log, "L1:clear(r1@f00+f00:100) Lz:clear(r1@f00+f00:100)");
    assert_int_equal(mt_region_log_clear(t.r1, 0, 0), 0);
    mt_region *u = mt_test_ram(e, e->O2, "u", 0x1000);
    assert_int_equal(mt_region_log_clear(u, 0, 0x1000), 0);
    mt_rec_check(&t.log, "");
    sync_teardown(&t);
}

static void at_most_one_of_log_sync_and_global(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_rec L;
    rec_init(&L, 0, NULL, NULL);
    L.l.log_sync = on_sync;
    L.l.log_sync_global = on_sync_global;
    unsigned diags = e->diag.count;
    assert_int_equal(mt_listener_register(&L.l, e->X), -EINVAL);
    assert_int_equal(e->diag.count, diags + 1);
    mt_rec_check(&L, ""); /* no replay: not registered */
    mt_context_log_sync(e->ctx);
    mt_rec_check(&L, "");
    L.l.log_sync = NULL;
    mt_rec_attach(&L, e->X);
    mt_context_log_sync(e->ctx);
    mt_rec_check(&L, "sync_global");
    mt_rec_free(&L);
}

MT_TEST_MAIN(
    MT_TEST(begin_calls_the_flush_hook_first),
    MT_TEST(changes_are_told_at_once),
    MT_TEST(parts_shown_by_each_range),
    MT_TEST(every_address_space_and_direction),
    MT_TEST(coalesced_with_add_and_del_only),
    MT_TEST(destroying_an_address_space),
    MT_TEST(replay_includes_coalesced),
    MT_TEST(coalescing_misuse_changes_nothing),
    MT_TEST(whole_2_64_region),
    MT_TEST(finalisation_drops_the_ranges),
    MT_TEST(log_sync_per_logged_range_or_global),
    MT_TEST(log_clear_cut_to_each_range),
    MT_TEST(at_most_one_of_log_sync_and_global))
