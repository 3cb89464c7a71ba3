/*
 * memtree's file formats: QEMU's `info mtree` dumps (printing them from a
 * live context, and reading them back), the oracle's model.txt and memtree's
 * own lossless map format. Everything here is built on the public API of
 * <memtree.h> alone (src/format/), so it can serve as an example of using
 * it; the engine never calls into it. The formats are described in
 * docs/format.md, the importer's inferences in docs/import.md.
 */
#ifndef MEMTREE_FORMAT_H
#define MEMTREE_FORMAT_H

#include <memtree.h>

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Dumps in QEMU's `info mtree` formats (docs: mtree-format)                  */
/* ------------------------------------------------------------------------ */

enum {
    MT_DUMP_FLAT = 1 << 0,     /* `info mtree -f`: one block per view */
    MT_DUMP_DISABLED = 1 << 1, /* `-D`: also print disabled regions (tree) */
    MT_DUMP_OWNER = 1 << 2,    /* `-o`: append owners */
};

/* Prints the trees (or, with MT_DUMP_FLAT, the views) in a deterministic
 * order. Returns 0 or a negative errno from writing. */
int mt_dump(mt_context *ctx, FILE *out, unsigned flags);

/*
 * The type column of a dump, as static text: mt_dump_region_type gives what
 * the tree dump prints for a region ("ram", "rom", "ramd", "romd" or "i/o";
 * an alias prints the type at the end of its chain), mt_dump_range_type what
 * the flat dump prints for a range ("rom" for a range made read-only on its
 * path, even over MMIO), leaving out the "nv-" the flat dump puts before the
 * type of a nonvolatile range. NULL for a NULL argument.
 */
const char *mt_dump_region_type(const mt_region *r);
const char *mt_dump_range_type(const mt_range *range);

/* ------------------------------------------------------------------------ */
/* Machines loaded from files                                                */
/* ------------------------------------------------------------------------ */

/*
 * A memory map built from a description: the machine owns its regions (heap
 * storage), their owners and its address spaces. Freed with mt_machine_free,
 * which destroys its address spaces and finalises its regions. Formats are
 * described in docs/format.md.
 */
typedef struct mt_machine mt_machine;

typedef enum mt_file_format {
    MT_FORMAT_AUTO,  /* sniffed from the content */
    MT_FORMAT_MODEL, /* the oracle's model.txt (docs/format.md) */
    MT_FORMAT_QEMU,  /* `info mtree [-o] [-D]` tree dump, QEMU 7.2 or later */
    MT_FORMAT_MAP,   /* memtree's own map format, lossless */
} mt_file_format;

/*
 * Reads a machine from `in` and builds it in `ctx`, committing once. `name`
 * names the input in messages. For a QEMU tree dump, `flat` may give the
 * `info mtree -f` dump of the same machine: the loader then settles what the
 * tree dump does not say (container versus MMIO, read-only aliases, the
 * order of overlapping siblings, sizes 0 versus 1, which of several
 * same-named regions an alias shows) by matching the views, and records each
 * inferred or guessed fact (mt_machine_inference). Other formats ignore
 * `flat` (with a note). On bad input returns -EINVAL (-ELOOP when the
 * regions form an alias cycle or a container would contain itself, -EFBIG
 * when an input is longer than mt_context_set_input_limit allows; binary
 * input, say /dev/zero, fails with -EINVAL as soon as it is read), frees
 * everything and writes "NAME:LINE: what" into err (or to the context's
 * diagnostic hook when err is NULL).
 */
int mt_machine_load(mt_context *ctx, mt_file_format fmt, FILE *in, const char *name,
                    FILE *flat, const char *flat_name, mt_machine **out,
                    char *err, size_t errlen);
/* mt_machine_load with MT_FORMAT_MODEL and no flat dump. */
int mt_machine_load_model(mt_context *ctx, FILE *in, const char *filename,
                          mt_machine **out, char *err, size_t errlen);
void mt_machine_free(mt_machine *m);
mt_context *mt_machine_context(const mt_machine *m);
/* The format the machine was read from (never MT_FORMAT_AUTO). */
mt_file_format mt_machine_format(const mt_machine *m);
/* Regions in file order; NULL for one that was finalised. */
size_t mt_machine_region_count(const mt_machine *m);
mt_region *mt_machine_region(const mt_machine *m, size_t i);
/* The region with the file's numeric id `file_id` (model.txt), or NULL. */
mt_region *mt_machine_region_by_file_id(const mt_machine *m, uint64_t file_id);
/* A region's unique id in the file (made from the name for QEMU dumps:
 * `pci_bridge_pci~2`), or NULL if the region is not one of the machine's;
 * and back. */
const char *mt_machine_region_label(const mt_machine *m, const mt_region *r);
mt_region *mt_machine_region_by_label(const mt_machine *m, const char *label);
/* Address spaces in creation order. */
size_t mt_machine_address_space_count(const mt_machine *m);
mt_address_space *mt_machine_address_space(const mt_machine *m, size_t i);
/* Facts the loader inferred or guessed, one human-readable line each. */
size_t mt_machine_inference_count(const mt_machine *m);
const char *mt_machine_inference(const mt_machine *m, size_t i);
/*
 * What the loader could not settle, one line each, "FILE:LINE: what",
 * naming the region: every guess a QEMU tree dump forced without a flat
 * dump to decide with, and every address space whose view differs from the
 * flat dump it was given. docs/import.md lists the inferences and guesses.
 */
size_t mt_machine_warning_count(const mt_machine *m);
const char *mt_machine_warning(const mt_machine *m, size_t i);
/* Whether the flat dump given to mt_machine_load disagrees with the views
 * built (the CLI's --strict makes that an error). */
bool mt_machine_flat_differs(const mt_machine *m);
/*
 * Writes the machine's current state (edits since loading included) in the
 * map format; reading it back gives the same regions, views and bytes on a
 * second save. Returns 0 or a negative errno (-EINVAL when a region of the
 * machine aliases one that is not).
 */
int mt_machine_save_map(const mt_machine *m, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* MEMTREE_FORMAT_H */
