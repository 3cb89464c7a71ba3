/*
 * Eventfds in O(change) (docs/listeners.md, "Listeners"): when no region's
 * eventfds changed, a commit reads only the chunks the new view does not
 * share with the old one, and sends the difference of those. Views here
 * have thousands of ranges (many chunks), so most commits share most
 * chunks; the same random edits go to a context in the default mode and
 * to one in MT_RENDER_FULL, whose commits collect every eventfd of every
 * range, and the two listener logs must be equal, call for call.
 *
 * Edits: overlapping regions moved, enabled and disabled over a row of
 * MMIO regions that carry eventfds; eventfds added and removed; several
 * edits in one transaction; and a listener callback that adds or removes
 * an eventfd on a region far from what the commit changed (its chunk is
 * shared), during the commit.
 *
 * A commit that changed eventfds reads again only where the changed
 * regions show. So a bus of MMIO regions with eventfds also shows through
 * a window (an alias of part of the bus), a window onto the window (an
 * alias of an alias), and its own address space (another flat-root);
 * eventfds come and go on its regions, regions are disabled, and the
 * windows move and slide (alias offsets).
 *
 * A reader holds the first view of the default side throughout, so the
 * views of its lineage wait for it.
 *
 * MT_FD_SEEDS (default 3) runs of STEPS steps each; a longer run:
 * MT_FD_SEEDS=200 build/plain/tests/test_eventfd_chunks.
 */
#include "mt_test.h"

#include "view_chunks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW 1500    /* MMIO regions side by side: about six chunks */
#define MOVERS 6    /* overlapping regions moved over them */
#define PAGE 0x1000u
#define STEPS 400
#define BUS 700     /* the bus's regions: about three chunks */
#define BUS_AT 0x10000000u
#define WINDOW_AT 0x20000000u
#define WINDOW2_AT 0x30000000u

struct side {
    mt_context *ctx;
    mt_region row[ROW], movers[MOVERS];
    mt_region bus[BUS], window, window2; /* bus[0] is the bus container */
    mt_address_space *as, *bus_as;
    mt_listener plain, nops; /* one without region_nop, one with */
    mt_listener bus_plain;   /* on bus_as */
    mt_event_notifier notifier;
    int callback_target; /* the region whose eventfd the callback toggles */
    mt_test_diag diag;   /* the refused deletes, out of the test's output */
    mt_test_log log;
};

static struct side sides[2];

#define say(s, ...) mt_test_log_line(&(s)->log, __VA_ARGS__)

static struct side *side_of(mt_listener *l)
{
    return l == &sides[0].plain || l == &sides[0].nops || l == &sides[0].bus_plain ? &sides[0]
                                                                                    : &sides[1];
}

static const char *who(mt_listener *l)
{
    struct side *s = side_of(l);
    return l == &s->plain ? "plain" : l == &s->nops ? "nops" : "bus";
}

static void on_section(mt_listener *l, const char *what, const mt_section *s)
{
    say(side_of(l), "%s %s %s %llx-%llx", who(l), what, mt_region_name(s->region),
        (unsigned long long)s->start, (unsigned long long)s->last);
}

/* Removes the eventfd at `offset` of `r`, or adds it if it has none. */
static void toggle_eventfd(struct side *s, mt_region *r, uint64_t offset)
{
    if (mt_region_del_eventfd(r, offset, 0, false, 0, &s->notifier) == -ENOENT)
        assert_int_equal(mt_region_add_eventfd(r, offset, 0, false, 0, &s->notifier), 0);
}

/* A mover appearing makes the callback edit the eventfds of a region in a
 * chunk the commit did not change: the next commit's work, which the
 * reference also collects now. */
static void on_add(mt_listener *l, const mt_section *s)
{
    on_section(l, "add", s);
    struct side *sd = side_of(l);
    if (l != &sd->plain || strcmp(mt_region_name(s->region), "mover") != 0 ||
        sd->callback_target < 0)
        return;
    toggle_eventfd(sd, &sd->row[sd->callback_target], 0x10);
    sd->callback_target = -1;
}

static void on_del(mt_listener *l, const mt_section *s) { on_section(l, "del", s); }
static void on_nop(mt_listener *l, const mt_section *s) { on_section(l, "nop", s); }

static void on_fd(mt_listener *l, const char *what, uint64_t addr, unsigned size, bool match,
                  uint64_t data)
{
    say(side_of(l), "%s %s %llx/%u m%d d%llx", who(l), what, (unsigned long long)addr, size,
        match, (unsigned long long)data);
}
static void on_fd_add(mt_listener *l, uint64_t addr, unsigned size, bool match, uint64_t data,
                      mt_event_notifier *e)
{
    (void)e;
    on_fd(l, "fd_add", addr, size, match, data);
}
static void on_fd_del(mt_listener *l, uint64_t addr, unsigned size, bool match, uint64_t data,
                      mt_event_notifier *e)
{
    (void)e;
    on_fd(l, "fd_del", addr, size, match, data);
}

static void signal_nothing(mt_event_notifier *e)
{
    (void)e;
}

static void side_build(struct side *s, bool full)
{
    memset(s, 0, sizeof(*s));
    s->ctx = mt_context_new();
    assert_non_null(s->ctx);
    if (full)
        assert_int_equal(mt_context_set_render_mode(s->ctx, MT_RENDER_FULL), 0);
    mt_test_diag_install(s->ctx, &s->diag);
    s->notifier.signal = signal_nothing;
    s->callback_target = -1;
    mt_region *root = &s->row[0];
    assert_int_equal(mt_region_init_container(root, s->ctx, NULL, "root", UINT64_MAX), 0);
    mt_transaction_begin(s->ctx);
    for (int i = 1; i < ROW; i++) {
        assert_int_equal(mt_region_init_io(&s->row[i], s->ctx, NULL, NULL, NULL, "io", PAGE), 0);
        assert_int_equal(mt_region_add_subregion(root, (uint64_t)i * PAGE, &s->row[i]), 0);
        if (i % 7 == 0)
            assert_int_equal(mt_region_add_eventfd(&s->row[i], 0x40, 4, i % 2, i & 0xff,
                                                   &s->notifier), 0);
    }
    for (int m = 0; m < MOVERS; m++) {
        mt_region *r = &s->movers[m];
        assert_int_equal(mt_region_init_io(r, s->ctx, NULL, NULL, NULL, "mover", 3 * PAGE), 0);
        /* the movers' own eventfds come and go with them */
        assert_int_equal(mt_region_add_eventfd(r, PAGE + 8, 2, true, (uint64_t)m, &s->notifier),
                         0);
        assert_int_equal(mt_region_add_subregion_overlap(root, (uint64_t)(m * 200 + 5) * PAGE,
                                                         r, 1), 0);
    }
    /* the bus, its window, and the window's window */
    mt_region *bus = &s->bus[0];
    assert_int_equal(mt_region_init_container(bus, s->ctx, NULL, "bus", BUS * PAGE), 0);
    for (int i = 1; i < BUS; i++) {
        assert_int_equal(mt_region_init_io(&s->bus[i], s->ctx, NULL, NULL, NULL, "dev", PAGE),
                         0);
        assert_int_equal(mt_region_add_subregion(bus, (uint64_t)i * PAGE, &s->bus[i]), 0);
        if (i % 5 == 0)
            assert_int_equal(mt_region_add_eventfd(&s->bus[i], 0x20, 0, false, 0,
                                                   &s->notifier), 0);
    }
    assert_int_equal(mt_region_add_subregion(root, BUS_AT, bus), 0);
    assert_int_equal(mt_region_init_alias(&s->window, s->ctx, NULL, "window", bus, 100 * PAGE,
                                          300 * PAGE), 0);
    assert_int_equal(mt_region_add_subregion(root, WINDOW_AT, &s->window), 0);
    assert_int_equal(mt_region_init_alias(&s->window2, s->ctx, NULL, "window2", &s->window,
                                          50 * PAGE, 100 * PAGE), 0);
    assert_int_equal(mt_region_add_subregion(root, WINDOW2_AT, &s->window2), 0);
    mt_transaction_commit(s->ctx);
    s->as = mt_address_space_new(s->ctx, root, "as");
    assert_non_null(s->as);
    s->bus_as = mt_address_space_new(s->ctx, bus, "bus");
    assert_non_null(s->bus_as);
    s->bus_plain.region_add = on_add;
    s->bus_plain.region_del = on_del;
    s->bus_plain.eventfd_add = on_fd_add;
    s->bus_plain.eventfd_del = on_fd_del;
    assert_int_equal(mt_listener_register(&s->bus_plain, s->bus_as), 0);
    mt_listener *ls[2] = {&s->plain, &s->nops};
    for (int k = 0; k < 2; k++) {
        ls[k]->region_add = on_add;
        ls[k]->region_del = on_del;
        ls[k]->region_nop = k ? on_nop : NULL;
        ls[k]->eventfd_add = on_fd_add;
        ls[k]->eventfd_del = on_fd_del;
        ls[k]->priority = k;
        assert_int_equal(mt_listener_register(ls[k], s->as), 0);
    }
}

static void side_free(struct side *s)
{
    mt_listener_unregister(&s->plain);
    mt_listener_unregister(&s->nops);
    mt_listener_unregister(&s->bus_plain);
    assert_int_equal(mt_address_space_destroy(s->as), 0);
    assert_int_equal(mt_address_space_destroy(s->bus_as), 0);
    assert_int_equal(mt_context_reclaim(s->ctx), 0);
    assert_int_equal(mt_region_finalize(&s->window2), 0);
    assert_int_equal(mt_region_finalize(&s->window), 0);
    for (int i = BUS - 1; i >= 0; i--)
        assert_int_equal(mt_region_finalize(&s->bus[i]), 0);
    for (int m = 0; m < MOVERS; m++)
        assert_int_equal(mt_region_finalize(&s->movers[m]), 0);
    for (int i = ROW - 1; i >= 0; i--)
        assert_int_equal(mt_region_finalize(&s->row[i]), 0);
    mt_context_free(s->ctx);
    mt_test_log_free(&s->log);
}

static uint64_t rng;

static unsigned pick(unsigned n)
{
    return (unsigned)(mt_test_xorshift(&rng) % n);
}

/* One edit, drawn once and applied to both sides. */
static void edit(void)
{
    unsigned op = pick(14), m = pick(MOVERS), i = 1 + pick(ROW - 1), b = 1 + pick(BUS - 1);
    uint64_t slide = pick(200) * PAGE, fd_at = 0x20 + 8 * pick(3);
    bool slide_window = pick(2);
    uint64_t at = (uint64_t)(1 + pick(ROW - 3)) * PAGE;
    int target = (int)(1 + pick(ROW - 1));
    for (int k = 0; k < 2; k++) {
        struct side *s = &sides[k];
        mt_region *mover = &s->movers[m];
        switch (op) {
        case 0: case 1: case 2: case 3:
            assert_int_equal(mt_region_set_address(mover, at), 0);
            break;
        case 4:
            assert_int_equal(mt_region_set_enabled(mover, !mt_region_enabled(mover)), 0);
            break;
        case 5:
            assert_int_equal(mt_region_set_enabled(&s->row[i], !mt_region_enabled(&s->row[i])),
                             0);
            break;
        case 6:
            toggle_eventfd(s, &s->row[i], 0x80);
            break;
        case 10:
        case 11:
            toggle_eventfd(s, &s->bus[b], fd_at);
            break;
        case 12:
            assert_int_equal(mt_region_set_enabled(&s->bus[b], !mt_region_enabled(&s->bus[b])),
                             0);
            break;
        case 13:
            if (slide_window)
                assert_int_equal(mt_region_set_alias_offset(&s->window, slide), 0);
            else
                assert_int_equal(mt_region_set_address(&s->window2, WINDOW2_AT + slide), 0);
            break;
        case 7:
            /* the next mover to appear edits a far region's eventfds */
            s->callback_target = target;
            assert_int_equal(mt_region_set_enabled(mover, false), 0);
            assert_int_equal(mt_region_set_enabled(mover, true), 0);
            break;
        default:
            assert_int_equal(mt_region_set_address(mover, at), 0);
            assert_int_equal(mt_region_set_address(&s->movers[(m + 1) % MOVERS],
                                                   at + 64 * PAGE), 0);
            break;
        }
    }
}

static void compare(int step)
{
    struct side *a = &sides[0], *b = &sides[1];
    if (strcmp(mt_test_log_text(&a->log), mt_test_log_text(&b->log)) != 0)
        fail_msg("step %d: listener logs differ\n--- incremental:\n%s--- reference:\n%s", step,
                 mt_test_log_text(&a->log), mt_test_log_text(&b->log));
    assert_int_equal(mt_view_range_count(mt_address_space_view(a->as)),
                     mt_view_range_count(mt_address_space_view(b->as)));
    mt_test_log_clear(&a->log);
    mt_test_log_clear(&b->log);
}

static void eventfds_of_changed_chunks_equal_reference(void **state)
{
    (void)state;
    uint64_t seeds = mt_test_env_u64("MT_FD_SEEDS", 3);
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull | 1;
        side_build(&sides[0], false);
        mt_test_limit_parts(sides[0].ctx, mt_test_parts_for_seed(seed));
        side_build(&sides[1], true);
        compare(0);
        /* a reader holds the first view of the default side throughout:
         * the later views of its lineage wait for it (view.c), which
         * nothing may show */
        mt_view *held = mt_address_space_view(sides[0].as);
        assert_true(mt_view_ref(held));
        assert_true(mt_view_range_count(mt_address_space_view(sides[0].as)) > 4 * 256);
        for (int step = 1; step <= STEPS; step++) {
            bool txn = pick(4) == 0;
            if (txn) {
                mt_transaction_begin(sides[0].ctx);
                mt_transaction_begin(sides[1].ctx);
            }
            for (unsigned k = txn ? 1 + pick(4) : 1; k > 0; k--)
                edit();
            if (txn) {
                mt_transaction_commit(sides[0].ctx);
                mt_transaction_commit(sides[1].ctx);
            }
            compare(step);
            if (step % 16 == 0) {
                assert_int_equal(mt_context_reclaim(sides[0].ctx), 0);
                assert_int_equal(mt_context_reclaim(sides[1].ctx), 0);
            }
        }
        mt_view_unref(held);
        side_free(&sides[0]);
        side_free(&sides[1]);
    }
}

MT_TEST_MAIN(cmocka_unit_test(eventfds_of_changed_chunks_equal_reference))
