/*
 * What the library's source files share, and nothing more. Public names are
 * `mt_`, internal ones `mt__` or static.
 */
#ifndef MEMTREE_INTERNAL_H
#define MEMTREE_INTERNAL_H

#include "memtree.h"

#include "util/alloc.h"
#include "util/ivtree.h"
#include "util/wide.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

/* Built with ThreadSanitizer? It cannot see the ordering liburcu gives, so
 * the read-side sections (access_internal.h) and reclamation (rcu.c) take
 * the paths it can follow. Defined here, once, for both. */
#if defined(__SANITIZE_THREAD__)
#define MT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT__TSAN 1
#endif
#endif

#define MT__REGION_LIVE 0x6d74726cu  /* "mtrl" */
#define MT__REGION_DEAD 0xdeadbeefu
#define MT__REGION_HEAP_FRESH 0x6d74686cu /* mt_region_alloc, not yet init */
#define MT__OWNER_LIVE 0x6d746f77u   /* "mtow" */
#define MT__AS_LIVE 0x6d746173u      /* "mtas" */
#define MT__AS_DEAD 0xdeada55du

/* mt_region.flags_ */
enum {
    MT__F_ENABLED = 1 << 0,
    MT__F_READONLY = 1 << 1,
    MT__F_NONVOLATILE = 1 << 2,
    MT__F_ROMD = 1 << 3,
    MT__F_OWN_RAM = 1 << 4,   /* ram_ was allocated by the library */
    MT__F_HEAP = 1 << 5,      /* storage came from mt_region_alloc */
    MT__F_DYING = 1 << 6,     /* its owner is being torn down */
    MT__F_UNCOUNTED = 1 << 7, /* alias no longer counted by its target: both
                                 die in one owner teardown */
};

/* ---- context.c ---------------------------------------------------------- */

struct mt_context {
    uint64_t next_id;
    unsigned txn_depth;
    bool topology_pending;
    bool eventfds_pending;     /* an eventfd changed: re-diff them at commit */
    bool target_big_endian;
    uint64_t input_limit;      /* mt_machine_load's byte limit; 0: the default */
    mt_diag_fn diag;
    void *diag_opaque;
    mt_view *empty_view;
    mt_view *cache;            /* cached views, linked by cache_next */
    uint64_t cache_entries;
    mt_address_space *as_first, *as_last;
    mt_stats stats;
    uint64_t walk_gen;         /* generation for mt_region.walk_mark_ */
    /* Reclamation (rcu.c). Views whose last reference is gone: readers
     * may drop the last reference, so this is a lock-free stack. Address
     * spaces destroyed since the last hand-off. Batches back from the
     * grace-period thread, freed at the writer's next entry; batches still
     * queued, which mt_context_reclaim may free first. */
    _Atomic(mt_view *) retired;
    mt_address_space *retired_as;
    _Atomic(struct mt__batch *) ready;
    atomic_uint callbacks_pending; /* handed off, callback not yet run */
    struct mt__batch *queued;  /* handed off, not freed: writer only */
    /* Views readers are done with, oldest first, freed a few per writer
     * entry (linked by retired_next). Writer only. */
    mt_view *freeable, *freeable_last;
    size_t nfreeable;
    void **garbage;            /* plain memory for the next batch */
    size_t ngarbage, cap_garbage;
    mt_address_space *dead_as;   /* destroyed ones, kept until the context
                                    goes so a second destroy is caught */
    unsigned notifying;          /* commit listener calls in progress (txn.c) */
    bool flushing;               /* the flush hook is running (txn.c) */
    /* owners whose count went to 0, torn down at reclaim; readers dropping
     * their last reference queue too, so this is a lock-free stack */
    _Atomic(mt_owner *) pending_owners;
    atomic_uint retired_count; /* views on `retired` */
    mt_listener *listeners;    /* every listener, ascending priority */
    bool global_dirty_log;
    uint8_t dirty_always;      /* clients always logged for RAM */
    mt_flush_fn flush;         /* called by every transaction begin (6) */
    void *flush_opaque;
    /* scratch buffers reused by every render, so a commit allocates little */
    struct mt__render_scratch *scratch;
    uint8_t loop_cuts_reported; /* render.c: loop cuts this commit reported */
    struct mt__access_settings *access; /* access.c; allocated with the context */
    struct mt__iommu_watch *iommu_watch; /* iommu.c; NULL until first used */
    /* Change tracking (txn.c): regions an edit can reach since the last
     * topology commit carry stale_mark == stale_epoch (mt__region_rare). */
    uint64_t stale_epoch;
    bool stale_all;            /* a change every view can show (dirty logging) */
    bool render_full;          /* reference mode: every commit renders all */
    /* The regions whose eventfds changed (eventfd.c), disabled ones too,
     * since the listeners last heard of eventfds: each commit's listener
     * pass re-reads only where they show (listener_eventfds.c). Every set
     * an address space keeps was read at the last pass or since (a first
     * listener's registration), so the list covers what it lacks. */
    mt_region **fds_changed;
    size_t nfds_changed, fds_changed_cap;
    uint64_t fds_changes;      /* counts every change of a region's eventfds */
    struct mt__fds_pass *fds_pass; /* the pass under way, NULL between */
    mt_region **touch_stack;   /* the marking walk's stack, reused */
    size_t touch_cap;
    /* mt_context_free with live regions or held views closes the context
     * instead (context.c): it goes when the last of them does. Frames that
     * call out to the caller's code and use the context after (reclaim,
     * an owner's teardown) hold it meanwhile. */
    bool closed;
    unsigned holds;
    uintptr_t alive_prev, alive_next; /* the list of contexts alive, disguised (context.c) */
    uint64_t serial; /* this context among all a process made, from 1 (context.c) */
    /* txn.c: the most parts of one region a commit renders apart, at most
     * MT__STALE_PARTS; the equivalence tests lower it to reach the joins */
    uint16_t stale_parts;
    /* txn.c: the side structs whose parts array this commit grew past
     * MT__STALE_KEPT entries, cut back when the commit has rendered */
    struct mt__region_rare **parts_grown;
    size_t nparts_grown, parts_grown_cap;
};

/* Starts a new graph walk: regions with walk_mark_ == the result are seen. */
uint64_t mt__walk_begin(mt_context *ctx);
/* ctx if it is a context alive and still the one whose serial this is,
 * else NULL: for reports about storage the caller keeps (a tombstone, a
 * released owner), which can outlive its context; a context made later
 * may be at the same address. Takes a lock; for misuse reports only. */
mt_context *mt__context_alive(mt_context *ctx, uint64_t serial);
/* Frees a closed context once nothing keeps it: no live region, no view
 * held, no transaction open, no frame holding it, not from a callback.
 * Called at the end of the public calls that can let go of the last
 * thing (ctx may be gone after). */
void mt__context_settle(mt_context *ctx);

/* The lifetime checker found a use of finalised storage that no error code
 * can report: says what and where, then aborts. */
void mt__hazard(const mt_region *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Reports a usage error through the diagnostic hook; returns err. */
int mt__diag(mt_context *ctx, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The public calls a guest's every access may go through (lookups, reads,
 * writes): each starts on a cache line of its own. Where a short hit path
 * happens to fall across a line, or shares one with the end of another
 * function, its loop runs measurably slower: 1.9 against 1.4 ns a last-
 * hit lookup (bench/run lookup), depending only on where the linker put
 * it. */
#if defined(__GNUC__)
#define MT__HOT_ENTRY __attribute__((aligned(64)))
#else
#define MT__HOT_ENTRY
#endif

/* A public call given NULL for `what` (its object): reported through the
 * default hook, as there is no context to report to; true then. */
static inline bool mt__null_arg(const void *p, const char *fn, const char *what)
{
    if (__builtin_expect(p != NULL, 1))
        return false;
    mt__diag(NULL, -EINVAL, "%s: NULL %s", fn, what);
    return true;
}

/* ---- region.c ----------------------------------------------------------- */

static inline bool mt__region_live(const mt_region *r)
{
    return r && r->magic_ == MT__REGION_LIVE;
}
static inline bool mt__enabled(const mt_region *r)
{
    return r->flags_ & MT__F_ENABLED;
}
static inline bool mt__terminal(const mt_region *r)
{
    return r->kind_ != MT_KIND_CONTAINER && r->kind_ != MT_KIND_ALIAS;
}
/* Exact size as a 128-bit value, 0 ... 2^64. */
static inline mt__i128 mt__size(const mt_region *r)
{
    return r->size_full_ ? MT__2_64 : (mt__i128)r->size_;
}
/* The last address before `end` (> 0): an extent's last byte, kept
 * within 64 bits for an extent that reaches 2^64. */
static inline uint64_t mt__last_before(mt__i128 end)
{
    return end > MT__2_64 ? UINT64_MAX : (uint64_t)(end - 1);
}
/* A printable name: "(null)" for an absent one. */
static inline const char *mt__name(const mt_region *r)
{
    return r->name_ ? r->name_ : "(null)";
}

/* The most parts of a region one commit re-renders apart: each edit far
 * from the others adds one (a BAR moved far away adds two); more are
 * joined over their smallest gap. A region's array of them grows on
 * demand, so most regions never hold more than a few. */
#define MT__STALE_PARTS 1024
/* What a region's parts array keeps from one commit to the next: the few
 * most edits need (a larger one is cut back, mt__stale_parts_trim). */
#define MT__STALE_KEPT 4
struct mt__stale_part {
    uint64_t lo, last;
};

/*
 * What few regions use, out of line: a machine of a million RAM regions
 * uses none of it, and the region itself stays small (docs/regions.md,
 * "Memory per region"). Made by the writer on first need and freed at
 * finalisation; until then every field reads as zero.
 */
struct mt__region_rare {
    /* Device callbacks: made at init for the regions that have them, so
     * readers find them (access.c, iommu.c); the opaque is opaque_. */
    const mt_region_ops *ops;
    const mt_iommu_ops *iommu_ops;
    uint32_t *log_counts;    /* per dirty-log client (dirty_log.c) */
    struct mt__coalesced *coalesced; /* coalesced-MMIO ranges (coalesced.c) */
    mt_view *cached_view;    /* the cache entry keyed by this flat-root */
    mt_view *root_views;     /* views whose weak flat-root this is */
    uint64_t stale_mark;     /* txn.c: an edit since this commit can reach it */
    uint64_t whole_mark;     /* txn.c: ... anywhere in it, not only in its parts */
    /* txn.c: where, in its own coordinates: disjoint parts, sorted, in
     * an array of stale_cap entries (at most MT__STALE_PARTS, kept from
     * commit to commit at MT__STALE_KEPT) */
    struct mt__stale_part *stale;
    uint16_t nstale, stale_cap;
    mt_region *aliases;      /* the counted aliases whose target this is */
    mt_region *alias_next;   /* in the target's aliases list */
    mt_region **alias_pprev; /* NULL while in no list */
    uint32_t alias_refs;     /* live aliases whose target this is */
    uint32_t mapped_via_alias; /* mappings of aliases leading to it */
    bool fds_listed;         /* in ctx->fds_changed (eventfd.c) */
};
/* r's side struct, made now if it has none. Writer only. */
struct mt__region_rare *mt__rare(mt_region *r);
/* r's side struct, or one of zeroes when it has none (read only). */
extern const struct mt__region_rare mt__rare_none;
static inline const struct mt__region_rare *mt__rare_get(const mt_region *r)
{
    return r->rare_ ? r->rare_ : &mt__rare_none;
}

/* A container's children, kept by region.c (see link_child there). */
struct mt__prio_class {
    int32_t priority;
    uint32_t count;
    uint32_t start; /* its first slot */
};
struct mt__child_index {
    mt_region **slots;              /* reverse render order; NULL: a hole */
    struct mt__prio_class *classes; /* ascending priority, in slot order; a
                                       class's count includes its holes */
    /* 32 bits, as slot_ is: a chain of a million containers has a million */
    uint32_t n, cap;                /* n counts the holes; slots[n - 1] is none */
    uint32_t holes;                 /* unmapped since the last compaction */
    uint32_t nclasses, cap_classes;
    /* the arrays while they hold one entry (most containers have one
     * child), so a container costs one allocation, not three. Once the
     * slots have outgrown their inline room, it holds the address index
     * instead: a chain a million deep pays nothing for it. */
    union {
        mt_region *one_slot;
        struct mt__ivtree *addr; /* read through mt__children_addr */
    };
    struct mt__prio_class one_class;
};

/* The children by address (src/util/ivtree.h), kept while there are many
 * (subregions.c); NULL otherwise. */
static inline struct mt__ivtree *mt__children_addr(const struct mt__child_index *ix)
{
    return ix->slots == &ix->one_slot ? NULL : ix->addr;
}

/* Closes the holes unmapping left (region.c). Writer only. */
void mt__children_compact(struct mt__child_index *ix);
/* Where child `sub` is in its container's slots: its slot_ counts only
 * within its priority class, so that mapping a child into a class below
 * others moves their pointers up without writing to every one of them. */
size_t mt__child_slot(const struct mt__child_index *ix, const mt_region *sub);
/* Unmaps every child of `c`, the newest slot first (finalisation). */
void mt__subregions_unlink_all(mt_region *c);
/* `sub`, a child, has a new size: its container's address index follows. */
void mt__subregion_resized(mt_region *sub);

/* A container's children in REVERSE render order: (*n - 1) renders first.
 * The renderer walks this array rather than the sibling list. Unmapping
 * leaves holes, so that unmapping many siblings costs O(1) each; the first
 * look at the children afterwards closes them. Writer only. */
static inline mt_region *const *mt__children(const mt_region *c, size_t *n)
{
    struct mt__child_index *ix = c->child_index_;
    if (!ix) {
        *n = 0;
        return NULL;
    }
    if (__builtin_expect(ix->holes != 0, 0))
        mt__children_compact(ix);
    *n = ix->n;
    return ix->slots;
}
/* The same array holes and all (NULL slots), for a pass that skips them:
 * it closes no holes, so a commit after unmapping one of a million
 * children does not move the others (mt__flat_root runs at every commit).
 * Writer only. */
static inline mt_region *const *mt__children_raw(const mt_region *c, size_t *n)
{
    *n = c->child_index_ ? c->child_index_->n : 0;
    return *n ? c->child_index_->slots : NULL;
}
/* The name a finalised region's storage still records (checking aid): up to
 * this many bytes, over the first fields of the storage. */
#define MT__TOMBSTONE_NAME 40
static_assert(MT__TOMBSTONE_NAME <= offsetof(mt_region, magic_), "tombstone");
const char *mt__tombstone_name(const mt_region *r);
/* r's backing, made now if it was deferred; NULL if r has none or it
 * cannot exist (2^64 bytes, or more than the host can map). Any thread. */
uint8_t *mt__region_backing(mt_region *r);
/* Reports a public call on storage that holds no live region (through
 * the context's hook if it is a finalised region's); returns -EINVAL. */
int mt__region_misuse(const mt_region *r, const char *op);
/* Where a report about storage r goes: a live region's context, a
 * tombstone's if that context is still alive, else NULL (the default
 * hook). */
mt_context *mt__region_report_context(const mt_region *r);
/* The one liveness check of public calls. An edit refuses a region that
 * is not live (-EINVAL, reported once by mt__region_misuse); a query, which
 * cannot return an error, reports and gives a neutral answer rather than
 * whatever the dead storage holds. */
#define MT__CHECK_LIVE(r, op)                                                  \
    do {                                                                       \
        if (__builtin_expect(!mt__region_live(r), 0))                          \
            return mt__region_misuse((r), (op));                               \
    } while (0)
#define MT__QUERY_LIVE(r, op, none)                                            \
    do {                                                                       \
        if (__builtin_expect(!mt__region_live(r), 0)) {                        \
            mt__region_misuse((r), (op));                                      \
            return (none);                                                     \
        }                                                                      \
    } while (0)
/* Owner teardown: finalises a region whose owner is dying; never fails. */
void mt__region_finalize_dying(mt_region *r);

/* ---- subregions.c ------------------------------------------------------- */

/* Map and unmap in the edit's bracket, checks done by the caller: what
 * mt_region_add_subregion, set_address and finalisation share. -EBUSY
 * when the flush hook's edits got there first. */
int mt__subregion_link(mt_region *c, mt_region *sub, uint64_t addr, int32_t prio);
int mt__subregion_unlink(mt_region *c, mt_region *sub);

/* ---- txn.c -------------------------------------------------------------- */

void mt__txn_begin(mt_context *ctx);
void mt__txn_commit(mt_context *ctx);
/* Brackets listener calls made outside a commit (registration replay,
 * dirty-log requests, coalesced changes): commits their callbacks make
 * wait until the end, which processes them. */
void mt__notify_begin(mt_context *ctx);
void mt__notify_end(mt_context *ctx);
/*
 * The bracket of every edit of the tree: an edit runs in a transaction of
 * its own, so one made outside a transaction commits at once and one made
 * inside waits for the outermost commit. Opening it runs the flush hook,
 * which may edit the tree too (docs/threads.md): if `r` did not survive
 * that, the edit is refused (-EINVAL, reported) and nothing stays open.
 * Closing it with `visible` marks every view stale.
 */
int mt__edit_begin(mt_region *r, const char *op);
void mt__edit_end(mt_context *ctx, bool visible);
/*
 * Change tracking: `r` changed in a way views may show. Marks r and every
 * region whose rendering can include it (its containers, every alias of it
 * or of one of them, up to the roots); the outermost commit re-renders only
 * the flat-roots so marked and keeps the other views. A walk stops at a
 * region already marked since the last commit, so repeated edits stay cheap.
 */
void mt__touch(mt_region *r);
/* The same for a change of container `c` that shows only at its offsets
 * [lo, last] (a child mapped, unmapped or moved): a view whose flat-root
 * is `c`, or a container holding c through containers and aliases (each
 * alias passing on what its window shows), then renders only that part
 * again and keeps the rest. */
void mt__touch_part(mt_region *c, uint64_t lo, uint64_t last);
/* The same for a change of `r` that shows only inside r's own extent, or
 * `size` bytes from its address if more (a resize passes the larger of its
 * sizes): a flag, enabling, an alias offset, a size. Its container renders
 * only that part again, and each alias of r the part its window shows;
 * views whose flat-root is r render whole. */
void mt__touch_in_place(mt_region *r, mt__i128 size);
/* `r` was mapped, unmapped or given an address: marks the views whose
 * flat-root r is (mt__touch), the only ones its own address places; its
 * container's part is the caller's (mt__touch_part). */
void mt__touch_placed(mt_region *r);
/* Cuts the parts arrays this commit grew back to MT__STALE_KEPT entries,
 * once the commit has read them: a transaction of many spread edits would
 * otherwise leave each container it reached holding up to
 * MT__STALE_PARTS entries until finalised. */
void mt__stale_parts_trim(mt_context *ctx);
/* x's region is being finalised: x leaves the list of grown arrays. */
void mt__stale_parts_forget(mt_context *ctx, struct mt__region_rare *x);
/* The alias `a` starts or stops counting for its target (the reverse
 * links the walk above follows). */
void mt__alias_link(mt_region *a);
void mt__alias_unlink(mt_region *a);
/* The target `t` is finalised: its aliases' links into it are dropped. */
void mt__aliases_detach(mt_region *t);

/* ---- settings.c: the access path's settings ----------------------------- */

/* The context's access settings (access.c). */
struct mt__access_settings {
    uint64_t page_size;          /* 0 means 4096 */
    unsigned lookup_options;     /* MT_LOOKUP_*, read when an index is built */
    bool eventfds_external;      /* an accelerator handles eventfds */
    uint8_t bounce_busy;         /* the bounce buffer is mapped (atomic) */
    mt_diag_fn guest_error;
    void *guest_error_opaque;
    mt_dirty_fn dirty;
    void *dirty_opaque;
    struct mt__eventfd_table *eventfds; /* RCU-published, NULL when empty */
};

/* ---- view.c ------------------------------------------------------------- */

/*
 * A view's ranges live in chunks (docs/views.md, "How a view is stored"):
 * immutable once built, each at most MT__CHUNK_MAX ranges with its own
 * two-level index over their starts (index.c), holding its ranges' region
 * references. A view holds an array of chunk pointers; the view a part
 * render makes from an old one shares every chunk the change did not touch.
 */
#define MT__CHUNK_MAX 256

/* A full render's array of ranges, which its chunks use in place rather
 * than copy (view.c): freed with the last chunk over it. Writer only. */
struct mt__range_block {
    mt_range *ranges;
    size_t users; /* chunks over it */
};

struct mt__chunk {
    uint32_t n;               /* ranges, 1 to MT__CHUNK_MAX */
    mt_range *ranges;         /* after the keys, in the same block, or in `over` */
    struct mt__range_block *over; /* NULL: the ranges are the chunk's own */
    /* Writer only: the ranges whose references a chunk of a later view of
     * the lineage took over when it copied them (view.c, view_splice). */
    uint64_t moved[MT__CHUNK_MAX / 64];
    /* The index: a root node (the first start of each leaf node, then
     * UINT64_MAX), then the leaf level, round_up(n, 16) starts; at a fixed
     * place, so that a walk reads no pointer to reach them. */
    _Alignas(64) uint64_t keys[];
};

/*
 * The views made one from another by part renders, oldest first. A chunk
 * a part render replaced is freed once every view older than the new one
 * is freed; views are freed in any order, so a freed view waits here
 * (`lin_dead`), with only the chunks it is to free, until the views
 * before it are gone too. `waiting` counts those chunks: past a bound,
 * the lineage takes no new view (view.c).
 */
struct mt__lineage {
    mt_view *oldest;
    size_t waiting;
};

/* A run of chunks a part render kept: v->chunks[at, at + n) are
 * from->chunks[from, from + n). */
struct mt__kept {
    size_t at, from, n;
};

struct mt_view {
    mt_context *ctx;
    struct mt__dispatch *dispatch; /* the lookup index, built with the view */
    atomic_uint refs;        /* readers take references too (mt_view_ref) */
    bool is_empty_view;
    bool in_cache;
    bool cut;                /* its render cut a loop pass: never reused */
    bool lin_dead;           /* freed, waiting for older views of its lineage */
    bool shed;               /* only `dead` is left of it (view.c, view_shed) */
    uint64_t root_id;        /* identity of the flat-root, 0 if none */
    mt_region *root;         /* weak: cleared when the root is finalised */
    char *root_name;         /* copied at build time */
    struct mt__chunk **chunks;
    size_t nchunks;
    size_t nr;               /* ranges in all chunks */
    _Atomic(mt_range *) flat; /* mt_view_ranges' copy, built on first call */
    struct mt__lineage *lin;
    mt_view *lin_next;       /* the view a part render made from this one */
    struct mt__chunk **dead; /* chunks of this view that lin_next lacks */
    size_t ndead;
    /* the runs of chunks it kept of the view it was made from (whose
     * lin_next it is), in order */
    struct mt__kept *kept;   /* freed when the view is retired */
    uint16_t nkept;
    mt_view *cache_next;     /* context cache list */
    mt_view *retired_next;
    mt_view *root_next;      /* list of views sharing this weak root */
    mt_view **root_pprev;
    uint64_t used_epoch;     /* txn.c: some address space takes it this commit */
};

/* Visits each range of view `v` in address order as `const mt_range *r`
 * (no `break`: two loops). */
#define MT__FOR_RANGES(v, r)                                                           \
    for (size_t c_##r = 0; c_##r < (v)->nchunks; c_##r++)                              \
        for (const mt_range *r = (v)->chunks[c_##r]->ranges,                           \
                            *e_##r = r + (v)->chunks[c_##r]->n;                        \
             r < e_##r; r++)

/* Where two views may differ: the chunks [of, ot) of the old one and
 * [nf, nt) of the new one, which cover the same addresses; the chunks
 * between two such runs, and around them, are the same chunks. */
struct mt__unshared {
    size_t of, ot, nf, nt;
};
/* Those runs, in address order, in an array the caller frees; *n of
 * them. `old` may be NULL (no view before). */
struct mt__unshared *mt__views_unshared(const mt_view *old, const mt_view *nv, size_t *n);

/* The first chunk of `v` whose last address is >= a; nchunks if none. */
size_t mt__view_chunk_reaching(const mt_view *v, uint64_t a);
/* The first range of `v` whose last address is >= a, or NULL. */
const mt_range *mt__view_first_reaching(const mt_view *v, uint64_t a);

/* The flat-root of an address-space root (docs/views.md), or NULL. */
mt_region *mt__flat_root(mt_region *as_root);
/* The view for a flat-root: the cached one, or a new render now. Returns a
 * new reference for the caller. `as_name` names the address space asking,
 * for the render's diagnostics. */
mt_view *mt__view_get(mt_context *ctx, mt_region *flat_root, const char *as_name);
void mt__view_ref(mt_view *v);
/* Dropping the last reference retires the view; rcu.c frees it once
 * readers are done with it. */
void mt__view_unref(mt_view *v);
void mt__view_free(mt_view *v);
/* Drops every cache entry (the outermost commit rebuilds them). */
void mt__view_cache_clear(mt_context *ctx);
/* Drops the cache entries whose flat-root an edit marked in `epoch`, and
 * those that must render again anyway (a cut loop). */
void mt__view_cache_drop_stale(mt_context *ctx, uint64_t epoch);
/* The same, except that the view of a container flat-root changed in one
 * part only is replaced at once by its old ranges with that part rendered
 * again (mt__touch_part). */
void mt__view_cache_update_stale(mt_context *ctx, uint64_t epoch);
/* Drops the cache entries no address space took in `epoch`
 * (mt_view.used_epoch), as rebuilding the whole cache would. */
void mt__view_cache_drop_unused(mt_context *ctx, uint64_t epoch);
/* Finalisation of `r`: clears weak root links and r's cache entry. */
void mt__view_forget_root(mt_region *r);

/* ---- index.c ------------------------------------------------------------ */

/* Builds a chunk over `n` ranges of `block` from `ranges` on, in place
 * (their references pass to it), with its index. */
struct mt__chunk *mt__chunk_over(struct mt__range_block *block, mt_range *ranges, size_t n);
/* Builds a chunk of `n` ranges (copied; their references pass to it) with
 * its index. */
struct mt__chunk *mt__chunk_new(const mt_range *ranges, size_t n);
/* Builds and frees a view's lookup index; the view is immutable after.
 * `from`: the view it was made from by a part render, which kept the
 * `nkept` runs of its chunks in `kept` (in order) and replaced the
 * others, or NULL (a full render). */
void mt__dispatch_build(mt_view *v, const mt_view *from, const struct mt__kept *kept,
                        size_t nkept);
void mt__dispatch_free(mt_view *v);
/* After a part render at [lo, last]: the hint-table slots of the ranges
 * starting there in chunks [from, to) name them (the other slots are
 * refilled by the readers that miss). */
void mt__dispatch_warm(mt_view *v, size_t from, size_t to, uint64_t lo, uint64_t last);

/* ---- eventfd.c ---------------------------------------------------------- */

/* An eventfd of a region, data in the region's byte order. */
struct mt__eventfd {
    uint64_t offset;
    uint64_t data;
    unsigned size;               /* 0 matches any size */
    bool match_data;
    mt_event_notifier *notifier;
};
/* QEMU's order of eventfds: offset (or address), size, match flag, data
 * when matched, notifier. */
int mt__eventfd_cmp(const struct mt__eventfd *a, const struct mt__eventfd *b);
/* A region's eventfds, sorted by mt__eventfd_cmp, for listeners; *n = 0
 * if none. Writer only. */
const struct mt__eventfd *mt__region_eventfds(const mt_region *r, size_t *n);
/* Drops a region's eventfds (finalisation). Writer only. */
void mt__region_eventfds_clear(mt_region *r);
/* Frees what the access settings hold (the eventfd table); for
 * mt_context_free. */
void mt__access_free(mt_context *ctx);

/* ---- iommu.c ------------------------------------------------------------ */

/* Finalisation check: -EBUSY, naming a notifier, while `r` has any. */
int mt__iommu_finalize_check(mt_region *r);
/* Finalisation: detaches whatever notifiers `r` still has (only an owner
 * teardown gets here with some) and reports them. */
void mt__iommu_region_gone(mt_region *r);
/* Frees the context's notifier lists; for mt_context_free. */
void mt__iommu_watch_free(mt_context *ctx);

/* ---- render.c ----------------------------------------------------------- */

/* Renders the view of flat-root `root` into a newly allocated, simplified
 * array of ranges; a loop pass it had to cut is reported once per commit,
 * naming `as_name` (the address space). Returns 1 if it cut one, else 0. */
int mt__render(mt_context *ctx, mt_region *root, const char *as_name, mt_range **out,
               size_t *nr);
/* Renders only the addresses [lo, last] of `root`'s view: the ranges a
 * full render has there, cut to them (the caller splices them in). Returns
 * 1, and its ranges are not to be used, if the walk met a loop pass
 * through an alias (how far those go depends on more than the clip); 0
 * otherwise. Reports nothing. */
int mt__render_part(mt_context *ctx, mt_region *root, uint64_t lo, uint64_t last,
                    mt_range **out, size_t *nr);
void mt__render_scratch_free(struct mt__render_scratch *s);

/* ---- address_space.c ---------------------------------------------------- */

struct mt_address_space {
    uint32_t magic;          /* MT__AS_LIVE, MT__AS_DEAD once destroyed */
    mt_context *ctx;
    mt_region *root;         /* NULL once destroyed */
    mt_owner *root_owner;    /* referenced until the address space is freed */
    char *name;
    mt_view *view;           /* current, one reference held; RCU-published */
    mt_view *next_view;      /* built by a commit, not yet published */
    mt_listener *listeners;  /* ascending priority */
    /* what listeners were last told (listener_eventfds.c) */
    struct mt__shown_fd *eventfds;
    size_t neventfds;
    mt_region *eventfds_root; /* during a pass: its view's flat-root */
    mt_address_space *next, *prev;
};

/* After the grace period that follows destruction: drops the root owner's
 * reference and what the address space held. The struct stays, marked
 * dead, until the context is freed. Writer only. */
void mt__address_space_release(mt_address_space *as);
void mt__address_space_shells_free(mt_context *ctx);
/* True if `r` is the root of an address space of its context. */
mt_address_space *mt__as_rooted_at(mt_context *ctx, const mt_region *r);

/* Publishes a view for readers (release store); readers load with acquire. */
static inline void mt__as_publish(mt_address_space *as, mt_view *v)
{
    __atomic_store_n(&as->view, v, __ATOMIC_RELEASE);
}

/* ---- listener order (listener.c, dirty_log.c) ------------------------------ */

/* Calls in list order ("forward") or the reverse. The two lists (context,
 * address space) use separate links, so one macro per list. */
#define MT__FOR_AS_FORWARD(l, as) for (mt_listener *l = (as)->listeners; l; l = l->as_next_)
#define MT__FOR_CTX_FORWARD(l, ctx) for (mt_listener *l = (ctx)->listeners; l; l = l->ctx_next_)

static inline mt_listener *mt__as_last_listener(mt_address_space *as)
{
    mt_listener *l = as->listeners;
    while (l && l->as_next_)
        l = l->as_next_;
    return l;
}

static inline mt_listener *mt__ctx_last_listener(mt_context *ctx)
{
    mt_listener *l = ctx->listeners;
    while (l && l->ctx_next_)
        l = l->ctx_next_;
    return l;
}

#define MT__FOR_AS_REVERSE(l, as) for (mt_listener *l = mt__as_last_listener(as); l; l = l->as_prev_)
#define MT__FOR_CTX_REVERSE(l, ctx) for (mt_listener *l = mt__ctx_last_listener(ctx); l; l = l->ctx_prev_)

/* ---- sections: a view's range as users see it ----------------------------- */

/* The section of range `r` of view `v`, reached through `as` (NULL for a
 * lookup on the view alone). Field by field: a compound literal would also
 * clear the padding, which costs the lookup's hit path extra stores. */
static inline void mt__section_of(mt_section *out, const mt_range *r, const mt_view *v,
                                  mt_address_space *as)
{
    out->region = r->region;
    out->offset_in_region = r->offset_in_region;
    out->start = r->start;
    out->last = r->last;
    out->readonly = r->readonly;
    out->nonvolatile = r->nonvolatile;
    out->romd_mode = r->romd_mode;
    out->dirty_log_mask = r->dirty_log_mask;
    out->view = (mt_view *)v;
    out->as = as;
    out->held_ = 0;
}

/* `s` cut to the region offsets [lo, hi] (inclusive); false if they miss. */
static inline bool mt__section_cut(mt_section *s, uint64_t lo, uint64_t hi)
{
    uint64_t first = s->offset_in_region, last = first + (s->last - s->start);
    if (lo < first)
        lo = first;
    if (hi > last)
        hi = last;
    if (lo > hi)
        return false;
    s->start += lo - first;
    s->last = s->start + (hi - lo);
    s->offset_in_region = lo;
    return true;
}

/* ---- listener.c --------------------------------------------------------- */

/* Global begin/commit to every listener of the context, in order. */
void mt__listeners_begin(mt_context *ctx);
void mt__listeners_commit(mt_context *ctx);
/* Sends the two-pass diff between two views to the listeners of `as`. */
void mt__listeners_diff(mt_address_space *as, mt_view *old, mt_view *new_view);
/* What that diff sends when the new view equals the old one range for range
 * (a view kept by the commit): region_nop for each range. */
void mt__listeners_nops(mt_address_space *as, mt_view *v);

/* ---- listener_eventfds.c -------------------------------------------------- */

/* An eventfd as an address space's listeners were told of it: fd.offset is
 * its address in the address space, `from` the start of the range that
 * shows it (a set holds one entry per range showing an eventfd), which
 * tells the entries a part of a view brought. */
struct mt__shown_fd {
    struct mt__eventfd fd;
    uint64_t from;
};
/* A commit's listener pass over the address spaces, for eventfds: between
 * these two calls each address space gets one mt__listeners_eventfds.
 * Begin takes the regions whose eventfds changed so far (changes made by
 * the pass's callbacks go to the next pass) and finds where each shows,
 * in the flat-root of every address space that has listeners. */
void mt__eventfds_pass_begin(mt_context *ctx);
void mt__eventfds_pass_end(mt_context *ctx);
/* Recomputes an address space's eventfds from its view and tells its
 * listeners what changed. `old`: the view the eventfds were last computed
 * for; only the chunks the two views do not share, and those where a
 * changed region shows, are read again. NULL: every range is. */
void mt__listeners_eventfds(mt_address_space *as, const mt_view *old);
/* An eventfd of `r` was added or removed: re-diff at the outermost commit. */
void mt__eventfds_changed(mt_region *r);
/* The first listener of `as`: its set is read whole. */
void mt__eventfds_track(mt_address_space *as);
/* Tells listener `l` of every eventfd of its address space (registration,
 * `add`) or takes them back (unregistration). */
void mt__eventfds_replay(mt_listener *l, const mt_address_space *as, bool add);
/* Records that r's eventfds changed, and forgets r when it is finalised
 * (eventfd.c); frees the context's list (mt_context_free). */
void mt__eventfds_note_change(mt_region *r);
void mt__eventfds_forget(mt_region *r);
void mt__eventfds_tracking_free(mt_context *ctx);
/* A region's coalesced range as offsets in it, `last` inclusive. */
struct mt__coalesced_range {
    uint64_t offset, last;
};
/* A region's coalesced ranges (coalesced.c), immutable once built. */
struct mt__coalesced {
    size_t n;
    struct mt__coalesced_range ranges[];
};
/* r's list changed from `old` to `now` (either may be NULL): tells the
 * listeners of every address space at once. */
void mt__coalesced_changed(mt_region *r, const struct mt__coalesced *old,
                           const struct mt__coalesced *now);
/* Drops a region's coalesced ranges, telling nobody (finalisation,
 * when the region is in no live view any more). */
void mt__region_coalesced_free(mt_region *r);
/* Detaches every listener of a destroyed address space without calls. */
void mt__listeners_detach_all(mt_address_space *as);
/* A region's effective dirty-log mask in a view (docs/listeners.md). Inline: the
 * renderer asks for every fill. */
static inline uint8_t mt__dirty_mask(const mt_context *ctx, const mt_region *r)
{
    uint8_t mask = r->dirty_clients_;
    if (r->kind_ == MT_KIND_RAM || r->kind_ == MT_KIND_ROM_DEVICE ||
        r->kind_ == MT_KIND_RAM_DEVICE) {
        mask |= ctx->dirty_always;
        if (ctx->global_dirty_log)
            mask |= 1u << MT_DIRTY_MIGRATION;
    }
    return mask;
}

/* ---- rcu.c: readers and reclamation ------------------------------------- */

/* Registers the calling thread as a reader unless it is one (access.c
 * calls it on a thread's first read). */
void mt__reader_register_slow(void);
/* True inside a read-side section of a registered thread. */
bool mt__in_read_section(void);
/* The writer's entry: frees what readers are done with and hands what was
 * retired since to the grace-period thread. Never waits. */
void mt__reclaim_step(mt_context *ctx);
/* mt_context_reclaim without its checks, and without freeing a closed
 * context: for callers that still use the context after. */
void mt__context_reclaim(mt_context *ctx);
/* Frees plain memory (either may be NULL) once readers that may see it
 * have left, with the views retired at the same time: never waits.
 * Writer only. */
void mt__free_after_readers(mt_context *ctx, void *a, void *b);

/* ---- grace.c: memtree's call_rcu ---------------------------------------- */

/* A callback to run once every read-side section in progress has ended. */
struct mt__deferred {
    struct mt__deferred *next;
    void (*fn)(struct mt__deferred *);
};
/* Queues `d`: the grace-period thread calls fn(d) after the next grace
 * period it starts, on that thread. Never waits. */
void mt__after_readers(struct mt__deferred *d, void (*fn)(struct mt__deferred *));
/* Returns once every callback queued before the call has run: the queue
 * is run in order. Waits for readers: not inside a read-side section. */
void mt__grace_barrier(void);
/* For tests: called on the grace-period thread once it has taken the queue,
 * before it waits for readers (a test holds a grace period open with it). */
extern void (*mt__grace_period_hook)(void);

/* ---- owner.c ------------------------------------------------------------ */

/* References the library takes (docs/lifetimes.md). NULL owners are ignored. A release
 * that reaches zero is deferred to mt_context_reclaim. */
static inline void mt__owner_ref(mt_owner *o) /* inline: once per fill */
{
    if (o)
        o->refs_++;
}
void mt__owner_unref(mt_context *ctx, mt_owner *o);
/* A reference that readers take and drop (mappings, held sections): any
 * thread. The last one queues the owner for the next reclaim to decide. */
void mt__owner_reader_ref(mt_owner *o);
void mt__owner_reader_unref(mt_context *ctx, mt_owner *o);
/* Tears down the owners queued by mt__owner_unref whose count is still 0. */
void mt__owners_reap(mt_context *ctx);
void mt__owner_add_region(mt_owner *o, mt_region *r);
void mt__owner_remove_region(mt_owner *o, mt_region *r);

#endif /* MEMTREE_INTERNAL_H */
