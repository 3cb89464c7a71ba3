/*
 * What the PCI bridge tests share (test_bridge_*.c): the root bus of
 * docs/pci-bridge.md, "Using it" (`pci` and `io` under address spaces
 * `memory` and `I/O`), heap bridges whose release is counted, the storage
 * poisoning of test_lifetime_core.c hooked into the bridge's update flow, the
 * check of every view against the reference renderer, and the owner counts
 * that docs/lifetimes.md ("Who holds references") predicts. Everything is
 * static inline so each test program takes only what it uses.
 */
#ifndef TEST_BRIDGE_COMMON_H
#define TEST_BRIDGE_COMMON_H

#include "mt_test.h"
#include "pci_bridge.h"
#include "ref_render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define BT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BT_ASAN 1
#endif
#endif
#ifdef BT_ASAN
#include <sanitizer/asan_interface.h>
#define BT_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define BT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BT_POISON(p, n) ((void)(p), (void)(n))
#define BT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BT_POISON_BYTE 0x5a

/* ---- the root bus ------------------------------------------------------------------- */

/* The PC's `io` region reads all-ones and ignores writes. */
static inline uint64_t bt_ones_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque;
    (void)offset;
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static const mt_region_ops bt_ones_ops = {
    .read = bt_ones_read,
    .write = mt_test_ignore_write,
    .endianness = MT_ENDIAN_LITTLE,
};

typedef struct bt_root {
    mt_region *pci, *io;           /* owned by O1, the chipset */
    mt_address_space *memory, *io_as;
} bt_root;

static inline bt_root bt_root_new(mt_test_env *e)
{
    bt_root r;
    r.pci = mt_test_container(e, e->O1, "pci", UINT64_MAX);
    r.io = mt_test_io_ops(e, e->O1, &bt_ones_ops, NULL, "io", 0x10000);
    r.memory = mt_test_as(e, r.pci, "memory");
    r.io_as = mt_test_as(e, r.io, "I/O");
    return r;
}

/* ---- bridges on the heap -------------------------------------------------------------- */

typedef struct bt_bridge {
    mt_pci_bridge b;       /* first: release casts back */
    unsigned released;
} bt_bridge;

static inline void bt_bridge_release(mt_pci_bridge *b)
{
    ((bt_bridge *)b)->released++;
}

static inline bt_bridge *bt_bridge_new(mt_test_env *e, const char *label,
                                       mt_pci_bridge_options *opts_in)
{
    bt_bridge *bb = calloc(1, sizeof(*bb));
    assert_non_null(bb);
    mt_pci_bridge_options opts = {0};
    if (opts_in)
        opts = *opts_in;
    opts.label = label;
    opts.release = bt_bridge_release;
    assert_int_equal(mt_pci_bridge_init(&bb->b, e->ctx, &opts), 0);
    return bb;
}

static inline void bt_realize(mt_test_env *e, bt_bridge *bb, mt_region *mem, mt_region *io)
{
    int rc = mt_pci_bridge_realize(&bb->b, mem, io);
    if (rc)
        print_error("realize: %s; diagnostic: %s\n", mt_strerror(rc), e->diag.last);
    assert_int_equal(rc, 0);
}

static inline void bt_write(mt_test_env *e, bt_bridge *bb, unsigned off, uint32_t v,
                            unsigned size)
{
    int rc = mt_pci_bridge_config_write(&bb->b, off, v, size);
    if (rc)
        print_error("config write %02x/%u <- %x: %s; diagnostic: %s\n", off, size, v,
                    mt_strerror(rc), e->diag.last);
    assert_int_equal(rc, 0);
}

/*
 * Unplug (the exit flow of docs/pci-bridge.md, "The update flows"), drop the
 * creator's reference and reclaim: the owner's teardown must then have
 * finalised the containers and run the release callback exactly once. Frees
 * the bridge.
 */
static inline void bt_unplug(mt_test_env *e, bt_bridge *bb)
{
    mt_stats before = mt_test_stats(e->ctx);
    unsigned diags = e->diag.count;
    assert_int_equal(mt_pci_bridge_exit(&bb->b), 0);
    mt_owner_unref(mt_pci_bridge_owner(&bb->b));
    mt_test_reclaim(e);
    assert_int_equal(bb->released, 1);
    assert_int_equal(e->diag.count, diags);
    mt_stats after = mt_test_stats(e->ctx);
    /* six aliases and two containers */
    assert_int_equal(before.live_regions - after.live_regions, 8);
    assert_int_equal(before.address_spaces - after.address_spaces, 2);
    free(bb);
}

/* The six aliases of a bridge, in slot order: the three windows, then the
 * VGA memory and the two VGA I/O ranges. */
static inline void bt_aliases(mt_pci_bridge *b, mt_region *r[6])
{
    r[0] = mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_IO);
    r[1] = mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_MEM);
    r[2] = mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_PREF);
    r[3] = mt_pci_bridge_vga_mem(b);
    r[4] = mt_pci_bridge_vga_io_lo(b);
    r[5] = mt_pci_bridge_vga_io_hi(b);
}

/* The identities of the six aliases, in slot order. */
static inline void bt_alias_ids(mt_pci_bridge *b, uint64_t ids[6])
{
    mt_region *r[6];
    bt_aliases(b, r);
    for (int i = 0; i < 6; i++)
        ids[i] = mt_region_id(r[i]);
}

/* ---- poisoning between finalisation and re-initialisation ---------------------------- */

/*
 * Installed as the bridge's hooks: each alias the flow finalises is filled
 * with 0x5a and made unaddressable at once, so the finalisation of the
 * next aliases, and `check` (run while all six are poisoned), must not
 * touch it. Before the flow re-initialises, the bytes are verified (a
 * write from the library would show in builds without ASan too) and the
 * storage handed back.
 */
typedef struct bt_poison {
    mt_region *dead[6];
    int n;
    unsigned rounds;           /* update flows seen */
    void (*check)(mt_pci_bridge *b, void *arg);
    void *check_arg;
} bt_poison;

static inline void bt_poison_alias(mt_pci_bridge *b, mt_region *alias, void *opaque)
{
    (void)b;
    bt_poison *p = opaque;
    assert_true(p->n < 6);
    memset(alias, BT_POISON_BYTE, sizeof(*alias));
    BT_POISON(alias, sizeof(*alias));
    p->dead[p->n++] = alias;
}

static inline void bt_poison_release(mt_pci_bridge *b, void *opaque)
{
    bt_poison *p = opaque;
    assert_int_equal(p->n, 6);
    if (p->check)
        p->check(b, p->check_arg);
    for (int i = 0; i < p->n; i++) {
        BT_UNPOISON(p->dead[i], sizeof(mt_region));
        const unsigned char *bytes = (const unsigned char *)p->dead[i];
        for (size_t k = 0; k < sizeof(mt_region); k++)
            if (bytes[k] != BT_POISON_BYTE)
                fail_msg("byte %zu of finalised alias storage %d was written", k, i);
    }
    p->n = 0;
    p->rounds++;
}

static inline void bt_poison_install(mt_pci_bridge *b, bt_poison *p)
{
    mt_pci_bridge_hooks h = {
        .alias_finalized = bt_poison_alias,
        .before_reinit = bt_poison_release,
        .opaque = p,
    };
    mt_pci_bridge_set_hooks(b, &h);
}

/* ---- every view against the reference renderer ---------------------------------------- */

/*
 * After a commit, each address space's view must be the one a from-scratch
 * render of the current tree gives: the flat-root (docs/views.md)
 * (the same live region, or the empty view) and the ranges (docs/rendering.md).
 */
static inline void bt_check_views_at(mt_context *ctx, const char *file, int line)
{
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        mt_view *v = mt_address_space_view(as);
        mt_region *fr = ref_flat_root(mt_address_space_root(as));
        if (!fr) {
            if (!mt_view_is_empty_view(v)) {
                print_error("%s: expected the empty view\n", mt_address_space_name(as));
                _fail(file, line);
            }
            continue;
        }
        if (mt_view_root(v) != fr) {
            print_error("%s: flat-root is %s (id %" PRIu64 "), expected %s (id %" PRIu64 ")\n",
                        mt_address_space_name(as), mt_view_root_name(v),
                        mt_view_root(v) ? mt_region_id(mt_view_root(v)) : 0,
                        mt_region_name(fr), mt_region_id(fr));
            _fail(file, line);
        }
        char why[512];
        if (!ref_render_matches(fr, v, why, sizeof(why))) {
            print_error("%s: %s\n", mt_address_space_name(as), why);
            _fail(file, line);
        }
    }
}
#define bt_check_views(ctx) bt_check_views_at((ctx), __FILE__, __LINE__)

/* Distinct live views held by address spaces (the empty view excluded). */
static inline size_t bt_distinct_views(mt_context *ctx, mt_view **out, size_t cap)
{
    size_t n = 0;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        mt_view *v = mt_address_space_view(as);
        if (mt_view_is_empty_view(v))
            continue;
        bool seen = false;
        for (size_t i = 0; i < n; i++)
            seen |= out[i] == v;
        if (!seen) {
            assert_true(n < cap);
            out[n++] = v;
        }
    }
    return n;
}

/* Distinct flat-roots of the address spaces (none excluded). */
static inline size_t bt_distinct_flat_roots(mt_context *ctx)
{
    mt_region *seen[64];
    size_t n = 0;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        mt_region *fr = ref_flat_root(mt_address_space_root(as));
        bool dup = !fr;
        for (size_t i = 0; i < n && !dup; i++)
            dup = seen[i] == fr;
        if (!dup) {
            assert_true(n < 64);
            seen[n++] = fr;
        }
    }
    return n;
}

/* Reclaims, then checks one live view and one cache entry per distinct
 * flat-root. */
static inline void bt_assert_one_view_per_flat_root(mt_test_env *e)
{
    mt_test_reclaim(e);
    mt_stats st = mt_test_stats(e->ctx);
    size_t roots = bt_distinct_flat_roots(e->ctx);
    assert_int_equal(st.live_views, roots);
    assert_int_equal(st.cache_entries, roots);
}

/* ---- owner counts predicted by docs/lifetimes.md -------------------------------------- */

static inline uint32_t bt_links_from(const mt_region *c, const mt_owner *o)
{
    uint32_t n = 0;
    for (mt_region *s = mt_region_first_subregion(c); s; s = mt_region_next_sibling(s)) {
        if (mt_region_owner(s) == o && mt_region_owner(c) != o)
            n++;
        n += bt_links_from(s, o);
    }
    return n;
}

/*
 * The count `o` must have after a reclaim: `base` (its holders outside the
 * library: the creator's reference), plus one per address space rooted in
 * one of its regions, one per container -> subregion link across owners
 * into one of its regions (walked from `tops`, the unmapped top containers),
 * and one per range of a live view naming one of its terminal regions. A
 * view's flat-root counts nothing.
 */
static inline uint32_t bt_expected_refs(mt_context *ctx, const mt_owner *o, uint32_t base,
                                        mt_region *const *tops, size_t ntops)
{
    uint32_t n = base;
    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as))
        if (mt_region_owner(mt_address_space_root(as)) == o)
            n++;
    for (size_t i = 0; i < ntops; i++)
        n += bt_links_from(tops[i], o);
    mt_view *views[64];
    size_t nv = bt_distinct_views(ctx, views, 64);
    for (size_t i = 0; i < nv; i++) {
        const mt_range *r = mt_view_ranges(views[i]);
        for (size_t k = 0; k < mt_view_range_count(views[i]); k++)
            if (mt_region_owner(r[k].region) == o)
                n++;
    }
    return n;
}

#define bt_assert_refs(ctx, o, base, tops, ntops)                                         \
    do {                                                                                  \
        uint32_t want_ = bt_expected_refs((ctx), (o), (base), (tops), (ntops));           \
        uint32_t got_ = mt_owner_refcount(o);                                             \
        if (want_ != got_) {                                                              \
            print_error("owner %s: %u references, 8.3 predicts %u\n", mt_owner_label(o), \
                        got_, want_);                                                     \
            fail();                                                                       \
        }                                                                                 \
    } while (0)

/* The text of one address space's view (for comparing variants). */
static inline char *bt_as_summary(const mt_address_space *as)
{
    char *ranges = mt_test_as_text(as);
    const mt_view *v = mt_address_space_view(as);
    size_t n = strlen(ranges) + 256;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s root=%s\n%s", mt_address_space_name(as), mt_view_root_name(v), ranges);
    free(ranges);
    return out;
}

#endif /* TEST_BRIDGE_COMMON_H */
