/*
 * The intermediate description every machine reader produces and the one
 * builder (machine.c) turns into regions and address spaces: region records
 * with file ids, address-space records, owner labels and the notes a reader
 * inferred (machine_desc.c). Also the text helpers the readers share
 * (machine_text.c): the whole input split into lines, "NAME:LINE: what"
 * errors, number parsing. Readers: machine_model.c (model.txt),
 * mtree_parse.c and its companions (QEMU tree dumps; mtree_parse_flat.c,
 * machine_infer.c and machine_probe.c for the flat dump), map_format.c.
 */
#ifndef MEMTREE_MACHINE_BUILD_H
#define MEMTREE_MACHINE_BUILD_H

#include <memtree.h>
#include <memtree/format.h>

#include "../util/alloc.h"
#include "../util/strset.h"
#include "../util/wide.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>


/* ---- text input (machine_text.c) ----------------------------------------- */

/* A whole input file, split into NUL-terminated lines without CR/LF. */
struct mt__src {
    const char *name;
    char *buf;
    char **lines;
    size_t nlines;
};

/* The first error of a load, already formatted "NAME:LINE: what". */
struct mt__err {
    char msg[512];
};

/* Reads all of `in`, at most `limit` bytes (more fails with -EFBIG). Empty
 * input, NUL bytes and other binary data fail as soon as they are read. */
int mt__src_read(FILE *in, const char *name, uint64_t limit, struct mt__src *src,
                 struct mt__err *e);
void mt__src_free(struct mt__src *src);

/* Formats "FILE:LINE: what" (no line part when line is 0); returns -EINVAL. */
int mt__fail(struct mt__err *e, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same, returning `code` instead. */
int mt__fail_code(struct mt__err *e, int code, const char *file, unsigned line,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Hex without prefix (an optional 0x is accepted): 0, 1 for exactly 2^64
 * ("10000000000000000"), -1 for bad or overflowing text. */
int mt__parse_hex(const char *s, uint64_t *out);
bool mt__parse_u64(const char *s, uint64_t *out);
bool mt__parse_i32(const char *s, int32_t *out);
/* Exactly 16 hex digits, as in the dumps. */
bool mt__parse_hex16(const char *s, uint64_t *out);
/* The value of one hex digit, -1 if c is none. */
int mt__hexval(char c);
/*
 * An address or size field of a model or map line, named `what` in the
 * message: NULL on success, with *out (for a size, 2^64 is written
 * 10000000000000000 and read as *out 0 with *full set), else what is wrong,
 * on the heap.
 */
char *mt__hex_field_problem(const char *s, const char *what, bool is_size, uint64_t *out,
                            bool *full);

/* Cuts blanks (spaces, tabs) off the end of a line. */
void mt__trim_right(char *s);



/* ---- the description ------------------------------------------------------ */

/* Region kinds of the description; the names are those of the map format. */
enum mt__mkind {
    MT__MK_CONTAINER,
    MT__MK_RAM,
    MT__MK_ROM,        /* RAM with its own readonly flag */
    MT__MK_ROMD,       /* ROM device */
    MT__MK_RAMD,       /* RAM device */
    MT__MK_IO,         /* MMIO */
    MT__MK_IOMMU,
    MT__MK_RESERVATION,
    MT__MK_ALIAS,
    MT__MK_COUNT
};
extern const char *const mt__mkind_names[MT__MK_COUNT];

/* mt__mrec.flags */
enum {
    MT__MF_DISABLED = 1 << 0,
    MT__MF_READONLY = 1 << 1,
    MT__MF_NONVOLATILE = 1 << 2,
    MT__MF_ROMD_OFF = 1 << 3,  /* a ROM device out of romd mode */
};

/* mt__mrec.infer: what a QEMU tree dump left open (machine_infer.c) */
enum {
    MT__MI_KIND_OPEN = 1 << 0,      /* printed `i/o`: container or MMIO */
    MT__MI_SIZE_OPEN = 1 << 1,      /* printed `X-X`: size 0 or 1 */
    MT__MI_TERMINAL_SEEN = 1 << 2,  /* the flat dump shows it answering */
    MT__MI_KIND_SET = 1 << 3,       /* the flat dump decided the kind */
    MT__MI_SIZE_SET = 1 << 4,       /* the flat dump decided the size */
    MT__MI_RO_SET = 1 << 5,         /* readonly inferred from the flat dump */
    MT__MI_RAM_TYPED = 1 << 6,      /* printed ram/rom: readonly is known */
    MT__MI_HIDDEN = 1 << 7,         /* stands for a hidden disabled line */
};

/* How a QEMU dump's alias target was chosen among blocks of one name. */
enum { MT__TN_NONE, MT__TN_OWNER, MT__TN_ORDER, MT__TN_GUESS, MT__TN_FLAT };

/* One region. `rank` orders siblings of equal priority: the lowest renders
 * first. */
struct mt__mrec {
    char *label;            /* unique id in the file */
    char *name;             /* NULL: absent, printed "(null)" */
    uint8_t kind;           /* enum mt__mkind */
    uint8_t flags;          /* MT__MF_* */
    uint8_t infer;          /* MT__MI_* */
    bool size_full;         /* the size is 2^64 */
    uint8_t tnote;          /* MT__TN_* */
    /* the small fields together: a large machine holds a million records */
    int32_t prio;
    unsigned line;          /* where it was defined, for messages */
    uint64_t addr, size, alias_offset;
    size_t parent;          /* MT__NONE: not mapped */
    size_t target;          /* alias target, else MT__NONE */
    size_t owner;           /* index into owners, else MT__NONE */
    int64_t rank;
    /* QEMU dumps only: the alias's possible targets when names repeat */
    size_t *alt;
    size_t nalt;
};

struct mt__mspace {
    char *name;             /* NULL: anonymous */
    size_t root;
    unsigned line;
};

struct mt__mdesc {
    const char *file;       /* for messages */
    struct mt__mrec *r;
    size_t nr, capr;
    struct mt__mspace *as;
    size_t nas, capas;
    char **owners;          /* labels (NULL allowed) */
    size_t nowners, capowners;
    char **notes;           /* inferred facts, one line each */
    size_t nnotes, capnotes;
    char **warnings;        /* guesses and differences, "FILE:LINE: what" */
    size_t nwarnings, capwarnings;
    bool flat_differs;      /* the flat dump given disagrees with the views */
    /* Once packed (mt__desc_pack_strings), the records' labels and names
     * point into these blocks instead of being allocated one by one. */
    char *label_pool, *name_pool;
};

/* Appends a zeroed record (parent, target, owner MT__NONE; rank = index). */
struct mt__mrec *mt__desc_add_region(struct mt__mdesc *d);
struct mt__mspace *mt__desc_add_space(struct mt__mdesc *d);
size_t mt__desc_add_owner(struct mt__mdesc *d, char *label_owned);
void mt__desc_note(struct mt__mdesc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A warning: what the importer had to guess, or where the flat dump it was
 * given disagrees with what it renders ("FILE:LINE: what"). */
void mt__desc_warn(struct mt__mdesc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mt__desc_free(struct mt__mdesc *d);
/* Moves every record's label and name into two blocks (label_pool,
 * name_pool) and frees the single allocations, once the reader is done: a
 * million small blocks cost malloc 24 bytes each on top of the text, and
 * freed together they leave whole pages the allocator can give back. */
void mt__desc_pack_strings(struct mt__mdesc *d);
/* Children of every region in render order, that is by priority (highest
 * first), then rank, then index: kids[first[i] ..
 * first[i+1]) for region i. Both arrays are the caller's to free. */
void mt__desc_children(const struct mt__mdesc *d, size_t **first, size_t **kids);
/* Would `alias` showing `target` close a chain of alias targets back onto
 * the alias (the loop the library refuses)? A target that contains the
 * alias is fine: such loops render. `first` and `kids` are not used. */
bool mt__desc_would_loop(const struct mt__mdesc *d, const size_t *first, const size_t *kids,
                         size_t alias, size_t target);
/* Size as an exact 65-bit value. */
static inline mt__i128 mt__mrec_size(const struct mt__mrec *r)
{
    return r->size_full ? MT__2_64 : (mt__i128)r->size;
}
static inline bool mt__mrec_terminal(const struct mt__mrec *r)
{
    return r->kind != MT__MK_CONTAINER && r->kind != MT__MK_ALIAS;
}

/* ---- the builder and the machine (machine.c) ------------------------------ */

struct mt_machine {
    mt_context *ctx;
    mt_file_format format;
    size_t nr;                /* regions, in file order */
    mt_region **regions;      /* NULL once finalised (or never created) */
    /* Every region's storage, in file order: one block rather than a
     * million small ones saves malloc's header on each, and the walks
     * meet the regions in the order they were described. */
    mt_region *storage;
    char **labels;            /* file id of each region */
    /* 32-bit indexes (a machine has fewer than 2^32 regions, checked by
     * the builder): the arrays are a fair share of a large machine */
    uint32_t *created;        /* creation order: alias targets first */
    size_t ncreated;
    uint32_t *by_label;       /* region indexes sorted by label */
    mt_owner **owners;
    size_t nowners;
    mt_address_space **spaces;
    size_t nspaces;
    char **notes;
    size_t nnotes;
    char **warnings;
    size_t nwarnings;
    bool flat_differs;
    bool borrowed;            /* labels belong to a description (trial builds) */
    char *label_pool;         /* the labels' block, when the description was
                                 packed (then they are not freed one by one) */
};

/*
 * Builds the described machine's regions in `ctx` in one transaction.
 * Consumes the labels and notes of `d` (the rest stays the caller's). On
 * success the transaction is left open and the address spaces are not
 * made: the caller frees the description and the text first, then calls
 * mt__machine_finish, so that they and the render's buffers are never held
 * at once (a large machine's peak memory). On failure frees what it made
 * and returns -EINVAL with the message in `e`.
 */
int mt__machine_build(mt_context *ctx, struct mt__mdesc *d, mt_file_format fmt,
                      mt_machine **out, struct mt__err *e);
/* Indexes the regions, creates the address spaces and commits (the
 * render). On failure frees the machine and returns -EINVAL with the
 * message in `e`. */
int mt__machine_finish(mt_machine *m, const struct mt__mspace *spaces, size_t nas,
                       const char *file, struct mt__err *e);
/* A trial build that borrows the labels and takes nothing from `d`; the
 * description must outlive the machine. */
int mt__machine_build_trial(mt_context *ctx, const struct mt__mdesc *d,
                            mt_machine **out, struct mt__err *e);
/* The record index of a machine region, MT__NONE if not one of them. */
size_t mt__machine_index_of(const mt_machine *m, const mt_region *r);

/* ---- the readers ---------------------------------------------------------- */

int mt__model_parse(const struct mt__src *src, struct mt__mdesc *d, struct mt__err *e);
int mt__map_parse(const struct mt__src *src, struct mt__mdesc *d, struct mt__err *e);
/* A QEMU tree dump, refined by a flat dump of the same machine if given. */
int mt__qemu_parse(const struct mt__src *tree, const struct mt__src *flat,
                   struct mt__mdesc *d, struct mt__err *e);

/* A parsed `info mtree -f` dump (mtree_parse_flat.c). */
struct mt__frange {
    uint64_t start, last, offset;
    int32_t prio;
    char *name;
    char *type;             /* as printed, `nv-` included */
    unsigned line;
};
struct mt__fspace {
    char *name;
    char *root_text;        /* what follows `root: ` */
    size_t view;
    unsigned line;
};
struct mt__fview {
    char *root;             /* NULL for `(none)` */
    size_t first_range, nranges;
    unsigned line;
};
struct mt__flat {
    const char *file;       /* for messages */
    struct mt__fview *v;
    size_t nv;
    struct mt__fspace *as;
    size_t nas;
    struct mt__frange *ranges;
    size_t nranges;
};
int mt__flat_parse(const struct mt__src *src, struct mt__flat *f, struct mt__err *e);
void mt__flat_free(struct mt__flat *f);

/* Notes what stays guessed after a QEMU import, and how alias targets
 * were chosen (mtree_resolve.c). */
void mt__qemu_note_open(struct mt__mdesc *d, bool with_flat);

/* Settles what the tree dump left open by matching the flat dump
 * (machine_infer.c). Never fails on a mismatch: what stays different is
 * reported in the notes. */
int mt__infer_from_flat(struct mt__mdesc *d, const struct mt__flat *f,
                        struct mt__err *e);

#endif /* MEMTREE_MACHINE_BUILD_H */
