/*
 * Bug: a commit compared an address space's eventfds only over the chunks
 * its new view did not share with the old one, assuming no region's
 * eventfds had changed unless the commit said so; but an eventfd added to
 * a region disabled in the same transaction did not say so (a disabled
 * region's eventfds were taken not to be in any view), while the old view
 * still showed that region. The eventfd was counted as gone from the old
 * view without ever having been in the kept set: listeners got an
 * eventfd_del for an eventfd they were never given, and the kept set was
 * written past its end (found by tests/unit/test_eventfd_chunks.c with
 * more seeds, where a listener callback made the edit). Fixed by counting
 * every change of any region's eventfds (src/eventfd.c, src/listener.c).
 */
#include "mt_test.h"

#include <stdio.h>
#include <string.h>

#define ROW 600 /* a few chunks of ranges */
#define PAGE 0x1000u

struct fds {
    mt_listener l; /* first: callbacks cast back */
    char log[512];
};

static void say(mt_listener *l, const char *what, uint64_t addr)
{
    struct fds *f = (struct fds *)l;
    size_t len = strlen(f->log);
    snprintf(f->log + len, sizeof(f->log) - len, "%s@%llx ", what, (unsigned long long)addr);
}

static void on_add(mt_listener *l, uint64_t addr, unsigned size, bool match, uint64_t data,
                   mt_event_notifier *e)
{
    (void)size, (void)match, (void)data, (void)e;
    say(l, "add", addr);
}

static void on_del(mt_listener *l, uint64_t addr, unsigned size, bool match, uint64_t data,
                   mt_event_notifier *e)
{
    (void)size, (void)match, (void)data, (void)e;
    say(l, "del", addr);
}

static void signal_nothing(mt_event_notifier *e)
{
    (void)e;
}

static void eventfd_added_while_disabled(void **state)
{
    mt_test_env *e = *state;
    mt_region *root = mt_test_container(e, NULL, "root", UINT64_MAX);
    mt_region *row[ROW];
    for (int i = 0; i < ROW; i++) {
        row[i] = mt_test_io(e, NULL, "io", PAGE);
        mt_test_map(root, (uint64_t)i * PAGE, row[i]);
    }
    mt_address_space *as = mt_test_as(e, root, "as");
    struct fds f = {.l = {.eventfd_add = on_add, .eventfd_del = on_del}};
    assert_int_equal(mt_listener_register(&f.l, as), 0);
    mt_event_notifier n = {signal_nothing};
    mt_region *r = row[ROW / 2];

    /* disabled, then given an eventfd, in one commit: nothing to tell */
    mt_transaction_begin(e->ctx);
    assert_int_equal(mt_region_set_enabled(r, false), 0);
    assert_int_equal(mt_region_add_eventfd(r, 0x10, 4, false, 0, &n), 0);
    mt_transaction_commit(e->ctx);
    assert_string_equal(f.log, "");

    /* enabled again: the eventfd comes with it, once */
    assert_int_equal(mt_region_set_enabled(r, true), 0);
    char want[64];
    snprintf(want, sizeof(want), "add@%llx ", (unsigned long long)(ROW / 2 * PAGE + 0x10));
    assert_string_equal(f.log, want);
    mt_listener_unregister(&f.l);
}

MT_TEST_MAIN(MT_TEST(eventfd_added_while_disabled))
