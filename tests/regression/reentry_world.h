/*
 * The machine the re-entrancy regression tests share (issue 12): a device
 * whose register writes remap memory, the way a BAR write or a bank switch
 * does in an emulator, and the checks every test makes after each edit.
 *
 *   sysmem (container, 1 MiB)
 *     ctl     MMIO, 8 bytes at 0: two 4-byte registers. A write to the
 *             first remaps `bar` (directly, or through an IOMMU notifier);
 *             the second only records what it got.
 *     bar     RAM, 4 KiB, a known byte pattern, moved between 16 slots
 *     trigger RAM, 4 KiB at 0x80000, enabled and disabled by the tests
 *     shadow  RAM, 4 KiB, moved by listeners when `trigger` appears
 *   iommu     IOMMU region (not mapped) whose notifier makes the same edit
 *
 * After each edit the tests compare the view with a from-scratch reference
 * render, and listeners' replicas (mt_mirror.h) with the view.
 */
#ifndef REENTRY_WORLD_H
#define REENTRY_WORLD_H

#include "mt_mirror.h"
#include "mt_test.h"
#include "ref_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RW_SLOTS 16
#define RW_SLOT(k) (0x10000u + (uint64_t)(k) * 0x1000u)
#define RW_TRIGGER_AT 0x80000u
#define RW_SHADOW_AT(k) (0x90000u + (uint64_t)(k) * 0x1000u)
#define RW_PAGE 0x1000u

/* ---- the machine ------------------------------------------------------------------ */

typedef struct rw_world {
    mt_context *ctx;
    mt_test_diag diag;
    mt_region sysmem, ctl, bar, trigger, shadow, iommu;
    mt_address_space *as;
    mt_iommu_notifier notifier;
    bool via_iommu;             /* ctl remaps through the IOMMU notifier */
    unsigned bar_slot;          /* where bar is, as the edits put it */
    unsigned shadow_slot;
    uint32_t second_reg;        /* the last value the second register got */
    unsigned edits;             /* remaps made from callbacks */
    char failure[256];          /* set by callbacks, which cannot assert */
} rw_world;

static inline uint8_t rw_pattern(uint64_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* The edit a `ctl` write asks for: bar to slot `value` % RW_SLOTS. */
static void rw_remap_bar(rw_world *w, uint32_t value)
{
    unsigned slot = value % RW_SLOTS;
    if (mt_region_set_address(&w->bar, RW_SLOT(slot)) != 0)
        mt_note_fail(w->failure, sizeof(w->failure), "set_address from a callback failed");
    w->bar_slot = slot;
    w->edits++;
}

static void rw_notified(mt_iommu_notifier *n, const mt_iommu_event *ev)
{
    rw_world *w = (rw_world *)((char *)n - offsetof(rw_world, notifier));
    rw_remap_bar(w, (uint32_t)(ev->entry.iova / RW_PAGE));
}

/* Fires the IOMMU's notifier with the slot in the iova. */
static inline void rw_notify(rw_world *w, uint32_t value)
{
    mt_iommu_event ev = {.type = MT_IOMMU_NOTIFY_UNMAP,
                         .entry = {.iova = (uint64_t)(value % RW_SLOTS) * RW_PAGE,
                                   .addr_mask = RW_PAGE - 1, .perm = MT_IOMMU_NONE}};
    if (mt_iommu_notify(&w->iommu, 0, &ev) != 1)
        mt_note_fail(w->failure, sizeof(w->failure), "the IOMMU notifier was not called");
}

static void rw_ctl_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    rw_world *w = opaque;
    if (size != 4)
        mt_note_fail(w->failure, sizeof(w->failure), "ctl got a %u-byte write", size);
    if (offset == 0) {
        if (w->via_iommu)
            rw_notify(w, (uint32_t)value);
        else
            rw_remap_bar(w, (uint32_t)value);
    } else {
        w->second_reg = (uint32_t)value;
    }
}

static const mt_region_ops rw_ctl_ops = {
    .read = mt_test_read_zero,
    .write = rw_ctl_write,
    .endianness = MT_ENDIAN_LITTLE,
    /* 4 at most: an 8-byte write is two chunks of the access loop, each
     * looked up in the view the access started with */
    .valid = {.min_access_size = 4, .max_access_size = 4},
    .impl = {.min_access_size = 4, .max_access_size = 4},
};

static inline rw_world *rw_world_new(bool via_iommu)
{
    rw_world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->via_iommu = via_iommu;
    w->ctx = mt_context_new();
    mt_test_diag_install(w->ctx, &w->diag);
    assert_int_equal(mt_region_init_container(&w->sysmem, w->ctx, NULL, "sysmem", 0x100000), 0);
    assert_int_equal(mt_region_init_io(&w->ctl, w->ctx, NULL, &rw_ctl_ops, w, "ctl", 8), 0);
    assert_int_equal(mt_region_init_ram(&w->bar, w->ctx, NULL, "bar", RW_PAGE), 0);
    assert_int_equal(mt_region_init_ram(&w->trigger, w->ctx, NULL, "trigger", RW_PAGE), 0);
    assert_int_equal(mt_region_init_ram(&w->shadow, w->ctx, NULL, "shadow", RW_PAGE), 0);
    assert_int_equal(mt_region_init_iommu(&w->iommu, w->ctx, NULL, &mt_test_unmapped_iommu_ops,
                                          w, "iommu", RW_SLOTS * RW_PAGE), 0);
    uint8_t *ram = mt_region_ram_ptr(&w->bar);
    for (unsigned i = 0; i < RW_PAGE; i++)
        ram[i] = rw_pattern(i);
    mt_iommu_notifier_init(&w->notifier, rw_notified, MT_IOMMU_NOTIFY_MAP_UNMAP, 0,
                           RW_SLOTS * RW_PAGE - 1, 0);
    assert_int_equal(mt_iommu_notifier_register(&w->iommu, &w->notifier), 0);
    assert_int_equal(mt_region_add_subregion(&w->sysmem, 0, &w->ctl), 0);
    assert_int_equal(mt_region_add_subregion(&w->sysmem, RW_SLOT(0), &w->bar), 0);
    assert_int_equal(mt_region_add_subregion(&w->sysmem, RW_SHADOW_AT(0), &w->shadow), 0);
    assert_int_equal(mt_region_set_enabled(&w->trigger, false), 0);
    assert_int_equal(mt_region_add_subregion(&w->sysmem, RW_TRIGGER_AT, &w->trigger), 0);
    w->as = mt_address_space_new(w->ctx, &w->sysmem, "system");
    assert_non_null(w->as);
    return w;
}

static inline void rw_world_free(rw_world *w)
{
    mt_address_space_destroy(w->as);
    mt_context_reclaim(w->ctx);
    assert_int_equal(mt_iommu_notifier_unregister(&w->notifier), 0);
    mt_region *order[] = {&w->ctl, &w->bar, &w->trigger, &w->shadow};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(mt_region_del_subregion(&w->sysmem, order[i]), 0);
    mt_context_reclaim(w->ctx);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(mt_region_finalize(order[i]), 0);
    assert_int_equal(mt_region_finalize(&w->iommu), 0);
    assert_int_equal(mt_region_finalize(&w->sysmem), 0);
    mt_stats st;
    mt_context_get_stats(w->ctx, &st);
    assert_int_equal(st.live_views, 0);
    mt_context_free(w->ctx);
    free(w);
}

/* Where bar should be, what is there, and what the view says: the RAM
 * read through the address space, the translation of its old place, and
 * the view against a from-scratch render. False with `why` set. */
static inline bool rw_check(rw_world *w, char *why, size_t len)
{
    uint64_t at = RW_SLOT(w->bar_slot);
    uint8_t buf[16];
    if (mt_address_space_read(w->as, at + 0x100, MT_ATTRS_UNSPECIFIED, buf, sizeof(buf)) !=
        MT_RESULT_OK) {
        mt_note_fail(why, len, "read at 0x%llx failed", (unsigned long long)at);
        return false;
    }
    for (unsigned i = 0; i < sizeof(buf); i++) {
        if (buf[i] != rw_pattern(0x100 + i)) {
            mt_note_fail(why, len, "byte %u at 0x%llx is 0x%02x", i, (unsigned long long)at,
                    buf[i]);
            return false;
        }
    }
    mt_translation t;
    uint64_t other = RW_SLOT((w->bar_slot + 1) % RW_SLOTS);
    if (mt_address_space_translate(w->as, other, 1, false, MT_ATTRS_UNSPECIFIED, &t) != 0 ||
        t.region != NULL) {
        mt_note_fail(why, len, "0x%llx still resolves to a region", (unsigned long long)other);
        return false;
    }
    mt_read_lock();
    bool same = ref_render_matches(ref_flat_root(&w->sysmem), mt_address_space_view(w->as),
                                   why, len);
    mt_read_unlock();
    return same;
}

/* ---- the programs --------------------------------------------------------------------- */

/*
 * The main() of a test of both forms of the edit: `scenario(false)` has the
 * device callback remap memory itself (test `direct`), `scenario(true)` has
 * it fire the IOMMU notifier that does (test `via_iommu`). A hang is the
 * bug these tests guard against, so an alarm turns one into a failure.
 */
#define RW_TEST_MAIN(scenario, direct, via_iommu)     \
    static void direct(void **state)                  \
    {                                                 \
        (void)state;                                  \
        alarm(120);                                   \
        scenario(false);                              \
        alarm(0);                                     \
    }                                                 \
    static void via_iommu(void **state)               \
    {                                                 \
        (void)state;                                  \
        alarm(120);                                   \
        scenario(true);                               \
        alarm(0);                                     \
    }                                                 \
    MT_TEST_MAIN(cmocka_unit_test(direct), cmocka_unit_test(via_iommu))

#endif
