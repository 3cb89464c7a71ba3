/*
 * Coalesced-MMIO ranges of regions (docs/listeners.md, "Coalesced MMIO"): parts of a
 * region whose writes an accelerator may batch instead of exiting for
 * each. memtree only keeps them and tells listeners; the batching is the
 * accelerator's.
 *
 * A region's list is immutable once built: a change builds the new list,
 * tells listeners about the old and the new one, then frees the old. Only
 * writers read the lists (no reader path needs them), so no grace period.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>

static size_t count_of(const struct mt__coalesced *list)
{
    return list ? list->n : 0;
}

/* `list` with `extra` appended (QEMU keeps insertion order too). */
static struct mt__coalesced *list_append(const struct mt__coalesced *list,
                                         struct mt__coalesced_range extra)
{
    size_t n = count_of(list);
    struct mt__coalesced *now = mt__xmalloc(sizeof(*now) + (n + 1) * sizeof(now->ranges[0]));
    for (size_t i = 0; i < n; i++)
        now->ranges[i] = list->ranges[i];
    now->ranges[n] = extra;
    now->n = n + 1;
    return now;
}

/* Installs `now` as r's list, tells listeners at once, frees the old. */
static void replace_list(mt_region *r, struct mt__coalesced *now)
{
    struct mt__coalesced *old = mt__rare(r)->coalesced;
    r->rare_->coalesced = now;
    mt__coalesced_changed(r, old, now);
    free(old);
}

/* The range [offset, offset + size) of r as offsets, or -EINVAL: size 0,
 * past the end of the region, or past 2^64 (UINT64_MAX means 2^64). */
static int range_in_region(const mt_region *r, uint64_t offset, uint64_t size,
                           struct mt__coalesced_range *out)
{
    mt__u128 length = size == UINT64_MAX ? (mt__u128)MT__2_64 : size;
    mt__u128 region_size = r->size_full_ ? (mt__u128)MT__2_64 : r->size_;
    if (size == 0)
        return mt__diag(r->ctx_, -EINVAL, "add_coalescing '%s': size 0", mt__name(r));
    if ((mt__u128)offset + length > region_size)
        return mt__diag(r->ctx_, -EINVAL,
                        "add_coalescing '%s': 0x%" PRIx64 "+0x%" PRIx64
                        " is past the end of the region", mt__name(r), offset, size);
    *out = (struct mt__coalesced_range){offset, (uint64_t)((mt__u128)offset + length - 1)};
    return 0;
}

int mt_region_add_coalescing(mt_region *r, uint64_t offset, uint64_t size)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "add_coalescing");
    struct mt__coalesced_range range = {0, 0}; /* set unless an error returns */
    int err = range_in_region(r, offset, size, &range);
    if (err)
        return err;
    replace_list(r, list_append(mt__rare_get(r)->coalesced, range));
    return 0;
}

int mt_region_set_coalescing(mt_region *r)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "set_coalescing");
    if (!r->size_full_ && r->size_ == 0)
        return mt__diag(r->ctx_, -EINVAL, "set_coalescing '%s': the region is empty",
                        mt__name(r));
    /* one change from the old list to the whole region: what QEMU's
     * clear-then-add tells listeners, in one step */
    struct mt__coalesced_range whole = {0, r->size_full_ ? UINT64_MAX : r->size_ - 1};
    replace_list(r, list_append(NULL, whole));
    return 0;
}

int mt_region_clear_coalescing(mt_region *r)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, "clear_coalescing");
    if (mt__rare_get(r)->coalesced)
        replace_list(r, NULL);
    return 0;
}

size_t mt_region_coalesced_count(const mt_region *r)
{
    return mt__region_live(r) ? count_of(mt__rare_get(r)->coalesced) : 0;
}

void mt__region_coalesced_free(mt_region *r)
{
    if (r->rare_) {
        free(r->rare_->coalesced);
        r->rare_->coalesced = NULL;
    }
}
