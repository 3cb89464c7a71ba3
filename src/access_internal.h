/*
 * What the access path (access.c, eventfd.c) and the lookup index
 * (index.c) share: the index's layout and its inline fast path, the
 * read-side section calls, and the context's access settings. Readers
 * call everything here without locks.
 */
#ifndef MEMTREE_ACCESS_INTERNAL_H
#define MEMTREE_ACCESS_INTERNAL_H

#include "internal.h"

/* ---- read-side sections -------------------------------------------------- */

/*
 * Readers bracket each use of a published view with these: liburcu's memb
 * flavour, the same read-side section as mt_read_lock/mt_read_unlock
 * (context.c), so the two nest. Inlined here because the access path
 * enters one per access: through the public calls the pair costs about
 * 9 ns (two calls, then liburcu's own call and TLS lookup), inline about
 * 1 ns. liburcu's inline read-side functions are a few lines each, which
 * its LGPL allows in code of any license (_LGPL_SOURCE).
 */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>

#ifdef MT__TSAN
/* ThreadSanitizer does not see liburcu's ordering: leaving a section must
 * look like what mt_read_unlock does, so the out-of-line calls are used. */
static inline bool mt__rcu_reader_ready(void)
{
    return true; /* mt_read_lock registers */
}
static inline void mt__rcu_read_lock_registered(void)
{
    mt_read_lock();
}
static inline void mt__rcu_read_unlock(void)
{
    mt_read_unlock();
}
#else
/* A thread's first read registers it (rcu.c): a read-side section of an
 * unregistered thread would protect nothing. The test is a load of the
 * flag liburcu keeps next to the nesting count. */
static inline bool mt__rcu_reader_ready(void)
{
    return URCU_TLS(urcu_memb_reader).registered;
}
/* For a caller that has checked mt__rcu_reader_ready: no call at all. */
static inline void mt__rcu_read_lock_registered(void)
{
    urcu_memb_read_lock();
}
static inline void mt__rcu_read_unlock(void)
{
    urcu_memb_read_unlock();
}
#endif

/* Enters a read-side section, registering the thread on its first. */
static inline void mt__rcu_read_lock(void)
{
    if (__builtin_expect(!mt__rcu_reader_ready(), 0))
        mt__reader_register_slow();
    mt__rcu_read_lock_registered();
}

/* A view an address space publishes: loaded once per access. */
static inline mt_view *mt__as_view(const mt_address_space *as)
{
    return __atomic_load_n(&as->view, __ATOMIC_ACQUIRE);
}

/* ---- the lookup index (index.c) ------------------------------------------- */

/*
 * Two static B+-trees, one above the other: the view's top tree over the
 * first start of each chunk, then the chunk's own tree over its ranges'
 * starts (struct mt__chunk: a root node and one leaf level, up to 256
 * ranges). Both use 128-byte nodes of 16 sorted keys (two cache lines,
 * side by side); a node's count of keys <= addr, taken without branches
 * (two AVX-512 compares, four AVX2 ones, or sixteen scalar ones), picks
 * the node below. The top tree has its levels top first, each key of a
 * level the first key of one node of the level below; its leaf level is
 * one key per chunk. Keys past the end of a level are UINT64_MAX, which
 * only the address UINT64_MAX could count, so that address is answered
 * apart. A part render copies the top tree's leaf level around the
 * chunks it replaced and builds the levels above it again: 1/16 of a key
 * per chunk. Measured against 8-key (one-line) nodes: one level fewer at
 * 4,096 and 65,536 ranges, 10-20% faster misses with vector compares.
 */
#define MT__NODE_KEYS 16
#define MT__MAX_LEVELS 24 /* 8^22 > 2^64 ranges */

/* Which form of the index walk a view uses: the widest the CPU has. */
enum { MT__ISA_SCALAR, MT__ISA_AVX2, MT__ISA_AVX512 };

/*
 * Two hints sit in front of the walk; each names a range, is checked
 * against that range's bounds before use, and is stored by readers racily
 * (relaxed atomics, and only when it changes), so a stale or torn-between-
 * readers value costs a walk, never a wrong answer:
 *   - the most recently found range (`mru`): a run of accesses to one
 *     region costs a load and a compare. A range becomes it when found
 *     twice in a row (`cand` holds the one found last, mt__promote):
 *     lookups all over the view then store only the candidate, and no
 *     lookup's first check waits for the range the lookup before it found
 *     (the store of the most recent range on every find made the next
 *     lookup's check load it back and read its bounds: 3.8 against 3.4
 *     ns for random lookups over 4,096 ranges, bench/run lookup);
 *   - the hint table: 2^(64 - hint_keep) slots, each the range last found for an
 *     address hashing there, as its chunk's index << 14 | its byte offset
 *     in the chunk's ranges (so that reaching it takes an add, not a
 *     multiply). The hash is of the address's granule (its bits above
 *     hint_shift, the median range size rounded down to a power of two),
 *     so every address of a small range shares a slot and a working set of
 *     up to about as many ranges as slots is answered without walking.
 *     The views a part render makes from one another share one table (a
 *     slot checked against the reader's own view is right or a miss, in
 *     any view), so a commit warms only the slots of the ranges it
 *     rendered again (a range a split or a shift moved to another place
 *     is found by a walk once, then stored again); a view gets a new
 *     table when its ranges outgrow it (amortised: the table doubles).
 *     A slot's chunk index is masked to the view's chunk array, which is
 *     padded to a power of two with empty entries: a slot another view
 *     wrote names one of ours, or an empty one, with no compare.
 * A view with more chunks than a slot can name (2^18) has no table.
 */
#define MT__HINT_MIN_BITS 4
#define MT__HINT_MAX_BITS 22 /* 16 MiB of slots at most */
#define MT__HINT_OFFSET_BITS 14 /* MT__CHUNK_MAX * sizeof(mt_range) <= 2^14 */
#define MT__HINT_MAX_CHUNKS ((size_t)1 << (32 - MT__HINT_OFFSET_BITS))

/* Where a chunk's ranges are and where they end: a copy of its header
 * beside the chunk array, so that a hint-table slot reaches its range with
 * one dependent load fewer than through the chunk pointer (the chunk's
 * header line is then not read at all). The start is kept less the
 * entry's own index << MT__HINT_OFFSET_BITS, so that a slot plus `bias` is
 * the range's address (one add, no mask of the offset), and a slot whose
 * chunk index only the mask brought here lands at or past `end`: measured
 * 3.43-3.46 against 3.50-3.51 ns for random lookups over 4,096 ranges.
 * An empty entry ({0, 0}) pads the array. */
struct mt__chunk_base {
    uintptr_t bias;
    uintptr_t end; /* the address just past the ranges */
};

/* A hint table, shared by the views of one lineage (writer-counted). */
struct mt__hints {
    size_t refs;
    uint8_t bits;
    uint8_t shift;
    uint32_t slot[];
};

struct mt__dispatch {
    /* read by every lookup: one cache line with the first three levels */
    struct mt__chunk *const *chunks; /* the view's */
    uint32_t *hints;                 /* the hint table's slots; NULL: none */
    const struct mt__chunk_base *base; /* one per chunk, padded, in `keys`' block */
    size_t nchunks;
    size_t base_mask;                  /* the padded length of `base` - 1 */
    uint8_t levels;
    uint8_t isa;
    uint8_t hint_keep;  /* 64 - log2(slots): the hash bits dropped */
    uint8_t hint_shift;
    const uint64_t *level[MT__MAX_LEVELS]; /* [0] is the top node */
    uint64_t *keys;                         /* every level, one block */
    struct mt__hints *table;                /* owns `hints` */
    size_t bytes;                           /* this struct, keys, hints, chunk trees */
    /* The most recent range found. Its own cache line, so that readers
     * writing it do not evict the fields above from each other. */
    _Alignas(64) const mt_range *mru;
    const mt_range *cand; /* the range found last, not yet the most recent */
};

/* The walk, then the hint updates: the miss path of the lookup. Returns
 * the range holding addr, or NULL. */
const mt_range *mt__dispatch_find_slow(struct mt__dispatch *d, uint64_t addr);

static inline bool mt__range_holds(const mt_range *r, uint64_t addr)
{
    return addr - r->start <= r->last - r->start;
}

/* The hint-table slot of addr: Fibonacci hashing of its granule, so that
 * granules a fixed stride apart still spread over every slot. */
static inline size_t mt__hint_slot(const struct mt__dispatch *d, uint64_t addr)
{
    return (size_t)(((addr >> d->hint_shift) * 0x9e3779b97f4a7c15ull) >> d->hint_keep);
}

/* Stores the most-recent hint only on change: readers that keep finding
 * the same range then never write the shared line. */
static inline void mt__set_mru(struct mt__dispatch *d, const mt_range *r)
{
    if (__atomic_load_n(&d->mru, __ATOMIC_RELAXED) != r)
        __atomic_store_n(&d->mru, r, __ATOMIC_RELAXED);
}

/* A range found twice in a row becomes the most recent: a run of accesses
 * to one range takes the shortest path from its third access on, while
 * lookups all over the view store only this candidate, which the next
 * lookup compares at its end, never the range its first check reads. */
static inline void mt__promote(struct mt__dispatch *d, const mt_range *r)
{
    if (__atomic_load_n(&d->cand, __ATOMIC_RELAXED) != r)
        __atomic_store_n(&d->cand, r, __ATOMIC_RELAXED);
    else
        mt__set_mru(d, r);
}

/* The two hints alone: the range they name for addr, or NULL where both
 * miss (the walk then answers, mt__dispatch_find_slow). No call: callers
 * that keep their fast path free of calls need no stack frame. */
static inline const mt_range *mt__dispatch_find_quick(struct mt__dispatch *d, uint64_t addr)
{
    const mt_range *r = __atomic_load_n(&d->mru, __ATOMIC_RELAXED);
    if (__builtin_expect(mt__range_holds(r, addr), 1))
        return r;
    if (__builtin_expect(d->hints != NULL, 1)) {
        uint32_t s = __atomic_load_n(&d->hints[mt__hint_slot(d, addr)], __ATOMIC_RELAXED);
        /* the slot may name a chunk or range this view does not have */
        const struct mt__chunk_base *b = &d->base[(s >> MT__HINT_OFFSET_BITS) & d->base_mask];
        uintptr_t p = b->bias + s;
        if (__builtin_expect(p < b->end, 1)) {
            r = (const mt_range *)p;
            if (__builtin_expect(mt__range_holds(r, addr), 1)) {
                /* found by the table: the most recent once found twice
                 * in a row, so that a run of accesses to it takes the
                 * shortest path */
                mt__promote(d, r);
                return r;
            }
        }
    }
    return NULL;
}

/* The range of `v` containing addr, or NULL: the hints (the hit path is a
 * load of the most recent range and one unsigned compare, addr - start <=
 * last - start), then the walk. */
static inline const mt_range *mt__dispatch_find(const mt_view *v, uint64_t addr)
{
    struct mt__dispatch *d = v->dispatch;
    if (__builtin_expect(!d, 0))
        return NULL; /* the empty view, or a view without ranges */
    const mt_range *r = mt__dispatch_find_quick(d, addr);
    return __builtin_expect(r != NULL, 1) ? r : mt__dispatch_find_slow(d, addr);
}

/* What an access asks of a RAM range for the fast path. */
enum { MT__FAST_READ, MT__FAST_WRITE };

/* If RAM range r (or NULL) holds all `len` bytes at addr and allows the
 * access (reads: any RAM, ROM included; writes: not readonly, no dirty
 * logging): true, and *host is their backing. Reads nothing but the range. */
static inline bool mt__ram_host_of(const mt_range *r, uint64_t addr, uint64_t len, int access,
                                   uint8_t **host)
{
    if (!r || !r->host_ || len - 1 > r->last - addr)
        return false;
    if (access == MT__FAST_WRITE && (r->readonly || r->dirty_log_mask))
        return false;
    *host = (uint8_t *)(r->host_ + (addr - r->start));
    return true;
}

/* ---- a terminal region's device (access.c, access_split.c) ---------------------------- */

/* What an access of a terminal region runs: its callbacks, or the rules
 * memtree gives regions without any (access.c, dev_of). */
struct mt__dev {
    const mt_region_ops *ops;
    void *opaque;
    const mt_region *r; /* NULL: the unassigned pseudo-region */
    bool be;
};

static inline uint64_t mt__size_mask(unsigned size)
{
    return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static inline unsigned mt__pow2_floor(uint64_t v)
{
    return v >= 8 ? 8 : v >= 4 ? 4 : v >= 2 ? 2 : 1;
}

/* One callback of `size` bytes at x, value in the device's byte order. */
static inline mt_result mt__cb_read(const struct mt__dev *d, uint64_t x, unsigned size,
                                    mt_attrs attrs, uint64_t *v)
{
    mt_result res = MT_RESULT_OK;
    if (d->ops->read_with_attrs) {
        *v = 0;
        res = d->ops->read_with_attrs(d->opaque, x, v, size, attrs);
    } else {
        *v = d->ops->read(d->opaque, x, size);
    }
    *v &= mt__size_mask(size);
    return res;
}

static inline mt_result mt__cb_write(const struct mt__dev *d, uint64_t x, uint64_t v,
                                     unsigned size, mt_attrs attrs)
{
    if (d->ops->write_with_attrs)
        return d->ops->write_with_attrs(d->opaque, x, v, size, attrs);
    d->ops->write(d->opaque, x, v, size);
    return MT_RESULT_OK;
}

/* An unaligned chunk the callbacks cannot take, on a device that accepts
 * unaligned accesses: QEMU passes it through misaligned (a FIXME there). */
static inline bool mt__needs_emulation(const mt_region_ops *ops, uint64_t x, unsigned c)
{
    return ops->valid.unaligned && !ops->impl.unaligned && (x & (c - 1));
}

/* A valid access of `size` bytes at x that one callback cannot take:
 * split into callbacks (or emulated), values in the device's byte order
 * (access_split.c). */
mt_result mt__split_read(const struct mt__dev *d, uint64_t x, unsigned size, mt_attrs attrs,
                         uint64_t *out);
mt_result mt__split_write(const struct mt__dev *d, uint64_t x, unsigned size, mt_attrs attrs,
                          uint64_t v);

/* ---- results that hold references (access_map.c) ----------------------------------- */

/* What a section from find or copy holds (mt_section.held_). */
enum { MT__HELD_REGION = 1, MT__HELD_VIEW = 2 };

/* ---- settings -------------------------------------------------------------- */

static inline struct mt__access_settings *mt__access(const mt_context *ctx)
{
    return ctx->access;
}

static inline uint64_t mt__page_size(const mt_context *ctx)
{
    uint64_t p = mt__access(ctx)->page_size;
    return p ? p : 4096;
}

/* ---- resolving an address (access.c) --------------------------------------- */

/* Where an address lands after the lookup and any IOMMUs (docs/access.md). */
struct mt__hit {
    mt_region *t;          /* the terminal region; NULL: unassigned */
    uint64_t x;            /* offset of the address in t */
    uint64_t to_last;      /* range's last byte - address: l <= to_last + 1 */
    uint64_t page_mask;    /* AND of the IOMMU masks met */
    mt_address_space *as;  /* the address space finally reached */
    bool iommu;            /* an IOMMU was met */
    bool readonly;         /* a range on the way is readonly */
    bool romd;             /* the range's romd mode */
    uint8_t dirty;         /* the range's dirty-log mask */
};

/* Resolves `addr` in `v` (the view of `as` loaded by the caller, inside a
 * read-side section), following IOMMUs: *l (the remaining length) is
 * clipped to every IOMMU page met. */
void mt__resolve(mt_address_space *as, mt_view *v, uint64_t addr, bool is_write,
                 mt_attrs attrs, uint64_t *l, struct mt__hit *h);
/* RAM-backed: RAM, ROM and RAM devices. */
static inline bool mt__ram_backed(const mt_region *t)
{
    return t && (t->kind_ == MT_KIND_RAM || t->kind_ == MT_KIND_RAM_DEVICE);
}
/* Direct (docs/access.md): reads of RAM, ROM and ROM devices in romd mode; writes of
 * RAM (readonly ranges are refused before this is asked). */
static inline bool mt__direct(const struct mt__hit *h, bool is_write)
{
    if (!h->t)
        return false;
    if (h->t->kind_ == MT_KIND_RAM)
        return true;
    return !is_write && h->t->kind_ == MT_KIND_ROM_DEVICE && h->romd;
}
/* Reports a direct write to a range with a dirty-log mask. */
void mt__dirty_report(const mt_context *ctx, mt_region *t, uint64_t offset, uint64_t len,
                      uint8_t mask);
/* QEMU's LOG_GUEST_ERROR: to the context's guest-error hook, if any. */
void mt__guest_error(const mt_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- eventfds (eventfd.c) ---------------------------------------------------- */

/* The first eventfd of `r` that a write of `value` (device order, `size`
 * bytes) at `offset` matches, or NULL. Inside a read-side section. */
const struct mt__eventfd *mt__eventfd_match(const mt_context *ctx, const mt_region *r,
                                            uint64_t offset, unsigned size, uint64_t value);

#endif /* MEMTREE_ACCESS_INTERNAL_H */
