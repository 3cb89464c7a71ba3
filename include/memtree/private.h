/*
 * The private fields of memtree's public structs, one macro per struct (the
 * pattern libuv uses). The structs are public so that their storage can be
 * embedded in a device's own struct, as QEMU devices embed their regions;
 * their fields are not part of the API: read and change them only through
 * the calls of <memtree.h>, whose getters the library keeps as fast as a
 * field read. Included by <memtree.h>; do not include it on its own.
 */
#ifndef MEMTREE_PRIVATE_H
#define MEMTREE_PRIVATE_H

#include <stdint.h>

struct mt__child_index;
struct mt__region_rare;

/* mt_owner: the reference counts and the regions initialised with it. */
#define MT_OWNER_PRIVATE_FIELDS                                                      \
    uint32_t magic_;                                                                 \
    uint32_t refs_;        /* the writer's references */                             \
    mt_owner_release_fn release_;                                                    \
    char *label_;          /* printed by owner dumps inside owner:{...} */           \
    mt_region *regions_;   /* regions initialised with this owner */                 \
    mt_owner *pending_next_; /* queued for teardown at the next reclaim */           \
    uint32_t reader_refs_; /* held by mappings and sections, any thread (atomic) */  \
    uint8_t pending_;      /* on the context's queue (atomic) */                     \
    uint32_t user_refs_;   /* the embedder's part of refs_ */                        \
    mt_context *ctx_;      /* its regions' context, once it has had one */            \
    uint64_t ctx_serial_;  /* which context ctx_ was (a later one may reuse it) */

/* mt_region: the first cache line holds what rendering reads for every
 * region; the fields after it are touched by edits and lifetimes only, and
 * what few regions use (device and IOMMU callbacks, dirty-log counts,
 * coalesced ranges, views rooted here, change marks, alias links) waits in
 * a side struct made on first need (rare_, src/internal.h), so that a
 * machine of a million RAM regions does not carry it a million times. */
#define MT_REGION_PRIVATE_FIELDS                                                  \
    uint8_t kind_;                                                                \
    uint8_t flags_;          /* MT__F_* in src/internal.h */                      \
    uint8_t size_full_;      /* the size is 2^64 */                               \
    uint8_t dirty_clients_;  /* bit set of enabled dirty-log clients */           \
    uint32_t view_refs_;     /* ranges of live views naming this region */        \
    uint64_t addr_;                                                               \
    uint64_t size_;          /* exact size, unless size_full_ */                  \
    struct mt__child_index *child_index_; /* the children, see region.c */        \
    mt_owner *owner_;                                                             \
    mt_region *alias_;                                                            \
    union { /* last: only aliases have an offset; they have no callbacks */       \
        uint64_t alias_offset_;                                                   \
        void *opaque_;       /* of the device's or the IOMMU's callbacks */       \
    };                                                                            \
    /* the rest */                                                                \
    uint32_t magic_;                                                              \
    int32_t priority_;                                                            \
    uint64_t id_;                                                                 \
    mt_context *ctx_;                                                             \
    char *name_;                                                                  \
    mt_region *container_;                                                        \
    mt_region *owner_next_;                                                       \
    mt_region *owner_prev_;                                                       \
    uint8_t *ram_;                                                                \
    uint64_t walk_mark_;     /* scratch for graph walks (writer only) */          \
    struct mt__region_rare *rare_; /* NULL until first needed */                  \
    uint32_t held_refs_;     /* mappings and held sections naming it (atomic) */  \
    uint32_t slot_;          /* position in its priority class of the      \
                                container's child array */

/* mt_iommu_notifier: where it is registered. */
#define MT_IOMMU_NOTIFIER_PRIVATE_FIELDS                                          \
    mt_region *region_;         /* the IOMMU region; NULL when unregistered */    \
    mt_iommu_notifier *next_;   /* the region's notifiers, registration order */

/* mt_range: the backing of `start` for RAM (the access fast path), else 0. */
#define MT_RANGE_PRIVATE_FIELDS uintptr_t host_;

/* mt_section: what mt_section_release drops (find, copy); it sits in the
 * padding after the flags, so the section stays 56 bytes. */
#define MT_SECTION_PRIVATE_FIELDS uint8_t held_;

/* mt_listener: its address space and its places in the two lists. */
#define MT_LISTENER_PRIVATE_FIELDS                                              \
    mt_address_space *as_;                                                     \
    mt_listener *ctx_next_, *ctx_prev_;                                        \
    mt_listener *as_next_, *as_prev_;

#endif /* MEMTREE_PRIVATE_H */
