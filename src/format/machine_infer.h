/*
 * What the two halves of the flat-dump inference share: machine_infer.c
 * runs the loop (build, render, compare with the flat dump, notes) and
 * machine_probe.c explains each difference by point queries on the
 * description and changes the fact that explains it.
 */
#ifndef MEMTREE_MACHINE_INFER_H
#define MEMTREE_MACHINE_INFER_H

#include "machine_build.h"

#include <string.h>

#define MT__MAX_DEPTH 4096      /* point queries stop deeper than this */

/* per-record locks: what the flat dump has proven */
enum { MT__LOCK_TERMINAL = 1, MT__LOCK_SIZE = 2, MT__MOVED = 4, MT__LOCK_TARGET = 8 };

/* One claimant of a point query: a region whose extent holds the address,
 * the offset there, and its path from the flat-root (into `paths`). */
struct mt__claim {
    size_t rec;
    uint64_t off;
    size_t path, npath;
};

/* A range of either side, as the flat dump prints it. */
struct mt__rng {
    uint64_t start, last, off;
    int32_t prio;
    const char *name, *type;
};

/* One child in a container's stabbing index (machine_probe.c): its extent
 * relative to the container, sorted by start, with the largest end of the
 * implicit subtree it heads (the middle of each halving). */
struct mt__kidx {
    mt__i128 start, end, maxend;
    size_t pos;               /* its place in kids[] (render order) */
};

struct mt__infer {
    struct mt__mdesc *d;
    const struct mt__flat *f;
    mt_context *ctx;
    mt_machine *m;
    size_t *first, *kids;     /* children in render order */
    struct mt__kidx *kx;      /* the same children sorted by address */
    size_t *hits, nhits, caphits; /* point-query scratch: kids[] positions */
    uint8_t *lock;
    bool *touched;            /* changed this round */
    bool *forbid_ro;          /* cannot be readonly: a non-rom range passes */
    bool forbid_ready;
    size_t *exp_of;           /* our address space -> flat AS line */
    struct mt__claim *cl;
    size_t ncl, capcl;
    size_t *paths, npaths, cappaths;
    size_t *stack;
    mt__i128 *stack_base;     /* where each region on the stack starts */
    size_t nstack;
    size_t *al, nal, capal;   /* aliases whose window held the address */
    size_t fixes;             /* changes this round */
    size_t (*moves)[2];       /* this round's "render x just before y" */
    size_t nmoves, capmoves;
    bool swaps;               /* alias targets may change this round */
    const struct mt__rng *exp;    /* the expected view being diagnosed */
    size_t nexp;
    char *unresolved;         /* the first difference nothing explains */
};

static inline const char *mt__rec_name(const struct mt__mrec *r)
{
    return r->name ? r->name : "(null)";
}

static inline bool mt__same_rng(const struct mt__rng *a, const struct mt__rng *b)
{
    return a->start == b->start && a->last == b->last && a->off == b->off &&
           a->prio == b->prio && !strcmp(a->name, b->name) && !strcmp(a->type, b->type);
}

/* machine_probe.c */

/* Rebuilds the stabbing index of every container's children; after every
 * change of first/kids. */
void mt__infer_index(struct mt__infer *I);

/* Explains why address A of a view (flat-root `root`) prints differently
 * from the flat dump's range `e` (NULL: nothing there), and changes the
 * fact that explains it; `what` names the place in messages. */
void mt__infer_diagnose(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e,
                        const char *what);
/* Both views print every address alike but break ranges differently. */
void mt__infer_diagnose_split(struct mt__infer *I, size_t root, const struct mt__rng *o,
                              size_t no,
                              const struct mt__rng *e, size_t ne, const char *what);
/* The flat-root of address space `as` is not the one the flat dump names. */
void mt__infer_fix_root(struct mt__infer *I, size_t as, const char *want);
/* Whether the first region answering at A (as the description now
 * stands) prints as the flat dump's range `e` (NULL: nothing there). */
bool mt__infer_explained(struct mt__infer *I, size_t root, uint64_t A,
                         const struct mt__rng *e);
/* The same, type included (a readonly flag on the path prints rom): the
 * difference at A is gone. */
bool mt__infer_settled(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e);
/* Applies the render-order moves the round recorded. */
void mt__infer_apply_moves(struct mt__infer *I);
/* Records the first difference nothing explains (for the final note). */
void mt__infer_unresolved(struct mt__infer *I, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* MEMTREE_MACHINE_INFER_H */
