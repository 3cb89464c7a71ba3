/*
 * From printed trees to the machine description: one record per region
 * (identity from mtree_identity.c, alias targets from mtree_targets.c),
 * with what each printed line says and documented guesses for the rest
 * (container versus MMIO, size 0 versus 1), readable unique file ids made
 * from the names, owners, and address spaces. Also the notes on what stays
 * guessed once the import is done.
 */
#include "mtree_parse.h"

#include <stdlib.h>
#include <string.h>

/* ---- the description --------------------------------------------------------------- */

/* A file id made from the name: readable, unique, no blanks. */
struct labels {
    struct mt__strset used;   /* labels given -> record */
    struct mt__strset bases;  /* base -> index into counts */
    char **base_keys;
    size_t *counts;
    size_t nbases, capkeys, capcounts;
};

static char *make_label(struct labels *L, const char *name, size_t rec)
{
    char base[72];
    size_t n = 0;
    for (const char *p = name ? name : "hidden"; *p && n < 64; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || strchr("._-/[]:+=,@()", c);
        base[n++] = ok ? (char)c : '_';
    }
    if (n == 0 || (n == 1 && base[0] == '-'))
        base[n++] = 'r';
    base[n] = '\0';
    size_t b = mt__strset_get(&L->bases, base);
    char *label;
    if (b == MT__NONE) {
        mt__grow(&L->base_keys, &L->capkeys, L->nbases + 1, sizeof(*L->base_keys));
        mt__grow(&L->counts, &L->capcounts, L->nbases + 1, sizeof(*L->counts));
        b = L->nbases++;
        L->base_keys[b] = mt__xstrdup(base);
        L->counts[b] = 1;
        mt__strset_put(&L->bases, L->base_keys[b], b);
        label = mt__xstrdup(base);
    } else {
        label = mt__xasprintf("%s~%zu", base, ++L->counts[b]);
    }
    /* `a~2` written by hand as a name could still collide: count on */
    while (mt__strset_get(&L->used, label) != MT__NONE) {
        free(label);
        label = mt__xasprintf("%s~%zu", base, ++L->counts[b]);
    }
    mt__strset_put(&L->used, label, rec);
    return label;
}

static void free_labels(struct labels *L)
{
    for (size_t i = 0; i < L->nbases; i++)
        free(L->base_keys[i]);
    free(L->base_keys);
    free(L->counts);
    mt__strset_free(&L->used);
    mt__strset_free(&L->bases);
}

static const uint8_t kind_of_type[] = {
    [MT__PT_RAM] = MT__MK_RAM,   [MT__PT_ROM] = MT__MK_ROM,
    [MT__PT_ROMD] = MT__MK_ROMD, [MT__PT_RAMD] = MT__MK_RAMD,
    [MT__PT_IO] = MT__MK_IO,     [MT__PT_CONTAINER] = MT__MK_CONTAINER,
};

/* What one printed line says about its region; the rest is guessed. */
static void fill_record(struct mt__mrec *r, const struct mt__occ *o)
{
    r->name = mt__xstrdup(o->name);
    r->line = o->line;
    r->prio = o->prio;
    r->kind = o->alias ? MT__MK_ALIAS : kind_of_type[o->type];
    if (o->hidden)
        r->infer |= MT__MI_HIDDEN;
    if (!o->alias && (o->type == MT__PT_RAM || o->type == MT__PT_ROM))
        r->infer |= MT__MI_RAM_TYPED;
    if (!o->alias && o->type == MT__PT_IO) {
        /* container or MMIO: childless regions are MMIO unless they span
         * 2^64 (an empty bus); the rest containers (machine_infer.c checks) */
        r->infer |= MT__MI_KIND_OPEN;
        bool bus = o->e - o->s == UINT64_MAX;
        r->kind = o->nkids || bus ? MT__MK_CONTAINER : MT__MK_IO;
    }
    if (o->disabled)
        r->flags |= MT__MF_DISABLED;
    if (o->nv)
        r->flags |= MT__MF_NONVOLATILE;
    uint64_t span = o->e - o->s;
    if (span == UINT64_MAX) {
        r->size_full = true;
    } else if (span == 0) {
        /* 0 or 1: closed windows are empty aliases, ports are one byte */
        r->infer |= MT__MI_SIZE_OPEN;
        r->size = o->alias ? 0 : 1;
    } else {
        r->size = span + 1;
    }
    r->alias_offset = o->os;
}

static int cmp_rep(const void *a, const void *b, void *ctx)
{
    const struct mt__tree *t = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (t->o[i].line != t->o[j].line)
        return t->o[i].line < t->o[j].line ? -1 : 1;
    return (i > j) - (i < j);
}

/* Names hide loops that the order of blocks did not rule out: an alias
 * whose chain of alias targets leads back to itself, which no machine can
 * build, takes another candidate of the same name. (An alias whose target
 * contains it is legal and renders, so it keeps its candidate.) */
static void break_loops(struct mt__mdesc *d)
{
    size_t *first, *kids;
    mt__desc_children(d, &first, &kids);
    for (size_t i = 0; i < d->nr; i++) {
        struct mt__mrec *r = &d->r[i];
        if (r->nalt < 2 || !mt__desc_would_loop(d, first, kids, i, r->target))
            continue;
        for (size_t k = 0; k < r->nalt; k++) {
            if (!mt__desc_would_loop(d, first, kids, i, r->alt[k])) {
                r->target = r->alt[k];
                r->tnote = MT__TN_GUESS;
                break;
            }
        }
    }
    free(first);
    free(kids);
}

/* A childless 2^64 `i/o` region is guessed an empty bus (a container),
 * except when it is an address space's root: there it is almost always an
 * IOMMU region (SPARC sun4m/sun4u, Alpha, PowerNV), which renders as one
 * range over the whole space, where an empty container would give no view
 * at all. docs/import.md lists this guess with the others. */
static void guess_root_kinds(struct mt__mdesc *d)
{
    bool *parent = mt__xcalloc(d->nr + 1, sizeof(bool));
    for (size_t i = 0; i < d->nr; i++)
        if (d->r[i].parent != MT__NONE)
            parent[d->r[i].parent] = true;
    for (size_t a = 0; a < d->nas; a++) {
        struct mt__mrec *r = &d->r[d->as[a].root];
        if ((r->infer & MT__MI_KIND_OPEN) && !(r->infer & MT__MI_HIDDEN) &&
            r->kind == MT__MK_CONTAINER && r->size_full && !parent[d->as[a].root])
            r->kind = MT__MK_IO;
    }
    free(parent);
}

int mt__tree_resolve(struct mt__tree *t, struct mt__mdesc *d)
{
    mt__tree_identity(t, d);
    size_t *cls_target = mt__xmalloc(t->no * sizeof(size_t));
    for (size_t i = 0; i < t->no; i++)
        cls_target[i] = MT__NONE;
    struct mt__kept K = {mt__xcalloc(t->no, 1), mt__xcalloc(t->no, sizeof(size_t *)),
                     mt__xcalloc(t->no, sizeof(size_t))};
    mt__tree_targets(t, d, cls_target, &K);
    /* block number -> the record of its top, once records exist */
    size_t *mr_top = mt__xmalloc((t->nb + 1) * sizeof(size_t)), nmr = 0;
    for (size_t b = 0; b < t->nb; b++)
        if (t->b[b].mr)
            mr_top[nmr++] = t->b[b].top;

    /* one record per class, in the order of their first printing */
    size_t *rep = mt__xmalloc(t->no * sizeof(size_t));
    size_t *nested = mt__xmalloc(t->no * sizeof(size_t));
    size_t *rec_of = mt__xmalloc(t->no * sizeof(size_t));
    size_t *order = mt__xmalloc(t->no * sizeof(size_t));
    size_t nclass = 0;
    for (size_t i = 0; i < t->no; i++)
        rep[i] = nested[i] = rec_of[i] = MT__NONE;
    for (size_t i = 0; i < t->no; i++) {
        size_t c = mt__occ_class(t, i);
        if (rep[c] == MT__NONE || cmp_rep(&i, &rep[c], t) < 0)
            rep[c] = i;
        if (t->o[i].parent != MT__NONE && nested[c] == MT__NONE)
            nested[c] = i;
    }
    for (size_t c = 0; c < t->no; c++)
        if (rep[c] != MT__NONE)
            order[nclass++] = rep[c];
    qsort_r(order, nclass, sizeof(size_t), cmp_rep, t);

    struct labels L = {0};
    struct mt__strset owners = {0};
    for (size_t k = 0; k < nclass; k++) {
        const struct mt__occ *o = &t->o[order[k]];
        rec_of[mt__occ_class(t, order[k])] = d->nr;
        struct mt__mrec *r = mt__desc_add_region(d);
        fill_record(r, o);
        r->label = make_label(&L, o->name, d->nr - 1);
        if (o->owner) {
            size_t ow = mt__strset_get(&owners, o->owner);
            if (ow == MT__NONE) {
                ow = mt__desc_add_owner(d, mt__xstrdup(o->owner));
                mt__strset_put(&owners, d->owners[ow], ow);
            }
            r->owner = ow;
        }
    }
    int err = 0;
    for (size_t k = 0; k < nclass && !err; k++) {
        size_t c = mt__occ_class(t, order[k]);
        struct mt__mrec *r = &d->r[rec_of[c]];
        const struct mt__occ *o = &t->o[rep[c]];
        if (nested[c] != MT__NONE) {
            const struct mt__occ *n = &t->o[nested[c]];
            r->parent = rec_of[mt__occ_class(t, n->parent)];
            r->addr = n->s - t->o[n->parent].s;
            r->rank = (int64_t)n->kid_pos;
        } else {
            r->addr = o->s; /* a top line prints its own address */
            r->rank = 0;
        }
        if (o->alias) {
            if (cls_target[c] == MT__NONE) {
                err = mt__fail(t->e, t->src->name, o->line, "cannot tell which "
                               "memory-region block alias '%s' targets", o->name);
                break;
            }
            r->target = rec_of[mt__occ_class(t, mr_top[cls_target[c]])];
            if (K.alt[c]) {
                r->tnote = K.how[c];
                r->nalt = K.nalt[c];
                r->alt = K.alt[c];
                K.alt[c] = NULL;
                for (size_t k = 0; k < r->nalt; k++)
                    r->alt[k] = rec_of[mt__occ_class(t, mr_top[r->alt[k]])];
            }
        }
    }
    for (size_t b = 0; b < t->nb && !err; b++) {
        if (t->b[b].mr)
            continue;
        for (size_t k = 0; k < t->b[b].nnames; k++) {
            struct mt__mspace *a = mt__desc_add_space(d);
            a->name = mt__xstrdup(t->b[b].names[k]);
            a->root = rec_of[mt__occ_class(t, t->b[b].top)];
            a->line = t->b[b].line;
        }
    }
    if (!err)
        guess_root_kinds(d);
    if (!err)
        break_loops(d);
    if (!err && t->nhidden)
        mt__desc_note(d, "hidden lines: %zu disabled region(s) not printed (a dump "
                      "without -D) stand in as disabled containers", t->nhidden);
    free_labels(&L);
    mt__strset_free(&owners);
    free(rep);
    free(nested);
    free(rec_of);
    free(order);
    free(cls_target);
    for (size_t i = 0; i < t->no; i++)
        free(K.alt[i]);
    free(K.alt);
    free(K.how);
    free(K.nalt);
    free(mr_top);
    return err;
}

/* ---- notes on what stays open ------------------------------------------------------ */

/* Up to a few examples, "'a' (line 3), 'b' (line 9), ...". */
static void examples(const struct mt__mdesc *d, const bool *pick, char *buf, size_t len)
{
    size_t n = 0, shown = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->nr; i++) {
        if (!pick[i])
            continue;
        if (shown < 4) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s'%s' (line %u)", shown ? ", " : "",
                     d->r[i].name ? d->r[i].name : "(null)", d->r[i].line);
            shown++;
        }
        n++;
    }
    if (n > shown) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, ", ...");
    }
}

/* Without a flat dump every open question is answered by a guess: one
 * warning per guessed region, naming it and its line. */
static void warn_guesses(struct mt__mdesc *d)
{
    for (size_t i = 0; i < d->nr; i++) {
        const struct mt__mrec *r = &d->r[i];
        const char *name = r->name ? r->name : "(null)";
        if ((r->infer & MT__MI_KIND_OPEN) && !(r->infer & MT__MI_HIDDEN))
            mt__desc_warn(d, "%s:%u: '%s' prints i/o: guessed %s (no flat dump to tell a "
                          "container from MMIO)", d->file, r->line, name,
                          mt__mrec_terminal(r) ? "MMIO" : "a container");
        if (r->infer & MT__MI_SIZE_OPEN)
            mt__desc_warn(d, "%s:%u: '%s' prints a one-address range: guessed size %s (no "
                          "flat dump to tell 0 from 1)", d->file, r->line, name,
                          r->size ? "1" : "0");
        if (r->tnote == MT__TN_GUESS || r->tnote == MT__TN_ORDER)
            mt__desc_warn(d, "%s:%u: alias '%s': guessed that it shows the region printed "
                          "on line %u, one of %zu of that name (no flat dump to check)",
                          d->file, r->line, name, d->r[r->target].line, r->nalt);
    }
    mt__desc_warn(d, "%s: the own readonly flags of aliases, containers and MMIO are not "
                  "in the tree dump: guessed off (no flat dump)", d->file);
}

/* Marks in pick[] the regions whose `open` question is still a guess: not
 * `settled`, and not seen answering in the flat dump (such a region is no
 * container and has at least one byte). Returns how many. */
static size_t pick_open(const struct mt__mdesc *d, bool *pick, uint8_t open, uint8_t settled)
{
    size_t n = 0;
    for (size_t i = 0; i < d->nr; i++) {
        uint8_t f = d->r[i].infer;
        pick[i] = (f & open) && !(f & (settled | MT__MI_TERMINAL_SEEN));
        n += pick[i];
    }
    return n;
}

void mt__qemu_note_open(struct mt__mdesc *d, bool with_flat)
{
    static const char *const how[] = {
        [MT__TN_OWNER] = "by owner",
        [MT__TN_ORDER] = "by the order of memory-region blocks",
        [MT__TN_GUESS] = "guess",
        [MT__TN_FLAT] = "from the flat dump",
    };
    for (size_t i = 0; i < d->nr; i++) {
        const struct mt__mrec *r = &d->r[i];
        if (r->tnote == MT__TN_NONE)
            continue;
        mt__desc_note(d, "alias target: '%s' (line %u) shows the region printed on "
                      "line %u, one of %zu of that name (%s)", r->name ? r->name : "(null)",
                      r->line, d->r[r->target].line, r->nalt, how[r->tnote]);
    }
    bool *pick = mt__xcalloc(d->nr + 1, sizeof(bool));
    char ex[512];
    size_t n = pick_open(d, pick, MT__MI_KIND_OPEN, MT__MI_KIND_SET);
    examples(d, pick, ex, sizeof(ex));
    if (n)
        mt__desc_note(d, "container vs MMIO: %zu `i/o` region(s) %s: childless ones are "
                      "MMIO unless 2^64 bytes, the others containers: %s", n,
                      with_flat ? "that the flat dump does not decide keep the guess"
                                : "guessed (no flat dump)", ex);
    n = pick_open(d, pick, MT__MI_SIZE_OPEN, MT__MI_SIZE_SET);
    examples(d, pick, ex, sizeof(ex));
    if (n)
        mt__desc_note(d, "size 0 vs 1: %zu region(s) printed X-X %s: aliases 0, the "
                      "others 1: %s", n, with_flat ? "that the flat dump does not decide"
                      : "guessed (no flat dump)", ex);
    free(pick);
    if (!with_flat) {
        mt__desc_note(d, "readonly: the tree dump does not print the own readonly flag "
                      "of aliases, containers and MMIO; assumed off (no flat dump)");
        warn_guesses(d);
    }
}
