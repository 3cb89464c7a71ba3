/*
 * Transactions with listeners (docs/listeners.md): the two-pass diff,
 * priorities and directions (eventfds included), replay on registration,
 * dirty-log masks, nested transactions and address-space destruction,
 * observed through recording listeners.
 */
#include "mt_rec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a recording listener (tests/support/mt_rec.h) -------------------- */

static void on_efd_add(mt_listener *l, uint64_t addr, unsigned size, bool match,
                       uint64_t data, mt_event_notifier *e)
{
    (void)e;
    mt_rec_put(l, "efd_add(%llx,%u,%s%llx)", (unsigned long long)addr, size, match ? "=" : "~",
               (unsigned long long)data);
}
static void on_efd_del(mt_listener *l, uint64_t addr, unsigned size, bool match,
                       uint64_t data, mt_event_notifier *e)
{
    (void)e;
    mt_rec_put(l, "efd_del(%llx,%u,%s%llx)", (unsigned long long)addr, size, match ? "=" : "~",
               (unsigned long long)data);
}
static void on_global_start(mt_listener *l) { mt_rec_put(l, "log_global_start"); }
/* No write reaches these eventfds: only listeners are told about them. */
static void never_signalled(mt_event_notifier *n)
{
    (void)n;
    fail_msg("an eventfd fired");
}
static void on_global_stop(mt_listener *l) { mt_rec_put(l, "log_global_stop"); }

/* Sections without sizes, global logging and eventfds too. */
static void rec_init(mt_rec *r, int priority, const char *tag, mt_rec *shared)
{
    mt_rec_init(r, priority, tag, shared, 0);
    r->l.log_global_start = on_global_start;
    r->l.log_global_stop = on_global_stop;
    r->l.eventfd_add = on_efd_add;
    r->l.eventfd_del = on_efd_del;
}

/* An untagged listener of priority 0 on `as`, its log cleared. */
static void rec_listen(mt_rec *r, mt_address_space *as)
{
    rec_init(r, 0, NULL, NULL);
    mt_rec_attach(r, as);
}

/* The usual setup with RAM r1 at 0 and r2 at 0x2000 (0x1000 bytes each,
 * owned by O2), and L listening on X. */
static void std_with_two_rams(mt_test_env *e, mt_rec *L)
{
    mt_test_std(e);
    mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_ram_at(e, 0x2000, "r2", 0x1000);
    rec_listen(L, e->X);
}

/* ---- items ------------------------------------------------------------------ */

static void set_address_reorders(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x2000);
    mt_test_io_at(e, 0x1000, "m2", 0x2000);
    mt_rec L;
    rec_listen(&L, e->X);
    uint64_t renders = mt_test_renders(e->ctx);
    assert_int_equal(mt_region_set_address(r1, 0), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_test_renders(e->ctx), renders);
    assert_int_equal(mt_region_set_address(r1, 0x5000), 0);
    assert_int_equal(mt_region_set_address(r1, 0), 0);
    mt_assert_view(e->X, "  0000000000000000-0000000000001fff (prio 0, ram): r1\n"
                         "  0000000000002000-0000000000002fff (prio 0, i/o): m2 @0000000000001000\n");
    assert_int_equal(mt_test_count(L.log, "begin"), 2);
    assert_int_equal(mt_test_count(L.log, "commit"), 2);
    mt_rec_free(&L);
}

static void target_moves_view_unchanged(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *bg = mt_test_bg(e);
    (void)bg;
    mt_region *Q = mt_test_container(e, e->O2, "Q", 0x100000);
    mt_region *t = mt_test_ram(e, e->O2, "t", 0x1000);
    mt_test_map(Q, 0x10000, t);
    mt_test_map_prio(e->C, 0x2000, mt_test_alias(e, e->O2, "a", t, 0x100, 0x100), 1);
    mt_rec L;
    rec_listen(&L, e->X);
    assert_int_equal(mt_region_set_address(t, 0x30000), 0);
    mt_rec_check(&L, "begin nop(bg@0) nop(t@2000+100) nop(bg@2100+2100) commit");
    mt_rec_free(&L);
}

static void romd_switch_is_del_add(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *flash = mt_test_rom_device(e, e->O2, NULL, NULL, "flash", 0x1000);
    mt_test_map(e->C, 0, flash);
    mt_rec L;
    rec_listen(&L, e->X);
    assert_int_equal(mt_region_set_romd(flash, false), 0);
    mt_rec_check(&L, "begin del(flash@0) add(flash@0) nop(bg@1000+1000) commit");
    mt_rec_free(&L);
}

static void nested_transactions_commit_once(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *r1 = mt_test_ram(e, e->O2, "r1", 0x1000);
    mt_test_map_prio(e->C, 0, r1, 1);
    mt_rec L;
    rec_listen(&L, e->X);
    mt_transaction_begin(e->ctx);
    mt_transaction_begin(e->ctx);
    mt_test_map_prio(e->C, 0x8000, mt_test_io(e, e->O2, "m1", 0x100), 1);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_region_set_enabled(r1, false), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_rec_check(&L, "begin del(r1@0) del(bg@1000+1000) add(bg@0) add(m1@8000) "
                  "add(bg@8100+8100) commit");
    mt_rec_free(&L);
}

static void map_unmap_in_one_transaction(void **state)
{
    mt_test_env *e = *state;
    mt_rec L;
    std_with_two_rams(e, &L);
    mt_region *m = mt_test_io(e, e->O2, "m", 0x100);
    mt_transaction_begin(e->ctx);
    mt_test_map(e->C, 0x8000, m);
    mt_test_unmap(e->C, m);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_rec_check(&L, "begin nop(r1@0) nop(r2@2000) commit");
    mt_rec_free(&L);
}

static void two_pass_diff_order(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_ram_at(e, 0x2000, "r2", 0x1000);
    mt_region *r3 = mt_test_ram_at(e, 0x4000, "r3", 0x1000);
    mt_rec L;
    rec_listen(&L, e->X);
    mt_transaction_begin(e->ctx);
    mt_test_unmap(e->C, r1);
    mt_test_ram_at(e, 0x6000, "r4", 0x1000);
    assert_int_equal(mt_region_set_address(r3, 0x8000), 0);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_rec_check(&L, "begin del(r1@0) del(r3@4000) nop(r2@2000) add(r4@6000) add(r3@8000) commit");
    mt_rec_free(&L);
}

static void priorities_and_directions(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_rec log, L1, L2, L3, Lz;
    rec_init(&log, 0, NULL, NULL);
    rec_init(&L1, 10, "L1", &log);
    rec_init(&L2, 20, "L2", &log);
    rec_init(&L3, 10, "L3", &log);
    rec_init(&Lz, 15, "Lz", &log);
    mt_rec_attach(&L1, e->X);
    mt_rec_attach(&L2, e->X);
    mt_rec_attach(&L3, e->X);
    mt_region *Zroot = mt_test_container(e, e->O1, "Zroot", 0x10000);
    mt_test_map(Zroot, 0x100, mt_test_io(e, e->O2, "z", 0x100));
    mt_address_space *Z = mt_test_as(e, Zroot, "Z");
    mt_rec_attach(&Lz, Z);
    mt_rec_check(&log, "");

    mt_region *m = mt_test_io_at(e, 0x4000, "m", 0x1000);
    mt_rec_check(&log, "L1:begin L3:begin Lz:begin L2:begin "
                    "L1:nop(r1@0) L3:nop(r1@0) L2:nop(r1@0) "
                    "L1:add(m@4000) L3:add(m@4000) L2:add(m@4000) "
                    "Lz:nop(z@100) "
                    "L1:commit L3:commit Lz:commit L2:commit");
    mt_test_unmap(e->C, m);
    mt_rec_check(&log, "L1:begin L3:begin Lz:begin L2:begin "
                    "L2:del(m@4000) L3:del(m@4000) L1:del(m@4000) "
                    "L1:nop(r1@0) L3:nop(r1@0) L2:nop(r1@0) "
                    "Lz:nop(z@100) "
                    "L1:commit L3:commit Lz:commit L2:commit");
    assert_int_equal(mt_region_set_log(r1, true, MT_DIRTY_VGA), 0);
    mt_rec_check(&log, "L1:begin L3:begin Lz:begin L2:begin "
                    "L1:nop(r1@0) L3:nop(r1@0) L2:nop(r1@0) "
                    "L1:log_start(r1@0,0->1) L3:log_start(r1@0,0->1) L2:log_start(r1@0,0->1) "
                    "Lz:nop(z@100) "
                    "L1:commit L3:commit Lz:commit L2:commit");
    assert_int_equal(mt_region_set_log(r1, false, MT_DIRTY_VGA), 0);
    mt_rec_check(&log, "L1:begin L3:begin Lz:begin L2:begin "
                    "L1:nop(r1@0) L3:nop(r1@0) L2:nop(r1@0) "
                    "L2:log_stop(r1@0,1->0) L3:log_stop(r1@0,1->0) L1:log_stop(r1@0,1->0) "
                    "Lz:nop(z@100) "
                    "L1:commit L3:commit Lz:commit L2:commit");
    /* eventfds: add in reverse order, del forward, no global begin/commit */
    mt_event_notifier n = {.signal = never_signalled};
    assert_int_equal(mt_region_add_eventfd(r1, 0x10, 4, true, 1, &n), 0);
    mt_rec_check(&log, "L2:efd_add(10,4,=1) L3:efd_add(10,4,=1) L1:efd_add(10,4,=1)");
    assert_int_equal(mt_region_del_eventfd(r1, 0x10, 4, true, 1, &n), 0);
    mt_rec_check(&log, "L1:efd_del(10,4,=1) L3:efd_del(10,4,=1) L2:efd_del(10,4,=1)");
    mt_rec_free(&L1);
    mt_rec_free(&L2);
    mt_rec_free(&L3);
    mt_rec_free(&Lz);
}

static void test_replay(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_region *r2 = mt_test_io_at(e, 0x2000, "r2", 0x1000);
    mt_event_notifier n = {.signal = never_signalled};
    assert_int_equal(mt_region_add_eventfd(r2, 0, 4, true, 1, &n), 0);
    assert_int_equal(mt_region_set_log(r1, true, MT_DIRTY_VGA), 0);
    mt_rec L0, L;
    rec_listen(&L0, e->X);
    rec_init(&L, 0, NULL, NULL);
    assert_int_equal(mt_listener_register(&L.l, e->X), 0);
    mt_rec_check(&L, "begin add(r1@0) log_start(r1@0,0->1) add(r2@2000) efd_add(2000,4,=1) commit");
    mt_rec_check(&L0, "");
    mt_listener_unregister(&L.l);
    mt_rec_check(&L, "begin efd_del(2000,4,=1) log_stop(r1@0,1->0) del(r1@0) del(r2@2000) commit");
    mt_rec_check(&L0, "");

    /* with global dirty logging, the replay starts it and masks add MIGRATION */
    mt_context_set_global_dirty_log(e->ctx, true);
    mt_rec_check(&L0, "log_global_start begin nop(r1@0) log_start(r1@0,1->5) nop(r2@2000) commit");
    assert_int_equal(mt_listener_register(&L.l, e->X), 0);
    mt_rec_check(&L, "begin log_global_start add(r1@0) log_start(r1@0,0->5) add(r2@2000) "
                  "efd_add(2000,4,=1) commit");
    mt_context_set_global_dirty_log(e->ctx, false);
    mt_rec_check(&L, "log_global_stop begin nop(r1@0) log_stop(r1@0,5->1) nop(r2@2000) commit");
    assert_int_equal(mt_region_set_log(r1, false, MT_DIRTY_VGA), 0);
    assert_int_equal(mt_region_del_eventfd(r2, 0, 4, true, 1, &n), 0);
    mt_rec_free(&L);
    mt_rec_free(&L0);
}

static void dirty_mask_change_is_nop_plus_log(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram_at(e, 0, "r1", 0x1000);
    mt_test_ram_at(e, 0x2000, "r2", 0x1000);
    mt_rec L;
    rec_listen(&L, e->X);
    assert_int_equal(mt_region_set_log(r1, true, MT_DIRTY_VGA), 0);
    mt_rec_check(&L, "begin nop(r1@0) log_start(r1@0,0->1) nop(r2@2000) commit");
    assert_int_equal(mt_region_set_log(r1, true, MT_DIRTY_VGA), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_region_set_log(r1, false, MT_DIRTY_VGA), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_region_set_log(r1, false, MT_DIRTY_VGA), 0);
    mt_rec_check(&L, "begin nop(r1@0) log_stop(r1@0,1->0) nop(r2@2000) commit");
    mt_assert_refused(e, mt_region_set_log(r1, false, MT_DIRTY_VGA), -EINVAL, "r1");
    mt_rec_free(&L);
}

static void edits_that_change_nothing(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *d = mt_test_io(e, e->O2, "d", 0x100);
    assert_int_equal(mt_region_set_enabled(d, false), 0);
    mt_test_map(e->C, 0x8000, d);
    mt_region *r = mt_test_ram_at(e, 0, "r", 0x1000);
    mt_region *a = mt_test_alias(e, e->O2, "a", r, 0x100, 0x100);
    mt_test_map(e->C, 0x4000, a);
    mt_rec L;
    rec_listen(&L, e->X);
    uint64_t renders = mt_test_renders(e->ctx);
    assert_int_equal(mt_region_set_enabled(d, false), 0);
    assert_int_equal(mt_region_set_size(r, 0x1000), 0);
    assert_int_equal(mt_region_set_alias_offset(a, 0x100), 0);
    assert_int_equal(mt_region_set_readonly(r, false), 0);
    assert_int_equal(mt_region_set_address(r, 0), 0);
    mt_rec_check(&L, "");
    assert_int_equal(mt_test_renders(e->ctx), renders);
    mt_rec_free(&L);
}

static void destroying_an_address_space(void **state)
{
    mt_test_env *e = *state;
    mt_rec L;
    std_with_two_rams(e, &L);
    mt_test_as_destroy(e, e->X);
    mt_rec_check(&L, "begin del(r1@0) del(r2@2000) commit");
    mt_test_ram_at(e, 0x4000, "r3", 0x1000);
    mt_rec_check(&L, "");
    mt_listener_unregister(&L.l); /* a no-op now */
    mt_rec_check(&L, "");
}

MT_TEST_MAIN(
    MT_TEST(set_address_reorders),
    MT_TEST(target_moves_view_unchanged),
    MT_TEST(romd_switch_is_del_add),
    MT_TEST(nested_transactions_commit_once),
    MT_TEST(map_unmap_in_one_transaction),
    MT_TEST(two_pass_diff_order),
    MT_TEST(priorities_and_directions),
    MT_TEST(test_replay),
    MT_TEST(dirty_mask_change_is_nop_plus_log),
    MT_TEST(edits_that_change_nothing),
    MT_TEST(destroying_an_address_space))
