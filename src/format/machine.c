/*
 * Machines loaded from files: picks the reader for a format (sniffing it
 * when asked), and the one builder that turns any reader's description
 * (machine_build.h) into regions (one block of storage), owners and
 * address spaces in one transaction, then tears all of it down again. The machine owns its
 * regions (whose backings are made on first need), their owners, its
 * address spaces, the file ids and the inferred notes; nothing else.
 */
#include "machine_build.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>

/* ---- region creation -------------------------------------------------------- */

/* Imported IOMMUs translate nothing: the maps describe layout, not devices. */
static mt_iommu_tlb_entry no_translate(void *opaque, uint64_t offset,
                                       mt_iommu_perm access, int index)
{
    (void)opaque;
    (void)access;
    (void)index;
    return (mt_iommu_tlb_entry){.iova = offset, .perm = MT_IOMMU_NONE};
}
static const mt_iommu_ops import_iommu_ops = {.translate = no_translate};

static uint64_t lib_size(const struct mt__mrec *r)
{
    return r->size_full ? UINT64_MAX : r->size; /* the library's spelling */
}

static int init_region(const struct mt__mdesc *d, mt_machine *m, size_t i,
                       struct mt__err *e)
{
    const struct mt__mrec *r = &d->r[i];
    mt_region *mr = &m->storage[i];
    mt_context *ctx = m->ctx;
    mt_owner *owner = r->owner == MT__NONE ? NULL : m->owners[r->owner];
    uint64_t size = lib_size(r);
    int err;
    if (!r->size_full && r->size == UINT64_MAX) {
        return mt__fail(e, d->file, r->line, "size ffffffffffffffff cannot be "
                        "represented (2^64 is written 10000000000000000)");
    }
    switch ((enum mt__mkind)r->kind) {
    case MT__MK_CONTAINER:
        err = mt_region_init_container(mr, ctx, owner, r->name, size);
        break;
    case MT__MK_ALIAS:
        err = mt_region_init_alias(mr, ctx, owner, r->name, m->regions[r->target],
                                   r->alias_offset, size);
        break;
    case MT__MK_IO:
        err = mt_region_init_io(mr, ctx, owner, NULL, NULL, r->name, size);
        break;
    case MT__MK_IOMMU:
        err = mt_region_init_iommu(mr, ctx, owner, &import_iommu_ops, NULL, r->name,
                                   size);
        break;
    case MT__MK_RESERVATION:
        err = mt_region_init_reservation(mr, ctx, owner, r->name, size);
        break;
    /* A loaded machine describes memory; it gets host bytes only where
     * something needs them (docs/regions.md, "Backing on demand"), so a
     * 2^64 RAM loads in constant memory. */
    case MT__MK_RAM:
    case MT__MK_ROM:
        err = mt_region_init_on_demand(mr, ctx, owner, r->name, size, MT_KIND_RAM);
        if (!err && r->kind == MT__MK_ROM)
            err = mt_region_set_readonly(mr, true); /* what makes RAM a ROM */
        break;
    case MT__MK_ROMD:
        err = mt_region_init_on_demand(mr, ctx, owner, r->name, size, MT_KIND_ROM_DEVICE);
        break;
    case MT__MK_RAMD:
        err = mt_region_init_on_demand(mr, ctx, owner, r->name, size, MT_KIND_RAM_DEVICE);
        break;
    default:
        err = -EINVAL;
        break;
    }
    if (err) {
        return mt__fail(e, d->file, r->line, "cannot create %s region '%s': %s",
                        mt__mkind_names[r->kind], r->name ? r->name : "(null)",
                        mt_strerror(err));
    }
    m->regions[i] = mr;
    m->created[m->ncreated++] = (uint32_t)i;
    return 0;
}

/*
 * Creates every region with alias targets before their aliases. Each alias
 * chain is walked to its first existing (or non-alias) region, marking the
 * walk with its start index so that a chain meeting itself is a cycle.
 */
static int create_regions(const struct mt__mdesc *d, mt_machine *m, struct mt__err *e)
{
    size_t *mark = mt__xcalloc(d->nr, sizeof(*mark));
    size_t *chain = mt__xmalloc((d->nr ? d->nr : 1) * sizeof(*chain));
    int err = 0;
    for (size_t i = 0; i < d->nr && !err; i++) {
        size_t n = 0, j = i;
        while (!m->regions[j]) {
            if (mark[j] == i + 1) {
                mt__fail(e, d->file, d->r[i].line, "alias cycle through region '%s'",
                         d->r[j].label);
                err = -ELOOP;
                break;
            }
            mark[j] = i + 1;
            chain[n++] = j;
            if (d->r[j].kind != MT__MK_ALIAS)
                break;
            j = d->r[j].target;
        }
        while (n && !err)
            err = init_region(d, m, chain[--n], e);
    }
    free(chain);
    free(mark);
    return err;
}

static int apply_flags(const struct mt__mdesc *d, mt_machine *m, struct mt__err *e)
{
    for (size_t i = 0; i < d->nr; i++) {
        const struct mt__mrec *r = &d->r[i];
        mt_region *mr = m->regions[i];
        int err = 0;
        if (r->flags & MT__MF_DISABLED)
            err = mt_region_set_enabled(mr, false);
        if (!err && (r->flags & MT__MF_READONLY))
            err = mt_region_set_readonly(mr, true);
        if (!err && (r->flags & MT__MF_NONVOLATILE))
            err = mt_region_set_nonvolatile(mr, true);
        if (!err && (r->flags & MT__MF_ROMD_OFF))
            err = mt_region_set_romd(mr, false);
        if (err)
            return mt__fail(e, d->file, r->line, "cannot set the flags of '%s': %s",
                            r->label, mt_strerror(err));
    }
    return 0;
}

/*
 * The order to map the records in, worked out before the regions exist so
 * that its scratch is gone by then (a large machine's peak): containers are
 * filled from the top down (each tree in pre-order), so a region is mapped
 * while its own subtree is still empty and the library's loop check has
 * nothing to walk (a chain listed bottom-up was O(n^2)). Containers no root
 * leads to (a cycle of containers) come last, in file order, where the
 * library refuses the loop. Each container's children go in the reverse of
 * their render order: the newest mapping goes first among equal
 * priorities, so this reproduces the described order. Every mapped record
 * appears once.
 */
static uint32_t *placement_order(const struct mt__mdesc *d, size_t *count)
{
    size_t *first, *kids;
    mt__desc_children(d, &first, &kids);
    size_t n = d->nr ? d->nr : 1;
    bool *done = mt__xcalloc(n, sizeof(*done));
    uint32_t *stack = mt__xmalloc(n * sizeof(*stack)); /* 32 bits: see build */
    uint32_t *order = mt__xmalloc(n * sizeof(*order));
    size_t sp = 0, no = 0;
    for (size_t root = 0; root < d->nr; root++) {
        if (d->r[root].parent != MT__NONE)
            continue;
        stack[sp++] = (uint32_t)root;
        while (sp) {
            size_t p = stack[--sp];
            done[p] = true;
            for (size_t k = first[p + 1]; k-- > first[p];)
                order[no++] = (uint32_t)kids[k];
            for (size_t k = first[p]; k < first[p + 1]; k++)
                stack[sp++] = (uint32_t)kids[k]; /* a tree: each is pushed once */
        }
    }
    for (size_t p = 0; p < d->nr; p++)
        if (!done[p])
            for (size_t k = first[p + 1]; k-- > first[p];)
                order[no++] = (uint32_t)kids[k];
    free(done);
    free(stack);
    free(first);
    free(kids);
    *count = no;
    return order;
}

/* Maps the records in `order` (placement_order) into their containers;
 * unmapped regions only record address and priority. */
static int place_regions(const struct mt__mdesc *d, mt_machine *m, const uint32_t *order,
                         size_t count, struct mt__err *e)
{
    int err = 0;
    for (size_t j = 0; j < count && !err; j++) {
        const struct mt__mrec *r = &d->r[order[j]];
        err = mt_region_add_subregion_overlap(m->regions[r->parent], r->addr,
                                              m->regions[order[j]], r->prio);
        if (err) {
            int lib = err;
            err = mt__fail(e, d->file, r->line, "cannot map '%s' into '%s': %s",
                           r->label, d->r[r->parent].label, mt_strerror(lib));
            if (lib == -ELOOP)
                err = -ELOOP; /* a loop is a finding the caller may ask about */
        }
    }
    for (size_t i = 0; i < d->nr && !err; i++) {
        const struct mt__mrec *r = &d->r[i];
        if (r->parent != MT__NONE)
            continue;
        if (r->addr)
            err = mt_region_set_address(m->regions[i], r->addr);
        if (!err && r->prio)
            err = mt_region_set_priority(m->regions[i], r->prio);
        if (err)
            err = mt__fail(e, d->file, r->line, "cannot place '%s': %s", r->label,
                           mt_strerror(err));
    }
    return err;
}

static int create_spaces(const struct mt__mspace *sp, size_t nas, const char *file,
                         mt_machine *m, struct mt__err *e)
{
    m->spaces = mt__xcalloc(nas ? nas : 1, sizeof(*m->spaces));
    for (size_t i = 0; i < nas; i++) {
        mt_address_space *as = mt_address_space_new(m->ctx, m->regions[sp[i].root],
                                                     sp[i].name);
        if (!as)
            return mt__fail(e, file, sp[i].line, "cannot create address "
                            "space '%s'", sp[i].name ? sp[i].name : "(null)");
        m->spaces[m->nspaces++] = as;
    }
    return 0;
}

static void quiet(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

static void owner_release(mt_owner *o)
{
    free(o);
}

/* ---- indexes ------------------------------------------------------------------ */

static int cmp_by_label(const void *a, const void *b, void *labels)
{
    char *const *l = labels;
    return strcmp(l[*(const uint32_t *)a], l[*(const uint32_t *)b]);
}

/* 4-byte indexes, sorted in place (qsort's own buffer is as small): at a
 * large machine's peak, pairs of a pointer and an index cost four times as
 * much. */
static void build_indexes(mt_machine *m)
{
    m->by_label = mt__xmalloc((m->nr ? m->nr : 1) * sizeof(*m->by_label));
    for (size_t i = 0; i < m->nr; i++)
        m->by_label[i] = (uint32_t)i;
    qsort_r(m->by_label, m->nr, sizeof(*m->by_label), cmp_by_label, m->labels);
}

/* The storage block says which record a region is. */
size_t mt__machine_index_of(const mt_machine *m, const mt_region *r)
{
    if (!m || !r || m->nr == 0)
        return MT__NONE;
    uintptr_t p = (uintptr_t)r, first = (uintptr_t)m->storage;
    if (p < first || p >= first + m->nr * sizeof(*m->storage))
        return MT__NONE;
    size_t i = (p - first) / sizeof(*m->storage);
    return m->regions[i] == r ? i : MT__NONE;
}

/* ---- teardown ------------------------------------------------------------------- */

/*
 * Lets go of everything the machine created. The address spaces go first;
 * a forced re-render then makes the view cache drop the views naming our
 * regions, and a reclaim frees them, since a terminal region named by a live
 * view cannot be finalised. Reverse creation order finalises aliases before
 * their targets. Anything still busy (say, an address space the caller made
 * over one of our regions) is reported and left alive with its owner.
 */
static void release(mt_machine *m)
{
    mt_context *ctx = m->ctx;
    for (size_t i = 0; i < m->nspaces; i++)
        mt_address_space_destroy(m->spaces[i]);
    m->nspaces = 0;
    mt_context_reclaim(ctx);

    size_t busy = 0;
    mt_transaction_begin(ctx);
    for (size_t k = m->ncreated; k-- > 0;) {
        size_t i = m->created[k];
        if (!m->regions[i])
            continue;
        if (mt_region_finalize(m->regions[i]) != 0) {
            busy++;
            continue;
        }
        m->regions[i] = NULL;
    }
    /* The commit frees a closed context whose last regions these were
     * (mt_context_free before mt_machine_free): ctx is not used after it
     * unless a region is left. The views it replaced, if the caller's own
     * address spaces showed these regions, go at the caller's next reclaim,
     * and so do the owners they still reference. */
    mt_transaction_commit(ctx);
    if (busy) {
        mt_context_report(ctx, -EBUSY, "machine freed with %zu region(s) still in use; "
                 "they are left alive", busy);
        m->storage = NULL; /* and so is their storage */
        return; /* their owners must outlive them */
    }
    for (size_t i = 0; i < m->nowners; i++)
        mt_owner_unref(m->owners[i]); /* no regions left: frees the owner */
    m->nowners = 0;
}

static void free_machine(mt_machine *m)
{
    for (size_t i = 0; i < m->nr && !m->borrowed && !m->label_pool; i++)
        free(m->labels[i]);
    free(m->label_pool);
    for (size_t i = 0; i < m->nnotes; i++)
        free(m->notes[i]);
    for (size_t i = 0; i < m->nwarnings; i++)
        free(m->warnings[i]);
    void *arrays[] = {m->warnings, m->labels, m->notes,  m->regions, m->by_label,
                      m->created,  m->owners, m->spaces, m->storage, m};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        free(arrays[i]);
}

/* ---- the builder -------------------------------------------------------------- */

/* The library's own complaints would repeat our "FILE:LINE:" message, so
 * they are silenced while the builder works. */
struct hush {
    mt_diag_fn fn;
    void *opaque;
};

static struct hush hush_begin(mt_context *ctx)
{
    struct hush h;
    h.fn = mt_context_diag(ctx, &h.opaque);
    mt_context_set_diag(ctx, quiet, NULL);
    return h;
}

static void hush_end(mt_context *ctx, struct hush h)
{
    mt_context_set_diag(ctx, h.fn, h.opaque);
}

/* A machine that failed to build: everything it made goes. Returns rc. */
static int discard(mt_machine *m, int rc)
{
    release(m);
    free_machine(m);
    return rc;
}

/* The regions, in a transaction left open on success (mt__machine_build). */
static int build(mt_context *ctx, const struct mt__mdesc *d, mt_file_format fmt,
                 mt_machine **out, struct mt__err *e)
{
    if (d->nr > UINT32_MAX)
        return mt__fail_code(e, -EFBIG, d->file, 0, "more than %" PRIu32 " regions",
                             UINT32_MAX);
    mt_machine *m = mt__xcalloc(1, sizeof(*m));
    size_t n = d->nr ? d->nr : 1;
    m->ctx = ctx;
    m->format = fmt;
    m->nr = d->nr;
    m->regions = mt__xcalloc(n, sizeof(*m->regions));
    m->storage = mt__xcalloc(n, sizeof(*m->storage));
    m->labels = mt__xcalloc(n, sizeof(*m->labels));
    m->created = mt__xcalloc(n, sizeof(*m->created));
    m->owners = mt__xcalloc(d->nowners ? d->nowners : 1, sizeof(*m->owners));
    for (size_t i = 0; i < d->nowners; i++) {
        mt_owner *o = mt__xcalloc(1, sizeof(*o));
        mt_owner_init(o, d->owners[i], owner_release);
        m->owners[m->nowners++] = o;
    }

    /* One commit for the whole machine, as a board's init would do. */
    struct hush h = hush_begin(ctx);
    mt_transaction_begin(ctx);
    size_t nplaced;
    uint32_t *order = placement_order(d, &nplaced);
    int rc = create_regions(d, m, e);
    if (!rc)
        rc = apply_flags(d, m, e);
    if (!rc)
        rc = place_regions(d, m, order, nplaced, e);
    free(order);
    if (rc)
        mt_transaction_commit(ctx);
    hush_end(ctx, h);
    *out = rc ? NULL : m;
    return rc ? discard(m, rc) : 0;
}

int mt__machine_build(mt_context *ctx, struct mt__mdesc *d, mt_file_format fmt,
                      mt_machine **out, struct mt__err *e)
{
    /* the records' room to grow goes before the regions are made */
    if (d->nr && d->capr > d->nr) {
        d->r = mt__xrealloc(d->r, d->nr * sizeof(*d->r));
        d->capr = d->nr;
    }
    int rc = build(ctx, d, fmt, out, e);
    if (rc)
        return rc;
    mt_machine *m = *out;
    for (size_t i = 0; i < d->nr; i++) {
        m->labels[i] = d->r[i].label;
        d->r[i].label = NULL;
    }
    m->label_pool = d->label_pool;
    d->label_pool = NULL;
    m->notes = d->notes;
    m->nnotes = d->nnotes;
    d->notes = NULL;
    d->nnotes = d->capnotes = 0;
    m->warnings = d->warnings;
    m->nwarnings = d->nwarnings;
    m->flat_differs = d->flat_differs;
    d->warnings = NULL;
    d->nwarnings = d->capwarnings = 0;
    return 0;
}

int mt__machine_finish(mt_machine *m, const struct mt__mspace *spaces, size_t nas,
                       const char *file, struct mt__err *e)
{
    mt_context *ctx = m->ctx;
    /* after the description is gone: sorting needs room of its own */
    build_indexes(m);
    /* Committed before the address spaces exist, the tree renders once per
     * distinct view, when each is created: created inside the transaction,
     * each view would render again at the commit, while the first ones
     * wait for a reclaim (twice the ranges at the peak). */
    struct hush h = hush_begin(ctx);
    mt_transaction_commit(ctx);
    int rc = create_spaces(spaces, nas, file, m, e);
    hush_end(ctx, h);
    return rc ? discard(m, rc) : 0;
}

int mt__machine_build_trial(mt_context *ctx, const struct mt__mdesc *d,
                            mt_machine **out, struct mt__err *e)
{
    int rc = build(ctx, d, MT_FORMAT_AUTO, out, e);
    if (!rc) {
        mt_machine *m = *out;
        m->borrowed = true;
        for (size_t i = 0; i < d->nr; i++)
            m->labels[i] = d->r[i].label;
        rc = mt__machine_finish(m, d->as, d->nas, d->file, e);
    }
    if (rc)
        *out = NULL;
    return rc;
}

/* ---- loading -------------------------------------------------------------------- */

/* The first meaningful line says what the file is. */
static mt_file_format sniff(const struct mt__src *src, const char **what, unsigned *line)
{
    for (size_t i = 0; i < src->nlines; i++) {
        *line = (unsigned)i + 1;
        const char *s = src->lines[i];
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#' || !strncmp(s, "(qemu)", 6))
            continue;
        if (!strncmp(s, "memtree-map", 11))
            return MT_FORMAT_MAP;
        if (!strncmp(s, "address-space: ", 15) || !strncmp(s, "memory-region: ", 15))
            return MT_FORMAT_QEMU;
        if (!strncmp(s, "FlatView #", 10) || !strncmp(s, "address-space (flat", 19)) {
            *what = "this is a flat dump (`info mtree -f`); load the tree dump "
                    "(`info mtree -o -D`) and give the flat dump as its companion";
            return MT_FORMAT_AUTO;
        }
        if ((s[0] == 'A' || s[0] == 'R' || s[0] == 'V') && s[1] == ' ')
            return MT_FORMAT_MODEL;
        *what = "unrecognised content: not a QEMU `info mtree` dump, a model.txt "
                "or a memtree map";
        return MT_FORMAT_AUTO;
    }
    *what = "no content (only blank lines or comments)";
    return MT_FORMAT_AUTO;
}

static void report(mt_context *ctx, int rc, const struct mt__err *e, char *err,
                   size_t errlen)
{
    if (!rc)
        return;
    if (err && errlen)
        snprintf(err, errlen, "%s", e->msg);
    else
        mt_context_report(ctx, rc, "%s", e->msg);
}

/* What the parse and the build free lands in the middle of the heap, where
 * glibc keeps the pages resident; the next step is the one that sets a
 * large machine's peak (building the regions, then rendering them), so
 * hand back the pages first (a million-region machine: about 25 bytes a
 * region each time). */
static void release_free_pages(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int mt_machine_load(mt_context *ctx, mt_file_format fmt, FILE *in, const char *name,
                    FILE *flat, const char *flat_name, mt_machine **out,
                    char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!ctx || !in || !out || fmt < MT_FORMAT_AUTO || fmt > MT_FORMAT_MAP)
        return mt_context_report(ctx, -EINVAL, "mt_machine_load: NULL or bad argument");
    *out = NULL;
    if (!name)
        name = "<input>";
    struct mt__err e = {{0}};
    struct mt__src src, fsrc = {0};
    struct mt__mdesc d = {.file = name};
    uint64_t limit = mt_context_input_limit(ctx);
    int rc = mt__src_read(in, name, limit, &src, &e);
    if (!rc && fmt == MT_FORMAT_AUTO) {
        const char *what = NULL;
        unsigned line = 1;
        fmt = sniff(&src, &what, &line);
        if (fmt == MT_FORMAT_AUTO)
            rc = mt__fail(&e, name, line, "%s", what);
    }
    bool use_flat = flat && fmt == MT_FORMAT_QEMU;
    if (!rc && use_flat)
        rc = mt__src_read(flat, flat_name ? flat_name : "<flat dump>", limit, &fsrc, &e);
    if (!rc) {
        switch (fmt) {
        case MT_FORMAT_MODEL:
            rc = mt__model_parse(&src, &d, &e);
            break;
        case MT_FORMAT_MAP:
            rc = mt__map_parse(&src, &d, &e);
            break;
        default:
            rc = mt__qemu_parse(&src, use_flat ? &fsrc : NULL, &d, &e);
            break;
        }
    }
    if (!rc && flat && !use_flat)
        mt__desc_note(&d, "flat dump %s ignored: only QEMU tree dumps need one",
                      flat_name ? flat_name : "");
    /* The description holds copies of all it needs: the text can go before
     * the regions are made (a large machine's peak memory). */
    if (!rc)
        mt__desc_pack_strings(&d);
    mt__src_free(&src);
    mt__src_free(&fsrc);
    release_free_pages();
    bool built = false;
    if (!rc) {
        rc = mt__machine_build(ctx, &d, fmt, out, &e);
        built = !rc;
    }
    /* The address spaces render: the description goes first. */
    struct mt__mspace *spaces = d.as;
    size_t nas = d.nas;
    d.as = NULL;
    d.nas = 0;
    mt__desc_free(&d);
    if (built)
        release_free_pages();
    if (built) {
        rc = mt__machine_finish(*out, spaces, nas, name, &e);
        if (rc)
            *out = NULL;
    }
    for (size_t i = 0; i < nas; i++)
        free(spaces[i].name);
    free(spaces);
    report(ctx, rc, &e, err, errlen);
    return rc;
}

int mt_machine_load_model(mt_context *ctx, FILE *in, const char *filename,
                          mt_machine **out, char *err, size_t errlen)
{
    return mt_machine_load(ctx, MT_FORMAT_MODEL, in, filename ? filename : "<model>",
                           NULL, NULL, out, err, errlen);
}

/* ---- queries ------------------------------------------------------------------- */

void mt_machine_free(mt_machine *m)
{
    if (!m)
        return;
    release(m);
    free_machine(m);
}

mt_context *mt_machine_context(const mt_machine *m)
{
    return m ? m->ctx : NULL;
}

mt_file_format mt_machine_format(const mt_machine *m)
{
    return m ? m->format : MT_FORMAT_AUTO;
}

size_t mt_machine_region_count(const mt_machine *m)
{
    return m ? m->nr : 0;
}

mt_region *mt_machine_region(const mt_machine *m, size_t i)
{
    return m && i < m->nr ? m->regions[i] : NULL;
}

mt_region *mt_machine_region_by_label(const mt_machine *m, const char *label)
{
    if (!m || !label)
        return NULL;
    size_t lo = 0, hi = m->nr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->labels[m->by_label[mid]], label);
        if (c == 0)
            return m->regions[m->by_label[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

mt_region *mt_machine_region_by_file_id(const mt_machine *m, uint64_t file_id)
{
    char label[24];
    snprintf(label, sizeof(label), "%" PRIu64, file_id);
    return mt_machine_region_by_label(m, label);
}

const char *mt_machine_region_label(const mt_machine *m, const mt_region *r)
{
    size_t i = mt__machine_index_of(m, r);
    return i == MT__NONE ? NULL : m->labels[i];
}

size_t mt_machine_address_space_count(const mt_machine *m)
{
    return m ? m->nspaces : 0;
}

mt_address_space *mt_machine_address_space(const mt_machine *m, size_t i)
{
    return m && i < m->nspaces ? m->spaces[i] : NULL;
}

size_t mt_machine_inference_count(const mt_machine *m)
{
    return m ? m->nnotes : 0;
}

const char *mt_machine_inference(const mt_machine *m, size_t i)
{
    return m && i < m->nnotes ? m->notes[i] : NULL;
}

size_t mt_machine_warning_count(const mt_machine *m)
{
    return m ? m->nwarnings : 0;
}

const char *mt_machine_warning(const mt_machine *m, size_t i)
{
    return m && i < m->nwarnings ? m->warnings[i] : NULL;
}

bool mt_machine_flat_differs(const mt_machine *m)
{
    return m && m->flat_differs;
}
