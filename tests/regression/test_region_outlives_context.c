/*
 * Bug: a region's storage is the caller's (a device's struct), so it can
 * outlive the context. mt_context_free reported regions still live, then
 * freed the context anyway, and every later call on such a region read
 * the freed context: finalising it (its context's counters, the commit
 * that unmaps it), or a misuse of a finalised region's tombstone, whose
 * report goes through the context's hook. A view the caller still held
 * went the same way when released. ASan: heap-use-after-free in each case.
 * Fixed in src/context.c: a context freed with live regions or held views
 * is closed, not freed; it goes when the last of them is finalised or
 * released, and a tombstone whose context is gone reports through the
 * default hook.
 */
#include "mt_test.h"

#include <memtree/format.h>

#include <errno.h>
#include <string.h>

struct log {
    unsigned count;
    char last[512];
};

static void record(void *opaque, const char *message)
{
    struct log *l = opaque;
    l->count++;
    snprintf(l->last, sizeof(l->last), "%s", message);
}

/* Storage a device owns; nothing here allocates behind the test's back
 * but the regions' names and the context. */
static uint8_t backing[0x1000];

/* A context reporting to `log`, with RAM mapped in a root and an address
 * space over it. */
static mt_context *small_machine(struct log *log, mt_region *root, mt_region *ram,
                                 mt_address_space **as)
{
    mt_context *ctx = mt_context_new();
    mt_context_set_diag(ctx, record, log);
    assert_int_equal(mt_region_init_container(root, ctx, NULL, "root", 0x10000), 0);
    assert_int_equal(mt_region_init_ram_ptr(ram, ctx, NULL, "ram", 0x1000, backing), 0);
    assert_int_equal(mt_region_add_subregion(root, 0x1000, ram), 0);
    *as = mt_address_space_new(ctx, root, "memory");
    assert_non_null(*as);
    return ctx;
}

static void test_finalise_after_context_free(void **state)
{
    (void)state;
    struct log log = {0};
    mt_region root, ram;
    mt_address_space *as;
    mt_context *ctx = small_machine(&log, &root, &ram, &as);

    mt_context_free(ctx); /* the address space goes; the regions stay */
    assert_int_equal(log.count, 1);
    mt_assert_contains(log.last, "2 live region(s)");

    /* what is left of a closed context: finalising its regions (the
     * unmap still commits) */
    assert_int_equal(mt_region_size(&ram), 0x1000);
    assert_int_equal(mt_region_finalize(&root), 0);
    /* nothing new on a closed context */
    mt_region extra;
    memset(&extra, 0, sizeof(extra));
    assert_int_equal(mt_region_init_container(&extra, ctx, NULL, "extra", 0x1000), -EINVAL);
    mt_assert_contains(log.last, "was freed");
    assert_null(mt_address_space_new(ctx, &ram, "late"));
    /* the last region takes the context with it (LeakSanitizer checks) */
    assert_int_equal(mt_region_finalize(&ram), 0);
}

static void test_tombstone_after_context_free(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    struct log log = {0};
    mt_context_set_diag(ctx, record, &log);
    mt_region ram;
    assert_int_equal(mt_region_init_ram_ptr(&ram, ctx, NULL, "ram", 0x1000, backing), 0);
    uint64_t id = mt_region_id(&ram);
    assert_int_equal(mt_region_finalize(&ram), 0);
    mt_context_free(ctx);
    assert_int_equal(log.count, 0);
    /* a second finalise is a misuse: refused and reported (on stderr: the
     * context's hook went with it); the tombstone still names the region */
    assert_int_equal(mt_region_finalize(&ram), -EINVAL);
    assert_int_equal(mt_region_id(&ram), id);
    assert_int_equal(log.count, 0);
}

static void test_view_held_past_context_free(void **state)
{
    (void)state;
    struct log log = {0};
    mt_region root, ram;
    mt_address_space *as;
    mt_context *ctx = small_machine(&log, &root, &ram, &as);
    mt_view *v = mt_address_space_view(as);
    assert_true(mt_view_ref(v));
    /* an address space over an empty container shows the empty view */
    mt_region hole;
    assert_int_equal(mt_region_init_container(&hole, ctx, NULL, "hole", 0x1000), 0);
    mt_view *empty = mt_address_space_view(mt_address_space_new(ctx, &hole, "nothing"));
    assert_true(mt_view_ref(empty));

    mt_context_free(ctx);
    assert_int_equal(log.count, 1);
    mt_assert_contains(log.last, "3 live region(s)");
    mt_assert_contains(log.last, "2 view(s)");
    /* the views still answer */
    assert_int_equal(mt_view_range_count(v), 1);
    assert_int_equal(mt_view_range_count(empty), 0);
    assert_int_equal(mt_region_finalize(&root), 0);
    assert_int_equal(mt_region_finalize(&hole), 0);
    /* the held view names ram: released, then reclaimed */
    assert_int_equal(mt_region_finalize(&ram), -EBUSY);
    mt_view_unref(v);
    mt_view_unref(empty);
    mt_context_reclaim(ctx);
    assert_int_equal(mt_region_finalize(&ram), 0); /* and the context goes */
}

/* A machine loaded from a dump owns its regions and address spaces; freeing
 * it after its context finalises them in one transaction, whose commit lets
 * the context go. */
static void test_machine_freed_after_context(void **state)
{
    (void)state;
    static const char tree[] = "address-space: memory\n"
                               "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
                               "    0000000000000000-0000000000000fff (prio 0, ram): ram\n"
                               "\n";
    mt_test_loaded L;
    mt_test_load_ok(&L, MT_FORMAT_QEMU, tree, "tree.txt", NULL);
    mt_context_free(L.ctx);
    assert_int_equal(L.diag.count, 1);
    mt_assert_contains(L.diag.last, "2 live region(s)");
    mt_machine_free(L.m); /* its address space went with the context: no report */
    assert_int_equal(L.diag.count, 1);
}

MT_TEST_MAIN(
    cmocka_unit_test(test_machine_freed_after_context),
    cmocka_unit_test(test_finalise_after_context_free),
    cmocka_unit_test(test_tombstone_after_context_free),
    cmocka_unit_test(test_view_held_past_context_free))
