/*
 * memtree: QEMU's memory-region system as a standalone C11 library.
 *
 * A machine's memory map is a tree of regions (containers, RAM, ROM, ROM
 * devices, MMIO, aliases, IOMMUs). Each address space renders its tree into a
 * view: sorted, non-overlapping ranges, shared with every address space that
 * reduces to the same root. Edits are batched in transactions; views change
 * only at the outermost commit.
 *
 * Conventions
 *  - Every public name starts with `mt_`.
 *  - Functions that can fail return 0 on success or a negative errno value
 *    (-EINVAL, -EBUSY, ...). mt_strerror() turns it into text. A failing call
 *    changes nothing and reports a message to the context's diagnostic hook.
 *  - Region storage belongs to the caller (usually embedded in a device
 *    struct); the library initialises it and never frees it.
 *  - Threads: every call in this header except the reader calls is a writer
 *    call. Writer calls on one context must be serialised by the embedder
 *    (QEMU's big lock).
 *
 * Sizes are unsigned 64-bit, and UINT64_MAX means 2^64 (the whole space), so
 * no region is exactly 2^64-1 bytes long. mt_region_size_exact() tells the two
 * apart.
 *
 * License: MIT.
 */
#ifndef MEMTREE_H
#define MEMTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <memtree/private.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_VERSION_MAJOR 0
#define MT_VERSION_MINOR 1
#define MT_VERSION_PATCH 0

typedef struct mt_context mt_context;
typedef struct mt_region mt_region;
typedef struct mt_owner mt_owner;
typedef struct mt_address_space mt_address_space;
typedef struct mt_view mt_view;

/* ------------------------------------------------------------------------ */
/* Errors and diagnostics                                                    */
/* ------------------------------------------------------------------------ */

/* A short English description of a return code (0 or a negative errno). */
const char *mt_strerror(int err);

/*
 * Receives one line of text per detected usage error, naming the region and
 * what is wrong. The default hook prints "memtree: <message>" on stderr.
 */
typedef void (*mt_diag_fn)(void *opaque, const char *message);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * One independent memory system: its address spaces, view cache and
 * transaction state. Two contexts never see each other; the only
 * process-wide state is the list of contexts alive, which misuse reports
 * consult (docs/lifetimes.md).
 */
mt_context *mt_context_new(void);

/*
 * Frees the context. Every address space is destroyed first. A transaction
 * still open is reported and committed first. Regions are the caller's
 * storage: any still live, and views still held, are reported, and the
 * context is only closed (no new regions or address spaces); it is freed
 * at the end of the call that finalises or releases the last of them (the
 * outermost commit, for regions finalised in a transaction), and is not to
 * be used after that call (docs/lifetimes.md). Refused, with a report,
 * inside a read-side section or a listener callback.
 */
void mt_context_free(mt_context *ctx);

/* Installs the diagnostic hook; NULL restores the default (stderr). */
void mt_context_set_diag(mt_context *ctx, mt_diag_fn fn, void *opaque);
/*
 * The most bytes a reader of files (mt_machine_load in <memtree/format.h>)
 * takes from one input: a longer one, such as an endless pipe, fails with
 * -EFBIG and a message naming it, after reading one byte more than the
 * limit. 0 restores the default, MT_INPUT_LIMIT_DEFAULT (1 GiB).
 */
#define MT_INPUT_LIMIT_DEFAULT (UINT64_C(1) << 30)
int mt_context_set_input_limit(mt_context *ctx, uint64_t bytes);
uint64_t mt_context_input_limit(const mt_context *ctx);
/* The hook installed now (never NULL: the default one if none was set). */
mt_diag_fn mt_context_diag(const mt_context *ctx, void **opaque);
/* Passes a printf-formatted message to the context's diagnostic hook and
 * returns `err`: how code built on memtree (device models, the dump
 * readers) reports misuse through the same channel as the library. */
int mt_context_report(mt_context *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Waits until no reader can still use a retired view (a grace period) and
 * frees everything retired before: views, destroyed address spaces, and
 * owners whose last reference the library dropped (their teardown runs
 * here). Edits never tear an owner down inline, so a release can never
 * finalise regions in the middle of an edit; call this from your main loop
 * (or after unmapping) to let owners go. Views and address spaces are also
 * freed without it, at later writer calls, once readers are done with them
 * (docs/threads.md). The only call that waits: -EDEADLK, and nothing done,
 * inside a read-side section (an access callback, or between mt_read_lock
 * and mt_read_unlock), where the wait would never end; -EBUSY from a
 * listener callback during a commit.
 */
int mt_context_reclaim(mt_context *ctx);

/* Counters for tests and tools; all are exact. */
typedef struct mt_stats {
    uint64_t live_views;    /* views not yet freed, the empty view excluded */
    uint64_t cache_entries; /* entries of the flat-root -> view cache */
    uint64_t renders;       /* views rendered since the context was created */
    uint64_t live_regions;  /* initialised and not finalised */
    uint64_t address_spaces;
    uint64_t retired_views;  /* views retired and not yet freed */
    uint64_t grace_periods;  /* waits for readers (mt_context_reclaim only) */
} mt_stats;
void mt_context_get_stats(const mt_context *ctx, mt_stats *out);

/* ------------------------------------------------------------------------ */
/* Owners                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * An owner is the reference-counted object that regions belong to, in QEMU
 * the device. Embed one in your device struct. A reference on a region is a
 * reference on its owner. When the count drops to zero the owner's regions
 * are finalised and then `release` runs, where the embedder may free the
 * device. Fields are private.
 */
typedef void (*mt_owner_release_fn)(mt_owner *owner);

struct mt_owner {
    MT_OWNER_PRIVATE_FIELDS
};

/*
 * Starts the owner with one reference, the caller's. `label` is what dumps
 * print as `owner:{<label>}`, for example "dev id=nic0"; it is copied and may
 * be NULL.
 */
int mt_owner_init(mt_owner *owner, const char *label, mt_owner_release_fn release);
/*
 * The embedder's references. The library counts them apart from its own
 * (views, links, mappings), so an unref beyond the references the embedder
 * took is refused (-EINVAL, reported, nothing torn down) instead of tearing
 * the owner down under the library's users; so is either call on an owner
 * that was released (-EINVAL, while its storage is untouched).
 */
int mt_owner_ref(mt_owner *owner);
int mt_owner_unref(mt_owner *owner);
/* Current reference count, mappings and held sections included (for tests
 * and diagnostics). */
uint32_t mt_owner_refcount(const mt_owner *owner);
const char *mt_owner_label(const mt_owner *owner);

/* ------------------------------------------------------------------------ */
/* Access results, attributes and callbacks                                   */
/* ------------------------------------------------------------------------ */

/* Result bits of an access; several chunks OR their results together. */
typedef enum mt_result {
    MT_RESULT_OK = 0,
    MT_RESULT_ERROR = 1,        /* the device reported an error */
    MT_RESULT_DECODE_ERROR = 2, /* nothing there, rejected, or readonly */
    MT_RESULT_ACCESS_ERROR = 4, /* not permitted by the attributes */
} mt_result;

/* Attributes carried by every access. MT_ATTRS_UNSPECIFIED is the default. */
typedef struct mt_attrs {
    unsigned unspecified : 1;
    unsigned secure : 1;
    unsigned user : 1;
    unsigned memory : 1; /* may only reach RAM-backed regions */
    unsigned byte_swap : 1;
    unsigned target_tlb_bit0 : 1;
    unsigned target_tlb_bit1 : 1;
    unsigned target_tlb_bit2 : 1;
    unsigned requester_id : 16;
} mt_attrs;
#define MT_ATTRS_UNSPECIFIED ((mt_attrs){.unspecified = 1})

typedef enum mt_endian {
    MT_ENDIAN_NATIVE = 0, /* the context's target byte order */
    MT_ENDIAN_LITTLE = 1,
    MT_ENDIAN_BIG = 2,
} mt_endian;

/*
 * Callbacks and access rules of an MMIO region or ROM device. Either the
 * plain or the `_with_attrs` form of each callback may be given.
 */
typedef struct mt_region_ops {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
    mt_result (*read_with_attrs)(void *opaque, uint64_t offset, uint64_t *value,
                                 unsigned size, mt_attrs attrs);
    mt_result (*write_with_attrs)(void *opaque, uint64_t offset, uint64_t value,
                                  unsigned size, mt_attrs attrs);
    mt_endian endianness;
    struct {
        /* 0 for both sizes means "any size" */
        unsigned min_access_size;
        unsigned max_access_size;
        bool unaligned;
        bool (*accepts)(void *opaque, uint64_t offset, unsigned size,
                        bool is_write, mt_attrs attrs);
    } valid;
    struct {
        /* what the callbacks implement: 0 means 1 (min) and 4 (max) */
        unsigned min_access_size;
        unsigned max_access_size;
        bool unaligned;
    } impl;
} mt_region_ops;

/* IOMMU translation (docs/access.md, "IOMMUs"). */
typedef enum mt_iommu_perm {
    MT_IOMMU_NONE = 0,
    MT_IOMMU_RO = 1,
    MT_IOMMU_WO = 2,
    MT_IOMMU_RW = 3,
} mt_iommu_perm;

typedef struct mt_iommu_tlb_entry {
    mt_address_space *target_as;
    uint64_t iova;
    uint64_t translated_addr;
    uint64_t addr_mask; /* 0xfff for a 4 KiB page */
    mt_iommu_perm perm;
} mt_iommu_tlb_entry;

/*
 * Callbacks of an IOMMU region (mt_region_init_iommu). Only `translate` is
 * required; the others may be NULL. The IOMMU queries and notifiers are in
 * "IOMMU regions" below.
 */
typedef struct mt_iommu_ops {
    /* The mapping of the page holding `offset` for `access` at `index`. */
    mt_iommu_tlb_entry (*translate)(void *opaque, uint64_t offset,
                                    mt_iommu_perm access, int index);
    /* The index an access with `attrs` translates with; NULL means 0. */
    int (*attrs_to_index)(void *opaque, mt_attrs attrs);
    /* How many indexes there are (at least 1); NULL means 1. */
    int (*num_indexes)(void *opaque);
    /* The smallest page the IOMMU maps, a power of two; NULL means the
     * context's page size (mt_context_set_page_size). */
    uint64_t (*min_page_size)(void *opaque);
} mt_iommu_ops;

/* ------------------------------------------------------------------------ */
/* Regions                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum mt_region_kind {
    MT_KIND_CONTAINER,
    MT_KIND_RAM,        /* RAM; a ROM is RAM with its readonly flag set */
    MT_KIND_ROM_DEVICE, /* backing + callbacks, romd mode */
    MT_KIND_RAM_DEVICE, /* host memory through fixed-size callbacks */
    MT_KIND_IO,         /* MMIO with callbacks */
    MT_KIND_RESERVATION,/* MMIO with no callbacks */
    MT_KIND_IOMMU,
    MT_KIND_ALIAS,
} mt_region_kind;

/*
 * A region. The storage is the caller's; every field is private and may
 * change between versions: use the functions below. A region is initialised
 * by one of the mt_region_init_* calls and lives until mt_region_finalize.
 */
struct mt_region {
    MT_REGION_PRIVATE_FIELDS
};

/*
 * Initialisers. `owner` may be NULL (the region then lives as long as the
 * context), `name` may be NULL (printed "(null)") and is copied. On error the
 * storage is left uninitialised.
 */
int mt_region_init_container(mt_region *r, mt_context *ctx, mt_owner *owner,
                             const char *name, uint64_t size);
/* RAM with zeroed backing allocated by the library. */
int mt_region_init_ram(mt_region *r, mt_context *ctx, mt_owner *owner,
                       const char *name, uint64_t size);
/* RAM over the caller's `host` memory of at least `size` bytes. */
int mt_region_init_ram_ptr(mt_region *r, mt_context *ctx, mt_owner *owner,
                           const char *name, uint64_t size, void *host);
/* ROM: RAM with its own readonly flag set. */
int mt_region_init_rom(mt_region *r, mt_context *ctx, mt_owner *owner,
                       const char *name, uint64_t size);
/* ROM device: library backing for direct reads in romd mode, callbacks else. */
int mt_region_init_rom_device(mt_region *r, mt_context *ctx, mt_owner *owner,
                              const mt_region_ops *ops, void *opaque,
                              const char *name, uint64_t size);
/* RAM device: the caller's host memory reached through 1/2/4/8-byte loads. */
int mt_region_init_ram_device(mt_region *r, mt_context *ctx, mt_owner *owner,
                              const char *name, uint64_t size, void *host);
/*
 * A RAM, ROM device (without callbacks) or RAM device region whose backing
 * the library allocates only when something needs its bytes: an access, a
 * map, mt_region_ram_ptr. For memory that is only modelled (a 2^64 RAM
 * costs nothing until touched); see docs/regions.md, "Backing on demand".
 * -EINVAL for another kind.
 */
int mt_region_init_on_demand(mt_region *r, mt_context *ctx, mt_owner *owner,
                             const char *name, uint64_t size, mt_region_kind kind);
/* MMIO. `ops` must outlive the region; NULL means accesses are rejected. */
int mt_region_init_io(mt_region *r, mt_context *ctx, mt_owner *owner,
                      const mt_region_ops *ops, void *opaque,
                      const char *name, uint64_t size);
/* A terminal region with no callbacks: every access is a decode error. */
int mt_region_init_reservation(mt_region *r, mt_context *ctx, mt_owner *owner,
                               const char *name, uint64_t size);
int mt_region_init_iommu(mt_region *r, mt_context *ctx, mt_owner *owner,
                         const mt_iommu_ops *ops, void *opaque,
                         const char *name, uint64_t size);
/*
 * An alias shows `size` bytes of `target` starting at `offset` inside the
 * target, wherever the target is mapped. Fails with -ELOOP if the target's
 * alias chain leads back to `r`, -EOVERFLOW if offset + size exceeds 2^64.
 */
int mt_region_init_alias(mt_region *r, mt_context *ctx, mt_owner *owner,
                         const char *name, mt_region *target,
                         uint64_t offset, uint64_t size);

/*
 * Heap storage for callers that do not embed regions. The region returned is
 * zeroed storage to pass to an mt_region_init_* call; mt_region_finalize of a
 * region in such storage also frees it.
 */
mt_region *mt_region_alloc(void);

/*
 * Ends the region's life (QEMU's object_unparent): unmaps it if mapped,
 * unmaps its subregions, drops the weak view links and cache entry keyed by
 * it, and frees what the library allocated.
 *
 * The guarantee: once this returns 0, the library never reads or writes
 * that storage again, and you may reuse it at once: re-initialise a region
 * in it (it gets a new identity; nothing mistakes it for the old one),
 * overwrite it or free it, also inside an open transaction at any depth,
 * and also while the region is the flat-root of views that readers use.
 *
 * Fails with -EBUSY, changing nothing and naming the holder in a message,
 * while the region is the root of a live address space, the target of a
 * live alias, or (terminal regions) still named by a range of a live view
 * (views waiting for readers included) or an outstanding find/map result:
 * unmap, commit, mt_context_reclaim, then finalise. Until the caller
 * reuses it, finalised storage holds a tombstone (name, identity, context):
 * passing it to the API is reported once through the context's diagnostic
 * hook, naming the region and the call; edits return -EINVAL, queries a
 * neutral answer (NULL, 0, false). docs/lifetimes.md has the details.
 */
int mt_region_finalize(mt_region *r);

/* Mapping. `sub` must have no container; mapping `sub` into itself or into
 * a region inside it through subregions alone is refused with -ELOOP. An
 * alias may be mapped inside its own target: such loops render
 * (docs/rendering.md). Among equal priorities the newest mapping wins. */
int mt_region_add_subregion(mt_region *container, uint64_t offset, mt_region *sub);
int mt_region_add_subregion_overlap(mt_region *container, uint64_t offset,
                                    mt_region *sub, int32_t priority);
/* -ENOENT if `sub` is not mapped in `container`. */
int mt_region_del_subregion(mt_region *container, mt_region *sub);

/* Property edits; each is a no-op when nothing changes. */
int mt_region_set_enabled(mt_region *r, bool enabled);
int mt_region_set_size(mt_region *r, uint64_t size);
/* Re-maps a mapped region (it moves to the front of its priority class). */
int mt_region_set_address(mt_region *r, uint64_t addr);
int mt_region_set_priority(mt_region *r, int32_t priority);
int mt_region_set_alias_offset(mt_region *r, uint64_t offset);
int mt_region_set_readonly(mt_region *r, bool readonly);
int mt_region_set_nonvolatile(mt_region *r, bool nonvolatile);
int mt_region_set_romd(mt_region *r, bool romd_mode);

/* Queries. On storage that holds no live region each reports the misuse
 * and returns NULL, 0 or false (mt_region_id: a finalised region's id). */
mt_region_kind mt_region_get_kind(const mt_region *r);
const char *mt_region_name(const mt_region *r);  /* may be NULL */
uint64_t mt_region_id(const mt_region *r);       /* identity, never reused */
mt_owner *mt_region_owner(const mt_region *r);
/* Compatible size: UINT64_MAX for a 2^64 region. */
uint64_t mt_region_size(const mt_region *r);
/* Exact size: returns true for 2^64 (then *low is 0); else *low is the size. */
bool mt_region_size_exact(const mt_region *r, uint64_t *low);
uint64_t mt_region_addr(const mt_region *r);
int32_t mt_region_priority(const mt_region *r);
mt_region *mt_region_container(const mt_region *r);
mt_region *mt_region_alias_target(const mt_region *r);
uint64_t mt_region_alias_offset(const mt_region *r);
bool mt_region_enabled(const mt_region *r);
bool mt_region_readonly(const mt_region *r);
bool mt_region_nonvolatile(const mt_region *r);
bool mt_region_romd(const mt_region *r);
/* True for regions that render themselves (everything but containers and
 * aliases). */
bool mt_region_is_terminal(const mt_region *r);
/* The region's effective dirty-log mask (bit per MT_DIRTY_* client): its
 * own clients, and for RAM-backed kinds the context's always-logged
 * clients and migration while global logging is on; what a view's range
 * of it carries (mt_range.dirty_log_mask, mt_section.dirty_log_mask). */
uint8_t mt_region_dirty_log_mask(const mt_region *r);
/* Has a container, or is the target of a mapped alias at any depth. */
bool mt_region_is_mapped(const mt_region *r);
/* Subregions in render order: first, then next until NULL. */
mt_region *mt_region_first_subregion(const mt_region *r);
mt_region *mt_region_next_sibling(const mt_region *r);
/* Host pointer to the RAM backing, following aliases; NULL if none. A
 * loaded machine's backing is made here if it was not yet (NULL, with a
 * diagnostic, if it cannot exist): docs/regions.md, "Backing on demand". */
void *mt_region_ram_ptr(const mt_region *r);

/* ------------------------------------------------------------------------ */
/* IOMMU regions: indexes, page size, map/unmap notifiers                    */
/* ------------------------------------------------------------------------ */

/*
 * Every call here takes an IOMMU region or an alias whose chain ends at one,
 * and acts on that final IOMMU region (docs/access.md). Offsets are the
 * IOMMU region's own, never the alias's. A region that is neither fails
 * with -EINVAL and a diagnostic. All are writer calls. docs/access.md
 * ("Indexes, the minimum page size and notifiers") has the rules in prose.
 */

/*
 * The number of translation indexes (QEMU's memory_region_iommu_num_indexes):
 * what ops->num_indexes returns, or 1 without it. -EINVAL if `r` is not an
 * IOMMU region, or if the callback returns less than 1.
 */
int mt_iommu_num_indexes(mt_region *r);

/*
 * The smallest page the IOMMU maps (QEMU's
 * memory_region_iommu_get_min_page_size): what ops->min_page_size returns,
 * or the context's page size without it. 0 with a diagnostic if `r` is not
 * an IOMMU region, or if the callback returns 0 or not a power of two.
 */
uint64_t mt_iommu_min_page_size(mt_region *r);

/* Which events a notifier wants; an event has exactly one of the two. */
typedef enum mt_iommu_notify_flags {
    MT_IOMMU_NOTIFY_NONE = 0,
    MT_IOMMU_NOTIFY_UNMAP = 1 << 0, /* a mapping went away (or lost rights) */
    MT_IOMMU_NOTIFY_MAP = 1 << 1,   /* a mapping appeared */
    MT_IOMMU_NOTIFY_MAP_UNMAP = MT_IOMMU_NOTIFY_MAP | MT_IOMMU_NOTIFY_UNMAP,
} mt_iommu_notify_flags;

/*
 * What the embedder's IOMMU model reports (QEMU's IOMMUTLBEvent): the
 * entry covers the offsets [entry.iova, entry.iova + entry.addr_mask] of
 * the IOMMU region. A MAP event maps them to entry.translated_addr in
 * entry.target_as with entry.perm (not MT_IOMMU_NONE); an UNMAP event has
 * perm MT_IOMMU_NONE.
 */
typedef struct mt_iommu_event {
    mt_iommu_notify_flags type; /* MT_IOMMU_NOTIFY_MAP or _UNMAP */
    mt_iommu_tlb_entry entry;
} mt_iommu_event;

/*
 * A notifier: the storage is the caller's (embed it, like a listener) and
 * must stay valid while registered. It hears the events of one IOMMU
 * region, at one index, of the types in `flags`, that touch the offsets
 * [start, last] (inclusive, so the whole 2^64 space fits). Set it up with
 * mt_iommu_notifier_init; the fields ending in `_` are private.
 */
typedef struct mt_iommu_notifier mt_iommu_notifier;
/*
 * Called with the event clipped to the notifier's range: `entry.iova` is
 * the first offset of the event inside [start, last], `entry.addr_mask` is
 * (last offset inside) - iova, and a MAP's `entry.translated_addr` is moved
 * on by as much as iova was (an UNMAP's, which means nothing, is passed
 * through). An event wholly inside the range arrives unchanged;
 * a clipped one may have an addr_mask that is not of the form 2^k - 1.
 * The event is valid during the call only.
 */
typedef void (*mt_iommu_notify_fn)(mt_iommu_notifier *n, const mt_iommu_event *event);

struct mt_iommu_notifier {
    mt_iommu_notify_fn notify;
    unsigned flags;             /* mt_iommu_notify_flags: what it wants */
    uint64_t start, last;       /* offsets in the IOMMU region, inclusive */
    int index;                  /* the translation index it follows */
    MT_IOMMU_NOTIFIER_PRIVATE_FIELDS
};

/* Fills in every field, the private ones as "not registered". Call it
 * once before the first registration. Cannot fail; any thread. */
void mt_iommu_notifier_init(mt_iommu_notifier *n, mt_iommu_notify_fn notify,
                            unsigned flags, uint64_t start, uint64_t last, int index);

/*
 * Registers `n` on `r`'s IOMMU region (QEMU's
 * memory_region_register_iommu_notifier); through an alias it lands on the
 * chain's final target. Nothing is replayed: the model reports mappings
 * that exist already if the user needs them. Errors, each with a
 * diagnostic and nothing changed: -EINVAL when `r` is not an IOMMU region,
 * `n` or its callback is NULL, the flags are none or unknown, start > last
 * or last lies past the region's end, or the index is not below
 * mt_iommu_num_indexes; -EBUSY when `n` is already registered (here or on
 * another region) or when called from a notifier callback. Writer call.
 */
int mt_iommu_notifier_register(mt_region *r, mt_iommu_notifier *n);

/*
 * Detaches `n` from the region it is registered on; the library then
 * forgets it and the caller may free it. -ENOENT (no diagnostic: the
 * owner teardown of the IOMMU region may have detached it already, see
 * below) when `n` is not registered; -EBUSY, with a diagnostic, when called
 * from a notifier callback. Writer call.
 */
int mt_iommu_notifier_unregister(mt_iommu_notifier *n);

/*
 * Fires an event at `r`'s IOMMU region and `index` (QEMU's
 * memory_region_notify_iommu), for the embedder's IOMMU model when its
 * tables change. Every registered notifier of that region whose index is
 * `index`, whose flags include the event's type and whose range overlaps
 * [iova, iova + addr_mask] is called once, in registration order, with the
 * event clipped to its range (mt_iommu_notify_fn). The event may reach
 * past the region's end (an "invalidate everything" unmap with addr_mask
 * UINT64_MAX is fine). Returns how many notifiers were called, or -EINVAL
 * with a diagnostic when `r` is not an IOMMU region, `event` is NULL, the
 * index is not below mt_iommu_num_indexes, the type is not exactly MAP or
 * UNMAP, addr_mask is not 2^k - 1, iova is not aligned to it, an UNMAP
 * carries permissions or a MAP none.
 *
 * A writer call, or at least serialised with the writer calls by the
 * embedder's lock: registration edits the lists this walks. Callbacks may
 * fire further events but not register or unregister notifiers (-EBUSY).
 */
int mt_iommu_notify(mt_region *r, int index, const mt_iommu_event *event);

/*
 * Lifetime: mt_region_finalize of an IOMMU region that still has
 * notifiers fails with -EBUSY naming the first of them; unregister them
 * first. An owner teardown cannot fail, so it detaches them instead (each
 * becomes unregistered, as after mt_iommu_notifier_unregister) and reports
 * it through the diagnostic hook: no notifier is ever left pointing at a
 * finalised region.
 */

/* ------------------------------------------------------------------------ */
/* Transactions                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Edits are visible in the tree at once but in views only after the
 * outermost commit, which re-renders every view once. Every edit outside a
 * transaction commits by itself. Transactions nest.
 */
void mt_transaction_begin(mt_context *ctx);
/* -EINVAL when no transaction is open. */
int mt_transaction_commit(mt_context *ctx);
unsigned mt_transaction_depth(const mt_context *ctx);
/*
 * Called at the start of every transaction, nested or not, including the
 * one each edit opens by itself, before the depth grows
 * (docs/transactions.md): where an accelerator empties its coalesced-MMIO buffer, so writes it
 * batched reach the devices before the map changes under them (QEMU's
 * qemu_flush_coalesced_mmio_buffer). NULL removes it. The hook may edit
 * the tree (the writes it flushes may remap): those edits commit at once,
 * and their own begins do not call the hook again. Writer call.
 */
typedef void (*mt_flush_fn)(void *opaque);
void mt_context_set_flush_hook(mt_context *ctx, mt_flush_fn fn, void *opaque);
/*
 * How the outermost commit builds views (docs/transactions.md). The default
 * re-renders only the views an edit since the last commit can reach and
 * keeps the others; MT_RENDER_FULL renders every view from scratch at every
 * commit. Both give the same views, sharing and listener calls: the full
 * mode is the reference the tests compare against. -EINVAL for another
 * value. Writer call, outside a transaction or inside.
 */
typedef enum { MT_RENDER_INCREMENTAL = 0, MT_RENDER_FULL = 1 } mt_render_mode;
int mt_context_set_render_mode(mt_context *ctx, mt_render_mode mode);

/* ------------------------------------------------------------------------ */
/* Address spaces and views                                                  */
/* ------------------------------------------------------------------------ */

/*
 * Creates an address space over `root`, renders (or shares) its view now.
 * `name` may be NULL ("anonymous"). Returns NULL on error.
 */
mt_address_space *mt_address_space_new(mt_context *ctx, mt_region *root,
                                       const char *name);
/*
 * Destroys the address space: its listeners get region_del for every range
 * at the commit (at once, or at the commit of the open transaction), then
 * are detached; its view is released after readers leave. The struct
 * itself stays, marked destroyed, until the context is freed, so a second
 * destroy is reported (-EINVAL) rather than a use after free, and a reader
 * still holding the pointer reads the empty view.
 */
int mt_address_space_destroy(mt_address_space *as);
const char *mt_address_space_name(const mt_address_space *as);
mt_region *mt_address_space_root(const mt_address_space *as);
/* The view currently published for the address space. */
mt_view *mt_address_space_view(const mt_address_space *as);
/* Address spaces in creation order. */
mt_address_space *mt_context_first_address_space(const mt_context *ctx);
mt_address_space *mt_address_space_next(const mt_address_space *as);

/* One range of a view. `last` is inclusive, so a 2^64 range fits. */
typedef struct mt_range {
    uint64_t start;
    uint64_t last;
    uint64_t offset_in_region;
    mt_region *region;      /* the terminal region */
    bool readonly;
    bool nonvolatile;
    bool romd_mode;
    uint8_t dirty_log_mask;
    MT_RANGE_PRIVATE_FIELDS
} mt_range;

/*
 * A counted reference keeps a view usable after it stops being published
 * (its ranges keep their regions' owners alive). mt_view_ref fails, and
 * returns false, on a view whose last reference is already gone. Safe from
 * any thread; the view is freed by the writer's next mt_context_reclaim.
 * mt_view_unref on a view with no reference left (released once too
 * often, not yet freed) is reported and changes nothing. Every view query
 * given NULL reports it and answers as for an empty view.
 */
bool mt_view_ref(mt_view *v);
void mt_view_unref(mt_view *v);

/*
 * A section: one range as handed to users (listeners, lookups, find). The
 * region is the terminal region; `last` is inclusive, so a section covering
 * all 2^64 bytes fits (start 0, last UINT64_MAX). `view` is the view the
 * range belongs to; `as` the address space it was reached through, if any.
 */
typedef struct mt_section {
    mt_region *region;          /* NULL for the unassigned pseudo-section */
    uint64_t offset_in_region;
    uint64_t start;
    uint64_t last;
    bool readonly;
    bool nonvolatile;
    bool romd_mode;             /* a ROM device's range: read directly */
    uint8_t dirty_log_mask;     /* the range's dirty-log clients (listeners.md) */
    MT_SECTION_PRIVATE_FIELDS
    mt_view *view;
    mt_address_space *as;
} mt_section;

size_t mt_view_range_count(const mt_view *v);
/* The ranges as one sorted array. A view stores them in chunks: on a view
 * of more than 256 ranges the first call makes a copy, O(n), kept with the
 * view (docs/views.md); ranges from mt_view_find_range are not pointers
 * into it. mt_view_next_range below walks them without the copy. */
const mt_range *mt_view_ranges(const mt_view *v);
/*
 * The ranges in address order without a copy, O(1) a step; what a dump or
 * any walk over every range should use on a big view:
 *     mt_view_cursor c = MT_VIEW_CURSOR_INIT;
 *     for (const mt_range *r; (r = mt_view_next_range(v, &c)) != NULL;)
 *         ...
 * The pointers are the view's own (the same as mt_view_find_range gives)
 * and valid while the view is. Any thread.
 */
typedef struct mt_view_cursor {
    size_t chunk_, index_; /* private */
} mt_view_cursor;
#define MT_VIEW_CURSOR_INIT {0, 0}
const mt_range *mt_view_next_range(const mt_view *v, mt_view_cursor *c);
/* The flat-root; NULL for the empty view or once that region is finalised. */
mt_region *mt_view_root(const mt_view *v);
/* The flat-root's name, copied when the view was built ("(none)" if none). */
const char *mt_view_root_name(const mt_view *v);
bool mt_view_is_empty_view(const mt_view *v);
/* The range containing addr, or NULL (unassigned): the view's lookup
 * index, QEMU's address_space_lookup_region. The cheapest lookup: a repeat
 * in the last range found is one load and one compare, and nothing is
 * copied (mt_view_lookup below fills a section). The pointer is valid while
 * the view is (a read-side section, or mt_view_ref). Any thread. */
const mt_range *mt_view_find_range(const mt_view *v, uint64_t addr);

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * A listener is told about every change of one address space's view, the
 * way a hypervisor's memory-slot code needs it. Embed it in your own struct;
 * every callback is optional. On each commit that changes the view: global
 * `begin` (to every listener of the context), then for each address space
 * in creation order all `region_del`s, then `region_nop`/`region_add`s (and
 * `log_start`/`log_stop` on unchanged ranges whose dirty mask changed), in
 * address order; then global `commit`. Listeners run in ascending priority
 * order ("forward"); region_del, log_stop and log_global_stop run in
 * descending order ("reverse"). A range's coalesced-MMIO parts follow its
 * region_add and precede its region_del (coalesced_io_add/del below).
 * Sections are valid during the callback only. Callbacks may edit the tree
 * and commit: a commit made inside listener calls is processed after them
 * (docs/threads.md); they may not register or unregister listeners.
 * docs/listeners.md.
 */
typedef struct mt_listener mt_listener;
typedef struct mt_event_notifier mt_event_notifier; /* see mt_region_add_eventfd */
struct mt_listener {
    void (*begin)(mt_listener *l);
    void (*commit)(mt_listener *l);
    void (*region_add)(mt_listener *l, const mt_section *s);
    void (*region_del)(mt_listener *l, const mt_section *s);
    void (*region_nop)(mt_listener *l, const mt_section *s);
    void (*log_start)(mt_listener *l, const mt_section *s, unsigned old_mask,
                      unsigned new_mask);
    void (*log_stop)(mt_listener *l, const mt_section *s, unsigned old_mask,
                     unsigned new_mask);
    void (*log_global_start)(mt_listener *l);
    void (*log_global_stop)(mt_listener *l);
    /* An eventfd of a region in the view, at `addr` in the address space
     * (QEMU's quirk kept: add runs in reverse order, del forward). */
    void (*eventfd_add)(mt_listener *l, uint64_t addr, unsigned size, bool match_data,
                        uint64_t data, mt_event_notifier *e);
    void (*eventfd_del)(mt_listener *l, uint64_t addr, unsigned size, bool match_data,
                        uint64_t data, mt_event_notifier *e);
    int priority;
    MT_LISTENER_PRIVATE_FIELDS
    /* Later additions, public and optional like the callbacks above (last,
     * so initialisers written before them keep their meaning). */
    /* Part of a coalesced-MMIO range (mt_region_add_coalescing) in the
     * view: `s` is the whole range, [addr, addr + len) the coalesced part
     * in address-space coordinates (len UINT64_MAX means 2^64). add runs
     * forward, del in reverse. Sent after the range's region_add, before
     * its region_del, and at once when a region's ranges change (docs/listeners.md). */
    void (*coalesced_io_add)(mt_listener *l, const mt_section *s, uint64_t addr,
                             uint64_t len);
    void (*coalesced_io_del)(mt_listener *l, const mt_section *s, uint64_t addr,
                             uint64_t len);
    /* Dirty-log requests of the embedder, never sent by commits. log_sync:
     * fetch the dirty bits of one logged range (mt_context_log_sync,
     * mt_region_log_sync). log_sync_global: fetch everything at once,
     * instead of per-range log_sync; a listener has at most one of the
     * two. log_clear: the embedder cleared the bits of `s`, cut to the
     * cleared part (mt_region_log_clear). log_global_after_sync:
     * mt_context_after_log_sync. All run forward, over the context's list. */
    void (*log_sync)(mt_listener *l, const mt_section *s);
    void (*log_sync_global)(mt_listener *l);
    void (*log_clear)(mt_listener *l, const mt_section *s);
    void (*log_global_after_sync)(mt_listener *l);
};

/*
 * Registers `l` on `as` after every listener of equal priority, then replays
 * the current view to `l` alone: begin, [log_global_start], for each range
 * region_add, its coalesced_io_adds and log_start(0 -> mask) if its mask is
 * non-zero, eventfd_add for each eventfd of the view, commit.
 * -EBUSY if `l` is already registered; -EINVAL if it has both log_sync
 * and log_sync_global (at most one).
 */
int mt_listener_register(mt_listener *l, mt_address_space *as);
/* Replays the removal to `l` alone (begin, eventfd_del, then per range
 * log_stop, coalesced_io_dels, region_del; commit), then detaches it. A
 * no-op for a listener not registered (any more). */
void mt_listener_unregister(mt_listener *l);

/* Dirty-log clients (QEMU's DIRTY_MEMORY_*); a mask is 1 << client. */
enum { MT_DIRTY_VGA = 0, MT_DIRTY_CODE = 1, MT_DIRTY_MIGRATION = 2 };

/* Counted: the client is logged while enables outnumber disables. */
int mt_region_set_log(mt_region *r, bool on, unsigned client);
/* Global dirty logging adds MT_DIRTY_MIGRATION to every RAM range. */
void mt_context_set_global_dirty_log(mt_context *ctx, bool on);
/*
 * Asks listeners for the dirty bits they track (QEMU's
 * memory_global_dirty_log_sync), outside any transaction: every listener
 * of the context in ascending priority order gets log_sync_global once if
 * it has it, else log_sync for each range of its address space's current
 * view whose dirty mask is not zero, in address order. Writer call.
 */
void mt_context_log_sync(mt_context *ctx);
/* The same, with log_sync only for the ranges of `r` (log_sync_global
 * listeners still sync everything: they cannot do less). -EINVAL if `r` is
 * not live. Writer call. */
int mt_region_log_sync(mt_region *r);
/* Tells every listener (forward) that a sync round is over: the bits are
 * consumed (QEMU's memory_global_after_dirty_log_sync). Writer call. */
void mt_context_after_log_sync(mt_context *ctx);
/*
 * The embedder cleared the dirty bits of [offset, offset + len) of `r`
 * (len UINT64_MAX means 2^64); listeners that track them too get log_clear
 * for each range of `r` in their address space's current view that shows
 * part of it, the section cut to that part (QEMU's
 * memory_region_clear_dirty_bitmap). Forward, range by range in address
 * order. The span is clipped to the region; len 0 calls nothing. -EINVAL if
 * `r` is not live. Writer call.
 */
int mt_region_log_clear(mt_region *r, uint64_t offset, uint64_t len);

/* ------------------------------------------------------------------------ */
/* Threads                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The threading model. Writer calls (everything that edits the tree,
 * transactions, address spaces, listeners, mt_context_reclaim) must be
 * serialised by the embedder, as QEMU does with its big lock. Readers
 * (lookups, accesses, translate, map/unmap, section copy/release,
 * mt_view_ref) may run on any number of threads with no lock: views are
 * published atomically and freed only after every reader that could see
 * them has left its read-side section (RCU, via liburcu).
 *
 * A reader thread is registered with liburcu on its first read (or by
 * mt_reader_register) and unregistered when it exits (or by
 * mt_reader_unregister). Access calls enter a read-side section themselves
 * and keep the view they loaded until they return, even when a callback
 * commits a new one; wrap several calls (or a use of a view pointer from
 * mt_address_space_view) in mt_read_lock/mt_read_unlock, which nest and
 * cost a few nanoseconds.
 *
 * Commits never wait for readers: a retired view is freed by a later writer
 * call once every reader that could see it has left (memtree's own
 * grace-period thread watches for that, like call_rcu), so a commit
 * may run inside a read-side section, for example in an MMIO callback.
 * Views waiting are bounded by how long readers stay inside sections, not
 * by a count. Who may call what from where: docs/threads.md.
 */
void mt_reader_register(void);
void mt_reader_unregister(void);
/* Whether the calling thread is registered (explicitly or on first use). */
bool mt_reader_registered(void);
void mt_read_lock(void);
void mt_read_unlock(void);

/* ------------------------------------------------------------------------ */
/* Reading and writing memory                                                */
/* ------------------------------------------------------------------------ */

/*
 * Accesses go through an address space's current view (docs/access.md):
 * RAM, ROM and ROM devices in romd mode are read directly, everything else
 * is dispatched to the region's callbacks, split and byte-swapped by the
 * rules of its mt_region_ops. Results are bit sets (mt_result): an access of
 * several chunks returns the OR of theirs. Address-space buffers hold each
 * device's bytes in the device's byte order (a big-endian device returning
 * 0x11223344 fills 11 22 33 44). Every access call is a reader call: it
 * enters a read-side section itself and may run on any registered thread.
 *
 * memtree refuses every write that reaches a readonly range, whichever
 * region on the path set the flag (DECODE_ERROR, nothing written, no
 * callback, no eventfd), where QEMU 7.2 writes through some of them.
 * Unassigned addresses read 0 with DECODE_ERROR.
 *
 * A bad argument (NULL address space or buffer, a length running past
 * 2^64) changes nothing, reports a message to the diagnostic hook and
 * returns MT_RESULT_DECODE_ERROR.
 */
mt_result mt_address_space_read(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                void *buf, uint64_t len);
mt_result mt_address_space_write(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                 const void *buf, uint64_t len);
/*
 * The ROM loader's write (QEMU's address_space_write_rom): copies into the
 * backing of RAM, ROM, RAM devices and ROM devices in romd mode, ignoring
 * readonly flags, and skips everything else. The only way to change ROM
 * contents through an address space. Returns OK unless an argument is bad.
 */
mt_result mt_address_space_write_rom(mt_address_space *as, uint64_t addr, mt_attrs attrs,
                                     const void *buf, uint64_t len);

/*
 * Region-level dispatch (QEMU's memory_region_dispatch_read/write): follows
 * aliases to the final region and runs its callbacks as an access of `size`
 * bytes (1, 2, 4 or 8) at `offset` would. `value_order` is the byte order of
 * the value passed or wanted (MT_ENDIAN_NATIVE: the target's); it is
 * swapped when it differs from the device's. Reads are truncated to `size`
 * bytes. Writes are refused if any region on the alias chain is readonly.
 * RAM, ROM, containers, reservations and IOMMU regions have no callbacks:
 * DECODE_ERROR. Bad arguments (NULL or dead region, NULL value, size not
 * 1/2/4/8) return DECODE_ERROR with a diagnostic and touch nothing.
 */
mt_result mt_region_dispatch_read(mt_region *r, uint64_t offset, uint64_t *value,
                                  unsigned size, mt_endian value_order, mt_attrs attrs);
mt_result mt_region_dispatch_write(mt_region *r, uint64_t offset, uint64_t value,
                                   unsigned size, mt_endian value_order, mt_attrs attrs);

/*
 * Lookup: the section of `v` containing `addr`, or the unassigned
 * pseudo-section (region NULL, start 0, last UINT64_MAX, offset_in_region
 * 0) when no range does. `out->as` is NULL. Byte-exact, any number of
 * ranges; a repeated lookup in the last range found costs a few
 * instructions. The section holds no reference: use it while the view is
 * held (a read-side section, or mt_view_ref).
 */
void mt_view_lookup(const mt_view *v, uint64_t addr, mt_section *out);
/* Memory of the view's lookup index, in bytes (0 for a view without
 * ranges): about 25 to 33 bytes per range (tree keys, hint table, and the
 * ranges' fast-path field). */
size_t mt_view_index_bytes(const mt_view *v);

/*
 * Translation (QEMU's address_space_translate plus the IOTLB page mask):
 * where an access of `len` bytes at `addr` lands, following IOMMUs.
 */
typedef struct mt_translation {
    mt_address_space *as;  /* the address space finally reached */
    mt_region *region;     /* the terminal region; NULL if unassigned, or if
                              an IOMMU denied the access */
    uint64_t offset;       /* offset of addr in `region` */
    uint64_t len;          /* bytes from addr that land the same way: len,
                              clipped to each IOMMU page met and, for
                              RAM-backed and direct ranges, to the range */
    uint64_t page_mask;    /* AND of the IOMMU masks met; without IOMMU the
                              context's page size - 1 */
    bool readonly;         /* a write here would be refused */
} mt_translation;
/* 0, or -EINVAL for bad arguments (len 0 included). The pointers in `out`
 * are valid while the views involved are (see mt_view_lookup). */
int mt_address_space_translate(mt_address_space *as, uint64_t addr, uint64_t len,
                               bool is_write, mt_attrs attrs, mt_translation *out);

/*
 * Direct pointers (QEMU's address_space_map/unmap). A RAM range (or, for
 * reading, ROM and ROM devices in romd mode) maps to its backing, clipped
 * to the range and to IOMMU pages: `out->len` may be less than asked. Other
 * ranges get the context's single bounce buffer of at most one page,
 * filled by a read at map time or written back at unmap. Either way the
 * region's owner is referenced, and the region cannot be finalised, until
 * unmapped. Returns 0; -EINVAL for bad arguments; -EACCES for a write
 * mapping of a readonly range or a `memory` access to a non-RAM one;
 * -EBUSY while the bounce buffer is in use. On failure out->host is NULL.
 * Reader calls: any registered thread may map and unmap (a device's DMA),
 * and the two need not run on the same thread. An owner whose last other
 * reference goes while a mapping is outstanding is torn down at the first
 * mt_context_reclaim after the unmap.
 */
typedef struct mt_mapping {
    void *host;  /* the pointer */
    uint64_t len;
    /* private */
    mt_address_space *as_;
    mt_region *region_;
    uint64_t addr_;
    uint64_t offset_;
    mt_attrs attrs_;
    uint8_t dirty_;
    bool is_write_;
    bool bounce_;
} mt_mapping;
int mt_address_space_map(mt_address_space *as, uint64_t addr, uint64_t len,
                         bool is_write, mt_attrs attrs, mt_mapping *out);
/* Ends a mapping; `access_len` bytes from the start were written (reported
 * dirty, or written back from the bounce buffer). 0, -EINVAL if `m` is not
 * a live mapping, -EIO if the bounce write-back did not return OK. */
int mt_address_space_unmap(mt_mapping *m, uint64_t access_len);

/*
 * Find (QEMU's memory_region_find, docs/access.md): the first range
 * intersecting [offset, offset + len) of `r`, in the first address space
 * whose root is `r`'s top container, clipped to the request. On success
 * (0) the section holds one reference on its region's owner, and keeps the
 * region from being finalised, until mt_section_release. -ENOENT (out's
 * region NULL) if nothing is there or no address space is over the top
 * container; -EINVAL for bad arguments. A writer call.
 */
int mt_region_find(mt_region *r, uint64_t offset, uint64_t len, mt_section *out);
/*
 * A copy of a section that outlives the read-side section or listener
 * callback it came from (QEMU's memory_region_section_new_copy): `dst`
 * holds one reference on its region's owner (as a found section does) and
 * a counted reference on its view, until mt_section_release: the region
 * cannot be finalised and `dst->view` stays usable. 0; -EINVAL for bad
 * arguments or a section with no view; -ESTALE if the view already lost
 * its last reference (it was replaced and is waiting to be freed: look the
 * address up again). Any registered thread, like a lookup. `dst` is
 * overwritten: release it first if it held anything.
 */
int mt_section_copy(const mt_section *src, mt_section *dst);
/* Drops what a section from mt_region_find or mt_section_copy holds and
 * clears it; any thread. A section that holds nothing (from mt_view_lookup
 * or a listener) is refused with a diagnostic; a cleared one is ignored. */
void mt_section_release(mt_section *s);
/* find(container, offset, 1) found a region other than `container`. */
bool mt_region_present(mt_region *container, uint64_t offset);

/*
 * Eventfds (QEMU's ioeventfds, docs/access.md). A write dispatched to
 * `r` at `offset` whose size matches `size` (0 matches any) and, with
 * `match_data`, whose value equals `data` (given in the target's byte
 * order) signals the notifier instead of calling the write callback.
 * Unless an accelerator handles them (mt_context_set_eventfds_external).
 */
typedef struct mt_event_notifier mt_event_notifier;
struct mt_event_notifier {
    void (*signal)(mt_event_notifier *n);
};
/* -EINVAL for bad arguments (size not 0/1/2/4/8), -EEXIST if present. */
int mt_region_add_eventfd(mt_region *r, uint64_t offset, unsigned size, bool match_data,
                          uint64_t data, mt_event_notifier *e);
/* -ENOENT if no such eventfd. */
int mt_region_del_eventfd(mt_region *r, uint64_t offset, unsigned size, bool match_data,
                          uint64_t data, mt_event_notifier *e);

/*
 * Coalesced MMIO (docs/listeners.md): parts of a region whose writes an
 * accelerator may batch (KVM's coalesced MMIO zones). memtree keeps the
 * list and tells listeners; it does not change how accesses dispatch.
 * Every change calls, at once and outside any transaction, for each
 * address space and each range of the region in its current view,
 * coalesced_io_del for every old range then coalesced_io_add for every
 * range of the new list (the region's whole list is announced again, as
 * QEMU does). Allowed on any kind of region. Writer calls; -EINVAL for a
 * region that is not live.
 */
/* Adds [offset, offset + size) (UINT64_MAX means 2^64). -EINVAL for size 0
 * or a range past the end of the region. Overlaps are kept as given. */
int mt_region_add_coalescing(mt_region *r, uint64_t offset, uint64_t size);
/* Replaces the list with the whole region. -EINVAL for a region of size 0. */
int mt_region_set_coalescing(mt_region *r);
/* Empties the list; nothing is called when it was empty already. */
int mt_region_clear_coalescing(mt_region *r);
/* How many ranges the list holds (0 for a region that is not live). */
size_t mt_region_coalesced_count(const mt_region *r);

/*
 * Access settings of a context (writer calls).
 * Target byte order, what MT_ENDIAN_NATIVE means: little (default) or big;
 * -EINVAL for MT_ENDIAN_NATIVE.
 */
int mt_context_set_target_endian(mt_context *ctx, mt_endian order);
mt_endian mt_context_target_endian(const mt_context *ctx);
/* Page size for translate masks and the bounce buffer: a power of two,
 * default 4096. */
int mt_context_set_page_size(mt_context *ctx, uint64_t page_size);
/*
 * How views built from now on index their ranges (docs/access.md, "Lookups
 * and the dispatch index"). The default, 0, is the fastest: the widest walk
 * the CPU runs, with the hint table. The options exist so that tests cover
 * every form and benchmarks compare them. -EINVAL for unknown bits.
 */
enum {
    MT_LOOKUP_NO_HINTS = 1 << 0, /* no hint table: every lookup walks the index */
    MT_LOOKUP_SCALAR = 1 << 1,   /* the portable walk, no AVX2 or AVX-512 */
    MT_LOOKUP_NO_AVX512 = 1 << 2 /* at most AVX2 */
};
int mt_context_set_lookup_options(mt_context *ctx, unsigned options);
/* An accelerator handles eventfds: writes always reach the callbacks. */
void mt_context_set_eventfds_external(mt_context *ctx, bool external);
/* Receives one line per invalid guest access (rejected, misaligned, wrong
 * size, `memory` attribute on MMIO): QEMU's LOG_GUEST_ERROR. Default: none. */
void mt_context_set_guest_error_hook(mt_context *ctx, mt_diag_fn fn, void *opaque);
/* Told about every direct write to a RAM range whose dirty-log mask is not
 * zero (address-space writes, write_rom, write mappings at unmap). */
typedef void (*mt_dirty_fn)(void *opaque, mt_region *r, uint64_t offset, uint64_t len,
                            unsigned clients);
void mt_context_set_dirty_hook(mt_context *ctx, mt_dirty_fn fn, void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* MEMTREE_H */
