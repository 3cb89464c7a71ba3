/*
 * Eventfds on regions (QEMU's ioeventfds; docs/access.md, "Eventfds"): the
 * per-context table of each region's sorted eventfds, edited by writers and
 * matched by the access path's writes without locks.
 *
 * The table lives beside the regions, keyed by region pointer and identity
 * (a re-initialised storage is a different region), until regions get a
 * field of their own. It is copy-on-write: an edit publishes a new table
 * and frees the old one after a grace period, so a reader holds whichever
 * it loaded for as long as its read-side section lasts.
 */
#include "access_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct region_fds {
    const mt_region *r;
    uint64_t id;
    size_t n;
    struct mt__eventfd fds[]; /* sorted, mt__eventfd_cmp */
};

struct mt__eventfd_table {
    size_t n;
    struct region_fds *regions[]; /* sorted by region pointer */
};

/* QEMU's order (memory_region_ioeventfd_before); internal.h. */
int mt__eventfd_cmp(const struct mt__eventfd *a, const struct mt__eventfd *b)
{
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    if (a->match_data != b->match_data)
        return a->match_data < b->match_data ? -1 : 1;
    if (a->match_data && a->data != b->data)
        return a->data < b->data ? -1 : 1;
    if (a->notifier != b->notifier)
        return (uintptr_t)a->notifier < (uintptr_t)b->notifier ? -1 : 1;
    return 0;
}

/* Position of `r` in the table, or where it would go. */
static size_t table_search(const struct mt__eventfd_table *t, const mt_region *r)
{
    size_t lo = 0, hi = t ? t->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)t->regions[mid]->r < (uintptr_t)r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The live entry of `r`, or NULL (none, or a stale one of a finalised
 * region that used the same storage). */
static const struct region_fds *entry_of(const struct mt__eventfd_table *t,
                                         const mt_region *r)
{
    size_t i = table_search(t, r);
    if (!t || i == t->n || t->regions[i]->r != r || t->regions[i]->id != r->id_)
        return NULL;
    return t->regions[i];
}

const struct mt__eventfd *mt__eventfd_match(const mt_context *ctx, const mt_region *r,
                                            uint64_t offset, unsigned size, uint64_t value)
{
    const struct mt__eventfd_table *t =
        __atomic_load_n(&mt__access(ctx)->eventfds, __ATOMIC_ACQUIRE);
    const struct region_fds *e = entry_of(t, r);
    if (!e)
        return NULL;
    for (size_t i = 0; i < e->n; i++) {
        const struct mt__eventfd *fd = &e->fds[i];
        if (fd->offset == offset &&
            (fd->size == 0 || (fd->size == size && (!fd->match_data || fd->data == value))))
            return fd;
    }
    return NULL;
}

const struct mt__eventfd *mt__region_eventfds(const mt_region *r, size_t *n)
{
    const struct region_fds *e = entry_of(mt__access(r->ctx_)->eventfds, r);
    *n = e ? e->n : 0;
    return e ? e->fds : NULL;
}

/*
 * Replaces r's eventfds with `fds` (n of them, sorted; none removes the
 * entry and any stale one in its place), publishes the new table, waits
 * for readers of the old one, and frees what it replaced.
 */
static void table_replace(mt_context *ctx, const mt_region *r, const struct mt__eventfd *fds,
                          size_t n)
{
    struct mt__access_settings *s = mt__access(ctx);
    struct mt__eventfd_table *old = s->eventfds;
    mt__eventfds_note_change((mt_region *)r); /* for the listeners' next pass */
    size_t i = table_search(old, r);
    bool present = old && i < old->n && old->regions[i]->r == r;
    size_t count = (old ? old->n : 0) - present + (n > 0);

    struct region_fds *entry = NULL;
    if (n) {
        entry = mt__xmalloc(sizeof(*entry) + n * sizeof(*fds));
        entry->r = r;
        entry->id = r->id_;
        entry->n = n;
        memcpy(entry->fds, fds, n * sizeof(*fds));
    }
    struct mt__eventfd_table *t = NULL;
    if (count) {
        t = mt__xmalloc(sizeof(*t) + count * sizeof(t->regions[0]));
        size_t k = 0;
        for (size_t j = 0; j < i; j++)
            t->regions[k++] = old->regions[j];
        if (entry)
            t->regions[k++] = entry;
        for (size_t j = i + present; old && j < old->n; j++)
            t->regions[k++] = old->regions[j];
        t->n = k;
        assert(k == count);
    }
    __atomic_store_n(&s->eventfds, t, __ATOMIC_RELEASE);
    if (!old)
        return;
    /* Readers that loaded the old table may still be matching in it: freed
     * after them, without waiting (an eventfd may be added from an MMIO
     * callback, inside a read-side section). */
    mt__free_after_readers(ctx, present ? old->regions[i] : NULL, old);
}

/* Checks and normalises an eventfd as the table stores it: data masked to
 * the size and put in the region's byte order (QEMU's adjust_endianness
 * with the target's order). 0 or -EINVAL. */
static int make_fd(mt_region *r, uint64_t offset, unsigned size, bool match_data,
                   uint64_t data, mt_event_notifier *e, struct mt__eventfd *out,
                   const char *op)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, op);
    if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8)
        return mt__diag(r->ctx_, -EINVAL, "%s '%s': size %u is not 0, 1, 2, 4 or 8", op,
                        mt__name(r), size);
    if (!e || !e->signal)
        return mt__diag(r->ctx_, -EINVAL, "%s '%s': notifier without a signal callback",
                        op, mt__name(r));
    if (!match_data || size == 0) {
        data = 0;
    } else {
        if (size < 8)
            data &= (UINT64_C(1) << (8 * size)) - 1;
        const mt_region_ops *ops = mt__rare_get(r)->ops;
        mt_endian dev = ops ? ops->endianness : MT_ENDIAN_NATIVE;
        bool dev_be = dev == MT_ENDIAN_BIG ||
                      (dev == MT_ENDIAN_NATIVE && r->ctx_->target_big_endian);
        if (dev_be != r->ctx_->target_big_endian && size > 1)
            data = size == 2 ? __builtin_bswap16((uint16_t)data)
                 : size == 4 ? __builtin_bswap32((uint32_t)data)
                             : __builtin_bswap64(data);
    }
    *out = (struct mt__eventfd){.offset = offset, .data = data, .size = size,
                                .match_data = match_data && size != 0, .notifier = e};
    return 0;
}

int mt_region_add_eventfd(mt_region *r, uint64_t offset, unsigned size, bool match_data,
                          uint64_t data, mt_event_notifier *e)
{
    struct mt__eventfd fd;
    int err = make_fd(r, offset, size, match_data, data, e, &fd, "mt_region_add_eventfd");
    if (err)
        return err;
    size_t n;
    const struct mt__eventfd *cur = mt__region_eventfds(r, &n);
    size_t pos = 0;
    while (pos < n && mt__eventfd_cmp(&cur[pos], &fd) < 0)
        pos++;
    if (pos < n && mt__eventfd_cmp(&cur[pos], &fd) == 0)
        return mt__diag(r->ctx_, -EEXIST,
                        "mt_region_add_eventfd '%s': eventfd at 0x%" PRIx64 " already there",
                        mt__name(r), offset);
    struct mt__eventfd *fds = mt__xmalloc((n + 1) * sizeof(*fds));
    for (size_t i = 0; i < pos; i++)
        fds[i] = cur[i];
    fds[pos] = fd;
    for (size_t i = pos; i < n; i++)
        fds[i + 1] = cur[i];
    table_replace(r->ctx_, r, fds, n + 1);
    free(fds);
    mt__eventfds_changed(r);
    return 0;
}

int mt_region_del_eventfd(mt_region *r, uint64_t offset, unsigned size, bool match_data,
                          uint64_t data, mt_event_notifier *e)
{
    struct mt__eventfd fd;
    int err = make_fd(r, offset, size, match_data, data, e, &fd, "mt_region_del_eventfd");
    if (err)
        return err;
    size_t n;
    const struct mt__eventfd *cur = mt__region_eventfds(r, &n);
    size_t pos = 0;
    while (pos < n && mt__eventfd_cmp(&cur[pos], &fd) != 0)
        pos++;
    if (pos == n)
        return mt__diag(r->ctx_, -ENOENT,
                        "mt_region_del_eventfd '%s': no such eventfd at 0x%" PRIx64,
                        mt__name(r), offset);
    struct mt__eventfd *fds = mt__xmalloc(n * sizeof(*fds));
    for (size_t i = 0, k = 0; i < n; i++)
        if (i != pos)
            fds[k++] = cur[i];
    table_replace(r->ctx_, r, fds, n - 1);
    free(fds);
    mt__eventfds_changed(r);
    return 0;
}

void mt__region_eventfds_clear(mt_region *r)
{
    struct mt__eventfd_table *t = mt__access(r->ctx_)->eventfds;
    size_t i = table_search(t, r);
    if (t && i < t->n && t->regions[i]->r == r)
        table_replace(r->ctx_, r, NULL, 0);
    mt__eventfds_forget(r);
}

void mt__access_free(mt_context *ctx)
{
    struct mt__eventfd_table *t = mt__access(ctx)->eventfds;
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->regions[i]);
    free(t);
    mt__access(ctx)->eventfds = NULL;
}
