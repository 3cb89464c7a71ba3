/*
 * Bug: a childless 2^64 `i/o` region used as an address space's root (an
 * IOMMU region: SPARC sun4m/sun4u/sun4v, Alpha clipper, PowerNV) was
 * imported as an empty container, even with a flat dump that shows it
 * answering over the whole space. The view printed root `(none)`, or the
 * address space shared the empty view with a disabled bus-master space.
 * Found on the machine zoo (sparc-SS-5, sparc64-sun4u, ...); fixed in the
 * commit that added this test: the flat-root check of the importer now
 * looks at the empty container that stopped the descent, and without a
 * flat dump such a root is guessed terminal (with a warning).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mt_test.h"

#include "memtree.h"
#include <memtree/format.h>

/* sun4u-like: an IOMMU root, and a disabled bus-master alias of it */
static const char tree[] =
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
    "    0000000000000000-0000000000000fff (prio 0, ram): ram\n"
    "    0000000010000000-0000000010000fff (prio 0, i/o): uart\n"
    "\n"
    "address-space: iommu-as\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-root\n"
    "\n"
    "address-space: dma\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container\n"
    "    0000000000000000-ffffffffffffffff (prio 0, i/o): alias bus master @iommu-root "
    "0000000000000000-ffffffffffffffff [disabled]\n"
    "\n"
    "memory-region: iommu-root\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-root\n"
    "\n"
    "address-space: empty-bus\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus root\n"
    "\n"
    "address-space: dma2\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): bus master container\n"
    "    0000000000000000-ffffffffffffffff (prio 0, i/o): alias bus master @iommu-b "
    "0000000000000000-ffffffffffffffff\n"
    "\n"
    "memory-region: iommu-b\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-b\n"
    "\n";

static const char flat_iommu[] =
    "FlatView #0\n"
    " AS \"memory\", root: system\n"
    " Root memory region: system\n"
    "  0000000000000000-0000000000000fff (prio 0, ram): ram\n"
    "  0000000010000000-0000000010000fff (prio 0, i/o): uart\n"
    "\n"
    "FlatView #1\n"
    " AS \"iommu-as\", root: iommu-root\n"
    " Root memory region: iommu-root\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-root\n"
    "\n"
    "FlatView #2\n"
    " AS \"dma\", root: bus master container\n"
    " AS \"empty-bus\", root: bus root\n"
    " Root memory region: (none)\n"
    "  No rendered FlatView\n"
    "\n"
    "FlatView #3\n"
    " AS \"dma2\", root: bus master container\n"
    " Root memory region: iommu-b\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-b\n"
    "\n";

static mt_machine *load(mt_context *ctx, const char *flat)
{
    FILE *in = fmemopen((void *)tree, strlen(tree), "r");
    FILE *fl = flat ? fmemopen((void *)flat, strlen(flat), "r") : NULL;
    mt_machine *m = NULL;
    char err[512] = "";
    int rc = mt_machine_load(ctx, MT_FORMAT_QEMU, in, "tree.txt", fl, "flat.txt", &m, err,
                             sizeof(err));
    fclose(in);
    if (fl)
        fclose(fl);
    assert_int_equal(rc, 0);
    return m;
}

static const mt_view *view_of(mt_machine *m, const char *as)
{
    for (size_t i = 0; i < mt_machine_address_space_count(m); i++) {
        mt_address_space *a = mt_machine_address_space(m, i);
        if (!strcmp(mt_address_space_name(a), as))
            return mt_address_space_view(a);
    }
    fail_msg("no address space %s", as);
    return NULL;
}

static void check_views(mt_machine *m)
{
    const mt_view *v = view_of(m, "iommu-as");
    assert_string_equal(mt_view_root_name(v), "iommu-root");
    assert_int_equal(mt_view_range_count(v), 1);
    assert_int_equal(mt_view_ranges(v)[0].start, 0);
    assert_true(mt_view_ranges(v)[0].last == UINT64_MAX);
    /* not merged with the spaces that really are empty */
    assert_true(v != view_of(m, "dma"));
    assert_true(mt_view_is_empty_view(view_of(m, "dma")));
    assert_true(mt_view_is_empty_view(view_of(m, "empty-bus")));
    /* an IOMMU region reached through a bus-master alias, not a root itself:
     * only the flat dump can tell it from an empty bus */
    v = view_of(m, "dma2");
    assert_string_equal(mt_view_root_name(v), "iommu-b");
    assert_int_equal(mt_view_range_count(v), 1);
}

static void with_flat_dump(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    mt_machine *m = load(ctx, flat_iommu);
    check_views(m);
    assert_false(mt_machine_flat_differs(m));
    assert_int_equal(mt_machine_warning_count(m), 0);
    mt_machine_free(m);
    mt_context_free(ctx);
}

static void without_flat_dump(void **state)
{
    (void)state;
    mt_context *ctx = mt_context_new();
    mt_machine *m = load(ctx, NULL);
    const mt_view *v = view_of(m, "iommu-as");
    assert_string_equal(mt_view_root_name(v), "iommu-root");
    assert_int_equal(mt_view_range_count(v), 1);
    /* the guess is named, with its line */
    bool named = false;
    for (size_t i = 0; i < mt_machine_warning_count(m); i++)
        named |= strstr(mt_machine_warning(m, i), "tree.txt:7: 'iommu-root' prints i/o: "
                        "guessed MMIO") != NULL;
    assert_true(named);
    /* iommu-b is no root: guessed an empty bus, and said so */
    assert_true(mt_view_is_empty_view(view_of(m, "dma2")));
    named = false;
    for (size_t i = 0; i < mt_machine_warning_count(m); i++)
        named |= strstr(mt_machine_warning(m, i), "'iommu-b' prints i/o: guessed a "
                        "container") != NULL;
    assert_true(named);
    mt_machine_free(m);
    mt_context_free(ctx);
}

MT_TEST_MAIN(
    cmocka_unit_test(with_flat_dump),
    cmocka_unit_test(without_flat_dump))
