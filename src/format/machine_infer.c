/*
 * Settling what a QEMU tree dump does not say (docs/import.md, "The
 * inferences") by matching the flat dump of the same machine: container
 * versus MMIO for `i/o` regions, own readonly flags of aliases, containers
 * and MMIO, the render order of equal-priority overlapping siblings, size 0
 * versus 1, and alias targets among same-named regions.
 *
 * The loop: build the candidate machine in a private context, render it,
 * compare every address space's view with the flat dump, and have each
 * difference explained and fixed (machine_probe.c); repeat until the views
 * match or nothing more changes. Alias targets are revisited only when a
 * round changes nothing else. Every settled fact, and what still differs,
 * becomes a note on the description.
 */
#include "machine_infer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- views as range lists ---------------------------------------------------------- */

static const char *region_type(const mt_range *g)
{
    const mt_region *r = g->region;
    if (g->readonly)
        return g->nonvolatile ? "nv-rom" : "rom";
    const char *t = "i/o";
    switch (mt_region_get_kind(r)) {
    case MT_KIND_RAM_DEVICE: t = "ramd"; break;
    case MT_KIND_ROM_DEVICE: t = g->romd_mode ? "romd" : "i/o"; break;
    case MT_KIND_RAM: t = "ram"; break;
    default: break;
    }
    if (!g->nonvolatile)
        return t;
    return !strcmp(t, "ramd") ? "nv-ramd" : !strcmp(t, "romd") ? "nv-romd"
         : !strcmp(t, "ram") ? "nv-ram" : "nv-i/o";
}

static struct mt__rng *our_ranges(const mt_view *v, size_t *n)
{
    *n = mt_view_range_count(v);
    const mt_range *g = mt_view_ranges(v);
    struct mt__rng *out = mt__xmalloc((*n ? *n : 1) * sizeof(*out));
    for (size_t i = 0; i < *n; i++) {
        const char *name = mt_region_name(g[i].region);
        out[i] = (struct mt__rng){g[i].start, g[i].last, g[i].offset_in_region,
                              mt_region_priority(g[i].region), name ? name : "(null)",
                              region_type(&g[i])};
    }
    return out;
}

static struct mt__rng *exp_ranges(const struct mt__flat *f, size_t view, size_t *n)
{
    const struct mt__fview *v = &f->v[view];
    *n = v->nranges;
    struct mt__rng *out = mt__xmalloc((*n ? *n : 1) * sizeof(*out));
    for (size_t i = 0; i < *n; i++) {
        const struct mt__frange *r = &f->ranges[v->first_range + i];
        out[i] = (struct mt__rng){r->start, r->last, r->offset, r->prio, r->name, r->type};
    }
    return out;
}

static bool same_view(const mt_view *v, const struct mt__flat *f, size_t fv)
{
    const char *er = f->v[fv].root ? f->v[fv].root : "(none)";
    if (strcmp(mt_view_root_name(v), er))
        return false;
    size_t n, m;
    struct mt__rng *a = our_ranges(v, &n), *b = exp_ranges(f, fv, &m);
    bool same = n == m;
    for (size_t i = 0; same && i < n; i++)
        same = mt__same_rng(&a[i], &b[i]);
    free(a);
    free(b);
    return same;
}

/* The range of `r` (n of them, sorted) holding A, or NULL; *i advances. */
static const struct mt__rng *at(const struct mt__rng *r, size_t n, size_t *i, uint64_t A)
{
    while (*i < n && r[*i].last < A)
        (*i)++;
    return *i < n && r[*i].start <= A ? &r[*i] : NULL;
}

static bool same_at(const struct mt__rng *a, const struct mt__rng *b, uint64_t A)
{
    if (!a || !b)
        return a == b;
    return !strcmp(a->name, b->name) && a->prio == b->prio &&
           !strcmp(a->type, b->type) && a->off + (A - a->start) == b->off + (A - b->start);
}

/*
 * The first address >= *from where the two range lists print differently.
 * Returns false when there is none from there on. *i and *j are cursors into
 * the lists (start them at 0): successive calls with growing *from resume
 * where the last one stopped, so a whole view is compared in linear time.
 */
static bool next_diff(const struct mt__rng *o, size_t no, const struct mt__rng *e, size_t ne,
                      uint64_t *from, size_t *cur_o, size_t *cur_e)
{
    size_t i = *cur_o, j = *cur_e;
    mt__u128 A = *from;
    while (A <= UINT64_MAX) {
        const struct mt__rng *x = at(o, no, &i, (uint64_t)A), *y = at(e, ne, &j, (uint64_t)A);
        if (!same_at(x, y, (uint64_t)A)) {
            *from = (uint64_t)A;
            *cur_o = i;
            *cur_e = j;
            return true;
        }
        mt__u128 nx = x ? (mt__u128)x->last + 1 : i < no ? o[i].start : MT__2_64;
        mt__u128 ny = y ? (mt__u128)y->last + 1 : j < ne ? e[j].start : MT__2_64;
        A = nx < ny ? nx : ny;
    }
    return false;
}

/* ---- matching address spaces ------------------------------------------------------- */

/* What the flat dump prints after `root: ` for one of our address spaces. */
static char *root_text(const struct mt__mdesc *d, size_t as)
{
    const struct mt__mrec *r = &d->r[d->as[as].root];
    if (r->kind == MT__MK_ALIAS)
        return mt__xasprintf("%s, alias %s", mt__rec_name(r), mt__rec_name(&d->r[r->target]));
    return mt__xstrdup(mt__rec_name(r));
}

/*
 * Pairs our address spaces with the flat dump's AS lines: same name and
 * root text, exact views first (names repeat, so several may fit), then by
 * name alone for what is left.
 */
static void match_spaces(struct mt__infer *I)
{
    const struct mt__mdesc *d = I->d;
    const struct mt__flat *f = I->f;
    bool *used = mt__xcalloc(f->nas + 1, sizeof(bool));
    char **rt = mt__xmalloc((d->nas + 1) * sizeof(char *));
    for (size_t a = 0; a < d->nas; a++) {
        rt[a] = root_text(d, a);
        I->exp_of[a] = MT__NONE;
    }
    for (int pass = 0; pass < 4; pass++) {
        for (size_t a = 0; a < d->nas; a++) {
            if (I->exp_of[a] != MT__NONE)
                continue;
            const char *name = d->as[a].name ? d->as[a].name : "(null)";
            const mt_view *v = mt_address_space_view(mt_machine_address_space(I->m, a));
            for (size_t k = 0; k < f->nas; k++) {
                const struct mt__fspace *s = &f->as[k];
                if ((pass < 3 && used[k]) || strcmp(s->name, name) ||
                    (pass < 2 && strcmp(s->root_text, rt[a])) ||
                    (pass == 0 && !same_view(v, f, s->view)))
                    continue;
                I->exp_of[a] = k;
                used[k] = true;
                break;
            }
        }
    }
    for (size_t a = 0; a < d->nas; a++)
        free(rt[a]);
    free(rt);
    free(used);
}

/* ---- one round --------------------------------------------------------------------- */

/* Compares every view; diagnoses differences. Returns how many spaces differ. */
static size_t compare_round(struct mt__infer *I)
{
    struct mt__mdesc *d = I->d;
    const struct mt__flat *f = I->f;
    size_t differ = 0;
    match_spaces(I);
    /* one diagnosis per pair of (our view, expected view) */
    const mt_view **seen_v = mt__xcalloc(d->nas + 1, sizeof(*seen_v));
    size_t *seen_e = mt__xcalloc(d->nas + 1, sizeof(*seen_e));
    size_t nseen = 0;
    for (size_t a = 0; a < d->nas; a++) {
        const mt_view *v = mt_address_space_view(mt_machine_address_space(I->m, a));
        size_t fl = I->exp_of[a];
        const char *asn = d->as[a].name ? d->as[a].name : "(null)";
        if (fl == MT__NONE) {
            differ++;
            mt__infer_unresolved(I, "address space '%s' is not in the flat dump", asn);
            continue;
        }
        size_t fv = f->as[fl].view;
        if (same_view(v, f, fv)) {
            /* every region answering here is proven terminal */
            for (size_t k = 0; k < mt_view_range_count(v); k++) {
                size_t r = mt__machine_index_of(I->m, mt_view_ranges(v)[k].region);
                if (r != MT__NONE)
                    d->r[r].infer |= MT__MI_TERMINAL_SEEN;
            }
            continue;
        }
        differ++;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = seen_v[k] == v && seen_e[k] == fv;
        if (dup)
            continue;
        seen_v[nseen] = v;
        seen_e[nseen++] = fv;
        const char *want = f->v[fv].root;
        if (strcmp(mt_view_root_name(v), want ? want : "(none)")) {
            mt__infer_fix_root(I, a, want);
            continue;
        }
        size_t root = mt__machine_index_of(I->m, mt_view_root(v));
        size_t no, ne;
        struct mt__rng *o = our_ranges(v, &no), *e = exp_ranges(f, fv, &ne);
        uint64_t A = 0;
        size_t i = 0, j = 0, fixes = I->fixes;
        bool found = false;
        I->exp = e;
        I->nexp = ne;
        /* every difference of the view in one round, so that the rounds do
         * not grow with the machine; once something changed, a difference
         * that the changes already explain is left alone */
        while (root != MT__NONE && next_diff(o, no, e, ne, &A, &i, &j)) {
            found = true;
            const struct mt__rng *er = at(e, ne, &j, A);
            if (I->fixes == fixes || !mt__infer_settled(I, root, A, er)) {
                char what[256];
                snprintf(what, sizeof(what), "address space '%s' at %016" PRIx64, asn, A);
                mt__infer_diagnose(I, root, A, er, what);
            }
            /* skip to where this difference ends */
            const struct mt__rng *orr = at(o, no, &i, A);
            mt__u128 end = er ? (mt__u128)er->last + 1 : orr ? (mt__u128)orr->last + 1
                                                            : (mt__u128)A + 1;
            if (end > UINT64_MAX)
                break;
            A = (uint64_t)end;
        }
        if (!found && root != MT__NONE) {
            char what[256];
            snprintf(what, sizeof(what), "address space '%s'", asn);
            mt__infer_diagnose_split(I, root, o, no, e, ne, what);
        }
        free(o);
        free(e);
    }
    free(seen_v);
    free(seen_e);
    return differ;
}

static void quiet(void *opaque, const char *message)
{
    (void)opaque;
    (void)message;
}

/* ---- notes ------------------------------------------------------------------------- */

static void note_facts(struct mt__infer *I, size_t differ)
{
    struct mt__mdesc *d = I->d;
    /* each child's place in kids[], to name the sibling after a moved one */
    size_t *pos = mt__xmalloc((d->nr ? d->nr : 1) * sizeof(*pos));
    for (size_t k = 0; k < I->first[d->nr]; k++)
        pos[I->kids[k]] = k;
    for (size_t r = 0; r < d->nr; r++) {
        struct mt__mrec *rec = &d->r[r];
        if (rec->infer & MT__MI_KIND_SET)
            mt__desc_note(d, "container vs MMIO: '%s' (line %u) %s (from the flat dump)",
                          mt__rec_name(rec), rec->line, mt__mrec_terminal(rec)
                          ? "renders its own holes: MMIO" : "renders nothing itself: "
                          "a container");
        if (rec->infer & MT__MI_RO_SET)
            mt__desc_note(d, "readonly: '%s' (line %u) is read-only (its ranges print "
                          "rom in the flat dump)", mt__rec_name(rec), rec->line);
        if (rec->infer & MT__MI_SIZE_SET)
            mt__desc_note(d, "size: '%s' (line %u) is %" PRIu64 " byte%s (from the flat "
                          "dump)", mt__rec_name(rec), rec->line, rec->size,
                          rec->size == 1 ? "" : "s");
        if (I->lock[r] & MT__MOVED) {
            /* name the sibling it now renders before */
            size_t k = pos[r];
            const char *next = k + 1 < I->first[rec->parent + 1]
                               ? mt__rec_name(&d->r[I->kids[k + 1]]) : NULL;
            mt__desc_note(d, "render order: '%s' (line %u) renders before '%s' in '%s' "
                          "(from the flat dump)", mt__rec_name(rec), rec->line,
                          next ? next : "?", mt__rec_name(&d->r[rec->parent]));
        }
    }
    free(pos);
    if (differ)
        mt__desc_note(d, "flat dump: %zu address space(s) still differ; first: %s",
                      differ, I->unresolved ? I->unresolved : "(no diagnosis)");
    else
        mt__desc_note(d, "flat dump: every view matches");
}

/* Our address spaces in the flat dump's order, so dumps come out alike. */
static void order_spaces(struct mt__infer *I)
{
    struct mt__mdesc *d = I->d;
    size_t n = d->nas;
    struct mt__mspace *sorted = mt__xmalloc((n ? n : 1) * sizeof(*sorted));
    bool *done = mt__xcalloc(n + 1, sizeof(bool));
    size_t k = 0;
    for (size_t fl = 0; fl < I->f->nas; fl++)
        for (size_t a = 0; a < n; a++)
            if (!done[a] && I->exp_of[a] == fl) {
                sorted[k++] = d->as[a];
                done[a] = true;
            }
    for (size_t a = 0; a < n; a++)
        if (!done[a])
            sorted[k++] = d->as[a];
    if (n)
        memcpy(d->as, sorted, n * sizeof(*sorted));
    free(sorted);
    free(done);
}

static void refresh_children(struct mt__infer *I)
{
    free(I->first);
    free(I->kids);
    mt__desc_children(I->d, &I->first, &I->kids);
    mt__infer_index(I);
}

/* Does the flat dump describe this machine at all? At least half of our
 * address space names must appear in it; otherwise "evidence" would
 * rewrite the machine after another one. */
static bool same_machine(const struct mt__mdesc *d, const struct mt__flat *f)
{
    struct mt__strset names = {0};
    for (size_t k = 0; k < f->nas; k++)
        mt__strset_put(&names, f->as[k].name, k);
    size_t found = 0;
    for (size_t a = 0; a < d->nas; a++)
        found += mt__strset_get(&names, d->as[a].name ? d->as[a].name : "(null)") != MT__NONE;
    mt__strset_free(&names);
    return 2 * found >= d->nas;
}

/* One range as a warning shows it. */
static void describe(char *buf, size_t len, const struct mt__rng *r)
{
    if (!r)
        snprintf(buf, len, "nothing");
    else if (r->off)
        snprintf(buf, len, "'%s' (prio %d, %s) @%016" PRIx64, r->name, r->prio, r->type,
                 r->off);
    else
        snprintf(buf, len, "'%s' (prio %d, %s)", r->name, r->prio, r->type);
}

/* The first place where address space `a` differs from its flat view. */
static void warn_view(struct mt__infer *I, size_t a, const mt_view *v, size_t fv)
{
    struct mt__mdesc *d = I->d;
    const struct mt__flat *f = I->f;
    const char *asn = d->as[a].name ? d->as[a].name : "(null)";
    const char *want = f->v[fv].root ? f->v[fv].root : "(none)";
    if (strcmp(mt_view_root_name(v), want)) {
        mt__desc_warn(d, "%s:%u: address space '%s' (%s:%u): the flat dump's root is "
                      "'%s', memtree renders '%s'", f->file, f->v[fv].line, asn, d->file,
                      d->as[a].line, want, mt_view_root_name(v));
        return;
    }
    size_t no, ne;
    struct mt__rng *o = our_ranges(v, &no), *e = exp_ranges(f, fv, &ne);
    uint64_t A = 0;
    size_t i = 0, j = 0;
    if (next_diff(o, no, e, ne, &A, &i, &j)) {
        const struct mt__rng *x = at(o, no, &i, A), *y = at(e, ne, &j, A);
        char ours[512], theirs[512], where[1024] = "";
        describe(ours, sizeof(ours), x);
        describe(theirs, sizeof(theirs), y);
        if (x) {
            size_t r = mt__machine_index_of(I->m, mt_view_ranges(v)[i].region);
            if (r != MT__NONE)
                snprintf(where, sizeof(where), " (%s:%u)", d->file, d->r[r].line);
        }
        mt__desc_warn(d, "%s:%u: address space '%s' at %016" PRIx64 ": the flat dump "
                      "prints %s, memtree renders %s%s", f->file,
                      y ? f->ranges[f->v[fv].first_range + j].line : f->v[fv].line, asn, A,
                      theirs, ours, where);
    } else {
        mt__desc_warn(d, "%s:%u: address space '%s': the same addresses answer, but the "
                      "flat dump splits the ranges differently", f->file, f->v[fv].line,
                      asn);
    }
    free(o);
    free(e);
}

/* The final check: warns about every address space whose view is not the
 * flat dump's, on the machine of the last round when nothing changed
 * since, else on a new build of the description as it now stands. */
static void warn_differences(struct mt__infer *I, bool rebuild)
{
    struct mt__mdesc *d = I->d;
    const struct mt__flat *f = I->f;
    if (rebuild) {
        struct mt__err scratch;
        refresh_children(I);
        if (mt__machine_build_trial(I->ctx, d, &I->m, &scratch))
            return; /* the final build reports it */
        match_spaces(I);
    }
    bool *used = mt__xcalloc(f->nas + 1, sizeof(bool));
    for (size_t a = 0; a < d->nas; a++) {
        const mt_view *v = mt_address_space_view(mt_machine_address_space(I->m, a));
        size_t fl = I->exp_of[a];
        if (fl == MT__NONE) {
            mt__desc_warn(d, "%s:%u: address space '%s' is not in the flat dump %s",
                          d->file, d->as[a].line, d->as[a].name ? d->as[a].name : "(null)",
                          f->file);
            d->flat_differs = true;
            continue;
        }
        used[fl] = true;
        if (!same_view(v, f, f->as[fl].view)) {
            warn_view(I, a, v, f->as[fl].view);
            d->flat_differs = true;
        }
    }
    for (size_t k = 0; k < f->nas; k++) {
        if (used[k])
            continue;
        mt__desc_warn(d, "%s:%u: address space '%s' is not in the tree dump %s", f->file,
                      f->as[k].line, f->as[k].name, d->file);
        d->flat_differs = true;
    }
    free(used);
    if (rebuild) {
        mt_machine_free(I->m);
        I->m = NULL;
    }
}

int mt__infer_from_flat(struct mt__mdesc *d, const struct mt__flat *f, struct mt__err *e)
{
    (void)e;
    if (!same_machine(d, f)) {
        mt__desc_note(d, "flat dump ignored: most address spaces of the tree dump are "
                      "not in it (a dump of another machine?)");
        mt__desc_warn(d, "%s: ignored: most address spaces of %s are not in it (a dump of "
                      "another machine?)", f->file, d->file);
        d->flat_differs = true;
        return 0;
    }
    struct mt__infer I = {.d = d, .f = f};
    size_t n = d->nr ? d->nr : 1;
    I.lock = mt__xcalloc(n, 1);
    I.touched = mt__xcalloc(n, sizeof(bool));
    I.forbid_ro = mt__xcalloc(n, sizeof(bool));
    I.exp_of = mt__xcalloc(d->nas + 1, sizeof(size_t));
    I.stack = mt__xmalloc((MT__MAX_DEPTH + 1) * sizeof(size_t));
    I.stack_base = mt__xmalloc((MT__MAX_DEPTH + 1) * sizeof(mt__i128));
    I.ctx = mt_context_new();
    mt_context_set_diag(I.ctx, quiet, NULL);
    size_t differ = 0, rounds = 64 + 4 * d->nr;
    bool built = false, compared = false, warned = false;
    for (size_t round = 0; round < rounds; round++) {
        refresh_children(&I);
        struct mt__err scratch;
        if (mt__machine_build_trial(I.ctx, d, &I.m, &scratch))
            break; /* the final build reports it */
        built = true;
        memset(I.touched, 0, n * sizeof(bool));
        I.forbid_ready = false;
        I.fixes = 0;
        free(I.unresolved);
        I.unresolved = NULL;
        I.swaps = false;
        differ = compare_round(&I);
        if (differ && I.fixes == 0) {
            I.swaps = true;
            free(I.unresolved);
            I.unresolved = NULL;
            differ = compare_round(&I);
        }
        compared = true;
        /* nothing changed: this machine is the final one, check it */
        bool last = differ == 0 || I.fixes == 0;
        if (last) {
            warn_differences(&I, false);
            warned = true;
        }
        mt__infer_apply_moves(&I);
        mt_machine_free(I.m);
        I.m = NULL;
        if (last)
            break;
    }
    if (built && !warned)
        warn_differences(&I, true);
    if (compared)
        order_spaces(&I);
    refresh_children(&I);
    if (built)
        note_facts(&I, differ);
    mt_context_free(I.ctx);
    free(I.first);
    free(I.kids);
    free(I.kx);
    free(I.hits);
    free(I.moves);
    free(I.lock);
    free(I.touched);
    free(I.forbid_ro);
    free(I.exp_of);
    free(I.stack);
    free(I.stack_base);
    free(I.cl);
    free(I.al);
    free(I.paths);
    free(I.unresolved);
    return 0;
}
