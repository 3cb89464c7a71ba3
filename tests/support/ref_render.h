/*
 * An independent reference renderer for tests: the rules of docs/rendering.md
 * written the simple way QEMU does it (insert into a sorted array, then
 * merge), using only the public API. Quadratic; for checking, not for use.
 */
#ifndef MT_REF_RENDER_H
#define MT_REF_RENDER_H

#include <memtree.h>

typedef struct ref_view {
    mt_range *ranges;
    size_t nr;
} ref_view;

/* Renders `flat_root` (NULL gives no ranges). */
void ref_render(mt_region *flat_root, ref_view *out);
void ref_view_free(ref_view *v);
/* The flat-root descent (docs/views.md, "The flat-root"), or NULL. */
mt_region *ref_flat_root(mt_region *as_root);
/* Compares with a library view; on a difference writes a description into
 * `why` and returns false. */
bool ref_view_equal(const ref_view *ref, const mt_view *v, char *why, size_t whylen);
/* The check most tests make: renders `flat_root` and compares the result
 * with `v` as ref_view_equal does. */
bool ref_render_matches(mt_region *flat_root, const mt_view *v, char *why, size_t whylen);

#endif
