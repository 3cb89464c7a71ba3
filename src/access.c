/*
 * The access path (docs/access.md): reads and writes through an address
 * space's current view, region-level dispatch, the ROM loader's write and
 * translation. Owns the rules of mt_region_ops (validity, access sizes,
 * byte order), the `memory` attribute, readonly refusal (one rule for
 * every kind) and the IOMMU walk. Splitting an access into callbacks and
 * unaligned emulation are in access_split.c, direct pointers and find in
 * access_map.c, eventfds in eventfd.c, the lookup index in index.c, the
 * context's settings in settings.c.
 *
 * Every reader entry point loads the address space's view once, inside one
 * read-side section, and writes nothing shared but the index's hint.
 */
#include "access_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HOST_BE (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)
/* An IOMMU chain longer than this is a loop in the embedder's tables. */
#define MAX_IOMMU_HOPS 16

/* ---- byte order ----------------------------------------------------------- */

static inline uint64_t bswap_size(uint64_t v, unsigned size)
{
    switch (size) {
    case 2: return __builtin_bswap16((uint16_t)v);
    case 4: return __builtin_bswap32((uint32_t)v);
    case 8: return __builtin_bswap64(v);
    default: return v;
    }
}

/* The `size` bytes at p as a value whose first byte is the most
 * significant when `be`. Sizes are 1, 2, 4 or 8. */
static inline uint64_t load_bytes(const uint8_t *p, uint64_t size, bool be)
{
    uint64_t v;
    switch (size) {
    case 1: return p[0];
    case 2: { uint16_t x; memcpy(&x, p, 2); v = x; break; }
    case 4: { uint32_t x; memcpy(&x, p, 4); v = x; break; }
    default: memcpy(&v, p, 8); break;
    }
    return be != HOST_BE ? bswap_size(v, (unsigned)size) : v;
}

static inline void store_bytes(uint8_t *p, uint64_t v, uint64_t size, bool be)
{
    if (be != HOST_BE)
        v = bswap_size(v, (unsigned)size);
    switch (size) {
    case 1: p[0] = (uint8_t)v; break;
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

/* memcpy for the lengths guests use, without a call for the common ones:
 * a 4-byte load should cost a move, not a trip through libc. */
static inline void copy_bytes(void *dst, const void *src, uint64_t len)
{
    switch (len) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, len); break;
    }
}

/* ---- diagnostics ------------------------------------------------------------ */

static const char *region_name(const mt_region *r)
{
    return r ? mt__name(r) : "unassigned";
}

/* ---- devices: what a terminal region's accesses run ---------------------------- */

/* Regions without callbacks (RAM, ROM, containers, reservations, IOMMUs,
 * the unassigned pseudo-region) reject everything, like QEMU's unassigned
 * ops: that is how ROM writes end in DECODE_ERROR (docs/access.md). */
static bool reject_all(void *opaque, uint64_t offset, unsigned size, bool is_write,
                       mt_attrs attrs)
{
    (void)opaque, (void)offset, (void)size, (void)is_write, (void)attrs;
    return false;
}

static const mt_region_ops unassigned_ops = {
    .endianness = MT_ENDIAN_NATIVE,
    .valid = {.accepts = reject_all},
};

/* RAM devices: the backing through host-order loads and stores of any
 * size up to 8, aligned or not (QEMU's ram_device_mem_ops). The opaque is
 * the region, so accesses past its end are refused. */
static bool ramd_accepts(void *opaque, uint64_t offset, unsigned size, bool is_write,
                         mt_attrs attrs)
{
    (void)is_write, (void)attrs;
    mt_region *r = opaque;
    /* a loader's RAM device gets its backing on first need (region.c) */
    return (mt__i128)offset + size <= mt__size(r) && mt__region_backing(r);
}

static uint64_t ramd_read(void *opaque, uint64_t offset, unsigned size)
{
    /* ramd_accepts made the backing */
    return load_bytes(mt__region_backing(opaque) + offset, size, HOST_BE);
}

static void ramd_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    store_bytes(mt__region_backing(opaque) + offset, value, size, HOST_BE);
}

static const mt_region_ops ramd_ops = {
    .read = ramd_read,
    .write = ramd_write,
    .endianness = HOST_BE ? MT_ENDIAN_BIG : MT_ENDIAN_LITTLE,
    .valid = {.min_access_size = 1, .max_access_size = 8, .unaligned = true,
              .accepts = ramd_accepts},
    .impl = {.min_access_size = 1, .max_access_size = 8, .unaligned = true},
};

static inline void dev_of(const mt_context *ctx, const mt_region *t, struct mt__dev *d)
{
    const struct mt__region_rare *rare;
    d->r = t;
    d->ops = &unassigned_ops;
    d->opaque = NULL;
    if (t) {
        switch (t->kind_) {
        case MT_KIND_IO:
        case MT_KIND_ROM_DEVICE:
            /* a ROM device loaded without callbacks may get its side
             * struct later, from the writer */
            rare = __atomic_load_n(&t->rare_, __ATOMIC_ACQUIRE);
            if (rare && rare->ops) {
                d->ops = rare->ops;
                d->opaque = t->opaque_;
            }
            break;
        case MT_KIND_RAM_DEVICE:
            d->ops = &ramd_ops;
            d->opaque = (void *)t;
            break;
        default:
            break;
        }
    }
    switch (d->ops->endianness) {
    case MT_ENDIAN_LITTLE: d->be = false; break;
    case MT_ENDIAN_BIG: d->be = true; break;
    default: d->be = ctx->target_big_endian; break;
    }
}

/* Why an access is invalid, to the guest-error hook; out of line, so the
 * valid path stays small. */
static void __attribute__((noinline, cold))
report_invalid(const mt_context *ctx, const struct mt__dev *d, uint64_t x, unsigned size,
               bool is_write, const char *why)
{
    mt__guest_error(ctx, "invalid %s at offset 0x%" PRIx64 ", size %u, region '%s', reason: %s",
                    is_write ? "write" : "read", x, size, region_name(d->r), why);
}

/* The validity checks (docs/access.md, "Device access rules"), in their
 * order. An invalid access runs nothing. */
static inline bool dev_valid(const mt_context *ctx, const struct mt__dev *d, uint64_t x,
                             unsigned size, bool is_write, mt_attrs attrs)
{
    const mt_region_ops *ops = d->ops;
    const char *why = NULL;
    if (ops->valid.accepts && !ops->valid.accepts(d->opaque, x, size, is_write, attrs))
        why = "rejected";
    else if (!ops->valid.unaligned && (x & (size - 1)))
        why = "unaligned";
    else if (ops->valid.max_access_size &&
             (size > ops->valid.max_access_size || size < ops->valid.min_access_size))
        why = "invalid size";
    else if (is_write ? !ops->write && !ops->write_with_attrs
                      : !ops->read && !ops->read_with_attrs)
        why = "no callback"; /* QEMU would crash here */
    if (__builtin_expect(!why, 1))
        return true;
    report_invalid(ctx, d, x, size, is_write, why);
    return false;
}

/* The chunk an address-space access dispatches at offset x. */
static inline uint64_t chunk_size(const mt_region_ops *ops, uint64_t x, uint64_t len)
{
    uint64_t max = ops->valid.max_access_size ? ops->valid.max_access_size : 4;
    if (max > 8)
        max = 8;
    if (!ops->impl.unaligned && x && (x & -x) < max)
        max = x & -x;
    return mt__pow2_floor(len < max ? len : max);
}

/* The callbacks take exactly `size` bytes at x: no splitting, no
 * emulation. (size is a power of two, so this agrees with the size range
 * of access_split.c.) */
static inline bool one_callback(const mt_region_ops *ops, uint64_t x, unsigned size)
{
    unsigned imax = ops->impl.max_access_size ? ops->impl.max_access_size : 4;
    return size >= ops->impl.min_access_size && size <= imax &&
           !mt__needs_emulation(ops, x, size);
}

/* A read of `size` bytes at x, value in the device's byte order. */
static inline mt_result dev_read(const mt_context *ctx, const struct mt__dev *d, uint64_t x,
                                 unsigned size, mt_attrs attrs, uint64_t *out)
{
    *out = 0;
    if (!dev_valid(ctx, d, x, size, false, attrs))
        return MT_RESULT_DECODE_ERROR;
    if (__builtin_expect(one_callback(d->ops, x, size), 1))
        return mt__cb_read(d, x, size, attrs, out);
    return mt__split_read(d, x, size, attrs, out);
}

/* A write, value in the device's byte order: validity, the eventfd
 * shortcut (docs/access.md, "Eventfds"), then the callbacks. Inside a read-side section. */
static inline mt_result dev_write(const mt_context *ctx, const struct mt__dev *d, uint64_t x,
                           unsigned size, mt_attrs attrs, uint64_t v)
{
    if (!dev_valid(ctx, d, x, size, true, attrs))
        return MT_RESULT_DECODE_ERROR;
    const struct mt__access_settings *s = mt__access(ctx);
    if (d->r && __atomic_load_n(&s->eventfds, __ATOMIC_ACQUIRE) && !s->eventfds_external) {
        const struct mt__eventfd *e = mt__eventfd_match(ctx, d->r, x, size, v);
        if (e) {
            e->notifier->signal(e->notifier);
            return MT_RESULT_OK;
        }
    }
    if (__builtin_expect(one_callback(d->ops, x, size), 1))
        return mt__cb_write(d, x, v, size, attrs);
    return mt__split_write(d, x, size, attrs, v);
}

/* ---- resolving an address ------------------------------------------------------- */

/* One IOMMU on the way (docs/access.md, "IOMMUs"): false when the access goes to the
 * unassigned pseudo-region instead. */
static bool __attribute__((noinline))
iommu_step(mt_region *t, uint64_t x, bool is_write, mt_attrs attrs, unsigned hops,
           uint64_t *addr, uint64_t *l, struct mt__hit *h)
{
    mt_context *ctx = t->ctx_;
    const mt_iommu_ops *ops = mt__rare_get(t)->iommu_ops;
    h->iommu = true;
    if (hops >= MAX_IOMMU_HOPS) {
        mt__guest_error(ctx, "IOMMU '%s': more than %d IOMMUs chained", mt__name(t),
                        MAX_IOMMU_HOPS);
        return false;
    }
    int index = ops->attrs_to_index ? ops->attrs_to_index(t->opaque_, attrs) : 0;
    mt_iommu_perm want = is_write ? MT_IOMMU_WO : MT_IOMMU_RO;
    mt_iommu_tlb_entry e = ops->translate(t->opaque_, x, want, index);
    if (!(e.perm & want))
        return false;
    if (!e.target_as) {
        mt__guest_error(ctx, "IOMMU '%s': offset 0x%" PRIx64 " translated to no address space",
                        mt__name(t), x);
        return false;
    }
    uint64_t a = (e.translated_addr & ~e.addr_mask) | (x & e.addr_mask);
    uint64_t room = e.addr_mask - (a & e.addr_mask); /* bytes left in the page, - 1 */
    if (*l - 1 > room)
        *l = room + 1;
    h->page_mask &= e.addr_mask;
    h->as = e.target_as;
    *addr = a;
    return true;
}

static inline void resolve(mt_address_space *as, mt_view *v, uint64_t addr, bool is_write,
                           mt_attrs attrs, uint64_t *l, struct mt__hit *h,
                           const mt_range *hinted)
{
    h->as = as;
    h->iommu = false;
    h->readonly = false;
    h->page_mask = UINT64_MAX;
    for (unsigned hops = 0;; hops++) {
        /* the first hop may start from the range the caller's hints found
         * (no second lookup of the same address) */
        const mt_range *rg = hinted ? hinted : mt__dispatch_find(v, addr);
        hinted = NULL;
        if (!rg)
            break;
        mt_region *t = rg->region;
        uint64_t x = rg->offset_in_region + (addr - rg->start);
        h->readonly |= rg->readonly;
        if (__builtin_expect(t->kind_ != MT_KIND_IOMMU, 1)) {
            h->t = t;
            h->x = x;
            h->to_last = rg->last - addr;
            h->romd = rg->romd_mode;
            h->dirty = rg->dirty_log_mask;
            return;
        }
        if (!iommu_step(t, x, is_write, attrs, hops, &addr, l, h))
            break;
        v = mt__as_view(h->as);
    }
    h->t = NULL;
    h->x = addr;
    h->to_last = UINT64_MAX;
    h->romd = false;
    h->dirty = 0;
}

void mt__resolve(mt_address_space *as, mt_view *v, uint64_t addr, bool is_write,
                 mt_attrs attrs, uint64_t *l, struct mt__hit *h)
{
    resolve(as, v, addr, is_write, attrs, l, h, NULL);
}

/* ---- the address-space access loop ----------------------------------------------- */

/* 0, or -EINVAL after telling the diagnostic hook what is wrong. */
static int check_buffer_args(const mt_address_space *as, uint64_t addr, const void *buf,
                             uint64_t len, const char *op)
{
    if (mt__null_arg(as, op, "address space"))
        return -EINVAL;
    if (!buf)
        return mt__diag(as->ctx, -EINVAL, "%s: NULL buffer", op);
    if (len && len - 1 > UINT64_MAX - addr)
        return mt__diag(as->ctx, -EINVAL,
                        "%s: 0x%" PRIx64 " bytes at 0x%" PRIx64 " run past the end of the "
                        "address space", op, len, addr);
    return 0;
}

/* The bytes of a direct access: t's backing, made now if it was deferred,
 * or NULL after saying why it cannot exist. */
static uint8_t *direct_bytes(mt_context *ctx, mt_region *t)
{
    uint8_t *p = mt__region_backing(t);
    if (__builtin_expect(!p, 0))
        mt__diag(ctx, -ENOMEM, "access to '%s': its backing of %s bytes cannot be allocated",
                 region_name(t), t->size_full_ ? "2^64" : "that many");
    return p;
}

static void memory_attr_error(const mt_context *ctx, uint64_t addr, uint64_t l,
                              const mt_region *t)
{
    mt__guest_error(ctx, "invalid access to non-RAM device at 0x%" PRIx64 ", size %" PRIu64
                    ", region '%s'", addr, l, region_name(t));
}

/* The loop of the general path, which is its one caller (inlined there);
 * `hinted`, if not NULL, is the range holding addr. */
static inline mt_result
read_loop(mt_address_space *as, mt_view *v, uint64_t addr, mt_attrs attrs, uint8_t *p,
          uint64_t len, const mt_range *hinted)
{
    const mt_context *ctx = as->ctx;
    mt_result res = MT_RESULT_OK;
    while (len) {
        uint64_t l = len;
        struct mt__hit h;
        resolve(as, v, addr, false, attrs, &l, &h, hinted);
        hinted = NULL;
        bool ram_backed = mt__ram_backed(h.t);
        bool direct = mt__direct(&h, false);
        if ((ram_backed || direct) && l - 1 > h.to_last)
            l = h.to_last + 1;
        if (attrs.memory && !ram_backed) {
            /* the bytes stay as they were; MMIO lengths are the rest */
            res |= MT_RESULT_ACCESS_ERROR;
            memory_attr_error(ctx, addr, l, h.t);
        } else if (direct) {
            uint8_t *ram = direct_bytes(as->ctx, h.t);
            if (ram)
                memcpy(p, ram + h.x, l);
            else
                res |= MT_RESULT_ERROR;
        } else {
            struct mt__dev d;
            dev_of(ctx, h.t, &d);
            l = chunk_size(d.ops, h.x, l);
            uint64_t val;
            res |= dev_read(ctx, &d, h.x, (unsigned)l, attrs, &val);
            store_bytes(p, val, l, d.be);
        }
        p += l;
        addr += l;
        len -= l;
    }
    return res;
}

/*
 * The entry points take the common access without a call: 1, 2, 4 or 8
 * bytes within one RAM range that the lookup's hints name
 * (mt__dispatch_find_quick), by a thread already registered as a reader.
 * Everything else, and every check that fails, leaves by a tail call to
 * the general path, so the compiler gives the common access no stack
 * frame (saving and restoring the registers that a call in the middle
 * needed was a sixth of the instructions of a read): `*_checked` checks
 * the arguments and enters the read-side section, `*_in_section` does the
 * access inside a section entered by its caller and leaves it, starting
 * from what the hints found (a walk where they found nothing).
 */
static inline bool fast_args(const mt_address_space *as, uint64_t addr, const void *buf,
                             uint64_t len)
{
    return as && buf && len - 1 <= 7 && !(len & (len - 1)) && len - 1 <= UINT64_MAX - addr &&
           mt__rcu_reader_ready();
}

/* Inside the section: the range the hints name for addr, or NULL. */
static inline const mt_range *fast_range(const mt_address_space *as, uint64_t addr)
{
    struct mt__dispatch *d = mt__as_view(as)->dispatch;
    return d ? mt__dispatch_find_quick(d, addr) : NULL;
}

/* The range holding addr in the view the caller loaded: `hinted` if the
 * hints found it, else the walk's answer (NULL: unassigned). */
static inline const mt_range *general_range(const mt_view *v, uint64_t addr,
                                            const mt_range *hinted)
{
    if (hinted)
        return hinted;
    return v->dispatch ? mt__dispatch_find_slow(v->dispatch, addr) : NULL;
}

/* len is 1, 2, 4 or 8: each copy one move */
static inline void copy_small(void *dst, const void *src, uint64_t len)
{
    switch (len) {
    case 1: memcpy(dst, src, 1); break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    default: memcpy(dst, src, 8); break;
    }
}

/* `hinted`: the range the short path's hints found, which may be of an
 * older view than the one loaded here (both live until the section ends:
 * the access starts in one of them, whichever is used). The range found
 * here starts the general path too, which so looks no address up twice. */
static mt_result __attribute__((noinline))
read_in_section(mt_address_space *as, uint64_t addr, mt_attrs attrs, void *buf, uint64_t len,
                const mt_range *hinted)
{
    mt_view *v = mt__as_view(as);
    mt_result res = MT_RESULT_OK;
    uint8_t *host;
    const mt_range *r = general_range(v, addr, hinted);
    if (mt__ram_host_of(r, addr, len, MT__FAST_READ, &host))
        copy_bytes(buf, host, len);
    else
        res = read_loop(as, v, addr, attrs, buf, len, r);
    mt__rcu_read_unlock();
    return res;
}

static mt_result __attribute__((noinline))
read_checked(mt_address_space *as, uint64_t addr, mt_attrs attrs, void *buf, uint64_t len)
{
    if (check_buffer_args(as, addr, buf, len, "mt_address_space_read"))
        return MT_RESULT_DECODE_ERROR;
    if (!len)
        return MT_RESULT_OK;
    mt__rcu_read_lock();
    return read_in_section(as, addr, attrs, buf, len, fast_range(as, addr));
}

MT__HOT_ENTRY
mt_result mt_address_space_read(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                void *buf, uint64_t len)
{
    if (__builtin_expect(!fast_args(as, addr, buf, len), 0))
        return read_checked(as, addr, attrs, buf, len);
    mt__rcu_read_lock_registered();
    const mt_range *r = fast_range(as, addr);
    uint8_t *host;
    if (__builtin_expect(!mt__ram_host_of(r, addr, len, MT__FAST_READ, &host), 0))
        return read_in_section(as, addr, attrs, buf, len, r);
    copy_small(buf, host, len);
    mt__rcu_read_unlock();
    return MT_RESULT_OK;
}

/* read_loop's twin for writes (`hinted` as there). */
static inline mt_result
write_loop(mt_address_space *as, mt_view *v, uint64_t addr, mt_attrs attrs, const uint8_t *p,
           uint64_t len, const mt_range *hinted)
{
    const mt_context *ctx = as->ctx;
    mt_result res = MT_RESULT_OK;
    while (len) {
        uint64_t l = len;
        struct mt__hit h;
        resolve(as, v, addr, true, attrs, &l, &h, hinted);
        hinted = NULL;
        bool ram_backed = mt__ram_backed(h.t);
        if (ram_backed && l - 1 > h.to_last)
            l = h.to_last + 1;
        if (attrs.memory && !ram_backed) {
            res |= MT_RESULT_ACCESS_ERROR;
            memory_attr_error(ctx, addr, l, h.t);
        } else if (h.readonly) {
            /* Readonly: refused whatever the kind, chunk by chunk as the loop
             * would have cut it; nothing written, no callback, no eventfd */
            if (!ram_backed) {
                struct mt__dev d;
                dev_of(ctx, h.t, &d);
                l = chunk_size(d.ops, h.x, l);
            }
            res |= MT_RESULT_DECODE_ERROR;
            mt__guest_error(ctx, "write to readonly range at 0x%" PRIx64 ", size %" PRIu64
                            ", region '%s'", addr, l, region_name(h.t));
        } else if (mt__direct(&h, true)) {
            uint8_t *ram = direct_bytes(as->ctx, h.t);
            if (!ram)
                res |= MT_RESULT_ERROR;
            else
                memcpy(ram + h.x, p, l);
            if (ram && h.dirty)
                mt__dirty_report(ctx, h.t, h.x, l, h.dirty);
        } else {
            struct mt__dev d;
            dev_of(ctx, h.t, &d);
            l = chunk_size(d.ops, h.x, l);
            res |= dev_write(ctx, &d, h.x, (unsigned)l, attrs, load_bytes(p, l, d.be));
        }
        p += l;
        addr += l;
        len -= l;
    }
    return res;
}

static mt_result __attribute__((noinline))
write_in_section(mt_address_space *as, uint64_t addr, mt_attrs attrs, const void *buf,
                 uint64_t len, const mt_range *hinted)
{
    mt_view *v = mt__as_view(as);
    mt_result res = MT_RESULT_OK;
    uint8_t *host;
    const mt_range *r = general_range(v, addr, hinted);
    if (mt__ram_host_of(r, addr, len, MT__FAST_WRITE, &host))
        copy_bytes(host, buf, len);
    else
        res = write_loop(as, v, addr, attrs, buf, len, r);
    mt__rcu_read_unlock();
    return res;
}

static mt_result __attribute__((noinline))
write_checked(mt_address_space *as, uint64_t addr, mt_attrs attrs, const void *buf,
              uint64_t len)
{
    if (check_buffer_args(as, addr, buf, len, "mt_address_space_write"))
        return MT_RESULT_DECODE_ERROR;
    if (!len)
        return MT_RESULT_OK;
    mt__rcu_read_lock();
    return write_in_section(as, addr, attrs, buf, len, fast_range(as, addr));
}

MT__HOT_ENTRY
mt_result mt_address_space_write(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                 const void *buf, uint64_t len)
{
    if (__builtin_expect(!fast_args(as, addr, buf, len), 0))
        return write_checked(as, addr, attrs, buf, len);
    mt__rcu_read_lock_registered();
    const mt_range *r = fast_range(as, addr);
    uint8_t *host;
    if (__builtin_expect(!mt__ram_host_of(r, addr, len, MT__FAST_WRITE, &host), 0))
        return write_in_section(as, addr, attrs, buf, len, r);
    copy_small(host, buf, len);
    mt__rcu_read_unlock();
    return MT_RESULT_OK;
}

mt_result mt_address_space_write_rom(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                     const void *buf, uint64_t len)
{
    if (check_buffer_args(as, addr, buf, len, "mt_address_space_write_rom"))
        return MT_RESULT_DECODE_ERROR;
    const mt_context *ctx = as->ctx;
    const uint8_t *p = buf;
    mt_result res = MT_RESULT_OK;
    mt__rcu_read_lock();
    mt_view *v = mt__as_view(as);
    while (len) {
        uint64_t l = len;
        struct mt__hit h;
        resolve(as, v, addr, true, attrs, &l, &h, NULL);
        mt_region *t = h.t;
        if (mt__ram_backed(t) || (t && t->kind_ == MT_KIND_ROM_DEVICE && h.romd)) {
            /* readonly flags do not apply: this is how ROMs are loaded */
            if (l - 1 > h.to_last)
                l = h.to_last + 1;
            uint8_t *ram = direct_bytes(as->ctx, t);
            if (ram) {
                memcpy(ram + h.x, p, l);
                mt__dirty_report(ctx, t, h.x, l, h.dirty);
            } else {
                res |= MT_RESULT_ERROR;
            }
        } else {
            struct mt__dev d;
            dev_of(ctx, t, &d);
            l = chunk_size(d.ops, h.x, l); /* skipped */
        }
        p += l;
        addr += l;
        len -= l;
    }
    mt__rcu_read_unlock();
    return res;
}

/* ---- translation ---------------------------------------------------------------- */

int mt_address_space_translate(mt_address_space *as, uint64_t addr, uint64_t len,
                               bool is_write, mt_attrs attrs, mt_translation *out)
{
    if (!as || !out)
        return mt__diag(as ? as->ctx : NULL, -EINVAL, "mt_address_space_translate: NULL %s",
                        as ? "result" : "address space");
    if (!len || len - 1 > UINT64_MAX - addr)
        return mt__diag(as->ctx, -EINVAL,
                        "mt_address_space_translate: length 0x%" PRIx64 " at 0x%" PRIx64
                        " is empty or runs past 2^64", len, addr);
    mt__rcu_read_lock();
    uint64_t l = len;
    struct mt__hit h;
    resolve(as, mt__as_view(as), addr, is_write, attrs, &l, &h, NULL);
    bool direct = mt__direct(&h, is_write) && !(is_write && h.readonly);
    if ((mt__ram_backed(h.t) || direct) && l - 1 > h.to_last)
        l = h.to_last + 1;
    *out = (mt_translation){
        .as = h.as,
        .region = h.t,
        .offset = h.x,
        .len = l,
        .page_mask = h.iommu ? h.page_mask : mt__page_size(as->ctx) - 1,
        .readonly = h.readonly,
    };
    mt__rcu_read_unlock();
    return 0;
}

/* ---- region-level dispatch ------------------------------------------------------ */

static int check_dispatch_args(const mt_region *r, const void *value, unsigned size,
                               mt_endian order, const char *op)
{
    if (!mt__region_live(r))
        return mt__region_misuse(r, op);
    if (!value)
        return mt__diag(r->ctx_, -EINVAL, "%s '%s': NULL value", op, mt__name(r));
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return mt__diag(r->ctx_, -EINVAL, "%s '%s': access size %u is not 1, 2, 4 or 8", op,
                        mt__name(r), size);
    if (order != MT_ENDIAN_NATIVE && order != MT_ENDIAN_LITTLE && order != MT_ENDIAN_BIG)
        return mt__diag(r->ctx_, -EINVAL, "%s '%s': unknown byte order %d", op, mt__name(r),
                        (int)order);
    return 0;
}

static inline bool order_is_big(const mt_context *ctx, mt_endian order)
{
    return order == MT_ENDIAN_BIG || (order == MT_ENDIAN_NATIVE && ctx->target_big_endian);
}

mt_result mt_region_dispatch_read(mt_region *r, uint64_t offset, uint64_t *value,
                                  unsigned size, mt_endian value_order, mt_attrs attrs)
{
    if (check_dispatch_args(r, value, size, value_order, "mt_region_dispatch_read"))
        return MT_RESULT_DECODE_ERROR;
    const mt_context *ctx = r->ctx_;
    const mt_region *t = r;
    for (; t->kind_ == MT_KIND_ALIAS; t = t->alias_)
        offset += t->alias_offset_;
    struct mt__dev d;
    dev_of(ctx, t, &d);
    uint64_t v;
    mt_result res = dev_read(ctx, &d, offset, size, attrs, &v);
    *value = order_is_big(ctx, value_order) != d.be ? bswap_size(v, size) : v;
    return res;
}

mt_result mt_region_dispatch_write(mt_region *r, uint64_t offset, uint64_t value,
                                   unsigned size, mt_endian value_order, mt_attrs attrs)
{
    uint64_t unused = 0;
    if (check_dispatch_args(r, &unused, size, value_order, "mt_region_dispatch_write"))
        return MT_RESULT_DECODE_ERROR;
    const mt_context *ctx = r->ctx_;
    const mt_region *t = r;
    bool readonly = r->flags_ & MT__F_READONLY;
    for (; t->kind_ == MT_KIND_ALIAS; t = t->alias_) {
        offset += t->alias_offset_;
        readonly |= (t->alias_->flags_ & MT__F_READONLY) != 0;
    }
    if (readonly) {
        mt__guest_error(ctx, "write to readonly region '%s' at offset 0x%" PRIx64 ", size %u",
                        mt__name(r), offset, size);
        return MT_RESULT_DECODE_ERROR;
    }
    struct mt__dev d;
    dev_of(ctx, t, &d);
    value &= mt__size_mask(size);
    if (order_is_big(ctx, value_order) != d.be)
        value = bswap_size(value, size);
    mt__rcu_read_lock(); /* the eventfd table is RCU-published */
    mt_result res = dev_write(ctx, &d, offset, size, attrs, value);
    mt__rcu_read_unlock();
    return res;
}
