/*
 * IOMMU regions beyond translation (docs/access.md, "IOMMUs"): the number of
 * indexes, the minimum page size, and map/unmap notifiers. Every rule and
 * every error of the header's "IOMMU regions" section: event types against
 * flags, index and range filtering, clipping on partial overlap, delivery
 * order, registration through aliases, unregistration, callbacks that try
 * to edit the lists, and the lifetime rules (finalisation refused, owner
 * teardown detaches).
 */
#include "mt_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the IOMMU model: a few knobs, no translation anyone reads ------------------------ */

struct model {
    int indexes;        /* what num_indexes answers */
    uint64_t min_page;  /* what min_page_size answers */
};

static mt_iommu_tlb_entry model_translate(void *opaque, uint64_t offset, mt_iommu_perm access,
                                          int index)
{
    (void)opaque, (void)access, (void)index;
    return (mt_iommu_tlb_entry){.iova = offset & ~0xfffull, .addr_mask = 0xfff,
                                .perm = MT_IOMMU_NONE};
}

static int model_indexes(void *opaque)
{
    return ((struct model *)opaque)->indexes;
}

static uint64_t model_min_page(void *opaque)
{
    return ((struct model *)opaque)->min_page;
}

/* No optional callback: one index, the context's page size. */
static const mt_iommu_ops plain_ops = {.translate = model_translate};
static const mt_iommu_ops model_ops = {.translate = model_translate,
                                       .num_indexes = model_indexes,
                                       .min_page_size = model_min_page};

/* ---- regions this file makes itself, so it can finalise them when it wants ------------- */

#define MAX_KIT 16
static mt_region *kit[MAX_KIT];
static unsigned nr_kit;

static mt_region *kit_track(mt_region *r)
{
    assert_true(nr_kit < MAX_KIT);
    kit[nr_kit++] = r;
    return r;
}

static void kit_forget(mt_region *r)
{
    for (unsigned i = 0; i < nr_kit; i++) {
        if (kit[i] == r) {
            memmove(&kit[i], &kit[i + 1], (nr_kit - i - 1) * sizeof(kit[0]));
            nr_kit--;
            return;
        }
    }
    fail_msg("region %p is not in the kit", (void *)r);
}

static mt_region *iommu_new(mt_test_env *e, mt_owner *o, const mt_iommu_ops *ops,
                            void *opaque, const char *name, uint64_t size)
{
    mt_region *r = mt_region_alloc();
    assert_int_equal(mt_region_init_iommu(r, e->ctx, o, ops, opaque, name, size), 0);
    return kit_track(r);
}

static mt_region *alias_new(mt_test_env *e, mt_owner *o, const char *name, mt_region *target,
                            uint64_t offset, uint64_t size)
{
    mt_region *r = mt_region_alloc();
    assert_int_equal(mt_region_init_alias(r, e->ctx, o, name, target, offset, size), 0);
    return kit_track(r);
}

/* Newest first, so aliases go before their targets. */
static void kit_release(mt_test_env *e)
{
    while (nr_kit) {
        mt_region *r = kit[--nr_kit];
        int rc = mt_region_finalize(r);
        if (rc != 0)
            fail_msg("finalising a kit region: %s (%s)", mt_strerror(rc), e->diag.last);
    }
}

/* ---- notifiers that record what they hear ------------------------------------------- */

/* Every call, in order, as "name:map 2000+fff>7000 " (UNMAP: "unmap"). */
static char heard_log[2048];

typedef struct ear {
    mt_iommu_notifier n; /* first, so the callback can cast back */
    const char *name;
    unsigned calls;
    mt_iommu_event last;
} ear;

static void ear_heard(mt_iommu_notifier *n, const mt_iommu_event *ev)
{
    ear *x = (ear *)n;
    x->calls++;
    x->last = *ev;
    size_t len = strlen(heard_log);
    snprintf(heard_log + len, sizeof(heard_log) - len, "%s:%s %llx+%llx>%llx ", x->name,
             ev->type == MT_IOMMU_NOTIFY_MAP ? "map" : "unmap",
             (unsigned long long)ev->entry.iova, (unsigned long long)ev->entry.addr_mask,
             (unsigned long long)ev->entry.translated_addr);
}

static void ear_init(ear *x, const char *name, unsigned flags, uint64_t start, uint64_t last,
                     int index)
{
    memset(x, 0x5c, sizeof(*x)); /* init must not depend on zeroed storage */
    mt_iommu_notifier_init(&x->n, ear_heard, flags, start, last, index);
    x->name = name;
    x->calls = 0;
    memset(&x->last, 0, sizeof(x->last));
}

/* ear_init, then registered on `io`, which must accept it. */
static void ear_listen(ear *x, mt_region *io, const char *name, unsigned flags, uint64_t start,
                       uint64_t last, int index)
{
    ear_init(x, name, flags, start, last, index);
    assert_int_equal(mt_iommu_notifier_register(io, &x->n), 0);
}

/* Unregisters `x`, which must succeed. */
static void ear_stop(ear *x)
{
    assert_int_equal(mt_iommu_notifier_unregister(&x->n), 0);
}

#define assert_heard(expected)                                                 \
    do {                                                                       \
        if (strcmp(heard_log, (expected)) != 0)                                \
            fail_msg("notifiers: got \"%s\", expected \"%s\"", heard_log, (expected)); \
        heard_log[0] = 0;                                                      \
    } while (0)

static mt_iommu_event map_event(uint64_t iova, uint64_t mask, uint64_t translated)
{
    return (mt_iommu_event){.type = MT_IOMMU_NOTIFY_MAP,
                            .entry = {.iova = iova, .addr_mask = mask,
                                      .translated_addr = translated, .perm = MT_IOMMU_RW}};
}

static mt_iommu_event unmap_event(uint64_t iova, uint64_t mask)
{
    return (mt_iommu_event){.type = MT_IOMMU_NOTIFY_UNMAP,
                            .entry = {.iova = iova, .addr_mask = mask,
                                      .perm = MT_IOMMU_NONE}};
}

static int fire(mt_region *r, int index, mt_iommu_event ev)
{
    return mt_iommu_notify(r, index, &ev);
}

static int setup(void **state)
{
    heard_log[0] = 0;
    nr_kit = 0;
    return mt_test_setup(state);
}

/* The kit's regions go first: the environment's teardown checks that no
 * region is left. */
static int teardown(void **state)
{
    kit_release(*state);
    return mt_test_teardown(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- num_indexes and the minimum page size ------------------------------------------- */

static void num_indexes_from_ops_or_one(void **state)
{
    mt_test_env *e = *state;
    struct model m = {.indexes = 3};
    mt_region *plain = iommu_new(e, e->O2, &plain_ops, NULL, "plain", 0x10000);
    mt_region *multi = iommu_new(e, e->O2, &model_ops, &m, "multi", 0x10000);
    mt_region *a1 = alias_new(e, e->O2, "a1", multi, 0, 0x10000);
    mt_region *a2 = alias_new(e, e->O2, "a2", a1, 0x1000, 0x1000);

    assert_int_equal(mt_iommu_num_indexes(plain), 1);
    assert_int_equal(mt_iommu_num_indexes(multi), 3);
    assert_int_equal(mt_iommu_num_indexes(a2), 3); /* through two aliases */
    assert_int_equal(e->diag.count, 0);

    m.indexes = 0;
    mt_assert_refused(e, mt_iommu_num_indexes(multi), -EINVAL, "multi");
}

static void num_indexes_of_other_regions(void **state)
{
    mt_test_env *e = *state;
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_region *c = mt_test_container(e, e->O2, "box", 0x1000);
    mt_region *a = alias_new(e, e->O2, "ram-alias", ram, 0, 0x1000);

    mt_assert_refused(e, mt_iommu_num_indexes(ram), -EINVAL, "ram");
    mt_assert_refused(e, mt_iommu_num_indexes(c), -EINVAL, "box");
    /* the message also says where the chain ends */
    mt_assert_refused(e, mt_iommu_num_indexes(a), -EINVAL, "ram-alias");
    mt_assert_contains(e->diag.last, "ends at 'ram'");
    assert_int_equal(mt_iommu_num_indexes(NULL), -EINVAL); /* no context: stderr */
}

static void min_page_size_from_ops_or_context(void **state)
{
    mt_test_env *e = *state;
    struct model m = {.indexes = 1, .min_page = 0x1000};
    mt_region *plain = iommu_new(e, e->O2, &plain_ops, NULL, "plain", 0x10000);
    mt_region *own = iommu_new(e, e->O2, &model_ops, &m, "own", 0x10000);
    mt_region *a = alias_new(e, e->O2, "own-alias", own, 0, 0x10000);

    assert_int_equal(mt_iommu_min_page_size(plain), 4096);
    assert_int_equal(mt_context_set_page_size(e->ctx, 0x10000), 0);
    assert_int_equal(mt_iommu_min_page_size(plain), 0x10000); /* follows the context */
    assert_int_equal(mt_iommu_min_page_size(own), 0x1000);    /* the model's wins */
    assert_int_equal(mt_iommu_min_page_size(a), 0x1000);
    m.min_page = 1;
    assert_int_equal(mt_iommu_min_page_size(own), 1);
    assert_int_equal(e->diag.count, 0);

    m.min_page = 0x1800;
    mt_assert_refused(e, mt_iommu_min_page_size(own), 0, "own");
    m.min_page = 0;
    mt_assert_refused(e, mt_iommu_min_page_size(a), 0, "own");

    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_assert_refused(e, mt_iommu_min_page_size(ram), 0, "ram");
}

/* ---- delivery: types, indexes, ranges, order ----------------------------------------- */

static void events_go_to_the_notifiers_of_their_type(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x100000);
    ear map, unmap, both;
    ear_listen(&map, io, "M", MT_IOMMU_NOTIFY_MAP, 0, 0xfffff, 0);
    ear_listen(&unmap, io, "U", MT_IOMMU_NOTIFY_UNMAP, 0, 0xfffff, 0);
    ear_listen(&both, io, "B", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xfffff, 0);

    assert_int_equal(fire(io, 0, map_event(0x2000, 0xfff, 0x7000)), 2);
    assert_heard("M:map 2000+fff>7000 B:map 2000+fff>7000 ");
    /* an event inside the range arrives as fired */
    assert_int_equal(map.last.entry.perm, MT_IOMMU_RW);
    assert_int_equal(map.last.entry.iova, 0x2000);
    assert_int_equal(fire(io, 0, unmap_event(0x2000, 0xfff)), 2);
    assert_heard("U:unmap 2000+fff>0 B:unmap 2000+fff>0 ");
    assert_int_equal(unmap.last.entry.perm, MT_IOMMU_NONE);
    assert_int_equal(map.calls + unmap.calls + both.calls, 4);
    assert_int_equal(e->diag.count, 0);

    ear_stop(&map);
    ear_stop(&unmap);
    ear_stop(&both);
}

static void events_go_to_the_notifiers_of_their_index(void **state)
{
    mt_test_env *e = *state;
    struct model m = {.indexes = 2};
    mt_region *io = iommu_new(e, e->O2, &model_ops, &m, "io", 0x100000);
    ear i0, i1;
    ear_listen(&i0, io, "I0", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xfffff, 0);
    ear_listen(&i1, io, "I1", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xfffff, 1);

    assert_int_equal(fire(io, 1, map_event(0x1000, 0xfff, 0x1000)), 1);
    assert_heard("I1:map 1000+fff>1000 ");
    assert_int_equal(fire(io, 0, unmap_event(0x1000, 0xfff)), 1);
    assert_heard("I0:unmap 1000+fff>0 ");

    /* indexes past num_indexes are refused, even with no notifier there */
    mt_assert_refused(e, fire(io, 2, map_event(0x1000, 0xfff, 0)), -EINVAL, "io");
    mt_assert_refused(e, fire(io, -1, map_event(0x1000, 0xfff, 0)), -EINVAL, "io");
    assert_heard("");

    ear_stop(&i0);
    ear_stop(&i1);
}

static void events_are_clipped_to_the_notifier_range(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x100000);
    ear r;
    ear_listen(&r, io, "R", MT_IOMMU_NOTIFY_MAP_UNMAP, 0x2000, 0x4fff, 0);

    /* outside, just before and just after */
    assert_int_equal(fire(io, 0, map_event(0x1000, 0xfff, 0x9000)), 0);
    assert_int_equal(fire(io, 0, map_event(0x5000, 0xfff, 0x9000)), 0);
    assert_heard("");
    /* inside, at both edges: unchanged */
    assert_int_equal(fire(io, 0, map_event(0x2000, 0xfff, 0x9000)), 1);
    assert_int_equal(fire(io, 0, map_event(0x4000, 0xfff, 0x9000)), 1);
    assert_heard("R:map 2000+fff>9000 R:map 4000+fff>9000 ");
    /* covering the whole range: clipped on both sides, the translation
     * moved on as much as iova, and 0x2fff is no page mask any more */
    assert_int_equal(fire(io, 0, map_event(0, 0xffff, 0x100000)), 1);
    assert_heard("R:map 2000+2fff>102000 ");
    /* overlapping the end of the range only */
    assert_int_equal(fire(io, 0, map_event(0x4000, 0x3fff, 0x40000)), 1);
    assert_heard("R:map 4000+fff>40000 ");
    /* overlapping the start only */
    assert_int_equal(fire(io, 0, unmap_event(0, 0x3fff)), 1);
    assert_heard("R:unmap 2000+1fff>0 ");
    /* "invalidate everything": past the region's end is fine */
    assert_int_equal(fire(io, 0, unmap_event(0, UINT64_MAX)), 1);
    assert_heard("R:unmap 2000+2fff>0 ");
    assert_int_equal(r.last.type, MT_IOMMU_NOTIFY_UNMAP);
    assert_int_equal(r.last.entry.perm, MT_IOMMU_NONE);
    assert_int_equal(e->diag.count, 0);

    ear_stop(&r);
}

static void notifier_ranges_reach_the_end_of_2_64_regions(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", UINT64_MAX);
    ear top, all;
    ear_listen(&top, io, "T", MT_IOMMU_NOTIFY_MAP, UINT64_MAX - 0xfff, UINT64_MAX, 0);
    ear_listen(&all, io, "A", MT_IOMMU_NOTIFY_MAP, 0, UINT64_MAX, 0);
    assert_int_equal(fire(io, 0, map_event(UINT64_MAX - 0xfff, 0xfff, 0x3000)), 2);
    assert_heard("T:map fffffffffffff000+fff>3000 A:map fffffffffffff000+fff>3000 ");
    assert_int_equal(fire(io, 0, map_event(0, UINT64_MAX, 0)), 2);
    assert_heard("T:map fffffffffffff000+fff>fffffffffffff000 A:map 0+ffffffffffffffff>0 ");
    ear_stop(&top);
    ear_stop(&all);
}

static void delivery_follows_registration_order(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    mt_region *other = iommu_new(e, e->O2, &plain_ops, NULL, "other", 0x10000);
    ear a, b, c, elsewhere;
    ear_listen(&a, io, "a", MT_IOMMU_NOTIFY_MAP, 0, 0xffff, 0);
    ear_listen(&elsewhere, other, "x", MT_IOMMU_NOTIFY_MAP, 0, 0xffff, 0);
    ear_listen(&b, io, "b", MT_IOMMU_NOTIFY_MAP, 0, 0xffff, 0);
    ear_listen(&c, io, "c", MT_IOMMU_NOTIFY_MAP, 0, 0xffff, 0);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 3);
    assert_heard("a:map 0+fff>0 b:map 0+fff>0 c:map 0+fff>0 ");

    /* out of the middle, then back in: last */
    ear_stop(&b);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 2);
    assert_heard("a:map 0+fff>0 c:map 0+fff>0 ");
    assert_int_equal(mt_iommu_notifier_register(io, &b.n), 0);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 3);
    assert_heard("a:map 0+fff>0 c:map 0+fff>0 b:map 0+fff>0 ");
    /* the other region's list is its own */
    assert_int_equal(fire(other, 0, map_event(0, 0xfff, 0)), 1);
    assert_heard("x:map 0+fff>0 ");

    ear_stop(&a);
    ear_stop(&c);
    ear_stop(&b);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 0);
    ear_stop(&elsewhere);
    assert_heard("");
}

/* ---- aliases ---------------------------------------------------------------------------- */

static void registration_through_aliases_lands_on_the_iommu(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    mt_region *a1 = alias_new(e, e->O2, "a1", io, 0x8000, 0x8000);
    mt_region *a2 = alias_new(e, e->O2, "a2", a1, 0x1000, 0x1000);
    ear x;
    /* the range is in the IOMMU's offsets, not the alias's */
    ear_listen(&x, a2, "X", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xfff, 0);

    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0x5000)), 1);
    assert_heard("X:map 0+fff>5000 ");
    assert_int_equal(fire(io, 0, map_event(0x9000, 0xfff, 0x5000)), 0);
    /* firing through an alias reaches the same list */
    assert_int_equal(fire(a1, 0, unmap_event(0, 0xfff)), 1);
    assert_heard("X:unmap 0+fff>0 ");
    /* registered on the IOMMU, so a second registration through the IOMMU
     * itself or another alias is the same double registration */
    mt_assert_refused(e, mt_iommu_notifier_register(io, &x.n), -EBUSY, "io");

    /* the aliases can go; the notifier stays on the IOMMU */
    assert_int_equal(mt_region_finalize(a2), 0);
    kit_forget(a2);
    assert_int_equal(mt_region_finalize(a1), 0);
    kit_forget(a1);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 1);
    assert_heard("X:map 0+fff>0 ");
    /* and the range was checked against the IOMMU's size, not the alias's */
    ear wide;
    ear_init(&wide, "W", MT_IOMMU_NOTIFY_MAP, 0x2000, 0xffff, 0);
    mt_region *small = alias_new(e, e->O2, "small", io, 0, 0x1000);
    assert_int_equal(mt_iommu_notifier_register(small, &wide.n), 0);
    ear_stop(&wide);

    ear_stop(&x);
}

/* ---- registration errors: each reported, nothing changed ------------------------------- */

/* A refused registration left `n` unregistered. */
static void assert_unregistered(mt_iommu_notifier *n)
{
    assert_int_equal(mt_iommu_notifier_unregister(n), -ENOENT);
}

static void register_refuses_what_is_not_an_iommu(void **state)
{
    mt_test_env *e = *state;
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_region *box = mt_test_container(e, e->O2, "box", 0x1000);
    mt_region *a = alias_new(e, e->O2, "box-alias", box, 0, 0x1000);
    ear x;
    ear_init(&x, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);

    mt_assert_refused(e, mt_iommu_notifier_register(ram, &x.n), -EINVAL, "ram");
    mt_assert_refused(e, mt_iommu_notifier_register(a, &x.n), -EINVAL, "box-alias");
    mt_assert_contains(e->diag.last, "ends at 'box'");
    assert_int_equal(mt_iommu_notifier_register(NULL, &x.n), -EINVAL);
    assert_unregistered(&x.n);
}

static void register_refuses_bad_notifiers(void **state)
{
    mt_test_env *e = *state;
    struct model m = {.indexes = 2};
    mt_region *io = iommu_new(e, e->O2, &model_ops, &m, "io", 0x10000);
    ear ok;
    ear_listen(&ok, io, "ok", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xffff, 0);

    static const struct bad {
        const char *why;
        unsigned flags;
        uint64_t start, last;
        int index;
        bool no_callback;
    } bad[] = {
        {"no flags", 0, 0, 0xfff, 0, false},
        {"unknown flag", MT_IOMMU_NOTIFY_MAP | 4, 0, 0xfff, 0, false},
        {"start after last", MT_IOMMU_NOTIFY_MAP, 0x2000, 0x1fff, 0, false},
        {"last past the end", MT_IOMMU_NOTIFY_MAP, 0, 0x10000, 0, false},
        {"wholly past the end", MT_IOMMU_NOTIFY_MAP, 0x20000, 0x20fff, 0, false},
        {"negative index", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, -1, false},
        {"index == num_indexes", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 2, false},
        {"no callback", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0, true},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ear x;
        ear_init(&x, "bad", bad[i].flags, bad[i].start, bad[i].last, bad[i].index);
        if (bad[i].no_callback)
            x.n.notify = NULL;
        unsigned before = e->diag.count;
        int rc = mt_iommu_notifier_register(io, &x.n);
        if (rc != -EINVAL)
            fail_msg("%s: got %d", bad[i].why, rc);
        mt_assert_diag(e, before, "io");
        assert_unregistered(&x.n);
    }
    unsigned before = e->diag.count;
    assert_int_equal(mt_iommu_notifier_register(io, NULL), -EINVAL);
    mt_assert_diag(e, before, "io");
    /* a model that reports no index refuses every registration */
    ear x;
    ear_init(&x, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    m.indexes = 0;
    mt_assert_refused(e, mt_iommu_notifier_register(io, &x.n), -EINVAL, "io");
    m.indexes = 2;

    /* only `ok` is there, once */
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 1);
    assert_heard("ok:map 0+fff>0 ");
    ear_stop(&ok);
}

static void register_refuses_a_notifier_registered_already(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    mt_region *other = iommu_new(e, e->O2, &plain_ops, NULL, "other", 0x10000);
    ear x;
    ear_listen(&x, io, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);

    mt_assert_refused(e, mt_iommu_notifier_register(io, &x.n), -EBUSY, "io");
    /* on another region too: the message names where it is */
    mt_assert_refused(e, mt_iommu_notifier_register(other, &x.n), -EBUSY, "'io'");
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 1);
    assert_int_equal(fire(other, 0, map_event(0, 0xfff, 0)), 0);
    assert_heard("X:map 0+fff>0 ");

    /* once unregistered it may move */
    ear_stop(&x);
    assert_int_equal(mt_iommu_notifier_register(other, &x.n), 0);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 0);
    assert_int_equal(fire(other, 0, map_event(0, 0xfff, 0)), 1);
    assert_heard("X:map 0+fff>0 ");
    ear_stop(&x);
}

static void unregister_of_what_is_not_registered(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    ear x;
    ear_init(&x, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    unsigned before = e->diag.count;
    assert_int_equal(mt_iommu_notifier_unregister(&x.n), -ENOENT); /* never */
    assert_int_equal(mt_iommu_notifier_unregister(NULL), -ENOENT);
    assert_int_equal(mt_iommu_notifier_register(io, &x.n), 0);
    ear_stop(&x);
    assert_int_equal(mt_iommu_notifier_unregister(&x.n), -ENOENT); /* any more */
    assert_int_equal(e->diag.count, before);
    assert_int_equal(fire(io, 0, map_event(0, 0xfff, 0)), 0);
    assert_heard("");
}

/* ---- event errors --------------------------------------------------------------------- */

static void notify_refuses_bad_events(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    ear x;
    ear_listen(&x, io, "X", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xffff, 0);

    mt_iommu_event no_type = map_event(0, 0xfff, 0);
    no_type.type = MT_IOMMU_NOTIFY_NONE;
    mt_iommu_event two_types = map_event(0, 0xfff, 0);
    two_types.type = MT_IOMMU_NOTIFY_MAP_UNMAP;
    mt_iommu_event unmap_with_rights = unmap_event(0, 0xfff);
    unmap_with_rights.entry.perm = MT_IOMMU_RO;
    mt_iommu_event map_without = map_event(0, 0xfff, 0);
    map_without.entry.perm = MT_IOMMU_NONE;
    mt_iommu_event odd_perm = map_event(0, 0xfff, 0);
    odd_perm.entry.perm = (mt_iommu_perm)7;
    const struct {
        const char *why;
        mt_iommu_event ev;
    } bad[] = {
        {"type none", no_type},
        {"both types", two_types},
        {"mask with a hole", map_event(0, 0x1001, 0)},
        {"mask not low bits", map_event(0, 0xff00, 0)},
        {"iova not aligned", map_event(0x800, 0xfff, 0)},
        {"unmap with permissions", unmap_with_rights},
        {"map without permissions", map_without},
        {"unknown permissions", odd_perm},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned before = e->diag.count;
        int rc = mt_iommu_notify(io, 0, &bad[i].ev);
        if (rc != -EINVAL)
            fail_msg("%s: got %d", bad[i].why, rc);
        mt_assert_diag(e, before, "io");
    }
    unsigned before = e->diag.count;
    assert_int_equal(mt_iommu_notify(io, 0, NULL), -EINVAL);
    mt_assert_diag(e, before, "io");
    mt_region *ram = mt_test_ram(e, e->O2, "ram", 0x1000);
    mt_assert_refused(e, fire(ram, 0, map_event(0, 0xfff, 0)), -EINVAL, "ram");
    assert_int_equal(x.calls, 0);
    assert_heard("");

    /* a page of one byte (mask 0) is an event like any other */
    assert_int_equal(fire(io, 0, map_event(0x123, 0, 0x456)), 1);
    assert_heard("X:map 123+0>456 ");
    ear_stop(&x);
}

/* ---- callbacks ------------------------------------------------------------------------ */

/* A notifier that tries to edit the lists and fires a nested event. */
typedef struct meddler {
    ear ear;               /* first */
    mt_region *io;
    mt_iommu_notifier *victim;
    int register_rc, unregister_self_rc, unregister_other_rc, nested_rc;
} meddler;

static void meddler_heard(mt_iommu_notifier *n, const mt_iommu_event *ev)
{
    meddler *m = (meddler *)n;
    ear_heard(n, ev);
    if (ev->type != MT_IOMMU_NOTIFY_MAP)
        return; /* the nested unmap below comes back here: stop */
    ear late;
    ear_init(&late, "late", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    m->register_rc = mt_iommu_notifier_register(m->io, &late.n);
    m->unregister_self_rc = mt_iommu_notifier_unregister(n);
    m->unregister_other_rc = mt_iommu_notifier_unregister(m->victim);
    m->nested_rc = fire(m->io, 0, unmap_event(ev->entry.iova, ev->entry.addr_mask));
}

static void callbacks_may_fire_but_not_edit(void **state)
{
    mt_test_env *e = *state;
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    meddler m;
    ear_init(&m.ear, "m", MT_IOMMU_NOTIFY_MAP_UNMAP, 0, 0xffff, 0);
    m.ear.n.notify = meddler_heard;
    ear v;
    ear_init(&v, "v", MT_IOMMU_NOTIFY_UNMAP, 0, 0xffff, 0);
    m.io = io;
    m.victim = &v.n;
    assert_int_equal(mt_iommu_notifier_register(io, &m.ear.n), 0);
    assert_int_equal(mt_iommu_notifier_register(io, &v.n), 0);

    unsigned before = e->diag.count;
    assert_int_equal(fire(io, 0, map_event(0x1000, 0xfff, 0x3000)), 1);
    assert_int_equal(m.register_rc, -EBUSY);
    assert_int_equal(m.unregister_self_rc, -EBUSY);
    assert_int_equal(m.unregister_other_rc, -EBUSY);
    assert_int_equal(e->diag.count, before + 3);
    mt_assert_contains(e->diag.last, "callback");
    assert_int_equal(m.nested_rc, 2);
    assert_heard("m:map 1000+fff>3000 m:unmap 1000+fff>0 v:unmap 1000+fff>0 ");
    /* both still registered, and editing works again after the event */
    assert_int_equal(fire(io, 0, unmap_event(0, 0xfff)), 2);
    assert_heard("m:unmap 0+fff>0 v:unmap 0+fff>0 ");
    assert_int_equal(mt_iommu_notifier_unregister(&m.ear.n), 0);
    ear_stop(&v);
}

/* ---- lifetime ------------------------------------------------------------------------- */

static void finalize_refuses_an_iommu_with_notifiers(void **state)
{
    mt_test_env *e = *state;
    /* mapped, but in no address space: no view names it */
    mt_region *holder = mt_test_container(e, e->O1, "holder", 0x100000);
    mt_region *io = iommu_new(e, e->O2, &plain_ops, NULL, "io", 0x10000);
    mt_test_map(holder, 0x10000, io);
    ear x, y;
    ear_listen(&x, io, "X", MT_IOMMU_NOTIFY_UNMAP, 0x1000, 0x1fff, 0);
    ear_listen(&y, io, "Y", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    char *tree = mt_test_tree_text(holder);

    mt_assert_refused(e, mt_region_finalize(io), -EBUSY, "io");
    mt_assert_contains(e->diag.last, "2 IOMMU notifier(s)");
    mt_assert_contains(e->diag.last, "[0x1000, 0x1fff]"); /* the first one */
    /* nothing changed: still live, still notified */
    assert_int_equal(mt_region_get_kind(io), MT_KIND_IOMMU);
    mt_assert_text(mt_test_tree_text(holder), tree);
    free(tree);
    assert_int_equal(fire(io, 0, unmap_event(0x1000, 0xfff)), 1);
    assert_heard("X:unmap 1000+fff>0 ");

    /* one left is still one too many */
    ear_stop(&x);
    mt_assert_refused(e, mt_region_finalize(io), -EBUSY, "io");
    mt_assert_contains(e->diag.last, "1 IOMMU notifier(s)");
    ear_stop(&y);
    assert_int_equal(mt_region_finalize(io), 0);
    kit_forget(io);
    assert_null(mt_region_first_subregion(holder));
}

static void reused_storage_starts_without_notifiers(void **state)
{
    mt_test_env *e = *state;
    static mt_region storage; /* the caller's, reused in place */
    ear x;
    ear_init(&x, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    assert_int_equal(mt_region_init_iommu(&storage, e->ctx, e->O2, &plain_ops, NULL, "old",
                                          0x10000), 0);
    assert_int_equal(mt_iommu_notifier_register(&storage, &x.n), 0);
    ear_stop(&x);
    assert_int_equal(mt_region_finalize(&storage), 0);
    assert_int_equal(mt_region_init_iommu(&storage, e->ctx, e->O2, &plain_ops, NULL, "new",
                                          0x10000), 0);
    assert_int_equal(fire(&storage, 0, map_event(0, 0xfff, 0)), 0);
    assert_int_equal(mt_region_finalize(&storage), 0);
    assert_heard("");
}

struct dev {
    mt_owner owner; /* first, so release can cast back */
    unsigned released;
};

static void dev_release(mt_owner *o)
{
    ((struct dev *)o)->released++;
}

static void owner_teardown_detaches_notifiers(void **state)
{
    mt_test_env *e = *state;
    struct dev dev;
    assert_int_equal(mt_owner_init(&dev.owner, "dev id=viommu", dev_release), 0);
    dev.released = 0;
    struct model m = {.indexes = 2};
    /* heap storage: the teardown frees it, so nothing may point at it after */
    mt_region *io = mt_region_alloc();
    assert_int_equal(mt_region_init_iommu(io, e->ctx, &dev.owner, &model_ops, &m, "viommu",
                                          0x10000), 0);
    /* The alias is another owner's and goes before the teardown (an alias
     * of another owner still targeting the IOMMU would be a hazard; own
     * aliases dying with their target are covered in test_lifetime_core). */
    mt_region *a = alias_new(e, e->O2, "viommu-alias", io, 0, 0x10000);
    mt_region *keep = iommu_new(e, e->O2, &plain_ops, NULL, "keep", 0x10000);
    ear x, y, z;
    ear_listen(&x, io, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    ear_listen(&z, keep, "Z", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    ear_listen(&y, a, "Y", MT_IOMMU_NOTIFY_UNMAP, 0, 0xffff, 1);
    assert_int_equal(mt_region_finalize(a), 0); /* y stays, on the IOMMU */
    kit_forget(a);
    uint64_t live = mt_test_stats(e->ctx).live_regions;

    unsigned before = e->diag.count;
    mt_owner_unref(&dev.owner); /* tears the device down, its region with it */
    assert_int_equal(dev.released, 1);
    assert_int_equal(mt_test_stats(e->ctx).live_regions, live - 1);
    mt_assert_diag(e, before, "viommu");
    mt_assert_contains(e->diag.last, "detaches 2 notifier(s)"); /* x and y */
    /* both are unregistered now, and their storage is free to reuse */
    assert_int_equal(mt_iommu_notifier_unregister(&x.n), -ENOENT);
    assert_int_equal(mt_iommu_notifier_unregister(&y.n), -ENOENT);
    assert_int_equal(mt_iommu_notifier_register(keep, &x.n), 0);
    /* the other region's list is untouched */
    assert_int_equal(fire(keep, 0, map_event(0, 0xfff, 0)), 2);
    assert_heard("Z:map 0+fff>0 X:map 0+fff>0 ");
    ear_stop(&x);
    ear_stop(&z);
}

static void owner_teardown_without_notifiers_is_quiet(void **state)
{
    mt_test_env *e = *state;
    struct dev dev;
    assert_int_equal(mt_owner_init(&dev.owner, "dev id=viommu", dev_release), 0);
    dev.released = 0;
    mt_region *io = mt_region_alloc();
    assert_int_equal(mt_region_init_iommu(io, e->ctx, &dev.owner, &plain_ops, NULL, "viommu",
                                          0x10000), 0);
    ear x;
    ear_listen(&x, io, "X", MT_IOMMU_NOTIFY_MAP, 0, 0xfff, 0);
    ear_stop(&x);
    unsigned before = e->diag.count;
    mt_owner_unref(&dev.owner);
    assert_int_equal(dev.released, 1);
    assert_int_equal(e->diag.count, before);
}

MT_TEST_MAIN(
    TEST(num_indexes_from_ops_or_one),
    TEST(num_indexes_of_other_regions),
    TEST(min_page_size_from_ops_or_context),
    TEST(events_go_to_the_notifiers_of_their_type),
    TEST(events_go_to_the_notifiers_of_their_index),
    TEST(events_are_clipped_to_the_notifier_range),
    TEST(notifier_ranges_reach_the_end_of_2_64_regions),
    TEST(delivery_follows_registration_order),
    TEST(registration_through_aliases_lands_on_the_iommu),
    TEST(register_refuses_what_is_not_an_iommu),
    TEST(register_refuses_bad_notifiers),
    TEST(register_refuses_a_notifier_registered_already),
    TEST(unregister_of_what_is_not_registered),
    TEST(notify_refuses_bad_events),
    TEST(callbacks_may_fire_but_not_edit),
    TEST(finalize_refuses_an_iommu_with_notifiers),
    TEST(reused_storage_starts_without_notifiers),
    TEST(owner_teardown_detaches_notifiers),
    TEST(owner_teardown_without_notifiers_is_quiet))
