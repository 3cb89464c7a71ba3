/*
 * Random edit sequences in which callbacks edit too (issue 12): MMIO write
 * callbacks, a listener's region_add and the flush hook each make random
 * edits (map, unmap, move, enable, alias offset, priority, nested
 * transactions) and sometimes read through the address space, within a
 * budget per step so that every chain of callbacks ends. After every step
 * the view must equal the reference renderer's (tests/support/ref_render.c)
 * and the mirror listener's add/del log must replay to it.
 */
#include "mt_mirror.h"
#include "mt_test.h"
#include "ref_render.h"

#include <errno.h>
#include <stdlib.h>

#define RAMS 8
#define DEVS 4
#define ALIASES 4
#define SLOT 0x1000u
#define SLOTS 48
#define STEPS 6000

struct world {
    mt_context *ctx;
    mt_region root, ram[RAMS], dev[DEVS], alias[ALIASES];
    mt_region *movable[RAMS + DEVS + ALIASES];
    size_t nmovable;
    mt_address_space *as;
    mt_mirror mirror;
    uint64_t rng;
    int budget;             /* callback edits left in this step */
    unsigned callback_edits, nested_reads, overtaken;
    char failure[256];
};

static struct world W;

static uint64_t rnd(void)
{
    W.rng ^= W.rng << 13;
    W.rng ^= W.rng >> 7;
    W.rng ^= W.rng << 17;
    return W.rng;
}

/* -EBUSY is an edit the flush hook's own edits overtook (region.c's link
 * helpers check again after their begin): counted, not a failure. */
static void check(int rc, const char *what)
{
    if (rc == -EBUSY)
        W.overtaken++;
    else if (rc != 0)
        mt_note_fail(W.failure, sizeof(W.failure), "%s failed: %d", what, rc);
}

/* One random edit; `depth` bounds nested transactions. */
static void random_edit(int depth)
{
    mt_region *r = W.movable[rnd() % W.nmovable];
    switch (rnd() % 7) {
    case 0:
        if (mt_region_container(r))
            check(mt_region_del_subregion(&W.root, r), "unmap");
        else
            check(mt_region_add_subregion_overlap(&W.root, (rnd() % SLOTS) * SLOT, r,
                                                  (int32_t)(rnd() % 3)), "map");
        break;
    case 1: check(mt_region_set_address(r, (rnd() % SLOTS) * SLOT), "set_address"); break;
    case 2: check(mt_region_set_enabled(r, !mt_region_enabled(r)), "set_enabled"); break;
    case 3: check(mt_region_set_priority(r, (int32_t)(rnd() % 3) - 1), "set_priority"); break;
    case 4: {
        mt_region *a = &W.alias[rnd() % ALIASES];
        check(mt_region_set_alias_offset(a, (rnd() % 4) * 0x400), "set_alias_offset");
        break;
    }
    case 5:
        if (depth < 3) {
            mt_transaction_begin(W.ctx);
            random_edit(depth + 1);
            random_edit(depth + 1);
            check(mt_transaction_commit(W.ctx), "commit");
        }
        break;
    default: {
        /* an access from inside whatever called us */
        uint8_t buf[8];
        mt_address_space_read(W.as, (rnd() % SLOTS) * SLOT, MT_ATTRS_UNSPECIFIED, buf, 8);
        W.nested_reads++;
        break;
    }
    }
}

/* What callbacks do: an edit, while the step's budget lasts. */
static void callback_edit(void)
{
    if (W.budget <= 0)
        return;
    W.budget--;
    W.callback_edits++;
    random_edit(1);
}

static void dev_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    if (value & 1)
        callback_edit();
}

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    return 0x5a;
}

static const mt_region_ops dev_ops = {
    .read = dev_read,
    .write = dev_write,
    .endianness = MT_ENDIAN_LITTLE,
};

static void on_add(mt_mirror *m, const mt_section *s)
{
    (void)m, (void)s;
    if (rnd() % 4 == 0)
        callback_edit();
}

static void flush(void *opaque)
{
    (void)opaque;
    if (rnd() % 8 == 0)
        callback_edit();
}

static void build(void)
{
    memset(&W, 0, sizeof(W));
    W.rng = 0x9e3779b97f4a7c15ull;
    W.ctx = mt_context_new();
    assert_int_equal(mt_region_init_container(&W.root, W.ctx, NULL, "root",
                                              SLOTS * SLOT + SLOT), 0);
    for (int i = 0; i < RAMS; i++) {
        assert_int_equal(mt_region_init_ram(&W.ram[i], W.ctx, NULL, "ram", SLOT), 0);
        W.movable[W.nmovable++] = &W.ram[i];
    }
    for (int i = 0; i < DEVS; i++) {
        assert_int_equal(mt_region_init_io(&W.dev[i], W.ctx, NULL, &dev_ops, NULL, "dev",
                                           SLOT), 0);
        W.movable[W.nmovable++] = &W.dev[i];
    }
    for (int i = 0; i < ALIASES; i++) {
        assert_int_equal(mt_region_init_alias(&W.alias[i], W.ctx, NULL, "alias",
                                              &W.ram[i], 0, SLOT / 2), 0);
        W.movable[W.nmovable++] = &W.alias[i];
    }
    for (size_t i = 0; i < W.nmovable; i++)
        assert_int_equal(mt_region_add_subregion(&W.root, i * SLOT, W.movable[i]), 0);
    W.as = mt_address_space_new(W.ctx, &W.root, "memory");
    mt_mirror_init(&W.mirror);
    W.mirror.on_add = on_add;
    assert_int_equal(mt_listener_register(&W.mirror.l, W.as), 0);
    mt_context_set_flush_hook(W.ctx, flush, NULL);
}

static void teardown(void)
{
    mt_context_set_flush_hook(W.ctx, NULL, NULL);
    mt_listener_unregister(&W.mirror.l);
    assert_int_equal(W.mirror.n, 0);
    mt_address_space_destroy(W.as);
    assert_int_equal(mt_region_finalize(&W.root), 0);
    mt_context_reclaim(W.ctx);
    for (int i = 0; i < ALIASES; i++)
        assert_int_equal(mt_region_finalize(&W.alias[i]), 0);
    for (int i = 0; i < DEVS; i++)
        assert_int_equal(mt_region_finalize(&W.dev[i]), 0);
    for (int i = 0; i < RAMS; i++)
        assert_int_equal(mt_region_finalize(&W.ram[i]), 0);
    mt_stats st;
    mt_context_get_stats(W.ctx, &st);
    assert_int_equal(st.live_views, 0);
    mt_context_free(W.ctx);
}

static void test_random_reentrant_edits(void **state)
{
    (void)state;
    build();
    char why[256] = "";
    for (unsigned step = 0; step < STEPS; step++) {
        W.budget = 8;
        uint64_t k = rnd() % 4;
        bool txn = rnd() % 4 == 0;
        if (txn)
            mt_transaction_begin(W.ctx);
        if (k == 0) {
            random_edit(1);
        } else {
            /* a register write: maybe a device, maybe not there */
            mt_region *d = &W.dev[rnd() % DEVS];
            uint64_t at = mt_region_container(d) ? mt_region_addr(d) : 0;
            uint32_t v = (uint32_t)rnd();
            mt_address_space_write(W.as, at, MT_ATTRS_UNSPECIFIED, &v, 4);
        }
        if (txn)
            check(mt_transaction_commit(W.ctx), "outer commit");
        if (W.failure[0])
            fail_msg("step %u: %s", step, W.failure);
        if (W.mirror.failure[0])
            fail_msg("step %u: listener: %s", step, W.mirror.failure);
        assert_int_equal(mt_transaction_depth(W.ctx), 0);
        if (!ref_render_matches(ref_flat_root(&W.root), mt_address_space_view(W.as), why,
                                sizeof(why)))
            fail_msg("step %u: view: %s", step, why);
        if (!mt_mirror_matches(&W.mirror, mt_address_space_view(W.as), why, sizeof(why)))
            fail_msg("step %u: mirror: %s", step, why);
    }
    fprintf(stderr, "reentrant random: %u steps, %u callback edits, %u nested reads, %u "
            "edits overtaken by the flush hook's\n", STEPS, W.callback_edits, W.nested_reads,
            W.overtaken);
    assert_true(W.callback_edits > STEPS / 8);
    teardown();
}

MT_TEST_MAIN(
    cmocka_unit_test(test_random_reentrant_edits))
