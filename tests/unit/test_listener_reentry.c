/*
 * What a listener callback may and may not do (docs/threads.md): commits
 * it makes during a commit, a registration replay or a dirty-log request
 * are processed once those calls end; registering or unregistering a
 * listener, or reclaiming, from inside them is refused with a report.
 */
#include "mt_mirror.h"
#include "mt_test.h"

#include <errno.h>

struct probe {
    mt_mirror m;            /* first: callbacks cast back */
    mt_test_env *e;
    mt_region *moving;      /* moved by region_add of `trigger` */
    mt_region *trigger;
    mt_listener other;
    int register_rc, reclaim_rc;
    bool tried;
};

static void on_add(mt_mirror *m, const mt_section *s)
{
    struct probe *p = (struct probe *)m;
    if (s->region != p->trigger)
        return;
    /* an edit that commits: processed after these calls */
    uint64_t before = mt_region_addr(p->moving);
    if (mt_region_set_address(p->moving, before == 0x8000 ? 0x9000 : 0x8000) != 0)
        mt_note_fail(m->failure, sizeof(m->failure), "set_address failed");
    if (!p->tried) {
        p->tried = true;
        p->register_rc = mt_listener_register(&p->other, p->e->X);
        p->reclaim_rc = mt_context_reclaim(p->e->ctx);
        mt_listener_unregister(&m->l); /* refused: stays registered */
    }
}

static void test_callbacks_commit_later_and_cannot_relist(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    struct probe p = {.e = e};
    p.moving = mt_test_ram(e, e->O2, "moving", 0x1000);
    p.trigger = mt_test_ram(e, e->O2, "trigger", 0x1000);
    mt_test_map(e->C, 0x8000, p.moving);
    mt_test_map(e->C, 0x1000, p.trigger);
    mt_mirror_init(&p.m);
    p.m.on_add = on_add;

    /* the registration replay sends region_add(trigger): its commit runs
     * after the replay, and this listener hears of it as a diff */
    unsigned before = e->diag.count;
    assert_int_equal(mt_listener_register(&p.m.l, e->X), 0);
    assert_int_equal(p.register_rc, -EBUSY);
    assert_int_equal(p.reclaim_rc, -EBUSY);
    assert_int_equal(e->diag.count, before + 3); /* each refusal reported */
    assert_ptr_equal(p.m.l.as_, e->X);           /* still registered */
    assert_null(p.other.as_);
    assert_int_equal(mt_region_addr(p.moving), 0x9000);
    if (p.m.failure[0])
        fail_msg("%s", p.m.failure);
    char why[256] = "";
    if (!mt_mirror_matches(&p.m, mt_address_space_view(e->X), why, sizeof(why)))
        fail_msg("after the replay: %s", why);

    /* during a commit: unmapping and mapping the trigger again */
    for (int i = 0; i < 100; i++) {
        mt_test_unmap(e->C, p.trigger);
        mt_test_map(e->C, 0x1000, p.trigger);
        if (p.m.failure[0])
            fail_msg("round %d: %s", i, p.m.failure);
        assert_int_equal(mt_region_addr(p.moving), i % 2 ? 0x9000 : 0x8000);
        if (!mt_mirror_matches(&p.m, mt_address_space_view(e->X), why, sizeof(why)))
            fail_msg("round %d: %s", i, why);
    }
    assert_int_equal(p.m.depth, 0);
    mt_listener_unregister(&p.m.l);
    assert_null(p.m.l.as_);
}

MT_TEST_MAIN(
    MT_TEST(test_callbacks_commit_later_and_cannot_relist))
