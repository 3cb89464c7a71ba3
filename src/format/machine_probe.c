/*
 * Explaining one difference between a candidate machine's view and the
 * flat dump (machine_infer.h). A point query lists, in render order, every
 * region whose extent holds the address ("claimants"), children before
 * their parent; the first terminal one answers. Knowing which region the
 * flat dump names there says what to change: make it terminal, make an
 * earlier claimant a container, move it before an equal-priority sibling,
 * give a region of unsure size 0 or 1 the other size, set a readonly flag
 * on its path, or, when nothing else does, show an alias another of the
 * same-named regions it could target. Evidence only adds facts (locks), so
 * the caller's loop ends.
 */
#include "machine_infer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- point queries ----------------------------------------------------------------- */

static void push_claim(struct mt__infer *I, size_t rec, uint64_t off)
{
    mt__grow(&I->paths, &I->cappaths, I->npaths + I->nstack, sizeof(*I->paths));
    memcpy(I->paths + I->npaths, I->stack, I->nstack * sizeof(*I->stack));
    MT__PUSH(I->cl, I->ncl, I->capcl) = (struct mt__claim){rec, off, I->npaths, I->nstack};
    I->npaths += I->nstack;
}

static mt__i128 probe_size(const struct mt__mrec *r, bool probe)
{
    mt__i128 s = mt__mrec_size(r);
    return s == 0 && probe && (r->infer & MT__MI_SIZE_OPEN) ? 1 : s;
}

/* ---- which children hold an address ------------------------------------------------- */

/*
 * A point query must not look at every child of a container (thousands of
 * siblings made the inference quadratic): each container's children are
 * also kept sorted by start, as an implicit interval tree (the middle of
 * each halving heads it and records the largest end below it), so the
 * children holding an address are found in O(log n) plus one step per hit.
 * Extents are taken generously (an unsure size 0 counts as 1, so the index
 * stays right while sizes are settled); walk() checks exactly.
 */
static int cmp_kidx(const void *a, const void *b)
{
    const struct mt__kidx *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static mt__i128 head_maxend(struct mt__kidx *k, size_t lo, size_t hi)
{
    if (lo >= hi)
        return 0;
    size_t mid = lo + (hi - lo) / 2;
    mt__i128 l = head_maxend(k, lo, mid), r = head_maxend(k, mid + 1, hi);
    mt__i128 m = k[mid].end;
    m = l > m ? l : m;
    k[mid].maxend = r > m ? r : m;
    return k[mid].maxend;
}

void mt__infer_index(struct mt__infer *I)
{
    const struct mt__mdesc *d = I->d;
    size_t total = I->first[d->nr];
    free(I->kx);
    I->kx = mt__xmalloc((total ? total : 1) * sizeof(*I->kx));
    for (size_t k = 0; k < total; k++) {
        const struct mt__mrec *c = &d->r[I->kids[k]];
        mt__i128 size = mt__mrec_size(c);
        if (size == 0 && (c->infer & MT__MI_SIZE_OPEN))
            size = 1;
        I->kx[k] = (struct mt__kidx){(mt__i128)c->addr, (mt__i128)c->addr + size, 0, k};
    }
    for (size_t r = 0; r < d->nr; r++) {
        size_t lo = I->first[r], n = I->first[r + 1] - lo;
        if (n > 1)
            qsort(I->kx + lo, n, sizeof(*I->kx), cmp_kidx);
        head_maxend(I->kx, lo, lo + n);
    }
}

static void push_hit(struct mt__infer *I, size_t pos)
{
    MT__PUSH(I->hits, I->nhits, I->caphits) = pos;
}

/* Appends the kids[] positions of kx[lo..hi) holding `rel`. Depth is
 * log2 of a container's children: the recursion is shallow. */
static void stab(struct mt__infer *I, size_t lo, size_t hi, mt__i128 rel)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mt__kidx *k = &I->kx[mid];
        if (k->maxend <= rel)
            return;
        stab(I, lo, mid, rel);
        if (k->start > rel)
            return;
        if (k->end > rel)
            push_hit(I, k->pos);
        lo = mid + 1;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The rendering rules (docs/rendering.md, "The rules") for the single address A:
 * every region rendered there, children before their parent. `probe`
 * lets regions of unsure size 0 count as one byte. An alias reaching a
 * region already on the stack is a loop pass (docs/rendering.md, "Loops
 * through aliases"): it renders nothing when the region would start where
 * it already does (rule a; the flags are not compared here) or after 16
 * passes (rule b). */
static void walk(struct mt__infer *I, size_t r, mt__i128 base, uint64_t A, bool probe,
                 unsigned loops)
{
    const struct mt__mrec *rec = &I->d->r[r];
    if ((rec->flags & MT__MF_DISABLED) || I->nstack >= MT__MAX_DEPTH)
        return;
    base += rec->addr;
    if ((mt__i128)A < base || (mt__i128)A >= base + probe_size(rec, probe))
        return;
    I->stack_base[I->nstack] = base;
    I->stack[I->nstack++] = r;
    if (rec->kind == MT__MK_ALIAS) {
        MT__PUSH(I->al, I->nal, I->capal) = r;
        const struct mt__mrec *t = &I->d->r[rec->target];
        mt__i128 tbase = base - (mt__i128)rec->alias_offset;
        bool again = false, same = false;
        for (size_t k = 0; k < I->nstack; k++) {
            if (I->stack[k] == rec->target) {
                again = true;
                same |= I->stack_base[k] == tbase;
            }
        }
        if (!again || (!same && loops < 16))
            walk(I, rec->target, tbase - (mt__i128)t->addr, A, probe, loops + again);
    } else {
        /* the children holding A, in render order; nested walks append
         * after this container's hits, so they are read by index */
        size_t from = I->nhits;
        stab(I, I->first[r], I->first[r + 1], (mt__i128)A - base);
        size_t to = I->nhits;
        if (to - from > 1)
            qsort(I->hits + from, to - from, sizeof(*I->hits), cmp_size);
        for (size_t h = from; h < to; h++)
            walk(I, I->kids[I->hits[h]], base, A, probe, loops);
        I->nhits = from;
        push_claim(I, r, (uint64_t)((mt__i128)A - base));
    }
    I->nstack--;
}

static void query(struct mt__infer *I, size_t root, uint64_t A, bool probe)
{
    I->ncl = I->npaths = I->nstack = I->nal = 0;
    walk(I, root, 0, A, probe, 0);
}

/* Could this region, as it is now or once settled, print as type `t`? */
static bool type_fits(const struct mt__mrec *r, const char *t)
{
    if (!strncmp(t, "nv-", 3))
        t += 3;
    if (!strcmp(t, "rom"))
        return true; /* readonly anywhere on the path prints rom */
    switch ((enum mt__mkind)r->kind) {
    case MT__MK_RAM: return !strcmp(t, "ram");
    case MT__MK_ROMD: return !strcmp(t, (r->flags & MT__MF_ROMD_OFF) ? "i/o" : "romd");
    case MT__MK_RAMD: return !strcmp(t, "ramd");
    case MT__MK_CONTAINER: return (r->infer & MT__MI_KIND_OPEN) && !strcmp(t, "i/o");
    case MT__MK_IO:
    case MT__MK_IOMMU:
    case MT__MK_RESERVATION: return !strcmp(t, "i/o");
    default: return false;
    }
}

/* Does claimant c look like what the flat dump prints at A? */
static bool claim_matches(struct mt__infer *I, const struct mt__claim *c,
                          const struct mt__rng *e, uint64_t A)
{
    const struct mt__mrec *r = &I->d->r[c->rec];
    /* the tree dump prints every region's own nv- flag, so the range's is
     * known exactly: any on the path */
    bool nv = false;
    for (size_t k = 0; k < c->npath && !nv; k++)
        nv = I->d->r[I->paths[c->path + k]].flags & MT__MF_NONVOLATILE;
    return !strcmp(mt__rec_name(r), e->name) && r->prio == e->prio &&
           c->off == e->off + (A - e->start) && nv == !strncmp(e->type, "nv-", 3) &&
           type_fits(r, e->type);
}

/* ---- facts ------------------------------------------------------------------------- */

static bool can_touch(struct mt__infer *I, size_t r)
{
    if (I->touched[r])
        return false;
    I->touched[r] = true;
    I->fixes++;
    return true;
}

static void set_terminal(struct mt__infer *I, size_t r)
{
    struct mt__mrec *rec = &I->d->r[r];
    rec->kind = MT__MK_IO;
    I->lock[r] |= MT__LOCK_TERMINAL;
    rec->infer |= MT__MI_KIND_SET;
}

void mt__infer_unresolved(struct mt__infer *I, const char *fmt, ...)
{
    if (I->unresolved)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    I->unresolved = mt__xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(I->unresolved, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

/* One step of the flat-root descent (docs/views.md, "The flat-root") on the
 * description: the region to continue with, or MT__NONE with the result
 * (a region, or MT__NONE for none) in *result. */
static size_t descent_step(const struct mt__infer *I, size_t r, size_t *result)
{
    const struct mt__mdesc *d = I->d;
    const struct mt__mrec *rec = &d->r[r];
    *result = MT__NONE;
    if (rec->flags & MT__MF_DISABLED)
        return MT__NONE;
    *result = r;
    if (rec->flags & (MT__MF_READONLY | MT__MF_NONVOLATILE))
        return MT__NONE;
    if (rec->kind == MT__MK_ALIAS)
        return rec->alias_offset == 0 &&
                       mt__mrec_size(rec) >= mt__mrec_size(&d->r[rec->target])
                   ? rec->target : MT__NONE;
    if (mt__mrec_terminal(rec))
        return MT__NONE;
    size_t n = 0, only = MT__NONE;
    for (size_t k = I->first[r]; k < I->first[r + 1]; k++)
        if (!(d->r[I->kids[k]].flags & MT__MF_DISABLED))
            n++, only = I->kids[k];
    if (n == 0)
        *result = MT__NONE;
    if (n == 1 && d->r[only].addr == 0 && mt__mrec_size(&d->r[only]) <= mt__mrec_size(rec))
        return only;
    return MT__NONE;
}

/* The flat-root descent on the description. The regions it passes through
 * (not the result) go to path[0..*np) if given; *empty (if given) is the
 * container whose lack of enabled children made the result none, else
 * MT__NONE. Through an alias it can
 * come back to a region it passed: it stops at the first region it would
 * visit twice, which is the result (docs/views.md). Each step depends on
 * the region alone, so the regions form a chain that may end in a cycle:
 * Floyd's two walkers find where the cycle starts without marking. */
static size_t descend(struct mt__infer *I, size_t r, size_t *path, size_t *np, size_t *empty)
{
    size_t result, stop = MT__NONE; /* where the cycle starts, if any */
    if (empty)
        *empty = MT__NONE;
    for (size_t slow = r, fast = r;;) {
        if ((fast = descent_step(I, fast, &result)) == MT__NONE ||
            (fast = descent_step(I, fast, &result)) == MT__NONE)
            break;
        slow = descent_step(I, slow, &result);
        if (slow == fast) {
            for (stop = r; stop != slow;) {
                stop = descent_step(I, stop, &result);
                slow = descent_step(I, slow, &result);
            }
            break;
        }
    }
    for (;;) {
        if (r == stop)
            return r;
        size_t next = descent_step(I, r, &result);
        if (next == MT__NONE) {
            /* none, and not for being disabled: an empty container */
            if (empty && result == MT__NONE && !(I->d->r[r].flags & MT__MF_DISABLED))
                *empty = r;
            return result;
        }
        if (path)
            path[(*np)++] = r;
        r = next;
    }
}

/* The expected root is a region our descent went past, or ours should not
 * have stopped: the one kind change that can explain it. */
void mt__infer_fix_root(struct mt__infer *I, size_t as, const char *want)
{
    struct mt__mdesc *d = I->d;
    size_t *path = mt__xmalloc((d->nr + 1) * sizeof(*path)), np = 0;
    size_t empty;
    size_t res = descend(I, d->as[as].root, path, &np, &empty);
    /* an empty container renders nothing, so the descent gives none; if
     * the flat dump names it as the root, it is a terminal region that
     * answers everywhere it spans (an IOMMU region used as an address
     * space's root looks exactly like an empty bus in the tree dump) */
    if (empty != MT__NONE)
        path[np++] = empty;
    for (size_t k = 0; k < np && want; k++) {
        struct mt__mrec *rec = &d->r[path[k]];
        if (!strcmp(mt__rec_name(rec), want) && rec->kind == MT__MK_CONTAINER &&
            (rec->infer & MT__MI_KIND_OPEN)) {
            if (can_touch(I, path[k]))
                set_terminal(I, path[k]);
            free(path);
            return;
        }
    }
    free(path);
    if (res != MT__NONE && (d->r[res].infer & MT__MI_KIND_OPEN) &&
        d->r[res].kind == MT__MK_IO && !(I->lock[res] & MT__LOCK_TERMINAL)) {
        if (can_touch(I, res)) {
            d->r[res].kind = MT__MK_CONTAINER;
            d->r[res].infer |= MT__MI_KIND_SET;
        }
        return;
    }
    mt__infer_unresolved(I, "address space '%s': the flat dump's root is '%s', ours '%s'",
               d->as[as].name ? d->as[as].name : "(null)", want ? want : "(none)",
               res == MT__NONE ? "(none)" : mt__rec_name(&d->r[res]));
}

/* Marks every region a non-rom range passes through: none of them can have
 * its own readonly flag. So do wrappers the descent skips, because memtree
 * stops the descent at a readonly region (docs/views.md, "The flat-root"). */
static void compute_forbidden(struct mt__infer *I)
{
    const struct mt__mdesc *d = I->d;
    const struct mt__flat *f = I->f;
    memset(I->forbid_ro, 0, d->nr * sizeof(bool));
    size_t *path = mt__xmalloc((d->nr + 1) * sizeof(*path));
    for (size_t a = 0; a < d->nas; a++) {
        size_t np = 0;
        descend(I, d->as[a].root, path, &np, NULL);
        for (size_t k = 0; k < np; k++)
            I->forbid_ro[path[k]] = true;
        size_t fl = I->exp_of[a];
        size_t root = mt__machine_index_of(I->m, mt_view_root(
            mt_address_space_view(mt_machine_address_space(I->m, a))));
        if (fl == MT__NONE || root == MT__NONE)
            continue;
        const struct mt__fview *v = &f->v[f->as[fl].view];
        for (size_t k = 0; k < v->nranges; k++) {
            const struct mt__frange *e = &f->ranges[v->first_range + k];
            if (strstr(e->type, "rom") && !strstr(e->type, "romd"))
                continue;
            struct mt__rng er = {e->start, e->last, e->offset, e->prio, e->name, e->type};
            query(I, root, e->start, false);
            for (size_t c = 0; c < I->ncl; c++) {
                if (!mt__mrec_terminal(&d->r[I->cl[c].rec]))
                    continue;
                if (claim_matches(I, &I->cl[c], &er, e->start))
                    for (size_t p = 0; p < I->cl[c].npath; p++)
                        I->forbid_ro[I->paths[I->cl[c].path + p]] = true;
                break;
            }
        }
    }
    free(path);
    I->forbid_ready = true;
}

/* A range prints rom but ours does not: one readonly flag on its path, as
 * high as possible, where no non-rom range passes. */
static void fix_readonly(struct mt__infer *I, const struct mt__claim *c, const char *what)
{
    struct mt__mdesc *d = I->d;
    /* the forbidden set is found by queries that reuse the claim buffers */
    size_t np = c->npath;
    size_t *path = mt__xmalloc((np ? np : 1) * sizeof(*path));
    if (np)
        memcpy(path, I->paths + c->path, np * sizeof(*path));
    if (!I->forbid_ready)
        compute_forbidden(I);
    for (size_t k = 0; k < np; k++) {
        size_t r = path[k];
        struct mt__mrec *rec = &d->r[r];
        if (I->forbid_ro[r] || (rec->infer & MT__MI_RAM_TYPED) ||
            (rec->flags & MT__MF_READONLY))
            continue;
        if (can_touch(I, r)) {
            rec->flags |= MT__MF_READONLY;
            rec->infer |= MT__MI_RO_SET;
        }
        free(path);
        return;
    }
    free(path);
    mt__infer_unresolved(I, "%s: prints rom, and no region on its path can be read-only",
                         what);
}

/* The first sibling pair where two claimants' paths part. */
static bool parting(const struct mt__infer *I, const struct mt__claim *x,
                    const struct mt__claim *y,
                    size_t *xs, size_t *ys)
{
    size_t k = 0;
    while (k < x->npath && k < y->npath &&
           I->paths[x->path + k] == I->paths[y->path + k])
        k++;
    if (k == 0 || k == x->npath || k == y->npath)
        return false;
    *xs = I->paths[x->path + k];
    *ys = I->paths[y->path + k];
    return I->d->r[*xs].parent == I->d->r[*ys].parent && I->d->r[*xs].parent != MT__NONE;
}

/* Sibling xs is to render just before ys: recorded, and applied with the
 * round's other moves at its end (mt__infer_apply_moves), since renumbering
 * a container's siblings for each move is quadratic. */
static void move_before(struct mt__infer *I, size_t xs, size_t ys)
{
    mt__grow(&I->moves, &I->capmoves, I->nmoves + 1, sizeof(*I->moves));
    I->moves[I->nmoves][0] = xs;
    I->moves[I->nmoves++][1] = ys;
    I->lock[xs] |= MT__MOVED;
}

void mt__infer_apply_moves(struct mt__infer *I)
{
    if (!I->nmoves)
        return;
    struct mt__mdesc *d = I->d;
    size_t n = d->nr;
    /* each affected container's children as a linked list in render order */
    size_t *prev = mt__xmalloc(n * sizeof(*prev)), *next = mt__xmalloc(n * sizeof(*next));
    size_t *head = mt__xmalloc(n * sizeof(*head));
    bool *linked = mt__xcalloc(n, sizeof(bool));
    for (size_t m = 0; m < I->nmoves; m++) {
        size_t p = d->r[I->moves[m][0]].parent;
        if (linked[p])
            continue;
        linked[p] = true;
        size_t last = MT__NONE;
        head[p] = MT__NONE;
        for (size_t k = I->first[p]; k < I->first[p + 1]; k++) {
            size_t s = I->kids[k];
            prev[s] = last;
            next[s] = MT__NONE;
            if (last == MT__NONE)
                head[p] = s;
            else
                next[last] = s;
            last = s;
        }
    }
    for (size_t m = 0; m < I->nmoves; m++) {
        size_t x = I->moves[m][0], y = I->moves[m][1], p = d->r[x].parent;
        /* unlink x, then put it just before y */
        if (prev[x] == MT__NONE)
            head[p] = next[x];
        else
            next[prev[x]] = next[x];
        if (next[x] != MT__NONE)
            prev[next[x]] = prev[x];
        prev[x] = prev[y];
        next[x] = y;
        if (prev[y] == MT__NONE)
            head[p] = x;
        else
            next[prev[y]] = x;
        prev[y] = x;
    }
    for (size_t p = 0; p < n; p++) {
        if (!linked[p])
            continue;
        int64_t rank = 0;
        for (size_t s = head[p]; s != MT__NONE; s = next[s])
            d->r[s].rank = rank++;
    }
    free(prev);
    free(next);
    free(head);
    free(linked);
    I->nmoves = 0;
}

/* A terminal claimant Y renders before the region the flat dump names. */
static void fix_blocker(struct mt__infer *I, const struct mt__claim *x,
                        const struct mt__claim *y,
                        const char *what)
{
    struct mt__mdesc *d = I->d;
    size_t yr = y->rec;
    struct mt__mrec *yrec = &d->r[yr];
    size_t xs, ys;
    bool siblings = parting(I, x, y, &xs, &ys);
    /* siblings at one address print in render order: that order is known */
    bool movable = siblings && d->r[xs].prio == d->r[ys].prio &&
                   d->r[xs].addr != d->r[ys].addr;
    if ((yrec->infer & MT__MI_KIND_OPEN) && !(I->lock[yr] & MT__LOCK_TERMINAL)) {
        if (can_touch(I, yr)) {
            yrec->kind = MT__MK_CONTAINER;
            yrec->infer |= MT__MI_KIND_SET;
        }
    } else if (movable) {
        if (can_touch(I, xs) && can_touch(I, ys))
            move_before(I, xs, ys);
    } else if ((yrec->infer & MT__MI_SIZE_OPEN) && yrec->size == 1 &&
               !(I->lock[yr] & MT__LOCK_SIZE)) {
        if (can_touch(I, yr)) {
            yrec->size = 0;
            I->lock[yr] |= MT__LOCK_SIZE;
            yrec->infer |= MT__MI_SIZE_SET;
        }
    } else {
        mt__infer_unresolved(I, "%s: '%s' (line %u) renders first and nothing explains "
                             "why not",
                   what, mt__rec_name(yrec), yrec->line);
    }
}

/* Gives size 1 to every region of unsure size 0 on a claimant's path. */
static bool grow_path(struct mt__infer *I, const struct mt__claim *c)
{
    bool any = false;
    for (size_t k = 0; k < c->npath; k++) {
        size_t r = I->paths[c->path + k];
        struct mt__mrec *rec = &I->d->r[r];
        if ((rec->infer & MT__MI_SIZE_OPEN) && rec->size == 0 && !rec->size_full &&
            !(I->lock[r] & MT__LOCK_SIZE) && can_touch(I, r)) {
            rec->size = 1;
            I->lock[r] |= MT__LOCK_SIZE;
            rec->infer |= MT__MI_SIZE_SET;
            any = true;
        }
    }
    return any;
}

/* Nothing should answer at A, yet claimant z does. */
static void fix_extra(struct mt__infer *I, size_t root, uint64_t A, const char *what)
{
    struct mt__mdesc *d = I->d;
    query(I, root, A, false);
    const struct mt__claim *z = NULL;
    for (size_t c = 0; c < I->ncl && !z; c++)
        if (mt__mrec_terminal(&d->r[I->cl[c].rec]))
            z = &I->cl[c];
    if (!z) {
        mt__infer_unresolved(I, "%s: answered, but no region claims it", what);
        return;
    }
    /* an unsure one-byte region or window, deepest first */
    for (size_t k = z->npath; k-- > 0;) {
        size_t r = I->paths[z->path + k];
        struct mt__mrec *rec = &d->r[r];
        if ((rec->infer & MT__MI_SIZE_OPEN) && rec->size == 1 &&
            !(I->lock[r] & MT__LOCK_SIZE)) {
            if (can_touch(I, r)) {
                rec->size = 0;
                I->lock[r] |= MT__LOCK_SIZE;
                rec->infer |= MT__MI_SIZE_SET;
            }
            return;
        }
    }
    struct mt__mrec *zr = &d->r[z->rec];
    if ((zr->infer & MT__MI_KIND_OPEN) && !(I->lock[z->rec] & MT__LOCK_TERMINAL)) {
        if (can_touch(I, z->rec)) {
            zr->kind = MT__MK_CONTAINER;
            zr->infer |= MT__MI_KIND_SET;
        }
        return;
    }
    mt__infer_unresolved(I, "%s: the flat dump shows nothing, ours '%s' (line %u)", what,
               mt__rec_name(zr), zr->line);
}

/* Does the first terminal claimant at A print what the flat dump says? */
bool mt__infer_explained(struct mt__infer *I, size_t root, uint64_t A,
                         const struct mt__rng *e)
{
    query(I, root, A, false);
    for (size_t c = 0; c < I->ncl; c++)
        if (mt__mrec_terminal(&I->d->r[I->cl[c].rec]))
            return e && claim_matches(I, &I->cl[c], e, A);
    return e == NULL;
}

/* The type a claim's range prints, as the flat dump would print it. */
static const char *printed_type(const struct mt__infer *I, const struct mt__claim *c)
{
    const struct mt__mrec *r = &I->d->r[c->rec];
    bool ro = false, nv = false;
    for (size_t k = 0; k < c->npath; k++) {
        const struct mt__mrec *p = &I->d->r[I->paths[c->path + k]];
        ro |= (p->flags & MT__MF_READONLY) || p->kind == MT__MK_ROM;
        nv |= p->flags & MT__MF_NONVOLATILE;
    }
    const char *t = ro ? "rom" : r->kind == MT__MK_RAM ? "ram" : r->kind == MT__MK_RAMD
                    ? "ramd" : r->kind == MT__MK_ROMD && !(r->flags & MT__MF_ROMD_OFF)
                    ? "romd" : "i/o";
    if (!nv)
        return t;
    return !strcmp(t, "rom") ? "nv-rom" : !strcmp(t, "ram") ? "nv-ram" : !strcmp(t, "ramd")
           ? "nv-ramd" : !strcmp(t, "romd") ? "nv-romd" : "nv-i/o";
}

bool mt__infer_settled(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e)
{
    query(I, root, A, false);
    for (size_t c = 0; c < I->ncl; c++)
        if (mt__mrec_terminal(&I->d->r[I->cl[c].rec]))
            return e && claim_matches(I, &I->cl[c], e, A) &&
                   !strcmp(printed_type(I, &I->cl[c]), e->type);
    return e == NULL;
}

/* How many ranges of the expected view do not start as printed. */
static size_t view_score(struct mt__infer *I, size_t root)
{
    size_t bad = 0;
    for (size_t k = 0; k < I->nexp; k++)
        bad += !mt__infer_explained(I, root, I->exp[k].start, &I->exp[k]);
    return bad;
}

/*
 * Names repeat, so an alias may show the wrong one of several same-named
 * regions: tries the other candidates of every alias whose window holds A
 * and keeps the first that makes A print as the flat dump says.
 */
static bool try_targets(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e)
{
    struct mt__mdesc *d = I->d;
    query(I, root, A, true);
    size_t n = I->nal;
    size_t *als = mt__xmalloc((n ? n : 1) * sizeof(*als));
    if (n)
        memcpy(als, I->al, n * sizeof(*als));
    bool fixed = false;
    size_t before = SIZE_MAX;
    for (size_t i = 0; i < n && !fixed; i++) {
        size_t r = als[i];
        struct mt__mrec *rec = &d->r[r];
        if (rec->nalt < 2 || rec->tnote == MT__TN_OWNER || (I->lock[r] & MT__LOCK_TARGET) ||
            I->touched[r])
            continue;
        size_t cur = rec->target;
        for (size_t k = 0; k < rec->nalt && !fixed; k++) {
            if (rec->alt[k] == cur ||
                mt__desc_would_loop(I->d, I->first, I->kids, r, rec->alt[k]))
                continue;
            if (before == SIZE_MAX)
                before = view_score(I, root);
            rec->target = rec->alt[k];
            /* it must explain A without spoiling the rest of the view */
            if (mt__infer_explained(I, root, A, e) && view_score(I, root) <= before) {
                fixed = can_touch(I, r);
                I->lock[r] |= MT__LOCK_TARGET;
                rec->tnote = MT__TN_FLAT;
            } else {
                rec->target = cur;
            }
        }
    }
    free(als);
    return fixed;
}

/*
 * Several regions print alike (names repeat) and the first of them would
 * need to become terminal: pick the one whose change best explains the
 * whole view, not just this address. Returns the claim index to use.
 */
static size_t pick_answer(struct mt__infer *I, size_t root, uint64_t A,
                          const struct mt__rng *e,
                          size_t first)
{
    struct mt__mdesc *d = I->d;
    size_t cand[8], n = 0;
    for (size_t c = first; c < I->ncl && n < 8; c++) {
        struct mt__mrec *r = &d->r[I->cl[c].rec];
        if (claim_matches(I, &I->cl[c], e, A) &&
            (mt__mrec_terminal(r) || (r->infer & MT__MI_KIND_OPEN)))
            cand[n++] = I->cl[c].rec;
    }
    if (n < 2)
        return first;
    size_t best = cand[0], best_score = SIZE_MAX;
    for (size_t k = 0; k < n; k++) {
        struct mt__mrec *r = &d->r[cand[k]];
        uint8_t kind = r->kind;
        r->kind = MT__MK_IO;
        size_t score = view_score(I, root);
        r->kind = kind;
        if (score < best_score) {
            best_score = score;
            best = cand[k];
        }
    }
    /* the queries above reused the claim buffers: find it again */
    query(I, root, A, false);
    for (size_t c = 0; c < I->ncl; c++)
        if (I->cl[c].rec == best)
            return c;
    return first;
}

static void settle(struct mt__infer *I, const struct mt__rng *e, size_t x, const char *what);

/* One differing address of one view: find the change that explains it. */
static void diagnose_at(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e,
                     const char *what)
{
    struct mt__mdesc *d = I->d;
    if (!e) {
        fix_extra(I, root, A, what);
        return;
    }
    query(I, root, A, false);
    size_t x = MT__NONE;
    for (size_t c = 0; c < I->ncl && x == MT__NONE; c++)
        if (claim_matches(I, &I->cl[c], e, A))
            x = c;
    if (x != MT__NONE && !mt__mrec_terminal(&d->r[I->cl[x].rec]))
        x = pick_answer(I, root, A, e, x);
    if (x == MT__NONE) {
        /* maybe behind a window or region of unsure size 0 */
        query(I, root, A, true);
        for (size_t c = 0; c < I->ncl; c++)
            if (claim_matches(I, &I->cl[c], e, A) && grow_path(I, &I->cl[c]))
                return;
        mt__infer_unresolved(I, "%s: no region named '%s' can answer there", what, e->name);
        return;
    }
    settle(I, e, x, what);
}

/*
 * The flat dump says claim x (of the last query) answers: make it terminal,
 * or clear what renders before it, or fix how it prints.
 */
static void settle(struct mt__infer *I, const struct mt__rng *e, size_t x, const char *what)
{
    struct mt__mdesc *d = I->d;
    struct mt__claim *xc = &I->cl[x];
    struct mt__mrec *xr = &d->r[xc->rec];
    if (!mt__mrec_terminal(xr)) {
        if ((xr->infer & MT__MI_KIND_OPEN) && can_touch(I, xc->rec))
            set_terminal(I, xc->rec);
        else if (!(xr->infer & MT__MI_KIND_OPEN))
            mt__infer_unresolved(I, "%s: '%s' (line %u) answers in the flat dump but is "
                       "printed as a container", what, xr->name, xr->line);
        return;
    }
    I->lock[xc->rec] |= MT__LOCK_TERMINAL; /* seen answering: it terminates */
    xr->infer |= MT__MI_TERMINAL_SEEN;
    for (size_t c = 0; c < x; c++) {
        if (mt__mrec_terminal(&d->r[I->cl[c].rec])) {
            struct mt__claim y = I->cl[c];
            fix_blocker(I, xc, &y, what);
            return;
        }
    }
    /* the right region answers: the difference is in how it prints */
    if (strstr(e->type, "rom") && !strstr(e->type, "romd"))
        fix_readonly(I, xc, what);
    else
        mt__infer_unresolved(I, "%s: expected type %s", what, e->type);
}

/* The claim of region `rec` in the last query, or MT__NONE. */
static size_t claim_of(const struct mt__infer *I, size_t rec)
{
    for (size_t c = 0; c < I->ncl; c++)
        if (I->cl[c].rec == rec)
            return c;
    return MT__NONE;
}

/* The region answering first in the last query, or MT__NONE. */
static size_t answer(const struct mt__infer *I)
{
    for (size_t c = 0; c < I->ncl; c++)
        if (mt__mrec_terminal(&I->d->r[I->cl[c].rec]))
            return I->cl[c].rec;
    return MT__NONE;
}

/*
 * Every address prints alike but the ranges break differently, so a region
 * answers where a same-looking other one should: at the first break B,
 * either one expected range needs one region on both sides (ours changes
 * region), or two regions where ours has one.
 */
void mt__infer_diagnose_split(struct mt__infer *I, size_t root, const struct mt__rng *o,
                              size_t no,
                              const struct mt__rng *e, size_t ne, const char *what)
{
    size_t k = 0;
    while (k < no && k < ne && mt__same_rng(&o[k], &e[k]))
        k++;
    if (k == no || k == ne || o[k].start != e[k].start || o[k].last == e[k].last) {
        mt__infer_unresolved(I, "%s: the ranges are split differently", what);
        return;
    }
    const struct mt__rng *E;
    size_t X = MT__NONE;
    uint64_t P;
    if (o[k].last < e[k].last) {
        E = &e[k];
        uint64_t B = o[k].last + 1;
        size_t both[16], n = 0;
        query(I, root, B - 1, false);
        for (size_t c = 0; c < I->ncl && n < 16; c++)
            if (claim_matches(I, &I->cl[c], E, B - 1))
                both[n++] = I->cl[c].rec;
        query(I, root, B, false);
        for (size_t c = 0; c < I->ncl && X == MT__NONE; c++)
            for (size_t j = 0; j < n; j++)
                if (I->cl[c].rec == both[j] && claim_matches(I, &I->cl[c], E, B))
                    X = both[j];
        P = B;
        if (X != MT__NONE && answer(I) == X) {
            P = B - 1;
            query(I, root, P, false);
        }
    } else {
        if (k + 1 == ne || e[k + 1].start != e[k].last + 1) {
            mt__infer_unresolved(I, "%s: the ranges are split differently", what);
            return;
        }
        E = &e[k + 1];
        P = E->start;
        query(I, root, P, false);
        size_t ours = answer(I);
        for (size_t c = 0; c < I->ncl && X == MT__NONE; c++)
            if (I->cl[c].rec != ours && claim_matches(I, &I->cl[c], E, P))
                X = I->cl[c].rec;
    }
    size_t x = X == MT__NONE ? MT__NONE : claim_of(I, X);
    if (x == MT__NONE) {
        mt__infer_unresolved(I, "%s: the same addresses answer, but the ranges are split "
                   "differently and no same-looking region explains it", what);
        return;
    }
    settle(I, E, x, what);
}

void mt__infer_diagnose(struct mt__infer *I, size_t root, uint64_t A, const struct mt__rng *e,
                        const char *what)
{
    size_t fixes = I->fixes;
    bool had = I->unresolved != NULL;
    diagnose_at(I, root, A, e, what);
    /* targets are revisited only once nothing else changes: a wrong kind
     * elsewhere can make a wrong target look right */
    if (!I->swaps || I->fixes != fixes || !try_targets(I, root, A, e))
        return;
    if (!had) {
        /* the alias target explained what looked unexplainable */
        free(I->unresolved);
        I->unresolved = NULL;
    }
}

