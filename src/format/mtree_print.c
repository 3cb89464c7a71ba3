/*
 * QEMU 7.2 `info mtree` dumps: the tree format (address-space groups and
 * memory-region blocks) and the flat format (one block per view), printed
 * byte for byte as QEMU prints them (docs/format.md, "QEMU `info mtree`
 * dumps"), in memtree's deterministic order. This file only reads the tree
 * and the published views; it owns nothing but the scratch memory of one
 * dump.
 *
 * Trees can be a million regions wide or deep, so the walk is iterative
 * with an explicit stack, sibling sorting is O(n log n), and every "seen
 * before" question is answered by a pointer hash map.
 */
#include <memtree.h>
#include <memtree/format.h>

#include "../util/alloc.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Output: lines are built in memory and handed to stdio in large chunks,     */
/* which is several times faster than one fprintf per field on big trees.    */
/* ------------------------------------------------------------------------ */

#define DUMP_FLUSH_AT 65536

struct dump_out {
    FILE *f;
    char *buf;
    size_t len, cap;
    int err; /* the first failure, as a negative errno; later output is dropped */
};

static bool out_reserve(struct dump_out *o, size_t more)
{
    if (o->err)
        return false;
    if (o->cap - o->len >= more)
        return true;
    size_t cap = o->cap ? o->cap : 2 * DUMP_FLUSH_AT;
    while (cap - o->len < more) {
        if (cap > SIZE_MAX / 2) {
            o->err = -ENOMEM;
            return false;
        }
        cap *= 2;
    }
    char *nb = realloc(o->buf, cap);
    if (!nb) {
        o->err = -ENOMEM;
        return false;
    }
    o->buf = nb;
    o->cap = cap;
    return true;
}

static void out_mem(struct dump_out *o, const char *s, size_t n)
{
    if (out_reserve(o, n)) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
    }
}

static void out_str(struct dump_out *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_char(struct dump_out *o, char c)
{
    if (out_reserve(o, 1))
        o->buf[o->len++] = c;
}

static void out_spaces(struct dump_out *o, size_t n)
{
    if (out_reserve(o, n)) {
        memset(o->buf + o->len, ' ', n);
        o->len += n;
    }
}

/* Addresses are always 16 lower-case digits, whatever the machine width. */
static void out_hex16(struct dump_out *o, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    if (!out_reserve(o, 16))
        return;
    for (int i = 15; i >= 0; i--) {
        o->buf[o->len + (size_t)i] = digits[v & 0xf];
        v >>= 4;
    }
    o->len += 16;
}

static void out_i32(struct dump_out *o, int32_t v)
{
    char tmp[12];
    size_t n = 0;
    /* through int64 so that INT32_MIN negates safely */
    int64_t x = v;
    bool neg = x < 0;
    if (neg)
        x = -x;
    do {
        tmp[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    if (neg)
        tmp[n++] = '-';
    if (!out_reserve(o, n))
        return;
    while (n)
        o->buf[o->len++] = tmp[--n];
}

static void out_flush(struct dump_out *o)
{
    if (o->err || o->len == 0)
        return;
    errno = 0;
    if (fwrite(o->buf, 1, o->len, o->f) != o->len)
        o->err = errno ? -errno : -EIO;
    o->len = 0;
}

static void out_end_line(struct dump_out *o)
{
    out_char(o, '\n');
    if (o->len >= DUMP_FLUSH_AT)
        out_flush(o);
}

/* ------------------------------------------------------------------------ */
/* Pointer -> index map (open addressing). Regions and views are compared by */
/* identity during a dump, and their addresses are stable while it runs.     */
/* ------------------------------------------------------------------------ */

struct ptr_map {
    const void **keys;
    size_t *vals;
    size_t cap; /* a power of two, or 0 */
    size_t count;
};

static size_t ptr_hash(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29;
    x *= 0x9e3779b97f4a7c15ull;
    x ^= x >> 32;
    return (size_t)x & mask;
}

static int ptr_map_grow(struct ptr_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    const void **keys = calloc(cap, sizeof(*keys));
    size_t *vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = ptr_hash(m->keys[i], cap - 1);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

/*
 * Looks `key` up; if absent, stores it with `val`. Returns 1 when inserted,
 * 0 when already present (its value in *found), or -ENOMEM.
 */
static int ptr_map_put(struct ptr_map *m, const void *key, size_t val,
                       size_t *found)
{
    /* keep the load at most one half so probe runs stay short */
    if ((m->count + 1) * 2 > m->cap) {
        int err = ptr_map_grow(m);
        if (err)
            return err;
    }
    size_t j = ptr_hash(key, m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            if (found)
                *found = m->vals[j];
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->count++;
    return 1;
}

static void ptr_map_free(struct ptr_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* Grows a heap array so that it holds at least `need` elements. */
static int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return -ENOMEM;
        ncap *= 2;
    }
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Shared pieces of both formats                                             */
/* ------------------------------------------------------------------------ */

/* The type column of a region that is not an alias (docs/format.md). */
static const char *terminal_type(const mt_region *r)
{
    switch (mt_region_get_kind(r)) {
    case MT_KIND_RAM_DEVICE:
        return "ramd";
    case MT_KIND_ROM_DEVICE:
        return mt_region_romd(r) ? "romd" : "i/o";
    case MT_KIND_RAM:
        return mt_region_readonly(r) ? "rom" : "ram";
    default:
        return "i/o";
    }
}

/* An alias prints the type of the end of its chain. */
const char *mt_dump_region_type(const mt_region *r)
{
    if (!r)
        return NULL;
    while (mt_region_get_kind(r) == MT_KIND_ALIAS && mt_region_alias_target(r))
        r = mt_region_alias_target(r);
    return terminal_type(r);
}

const char *mt_dump_range_type(const mt_range *range)
{
    if (!range)
        return NULL;
    /* readonly inherited from anywhere on the path shows as rom, even for
     * MMIO: the flat dump reports the range, not the region */
    return range->readonly ? "rom" : terminal_type(range->region);
}

/*
 * We model no QOM parents, so an owner-less region is always an orphan. A
 * NULL label still prints the braces, so parsers that match braces cope.
 */
static void out_owner(struct dump_out *o, const mt_region *r)
{
    mt_owner *owner = mt_region_owner(r);
    if (!owner) {
        out_str(o, " orphan");
        return;
    }
    const char *label = mt_owner_label(owner);
    out_str(o, " owner:{");
    if (label)
        out_str(o, label);
    out_char(o, '}');
}

static void out_name(struct dump_out *o, const mt_region *r)
{
    const char *name = mt_region_name(r);
    out_str(o, name ? name : "(null)");
}

/* E - S of the `S-E` column: size 0 and size 1 both print E = S. */
static uint64_t printed_span(const mt_region *r)
{
    uint64_t low;
    if (mt_region_size_exact(r, &low))
        return UINT64_MAX;
    return low ? low - 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Tree mode                                                                 */
/* ------------------------------------------------------------------------ */

/* A child waiting to be printed, with its sort key copied next to it. */
struct kid {
    mt_region *r;
    uint64_t addr;
    int32_t prio;
    size_t idx; /* render order, so the sort is stable */
};

/* One level of the walk: kids[begin, end) are the sorted children of a line
 * whose start address is `base`; kids[pos] is printed next. */
struct frame {
    size_t begin, end, pos;
    uint64_t base;
    size_t level;
};

struct tree_printer {
    struct dump_out *o;
    unsigned flags;
    struct kid *kids;
    size_t nkids, capkids;
    struct frame *frames;
    size_t nframes, capframes;
    /* alias targets met so far, in first-met order; `queued` dedups them */
    mt_region **queue;
    size_t nqueue, capqueue;
    struct ptr_map queued;
    int err;
};

static int kid_cmp(const void *a, const void *b)
{
    const struct kid *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void queue_alias_target(struct tree_printer *tp, mt_region *target)
{
    int ret = ptr_map_put(&tp->queued, target, tp->nqueue, NULL);
    if (ret < 0) {
        tp->err = ret;
        return;
    }
    if (ret == 0)
        return;
    if (grow_array((void **)&tp->queue, &tp->capqueue, tp->nqueue + 1,
                   sizeof(*tp->queue))) {
        tp->err = -ENOMEM;
        return;
    }
    tp->queue[tp->nqueue++] = target;
}

/* Prints r's line (or just its overflow marker when hidden); returns S. */
static uint64_t print_tree_line(struct tree_printer *tp, mt_region *r,
                                size_t level, uint64_t base)
{
    struct dump_out *o = tp->o;
    uint64_t span = printed_span(r);
    uint64_t start = base + mt_region_addr(r);
    uint64_t end = start + span;
    mt_region *target = mt_region_alias_target(r);
    bool enabled = mt_region_enabled(r);

    /* The marker goes out even for a hidden line: QEMU does the same, and
     * then it prefixes whatever line comes next. */
    if (start < base || end < start)
        out_str(o, "[DETECTED OVERFLOW!] ");
    /* Disabled aliases still queue their target, with or without -D. */
    if (target)
        queue_alias_target(tp, target);
    if (!enabled && !(tp->flags & MT_DUMP_DISABLED))
        return start;

    out_spaces(o, level * 2);
    out_hex16(o, start);
    out_char(o, '-');
    out_hex16(o, end);
    out_str(o, " (prio ");
    out_i32(o, mt_region_priority(r));
    out_str(o, ", ");
    if (mt_region_nonvolatile(r))
        out_str(o, "nv-");
    out_str(o, mt_dump_region_type(r));
    out_str(o, "): ");
    if (target) {
        uint64_t off = mt_region_alias_offset(r);
        out_str(o, "alias ");
        out_name(o, r);
        out_str(o, " @");
        out_name(o, target);
        out_char(o, ' ');
        out_hex16(o, off);
        out_char(o, '-');
        out_hex16(o, off + span);
    } else {
        out_name(o, r);
    }
    if (!enabled)
        out_str(o, " [disabled]");
    if (tp->flags & MT_DUMP_OWNER)
        out_owner(o, r);
    out_end_line(o);
    return start;
}

/* Prints r's line and pushes its children, sorted, as a new frame. */
static void visit(struct tree_printer *tp, mt_region *r, size_t level,
                  uint64_t base)
{
    uint64_t start = print_tree_line(tp, r, level, base);
    size_t begin = tp->nkids;
    size_t idx = 0;
    bool sorted = true;

    for (mt_region *c = mt_region_first_subregion(r); c;
         c = mt_region_next_sibling(c), idx++) {
        if (grow_array((void **)&tp->kids, &tp->capkids, tp->nkids + 1,
                       sizeof(*tp->kids))) {
            tp->err = -ENOMEM;
            return;
        }
        struct kid *k = &tp->kids[tp->nkids++];
        k->r = c;
        k->addr = mt_region_addr(c);
        k->prio = mt_region_priority(c);
        k->idx = idx;
        if (idx > 0 && kid_cmp(k - 1, k) > 0)
            sorted = false;
    }
    if (tp->nkids == begin)
        return; /* no frame for a leaf keeps the stack small */
    if (!sorted)
        qsort(tp->kids + begin, tp->nkids - begin, sizeof(*tp->kids), kid_cmp);
    if (grow_array((void **)&tp->frames, &tp->capframes, tp->nframes + 1,
                   sizeof(*tp->frames))) {
        tp->err = -ENOMEM;
        return;
    }
    tp->frames[tp->nframes++] = (struct frame){
        .begin = begin, .end = tp->nkids, .pos = begin,
        .base = start, .level = level + 1,
    };
}

/* Prints `top` at level 1 with base 0, then its whole subtree. */
static void print_subtree(struct tree_printer *tp, mt_region *top)
{
    visit(tp, top, 1, 0);
    while (tp->nframes && !tp->err && !tp->o->err) {
        struct frame *f = &tp->frames[tp->nframes - 1];
        if (f->pos == f->end) {
            tp->nkids = f->begin;
            tp->nframes--;
            continue;
        }
        mt_region *r = tp->kids[f->pos].r;
        size_t level = f->level;
        uint64_t base = f->base;
        f->pos++;
        /* visit may reallocate frames: f is dead from here on */
        visit(tp, r, level, base);
    }
    tp->nframes = 0;
    tp->nkids = 0;
}

/* One address space of the tree dump, with the keys it is sorted by. */
struct as_ent {
    mt_address_space *as;
    const char *name;
    size_t group; /* index of its AS root among distinct roots, first-met */
    size_t idx;   /* creation order */
};

static const char *as_name(const mt_address_space *as)
{
    const char *n = mt_address_space_name(as);
    return n ? n : "(null)";
}

static int as_ent_cmp(const void *a, const void *b)
{
    const struct as_ent *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int dump_tree(mt_context *ctx, struct dump_out *o, unsigned flags)
{
    struct tree_printer tp = {.o = o, .flags = flags};
    struct ptr_map groups = {0};
    struct as_ent *ents = NULL;
    size_t nents = 0, capents = 0, ngroups = 0;
    int err = 0;

    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        size_t group = ngroups;
        int ret = ptr_map_put(&groups, mt_address_space_root(as), ngroups,
                              &group);
        if (ret < 0 || grow_array((void **)&ents, &capents, nents + 1,
                                  sizeof(*ents))) {
            err = -ENOMEM;
            goto out;
        }
        if (ret == 1)
            ngroups++;
        ents[nents] = (struct as_ent){
            .as = as, .name = as_name(as), .group = group, .idx = nents,
        };
        nents++;
    }
    /* groups keep first-creation order; headers inside one sort by name */
    if (nents > 1)
        qsort(ents, nents, sizeof(*ents), as_ent_cmp);

    for (size_t i = 0; i < nents && !tp.err && !o->err;) {
        size_t j = i;
        for (; j < nents && ents[j].group == ents[i].group; j++) {
            out_str(o, "address-space: ");
            out_str(o, ents[j].name);
            out_end_line(o);
        }
        print_subtree(&tp, mt_address_space_root(ents[i].as));
        out_end_line(o);
        i = j;
    }
    /* printing a block may queue more targets, so re-read nqueue each time */
    for (size_t i = 0; i < tp.nqueue && !tp.err && !o->err; i++) {
        mt_region *target = tp.queue[i];
        out_str(o, "memory-region: ");
        out_name(o, target);
        out_end_line(o);
        print_subtree(&tp, target);
        out_end_line(o);
    }
    err = tp.err;
out:
    free(ents);
    ptr_map_free(&groups);
    free(tp.kids);
    free(tp.frames);
    free(tp.queue);
    ptr_map_free(&tp.queued);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Flat mode                                                                 */
/* ------------------------------------------------------------------------ */

static void print_as_line(struct dump_out *o, const mt_address_space *as)
{
    mt_region *root = mt_address_space_root(as);
    out_str(o, " AS \"");
    out_str(o, as_name(as));
    out_str(o, "\", root: ");
    out_name(o, root);
    mt_region *target = mt_region_alias_target(root);
    if (target) {
        /* the immediate target, as QEMU prints it, not the chain's end */
        out_str(o, ", alias ");
        out_name(o, target);
    }
    out_end_line(o);
}

static void print_range_line(struct dump_out *o, const mt_range *rg,
                             unsigned flags)
{
    const mt_region *r = rg->region;
    out_str(o, "  ");
    out_hex16(o, rg->start);
    out_char(o, '-');
    out_hex16(o, rg->last);
    out_str(o, " (prio ");
    out_i32(o, mt_region_priority(r));
    out_str(o, ", ");
    if (rg->nonvolatile)
        out_str(o, "nv-");
    out_str(o, mt_dump_range_type(rg));
    out_str(o, "): ");
    out_name(o, r);
    if (rg->offset_in_region) {
        out_str(o, " @");
        out_hex16(o, rg->offset_in_region);
    }
    if (flags & MT_DUMP_OWNER)
        out_owner(o, r);
    out_end_line(o);
}

static int dump_flat(mt_context *ctx, struct dump_out *o, unsigned flags)
{
    struct ptr_map view_index = {0};
    mt_view **views = NULL;           /* distinct views, first-use order */
    mt_address_space **ases = NULL;   /* creation order */
    size_t *as_view = NULL;           /* view index of each address space */
    size_t *by_view = NULL;           /* AS indexes grouped by view */
    size_t *first = NULL;             /* by_view offset of each view's group */
    size_t nviews = 0, capviews = 0, nas = 0, capas = 0, capasv = 0;
    int err = 0;

    for (mt_address_space *as = mt_context_first_address_space(ctx); as;
         as = mt_address_space_next(as)) {
        mt_view *v = mt_address_space_view(as);
        size_t vi = nviews;
        int ret = ptr_map_put(&view_index, v, nviews, &vi);
        if (ret < 0 ||
            grow_array((void **)&ases, &capas, nas + 1, sizeof(*ases)) ||
            grow_array((void **)&as_view, &capasv, nas + 1, sizeof(*as_view)) ||
            (ret == 1 && grow_array((void **)&views, &capviews, nviews + 1,
                                    sizeof(*views)))) {
            err = -ENOMEM;
            goto out;
        }
        if (ret == 1)
            views[nviews++] = v;
        ases[nas] = as;
        as_view[nas] = vi;
        nas++;
    }

    /* counting sort: each view's AS lines in creation order, in linear time
     * even with thousands of address spaces */
    by_view = malloc((nas ? nas : 1) * sizeof(*by_view));
    first = calloc(nviews + 1, sizeof(*first));
    if (!by_view || !first) {
        err = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < nas; i++)
        first[as_view[i] + 1]++;
    for (size_t v = 0; v < nviews; v++)
        first[v + 1] += first[v];
    for (size_t i = 0; i < nas; i++)
        by_view[first[as_view[i]]++] = i;
    /* the fill advanced each start to the next group's; shift them back */
    for (size_t v = nviews; v > 0; v--)
        first[v] = first[v - 1];
    first[0] = 0;

    for (size_t v = 0; v < nviews && !o->err; v++) {
        const mt_view *view = views[v];
        char num[24];
        snprintf(num, sizeof(num), "%zu", v);
        out_str(o, "FlatView #");
        out_str(o, num);
        out_end_line(o);
        for (size_t k = first[v]; k < first[v + 1]; k++)
            print_as_line(o, ases[by_view[k]]);
        out_str(o, " Root memory region: ");
        out_str(o, mt_view_root_name(view));
        out_end_line(o);
        if (mt_view_range_count(view) == 0) {
            out_str(o, "  No rendered FlatView");
            out_end_line(o);
        }
        mt_view_cursor c = MT_VIEW_CURSOR_INIT;
        for (const mt_range *r; (r = mt_view_next_range(view, &c)) != NULL;)
            print_range_line(o, r, flags);
        out_end_line(o);
    }
out:
    ptr_map_free(&view_index);
    free(views);
    free(ases);
    free(as_view);
    free(by_view);
    free(first);
    return err;
}

/* ------------------------------------------------------------------------ */

int mt_dump(mt_context *ctx, FILE *out, unsigned flags)
{
    if (!ctx)
        return -EINVAL;
    if (!out)
        return mt_context_report(ctx, -EINVAL, "mt_dump: no output stream");
    if (flags & ~(unsigned)(MT_DUMP_FLAT | MT_DUMP_DISABLED | MT_DUMP_OWNER))
        return mt_context_report(ctx, -EINVAL, "mt_dump: unknown flags 0x%x", flags);

    struct dump_out o = {.f = out};
    int err = (flags & MT_DUMP_FLAT) ? dump_flat(ctx, &o, flags)
                                     : dump_tree(ctx, &o, flags);
    out_flush(&o);
    if (!err)
        err = o.err;
    free(o.buf);
    /* flushing surfaces write errors now rather than at the caller's fclose */
    errno = 0;
    if (!err && fflush(out) != 0)
        err = errno ? -errno : -EIO;
    return err;
}
