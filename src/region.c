/*
 * Regions: the kinds and their initialisation, backing, property edits
 * (flags, size, address, priority, alias offset), queries and
 * finalisation. Mapping and sibling order are subregions.c's. Every edit
 * runs in its own bracket (mt__edit_begin/end, txn.c) and says whether it
 * changed what views can show; nothing here renders.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Backings at least this large come from mmap, so a large machine's RAM
 * costs address space, not memory, until it is touched. */
#define MT__MMAP_THRESHOLD (1u << 20)

/* ---- checks ------------------------------------------------------------- */

/* A public call on storage that is not a live region: reported once,
 * through the context's hook when the storage still names one (a
 * finalised region's tombstone keeps its context, name and identity). */
mt_context *mt__region_report_context(const mt_region *r)
{
    if (r && r->magic_ == MT__REGION_LIVE)
        return r->ctx_;
    /* a tombstone is the caller's storage: it can outlive its context */
    if (r && r->magic_ == MT__REGION_DEAD)
        return mt__context_alive(r->ctx_, r->walk_mark_);
    return NULL;
}

int mt__region_misuse(const mt_region *r, const char *op)
{
    if (r && r->magic_ == MT__REGION_DEAD) {
        mt_context *ctx = mt__region_report_context(r);
        return mt__diag(ctx, -EINVAL, "%s: region '%s' (id %llu) at %p was finalised%s", op,
                        mt__tombstone_name(r), (unsigned long long)r->id_, (const void *)r,
                        ctx ? "" : ", and its context freed");
    }
    return mt__diag(NULL, -EINVAL, "%s: %p is not an initialised region", op, (const void *)r);
}

/* ---- initialisation ----------------------------------------------------- */

static int init_common(mt_region *r, mt_context *ctx, mt_owner *owner,
                       const char *name, uint64_t size, mt_region_kind kind)
{
    if (!r || !ctx)
        return mt__diag(ctx, -EINVAL, "region init: NULL %s", r ? "context" : "region");
    if (ctx->closed)
        return mt__diag(ctx, -EINVAL, "region init '%s': the context was freed (mt_context_free)",
                        name ? name : "(null)");
    if (owner && owner->magic_ != MT__OWNER_LIVE)
        return mt__diag(ctx, -EINVAL, "region init '%s': owner is not initialised",
                        name ? name : "(null)");
    if (mt__region_live(r))
        return mt__diag(ctx, -EBUSY,
                        "region init '%s': the storage holds live region '%s'; finalize it first",
                        name ? name : "(null)", mt__name(r));
    bool heap = r->magic_ == MT__REGION_HEAP_FRESH && (r->flags_ & MT__F_HEAP);
    memset(r, 0, sizeof(*r));
    r->magic_ = MT__REGION_LIVE;
    r->kind_ = (uint8_t)kind;
    r->flags_ = MT__F_ENABLED | MT__F_ROMD | (heap ? MT__F_HEAP : 0);
    r->ctx_ = ctx;
    r->id_ = ctx->next_id++;
    r->owner_ = owner;
    r->name_ = mt__xstrdup(name);
    if (size == UINT64_MAX)
        r->size_full_ = 1;
    else
        r->size_ = size;
    if (owner)
        mt__owner_add_region(owner, r);
    ctx->stats.live_regions++;
    return 0;
}

const struct mt__region_rare mt__rare_none;

struct mt__region_rare *mt__rare(mt_region *r)
{
    /* released: a reader's dispatch may look for device callbacks in it */
    if (!r->rare_)
        __atomic_store_n(&r->rare_, mt__xcalloc(1, sizeof(*r->rare_)), __ATOMIC_RELEASE);
    return r->rare_;
}

/* Storage from mt_region_alloc carries this mark until it is initialised,
 * so init_common knows to free it at finalisation. */
mt_region *mt_region_alloc(void)
{
    mt_region *r = mt__xcalloc(1, sizeof(*r));
    r->magic_ = MT__REGION_HEAP_FRESH;
    r->flags_ = MT__F_HEAP;
    return r;
}

/* A zeroed backing of `size` bytes, or NULL when it cannot exist: 2^64, or
 * more than the host's address space can hold. `dense`: the caller asked
 * for the whole backing now (guest RAM), so a large one is offered to the
 * kernel for huge pages, as QEMU does with guest RAM: 4-byte reads spread
 * over a 256 MiB region (bench/run access, big_ram_read_ns) took 15.9-42.6
 * ns without, 11.7-13.0 with, in four alternating runs: fewer TLB misses.
 * A backing made on demand is left to 4 KiB pages: it is meant for sparse
 * use, where each page touched would cost 2 MiB. */
static void *backing_alloc(uint64_t size, bool full, bool dense)
{
    if (full || size > (uint64_t)SIZE_MAX / 2)
        return NULL;
    if (size >= MT__MMAP_THRESHOLD) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        if (dense)
            madvise(p, size, MADV_HUGEPAGE); /* advice: failure changes nothing */
#endif
        return p;
    }
    return calloc(1, size ? size : 1);
}

static int alloc_backing(mt_region *r, uint64_t size)
{
    r->ram_ = backing_alloc(size, r->size_full_, true);
    if (!r->ram_)
        return -ENOMEM;
    r->flags_ |= MT__F_OWN_RAM;
    return 0;
}

/*
 * Deferred backings (docs/regions.md, "Backing on demand"): ram_ stays NULL
 * until something needs the bytes. Readers may get here from any thread,
 * so the first allocation is published with a compare-and-swap and a
 * loser frees its own. Nothing but finalisation frees a published backing.
 */
uint8_t *mt__region_backing(mt_region *r)
{
    uint8_t *p = __atomic_load_n(&r->ram_, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    if (!(r->kind_ == MT_KIND_RAM || r->kind_ == MT_KIND_ROM_DEVICE ||
          r->kind_ == MT_KIND_RAM_DEVICE))
        return NULL;
    uint8_t *fresh = backing_alloc(r->size_, r->size_full_, false);
    if (!fresh)
        return NULL;
    uint8_t *expected = NULL;
    if (__atomic_compare_exchange_n(&r->ram_, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return fresh;
    if (r->size_ >= MT__MMAP_THRESHOLD)
        munmap(fresh, r->size_);
    else
        free(fresh);
    return expected;
}

int mt_region_init_on_demand(mt_region *r, mt_context *ctx, mt_owner *owner,
                             const char *name, uint64_t size, mt_region_kind kind)
{
    if (kind != MT_KIND_RAM && kind != MT_KIND_ROM_DEVICE && kind != MT_KIND_RAM_DEVICE)
        return mt__diag(ctx, -EINVAL, "region init '%s': backing on demand is for RAM, "
                        "ROM devices and RAM devices", name ? name : "(null)");
    int err = init_common(r, ctx, owner, name, size, kind);
    if (!err)
        r->flags_ |= MT__F_OWN_RAM; /* whatever gets allocated later is ours */
    return err;
}

static void free_backing(mt_region *r)
{
    if (!(r->flags_ & MT__F_OWN_RAM))
        return;
    if (!r->ram_)
        ; /* deferred and never needed */
    else if (r->size_ >= MT__MMAP_THRESHOLD)
        munmap(r->ram_, r->size_);
    else
        free(r->ram_);
    r->ram_ = NULL;
    r->flags_ &= ~MT__F_OWN_RAM;
}

/* Undoes init_common when a later step of an initialiser fails. */
static int init_abort(mt_region *r, int err, const char *what)
{
    mt_context *ctx = r->ctx_;
    mt__diag(ctx, err, "region init '%s': %s", mt__name(r), what);
    bool heap = r->flags_ & MT__F_HEAP;
    if (r->owner_)
        mt__owner_remove_region(r->owner_, r);
    free(r->name_);
    ctx->stats.live_regions--;
    memset(r, 0, sizeof(*r));
    if (heap) {
        r->magic_ = MT__REGION_HEAP_FRESH;
        r->flags_ = MT__F_HEAP;
    }
    return err;
}

int mt_region_init_container(mt_region *r, mt_context *ctx, mt_owner *owner,
                             const char *name, uint64_t size)
{
    return init_common(r, ctx, owner, name, size, MT_KIND_CONTAINER);
}

int mt_region_init_ram(mt_region *r, mt_context *ctx, mt_owner *owner,
                       const char *name, uint64_t size)
{
    int err = init_common(r, ctx, owner, name, size, MT_KIND_RAM);
    if (err)
        return err;
    err = alloc_backing(r, size);
    return err ? init_abort(r, err, "cannot allocate the RAM backing") : 0;
}

int mt_region_init_ram_ptr(mt_region *r, mt_context *ctx, mt_owner *owner,
                           const char *name, uint64_t size, void *host)
{
    if (!host)
        return mt__diag(ctx, -EINVAL, "region init '%s': NULL host pointer",
                        name ? name : "(null)");
    int err = init_common(r, ctx, owner, name, size, MT_KIND_RAM);
    if (!err)
        r->ram_ = host;
    return err;
}

int mt_region_init_rom(mt_region *r, mt_context *ctx, mt_owner *owner,
                       const char *name, uint64_t size)
{
    int err = mt_region_init_ram(r, ctx, owner, name, size);
    if (!err)
        r->flags_ |= MT__F_READONLY;
    return err;
}

int mt_region_init_rom_device(mt_region *r, mt_context *ctx, mt_owner *owner,
                              const mt_region_ops *ops, void *opaque,
                              const char *name, uint64_t size)
{
    int err = init_common(r, ctx, owner, name, size, MT_KIND_ROM_DEVICE);
    if (err)
        return err;
    mt__rare(r)->ops = ops;
    r->opaque_ = opaque;
    err = alloc_backing(r, size);
    return err ? init_abort(r, err, "cannot allocate the ROM backing") : 0;
}

int mt_region_init_ram_device(mt_region *r, mt_context *ctx, mt_owner *owner,
                              const char *name, uint64_t size, void *host)
{
    if (!host)
        return mt__diag(ctx, -EINVAL, "region init '%s': NULL host pointer",
                        name ? name : "(null)");
    int err = init_common(r, ctx, owner, name, size, MT_KIND_RAM_DEVICE);
    if (!err)
        r->ram_ = host;
    return err;
}

int mt_region_init_io(mt_region *r, mt_context *ctx, mt_owner *owner,
                      const mt_region_ops *ops, void *opaque,
                      const char *name, uint64_t size)
{
    int err = init_common(r, ctx, owner, name, size, MT_KIND_IO);
    if (!err) {
        mt__rare(r)->ops = ops;
        r->opaque_ = opaque;
    }
    return err;
}

int mt_region_init_reservation(mt_region *r, mt_context *ctx, mt_owner *owner,
                               const char *name, uint64_t size)
{
    return init_common(r, ctx, owner, name, size, MT_KIND_RESERVATION);
}

int mt_region_init_iommu(mt_region *r, mt_context *ctx, mt_owner *owner,
                         const mt_iommu_ops *ops, void *opaque,
                         const char *name, uint64_t size)
{
    if (!ops || !ops->translate)
        return mt__diag(ctx, -EINVAL, "region init '%s': IOMMU needs a translate callback",
                        name ? name : "(null)");
    int err = init_common(r, ctx, owner, name, size, MT_KIND_IOMMU);
    if (!err) {
        mt__rare(r)->iommu_ops = ops;
        r->opaque_ = opaque;
    }
    return err;
}

/* A finite alias window must end within the target's 64-bit offset space.
 * A 2^64 window (UINT64_MAX) means "everything from offset on" and is
 * clipped by rendering, as QEMU's bus-master aliases rely on. */
static bool alias_window_overflows(uint64_t offset, uint64_t size)
{
    return size != UINT64_MAX && (mt__i128)offset + size > MT__2_64;
}

int mt_region_init_alias(mt_region *r, mt_context *ctx, mt_owner *owner,
                         const char *name, mt_region *target,
                         uint64_t offset, uint64_t size)
{
    const char *shown = name ? name : "(null)";
    if (!mt__region_live(target))
        return mt__diag(ctx, -EINVAL, "alias '%s': target is not a live region", shown);
    if (ctx && target->ctx_ != ctx)
        return mt__diag(ctx, -EINVAL, "alias '%s': target belongs to another context", shown);
    /* Re-initialising storage that a live alias chain leads to would close
     * a loop; detect it before touching the storage. */
    for (const mt_region *t = target; t; t = t->alias_) {
        if (t == r)
            return mt__diag(ctx, -ELOOP,
                            "alias '%s': target '%s' leads back to this region",
                            shown, mt__name(target));
    }
    if (alias_window_overflows(offset, size))
        return mt__diag(ctx, -EOVERFLOW,
                        "alias '%s': offset 0x%llx + size 0x%llx exceeds 2^64", shown,
                        (unsigned long long)offset, (unsigned long long)size);
    int err = init_common(r, ctx, owner, name, size, MT_KIND_ALIAS);
    if (err)
        return err;
    r->alias_ = target;
    r->alias_offset_ = offset;
    mt__rare(target)->alias_refs++;
    mt__alias_link(r);
    return 0;
}

/* ---- property edits ----------------------------------------------------- */

static void set_flag(mt_region *r, unsigned flag, bool on)
{
    if (on)
        r->flags_ |= flag;
    else
        r->flags_ &= ~flag;
}

/* Changes a flag that only matters to views while the region is enabled
 * (readonly, nonvolatile, romd). */
static int edit_flag(mt_region *r, unsigned flag, bool on, const char *op)
{
    MT__CHECK_LIVE(r, op);
    if (!!(r->flags_ & flag) == on)
        return 0;
    int err = mt__edit_begin(r, op);
    if (err)
        return err;
    set_flag(r, flag, on);
    mt__touch_in_place(r, mt__size(r));
    mt__edit_end(r->ctx_, mt__enabled(r));
    return 0;
}

int mt_region_set_readonly(mt_region *r, bool readonly)
{
    return edit_flag(r, MT__F_READONLY, readonly, "set_readonly");
}

int mt_region_set_nonvolatile(mt_region *r, bool nonvolatile)
{
    return edit_flag(r, MT__F_NONVOLATILE, nonvolatile, "set_nonvolatile");
}

int mt_region_set_romd(mt_region *r, bool romd_mode)
{
    return edit_flag(r, MT__F_ROMD, romd_mode, "set_romd");
}

int mt_region_set_enabled(mt_region *r, bool enabled)
{
    MT__CHECK_LIVE(r, "set_enabled");
    if (mt__enabled(r) == enabled)
        return 0;
    int err = mt__edit_begin(r, "set_enabled");
    if (err)
        return err;
    set_flag(r, MT__F_ENABLED, enabled);
    mt__touch_in_place(r, mt__size(r));
    mt__edit_end(r->ctx_, true);
    return 0;
}

int mt_region_set_size(mt_region *r, uint64_t size)
{
    MT__CHECK_LIVE(r, "set_size");
    bool full = size == UINT64_MAX;
    if (full == r->size_full_ && (full || size == r->size_))
        return 0;
    if (r->kind_ == MT_KIND_ALIAS && alias_window_overflows(r->alias_offset_, size))
        return mt__diag(r->ctx_, -EOVERFLOW,
                        "set_size '%s': alias offset 0x%llx + size exceeds 2^64",
                        mt__name(r), (unsigned long long)r->alias_offset_);
    if (r->flags_ & MT__F_OWN_RAM)
        return mt__diag(r->ctx_, -EINVAL,
                        "set_size '%s': a region with library-allocated backing cannot be resized",
                        mt__name(r));
    int err = mt__edit_begin(r, "set_size");
    if (err)
        return err;
    mt__i128 old_size = mt__size(r);
    r->size_full_ = full;
    r->size_ = full ? 0 : size;
    mt__subregion_resized(r);
    /* what shows changes within the larger of the two extents */
    mt__touch_in_place(r, old_size > mt__size(r) ? old_size : mt__size(r));
    mt__edit_end(r->ctx_, true);
    return 0;
}

/* Re-mapping moves the region to the front of its priority class
 * (docs/regions.md, "Mapping, priorities and render order"). */
static int remap(mt_region *r, uint64_t addr, int32_t prio, const char *op)
{
    mt_context *ctx = r->ctx_;
    int err = mt__edit_begin(r, op);
    if (err)
        return err;
    /* the container as it is after the flush hook ran */
    mt_region *c = r->container_;
    if (c) {
        /* Hold the owner across the gap so a cross-owner link's release
         * cannot queue a teardown in between. */
        mt_owner *o = r->owner_;
        mt__owner_ref(o);
        err = mt__subregion_unlink(c, r);
        if (!err)
            err = mt__subregion_link(c, r, addr, prio);
        mt__owner_unref(ctx, o);
    } else {
        r->addr_ = addr;
        r->priority_ = prio;
    }
    mt__edit_end(ctx, false); /* the link helpers marked what they changed */
    return err;
}

int mt_region_set_address(mt_region *r, uint64_t addr)
{
    MT__CHECK_LIVE(r, "set_address");
    if (addr == r->addr_)
        return 0;
    if (r->container_)
        return remap(r, addr, r->priority_, "set_address");
    /* Not mapped, so not a transaction's edit; but a flat-root's address
     * places its view, which the next commit must then render again. */
    r->addr_ = addr;
    mt__touch_placed(r);
    return 0;
}

int mt_region_set_priority(mt_region *r, int32_t priority)
{
    MT__CHECK_LIVE(r, "set_priority");
    if (priority == r->priority_)
        return 0;
    if (r->container_)
        return remap(r, r->addr_, priority, "set_priority");
    r->priority_ = priority;
    return 0;
}

int mt_region_set_alias_offset(mt_region *r, uint64_t offset)
{
    MT__CHECK_LIVE(r, "set_alias_offset");
    if (r->kind_ != MT_KIND_ALIAS)
        return mt__diag(r->ctx_, -EINVAL, "set_alias_offset: '%s' is not an alias",
                        mt__name(r));
    if (offset == r->alias_offset_)
        return 0;
    if (alias_window_overflows(offset, r->size_full_ ? UINT64_MAX : r->size_))
        return mt__diag(r->ctx_, -EOVERFLOW,
                        "set_alias_offset '%s': offset 0x%llx + size exceeds 2^64",
                        mt__name(r), (unsigned long long)offset);
    int err = mt__edit_begin(r, "set_alias_offset");
    if (err)
        return err;
    r->alias_offset_ = offset;
    mt__touch_in_place(r, mt__size(r));
    mt__edit_end(r->ctx_, mt__enabled(r));
    return 0;
}

/* ---- queries ------------------------------------------------------------ */

mt_region_kind mt_region_get_kind(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_get_kind", MT_KIND_CONTAINER);
    return (mt_region_kind)r->kind_;
}
const char *mt_region_name(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_name", NULL);
    return r->name_;
}
uint64_t mt_region_id(const mt_region *r)
{
    /* a tombstone keeps its identity: still reported, never garbage */
    MT__QUERY_LIVE(r, "mt_region_id", r && r->magic_ == MT__REGION_DEAD ? r->id_ : 0);
    return r->id_;
}
mt_owner *mt_region_owner(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_owner", NULL);
    return r->owner_;
}
uint64_t mt_region_size(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_size", 0);
    return r->size_full_ ? UINT64_MAX : r->size_;
}
uint64_t mt_region_addr(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_addr", 0);
    return r->addr_;
}
int32_t mt_region_priority(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_priority", 0);
    return r->priority_;
}
mt_region *mt_region_container(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_container", NULL);
    return r->container_;
}
mt_region *mt_region_alias_target(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_alias_target", NULL);
    return r->alias_;
}
uint64_t mt_region_alias_offset(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_alias_offset", 0);
    return r->kind_ == MT_KIND_ALIAS ? r->alias_offset_ : 0; /* else it holds opaque_ */
}
bool mt_region_enabled(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_enabled", false);
    return mt__enabled(r);
}
bool mt_region_readonly(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_readonly", false);
    return r->flags_ & MT__F_READONLY;
}
bool mt_region_nonvolatile(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_nonvolatile", false);
    return r->flags_ & MT__F_NONVOLATILE;
}
bool mt_region_romd(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_romd", false);
    return r->flags_ & MT__F_ROMD;
}
bool mt_region_is_terminal(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_is_terminal", false);
    return mt__terminal(r);
}
uint8_t mt_region_dirty_log_mask(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_dirty_log_mask", 0);
    return mt__dirty_mask(r->ctx_, r);
}
mt_region *mt_region_first_subregion(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_first_subregion", NULL);
    size_t n;
    mt_region *const *children = mt__children(r, &n);
    return n ? children[n - 1] : NULL;
}

mt_region *mt_region_next_sibling(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_next_sibling", NULL);
    /* the array is in reverse render order: the next one is one slot down */
    if (!r->container_)
        return NULL;
    size_t n;
    mt_region *const *children = mt__children(r->container_, &n); /* no holes */
    size_t at = mt__child_slot(r->container_->child_index_, r);
    return at ? children[at - 1] : NULL;
}

bool mt_region_size_exact(const mt_region *r, uint64_t *low)
{
    if (low)
        *low = 0;
    MT__QUERY_LIVE(r, "mt_region_size_exact", false);
    if (low)
        *low = r->size_;
    return r->size_full_;
}

bool mt_region_is_mapped(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_is_mapped", false);
    return r->container_ || mt__rare_get(r)->mapped_via_alias > 0;
}

void *mt_region_ram_ptr(const mt_region *r)
{
    MT__QUERY_LIVE(r, "mt_region_ram_ptr", NULL);
    uint64_t offset = 0;
    while (r && r->kind_ == MT_KIND_ALIAS) {
        offset += r->alias_offset_;
        r = r->alias_;
    }
    if (!r)
        return NULL;
    /* A deferred backing is made now: the caller wants the bytes. The
     * backing is the region's own lazily made state, hence the cast. */
    uint8_t *ram = mt__region_backing((mt_region *)r);
    if (!ram) {
        if (r->flags_ & MT__F_OWN_RAM)
            mt__diag(r->ctx_, -ENOMEM,
                     "ram_ptr '%s': a backing of %s bytes cannot be allocated",
                     mt__name(r), r->size_full_ ? "2^64" : "that many");
        return NULL;
    }
    return ram + offset;
}

/* ---- finalisation ------------------------------------------------------- */

/* The steps of finalisation (docs/lifetimes.md, "Finalising a region"),
 * in order, once the checks have passed. */
static void finalize_now(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    if (r->container_)
        mt__subregion_unlink(r->container_, r);
    r->flags_ &= ~MT__F_ENABLED;
    mt__view_forget_root(r);
    if (r->child_index_) {
        mt__txn_begin(ctx); /* one commit for all the children */
        mt__subregions_unlink_all(r);
        mt__txn_commit(ctx);
    }
    /* An alias dying with its target was uncounted before the teardown
     * began (owner.c), and must not follow its pointer now: the target may
     * already be gone. (A target finalised under a foreign alias, the
     * hazard reported in mt__region_finalize_dying, reads as dead.) */
    if (r->alias_ && !(r->flags_ & MT__F_UNCOUNTED) && mt__region_live(r->alias_))
        r->alias_->rare_->alias_refs--;
    mt__alias_unlink(r);
    mt__aliases_detach(r);
    free_backing(r);
    mt__region_eventfds_clear(r);
    mt__region_coalesced_free(r);
    mt__iommu_region_gone(r);
    if (r->rare_) {
        free(r->rare_->log_counts);
        mt__stale_parts_forget(ctx, r->rare_);
        free(r->rare_->stale);
        free(r->rare_);
    }
    if (r->owner_)
        mt__owner_remove_region(r->owner_, r);
    ctx->stats.live_regions--;
    /* The storage is the caller's to reuse. Until then it reads as a
     * tombstone: a pattern no live region has, and enough of the old
     * region to name it when someone uses it by mistake. */
    uint64_t id = r->id_;
    char name[MT__TOMBSTONE_NAME];
    /* a bounded copy (snprintf took about a third of a finalisation) */
    const char *full = mt__name(r);
    size_t len = strnlen(full, sizeof(name) - 1);
    memcpy(name, full, len);
    name[len] = '\0';
    free(r->name_);
    if (r->flags_ & MT__F_HEAP) {
        free(r);
        return;
    }
    memset(r, 0x6b, sizeof(*r));
    r->magic_ = MT__REGION_DEAD;
    r->id_ = id;
    r->ctx_ = ctx; /* so a later misuse reaches the context's hook */
    /* and which context that was: a graph walk never visits a tombstone,
     * so its mark is free to hold the serial */
    r->walk_mark_ = ctx->serial;
    /* the name goes over the first fields, clear of magic_ and id_ */
    memcpy(r, name, sizeof(name));
}

const char *mt__tombstone_name(const mt_region *r)
{
    const char *name = (const char *)r;
    return memchr(name, 0, MT__TOMBSTONE_NAME) ? name : "?";
}

static int finalize_check(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    mt_address_space *as = mt__as_rooted_at(ctx, r);
    if (as)
        return mt__diag(ctx, -EBUSY,
                        "finalize '%s': it is the root of live address space '%s'",
                        mt__name(r), as->name);
    uint32_t aliases = mt__rare_get(r)->alias_refs;
    if (aliases)
        return mt__diag(ctx, -EBUSY,
                        "finalize '%s': %u live alias(es) still target it",
                        mt__name(r), aliases);
    if (r->view_refs_)
        return mt__diag(ctx, -EBUSY,
                        "finalize '%s': %u range(s) of live views still name it; "
                        "unmap, commit and reclaim first",
                        mt__name(r), r->view_refs_);
    uint32_t held = __atomic_load_n(&r->held_refs_, __ATOMIC_ACQUIRE);
    if (held)
        return mt__diag(ctx, -EBUSY,
                        "finalize '%s': %u mapping(s) or found/copied section(s) still "
                        "hold it; unmap or release them first", mt__name(r), held);
    return mt__iommu_finalize_check(r);
}

int mt_region_finalize(mt_region *r)
{
    MT__CHECK_LIVE(r, "finalize");
    int err = finalize_check(r);
    if (err)
        return err;
    mt_context *ctx = r->ctx_;
    finalize_now(r);
    mt__context_settle(ctx); /* the last region of a closed context takes it */
    return 0;
}

void mt__region_finalize_dying(mt_region *r)
{
    /* Everything that could still name this region holds a reference on
     * its owner, except an alias of another owner: that one would be left
     * pointing at storage the owner's release may free. (Aliases of the
     * same owner stopped counting when the teardown began.) */
    uint32_t foreign = mt__rare_get(r)->alias_refs;
    if (foreign) {
#ifdef MT_CHECKING
        mt__hazard(r, "owner teardown finalises '%s' while %u alias(es) of other owners "
                   "still target it", mt__name(r), foreign);
#else
        mt__diag(r->ctx_, -EBUSY,
                 "owner teardown finalises '%s' while %u alias(es) of other owners still "
                 "target it", mt__name(r), foreign);
#endif
    }
    if (r->view_refs_ || __atomic_load_n(&r->held_refs_, __ATOMIC_ACQUIRE) ||
        mt__as_rooted_at(r->ctx_, r))
        mt__diag(r->ctx_, -EBUSY,
                 "owner teardown finalises '%s' while it is still in use", mt__name(r));
    finalize_now(r);
}
