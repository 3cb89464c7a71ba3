/*
 * Results that outlive a read-side section (docs/access.md, "Direct
 * pointers" and "Find"): direct pointers and the bounce buffer (QEMU's
 * address_space_map), find (memory_region_find) and section copies. Each
 * holds one reference on its region's owner and counts on the region
 * itself, so the region cannot be finalised while the result is
 * outstanding (docs/lifetimes.md); a copy also
 * holds its view, so that its `view` stays usable. Mapping, unmapping,
 * copying and releasing are reader calls; find walks the writer's list of
 * address spaces.
 */
#include "access_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* What a mapping or a held section keeps: the region counted (it cannot
 * be finalised) and its owner referenced. Both counts are atomic, so any
 * thread may hold and release; the region is live when held, because the
 * caller found it in a view inside a read-side section. */
static void hold(mt_region *t)
{
    if (!t)
        return;
    __atomic_fetch_add(&t->held_refs_, 1, __ATOMIC_RELAXED);
    mt__owner_reader_ref(t->owner_);
}

static void release(mt_region *t)
{
    if (!t)
        return;
    mt_context *ctx = t->ctx_;
    mt_owner *o = t->owner_;
    /* the region may be finalised as soon as the count drops: read first */
    uint32_t before = __atomic_fetch_sub(&t->held_refs_, 1, __ATOMIC_RELEASE);
    assert(before > 0);
    (void)before;
    mt__owner_reader_unref(ctx, o);
}

/* ---- map and unmap ---------------------------------------------------------------- */

int mt_address_space_map(mt_address_space *as, uint64_t addr, uint64_t len, bool is_write,
                         mt_attrs attrs, mt_mapping *out)
{
    if (!as || !out)
        return mt__diag(as ? as->ctx : NULL, -EINVAL, "mt_address_space_map: NULL %s",
                        as ? "mapping" : "address space");
    memset(out, 0, sizeof(*out));
    mt_context *ctx = as->ctx;
    if (!len || len - 1 > UINT64_MAX - addr)
        return mt__diag(ctx, -EINVAL,
                        "mt_address_space_map: length 0x%" PRIx64 " at 0x%" PRIx64
                        " is empty or runs past 2^64", len, addr);

    mt__rcu_read_lock();
    uint64_t l = len;
    struct mt__hit h;
    mt__resolve(as, mt__as_view(as), addr, is_write, attrs, &l, &h);
    if (is_write && h.readonly) {
        mt__rcu_read_unlock();
        mt__guest_error(ctx, "write mapping of readonly range at 0x%" PRIx64, addr);
        return -EACCES; /* no pointer to memory that refuses writes */
    }
    if (attrs.memory && !mt__ram_backed(h.t)) {
        mt__rcu_read_unlock();
        mt__guest_error(ctx, "mapping of non-RAM range at 0x%" PRIx64 " with the memory "
                        "attribute", addr);
        return -EACCES;
    }
    uint8_t *ram = mt__direct(&h, is_write) ? mt__region_backing(h.t) : NULL;
    if (mt__direct(&h, is_write) && !ram) {
        mt__rcu_read_unlock();
        return mt__diag(ctx, -ENOMEM, "mt_address_space_map: the backing of '%s' (%s "
                        "bytes) cannot be allocated", mt__name(h.t),
                        h.t->size_full_ ? "2^64" : "that many");
    }
    if (ram) {
        if (l - 1 > h.to_last)
            l = h.to_last + 1;
        hold(h.t);
        *out = (mt_mapping){.host = ram + h.x, .len = l, .as_ = as, .region_ = h.t,
                            .addr_ = addr, .offset_ = h.x, .attrs_ = attrs,
                            .dirty_ = h.dirty, .is_write_ = is_write};
        mt__rcu_read_unlock();
        return 0;
    }
    /* Not direct: the context's one bounce buffer, at most a page long. */
    struct mt__access_settings *s = mt__access(ctx);
    if (__atomic_exchange_n(&s->bounce_busy, 1, __ATOMIC_ACQUIRE)) {
        mt__rcu_read_unlock();
        return -EBUSY;
    }
    uint64_t page = mt__page_size(ctx);
    if (l > page)
        l = page;
    hold(h.t);
    mt__rcu_read_unlock();
    *out = (mt_mapping){.host = mt__xmalloc(l), .len = l, .as_ = as, .region_ = h.t,
                        .addr_ = addr, .offset_ = h.x, .attrs_ = attrs,
                        .is_write_ = is_write, .bounce_ = true};
    if (!is_write)
        mt_address_space_read(as, addr, attrs, out->host, l);
    return 0;
}

int mt_address_space_unmap(mt_mapping *m, uint64_t access_len)
{
    if (!m || !m->host || !m->as_)
        return mt__diag(m && m->as_ ? m->as_->ctx : NULL, -EINVAL,
                        "mt_address_space_unmap: not a live mapping");
    mt_context *ctx = m->as_->ctx;
    if (access_len > m->len)
        access_len = m->len;
    int err = 0;
    if (m->bounce_) {
        if (m->is_write_ && access_len &&
            mt_address_space_write(m->as_, m->addr_, m->attrs_, m->host, access_len) !=
                MT_RESULT_OK)
            err = -EIO;
        free(m->host);
        __atomic_store_n(&mt__access(ctx)->bounce_busy, 0, __ATOMIC_RELEASE);
    } else if (m->is_write_) {
        mt__dirty_report(ctx, m->region_, m->offset_, access_len, m->dirty_);
    }
    release(m->region_);
    memset(m, 0, sizeof(*m));
    return err;
}

/* ---- find ------------------------------------------------------------------------- */

int mt_region_find(mt_region *r, uint64_t offset, uint64_t len, mt_section *out)
{
    if (!out)
        return mt__diag(mt__region_live(r) ? r->ctx_ : NULL, -EINVAL,
                        "mt_region_find: NULL section");
    memset(out, 0, sizeof(*out));
    if (!mt__region_live(r))
        return mt__region_misuse(r, "mt_region_find");
    if (!len)
        return -ENOENT; /* an empty request meets nothing */

    /* Absolute address in the top container: QEMU adds every addr on the
     * way up, the top container's own included, modulo 2^64. */
    uint64_t abs = offset + r->addr_;
    const mt_region *top = r;
    while (top->container_) {
        top = top->container_;
        abs += top->addr_;
    }
    mt_address_space *as = mt__as_rooted_at(r->ctx_, top);
    if (!as)
        return -ENOENT;
    mt_view *v = as->view;
    mt__u128 end = (mt__u128)abs + len; /* exclusive, up to 2^64 */
    if (end > (mt__u128)MT__2_64)
        end = (mt__u128)MT__2_64;

    /* The first range meeting [abs, end): the one holding abs, else the
     * first one starting after it, if it starts before end. */
    const mt_range *rg = mt__view_first_reaching(v, abs);
    if (!rg || rg->start >= end)
        return -ENOENT;

    uint64_t start = rg->start > abs ? rg->start : abs;
    uint64_t last = (mt__u128)rg->last < end - 1 ? rg->last : (uint64_t)(end - 1);
    hold(rg->region);
    mt__section_of(out, rg, v, as);
    out->offset_in_region += start - rg->start;
    out->start = start;
    out->last = last;
    out->held_ = MT__HELD_REGION;
    return 0;
}

int mt_section_copy(const mt_section *src, mt_section *dst)
{
    if (!src || !dst || !src->view)
        return mt__diag(src && src->view ? src->view->ctx : NULL, -EINVAL,
                        "mt_section_copy: %s",
                        !src || !dst ? "NULL section" : "the section has no view");
    if (!mt_view_ref(src->view))
        return mt__diag(src->view->ctx, -ESTALE,
                        "mt_section_copy: the section's view was replaced and is being "
                        "freed; look the address up again");
    mt_section copy = *src;
    hold(copy.region);
    copy.held_ = MT__HELD_REGION | MT__HELD_VIEW;
    *dst = copy;
    return 0;
}

void mt_section_release(mt_section *s)
{
    if (!s || (!s->held_ && !s->region))
        return; /* nothing (a failed find leaves the section cleared) */
    if (!s->held_) {
        mt__diag(s->view ? s->view->ctx : NULL, -EINVAL,
                 "mt_section_release: the section of '%s' holds nothing (it is not from "
                 "mt_region_find or mt_section_copy)", mt_region_name(s->region));
        return;
    }
    release(s->region);
    if (s->held_ & MT__HELD_VIEW)
        mt_view_unref(s->view);
    memset(s, 0, sizeof(*s));
}

bool mt_region_present(mt_region *container, uint64_t offset)
{
    mt_section s;
    if (mt_region_find(container, offset, 1, &s) != 0)
        return false;
    bool other = s.region != container;
    mt_section_release(&s);
    return other;
}
