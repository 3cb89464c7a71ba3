/*
 * What the QEMU tree-dump reader's files share: mtree_parse.c reads the
 * text into printed trees (one node per printed line, plus placeholders for
 * hidden disabled lines); mtree_identity.c works out which printed lines
 * are the same region, mtree_targets.c which block each alias targets, and
 * mtree_resolve.c fills the machine description.
 */
#ifndef MEMTREE_MTREE_PARSE_H
#define MEMTREE_MTREE_PARSE_H

#include "machine_build.h"

/* Printed types (docs/format.md, "QEMU `info mtree` dumps"). */
enum mt__ptype { MT__PT_RAM, MT__PT_ROM, MT__PT_ROMD, MT__PT_RAMD, MT__PT_IO,
                 MT__PT_CONTAINER };

/* One printed region line (an occurrence: a region may be printed often). */
struct mt__occ {
    unsigned line;
    size_t block;
    size_t parent;          /* occurrence of the line above it, or MT__NONE */
    size_t *kids;           /* printed children, in print order */
    size_t nkids, capkids;
    size_t kid_pos;         /* its index in the parent's kids */
    int level;
    uint64_t s, e;          /* as printed */
    int32_t prio;
    uint8_t type;           /* enum mt__ptype */
    bool nv, alias, disabled;
    bool hidden;            /* a placeholder for a line -D would print */
    char *rest;             /* the text after "): ", cut into the pieces below */
    char *name;             /* NULL only for placeholders */
    char *target;           /* alias target name */
    uint64_t os;            /* alias offset */
    char *owner;            /* inside owner:{...}, heap, or NULL */
    char *suffix;           /* the whole owner suffix, heap, or NULL */
    uint64_t sig;           /* hash of the printed subtree */
    size_t uf;              /* union-find link: same region */
    size_t tblock;          /* alias: the memory-region block it targets */
};

/* One block: `address-space:` headers with a tree, or `memory-region:`. */
struct mt__blk {
    bool mr;
    unsigned line;
    char **names;           /* AS names (pointers into the text) */
    size_t nnames, capnames;
    char *mr_name;
    size_t top;             /* the level-1 occurrence (maybe a placeholder) */
};

struct mt__tree {
    const struct mt__src *src;
    struct mt__err *e;
    struct mt__occ *o;
    size_t no, capo;
    struct mt__blk *b;
    size_t nb, capb;
    bool has_owners;        /* `-o`: every line ends in an owner suffix */
    bool has_disabled;      /* `-D`: disabled lines are printed */
    size_t nhidden;         /* placeholders made */
};

/* The owner suffix at the end of a line (QEMU's -o): the offset of its
 * leading space, or -1; owner and olen give the inside of owner:{...}. */
long mt__owner_suffix(const char *s, const char **owner, size_t *olen);

/* mtree_parse.c: reads the dump into `t` (which keeps pointers into src). */
int mt__tree_read(const struct mt__src *src, struct mt__tree *t, struct mt__err *e);
void mt__tree_free(struct mt__tree *t);

/* mtree_identity.c: signatures of printed subtrees, then classes of lines
 * that are one region; the class of line i (a representative line). */
void mt__tree_identity(struct mt__tree *t, struct mt__mdesc *d);
size_t mt__occ_class(struct mt__tree *t, size_t i);

/* How each ambiguous alias class got its target, and the other blocks it
 * could have shown (memory-region block numbers, the chosen one first). */
struct mt__kept {
    uint8_t *how;     /* MT__TN_* */
    size_t **alt;
    size_t *nalt;
};

/* mtree_targets.c: cls_target[class] = memory-region block number. */
void mt__tree_targets(struct mt__tree *t, struct mt__mdesc *d, size_t *cls_target,
                      struct mt__kept *K);

/* mtree_resolve.c: identities and alias targets, then the description. */
int mt__tree_resolve(struct mt__tree *t, struct mt__mdesc *d);

#endif /* MEMTREE_MTREE_PARSE_H */
