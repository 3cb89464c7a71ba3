/*
 * The eventfds listeners hear of (docs/listeners.md, "Eventfds"): each
 * address space with listeners keeps the set it told them, and a commit
 * sends the difference between that set and what its new view shows.
 *
 * A commit reads again only the part of the view that can show something
 * else: the chunks the new view does not share with the old one, and the
 * chunks where a region whose eventfds changed shows. Where that is, a
 * walk finds: from the region up through its containers and across its
 * aliases to each flat-root, the region's extent moved into the flat-
 * root's addresses. The entries of the set remember the range that
 * showed them (`from`), so the part read again replaces exactly the
 * entries it brought last time: no region's old eventfds are needed.
 */
#include "internal.h"

#include <stdlib.h>

/* ---- the changed regions ---------------------------------------------------- */

void mt__eventfds_note_change(mt_region *r)
{
    mt_context *ctx = r->ctx_;
    ctx->fds_changes++;
    struct mt__region_rare *x = mt__rare(r);
    if (x->fds_listed)
        return;
    x->fds_listed = true;
    MT__PUSH(ctx->fds_changed, ctx->nfds_changed, ctx->fds_changed_cap) = r;
}

void mt__eventfds_forget(mt_region *r)
{
    /* A finalised region leaves every view, so the chunks where it showed
     * differ from the old view's and are read again anyway; its storage
     * may be freed before the commit, so the walk must not start there. */
    if (!r->rare_ || !r->rare_->fds_listed)
        return;
    mt_context *ctx = r->ctx_;
    r->rare_->fds_listed = false;
    for (size_t i = 0; i < ctx->nfds_changed; i++)
        if (ctx->fds_changed[i] == r) {
            ctx->fds_changed[i] = ctx->fds_changed[--ctx->nfds_changed];
            break;
        }
    if (!ctx->nfds_changed)
        mt__eventfds_tracking_free(ctx); /* nothing held between commits */
}

void mt__eventfds_tracking_free(mt_context *ctx)
{
    free(ctx->fds_changed);
    ctx->fds_changed = NULL;
    ctx->nfds_changed = ctx->fds_changed_cap = 0;
}

/* ---- where they show ---------------------------------------------------------- */

/* A changed region's extent in the addresses of a flat-root. */
struct fds_hit {
    const mt_region *root;
    uint64_t lo, last;
};

struct mt__fds_pass {
    uint64_t changes;        /* ctx->fds_changes when the pass began */
    bool everywhere;         /* the walks outgrew their budget: read every set whole */
    struct fds_hit *hits;    /* sorted by flat-root */
    size_t nhits, hits_cap;
};

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (const mt_region *const *)a;
    uintptr_t y = (uintptr_t) * (const mt_region *const *)b;
    return x < y ? -1 : x > y;
}

static int hit_cmp(const void *a, const void *b)
{
    const struct fds_hit *x = a, *y = b;
    if (x->root != y->root)
        return (uintptr_t)x->root < (uintptr_t)y->root ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static bool is_root(const mt_region *r, const mt_region *const *roots, size_t n)
{
    return bsearch(&r, roots, n, sizeof(*roots), ptr_cmp) != NULL;
}

struct walk_item {
    mt_region *r;
    mt__i128 lo, last; /* in r's own offsets */
};

/*
 * Where `start` shows: its whole extent carried up through each container
 * (shifted by the place it is mapped at, cut to the container's extent,
 * as rendering cuts it) and across each alias of what it reaches (the
 * alias's window of its target). A path can show a region at most once
 * per flat-root; several paths give several hits. Returns false if the
 * walk took more than `*budget` steps (an alias loop, or a region that
 * shows nearly everywhere): the caller then reads everything.
 */
static bool walk_up(struct mt__fds_pass *p, mt_region *start, const mt_region *const *roots,
                    size_t nroots, size_t *budget, struct walk_item **stack, size_t *cap)
{
    size_t n = 0;
    MT__PUSH(*stack, n, *cap) = (struct walk_item){start, 0, mt__size(start) - 1};
    while (n) {
        struct walk_item it = (*stack)[--n];
        if ((*budget)-- == 0)
            return false;
        mt__i128 size = mt__size(it.r);
        if (it.lo < 0)
            it.lo = 0;
        if (it.last > size - 1)
            it.last = size - 1;
        if (it.lo > it.last)
            continue; /* nothing of it shows here */
        if (is_root(it.r, roots, nroots)) {
            /* a flat-root renders at its own address, as QEMU's does,
             * even when it is not mapped there */
            mt__i128 lo = it.lo + it.r->addr_, last = it.last + it.r->addr_;
            if (lo <= MT__2_64 - 1)
                MT__PUSH(p->hits, p->nhits, p->hits_cap) = (struct fds_hit){
                    it.r, (uint64_t)lo, last > MT__2_64 - 1 ? UINT64_MAX : (uint64_t)last};
        }
        if (it.r->container_)
            MT__PUSH(*stack, n, *cap) = (struct walk_item){
                it.r->container_, it.lo + it.r->addr_, it.last + it.r->addr_};
        for (mt_region *a = mt__rare_get(it.r)->aliases; a; a = a->rare_->alias_next)
            MT__PUSH(*stack, n, *cap) = (struct walk_item){
                a, it.lo - (mt__i128)a->alias_offset_, it.last - (mt__i128)a->alias_offset_};
    }
    return true;
}

void mt__eventfds_pass_begin(mt_context *ctx)
{
    assert(!ctx->fds_pass);
    struct mt__fds_pass *p = mt__xcalloc(1, sizeof(*p));
    ctx->fds_pass = p;
    p->changes = ctx->fds_changes;
    /* The list is this pass's; what callbacks change goes to the next. */
    mt_region **changed = ctx->fds_changed;
    size_t nchanged = ctx->nfds_changed;
    ctx->fds_changed = NULL;
    ctx->nfds_changed = ctx->fds_changed_cap = 0;
    for (size_t i = 0; i < nchanged; i++)
        changed[i]->rare_->fds_listed = false;

    /* The flat-roots whose sets are kept: those of address spaces with
     * listeners, of the views this commit gives them. */
    mt_region **roots = NULL;
    size_t nroots = 0, roots_cap = 0;
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        const mt_view *v = as->next_view ? as->next_view : as->view;
        as->eventfds_root = as->listeners && v ? v->root : NULL;
        if (as->eventfds_root)
            MT__PUSH(roots, nroots, roots_cap) = as->eventfds_root;
    }
    if (nroots && nchanged) {
        qsort(roots, nroots, sizeof(*roots), ptr_cmp);
        size_t budget = 1024 + 64 * nchanged;
        struct walk_item *stack = NULL;
        size_t stack_cap = 0;
        for (size_t i = 0; i < nchanged && !p->everywhere; i++)
            if (!walk_up(p, changed[i], (const mt_region *const *)roots, nroots, &budget,
                         &stack, &stack_cap))
                p->everywhere = true;
        free(stack);
        if (p->nhits > 1)
            qsort(p->hits, p->nhits, sizeof(*p->hits), hit_cmp);
    }
    free(roots);
    free(changed);
}

void mt__eventfds_pass_end(mt_context *ctx)
{
    struct mt__fds_pass *p = ctx->fds_pass;
    ctx->fds_pass = NULL;
    free(p->hits);
    free(p);
}

/* ---- the sets ----------------------------------------------------------------- */

static int shown_cmp(const void *a, const void *b)
{
    const struct mt__shown_fd *x = a, *y = b;
    int c = mt__eventfd_cmp(&x->fd, &y->fd);
    return c ? c : x->from < y->from ? -1 : x->from > y->from;
}

/* A run of a view's chunks, [from, to). */
struct run {
    size_t from, to;
};

/* Every eventfd of the regions of the ranges of the chunks in `runs`,
 * moved into address-space coordinates, that intersects its range (QEMU's
 * strict intersection: a size-0 eventfd counts only strictly inside the
 * range), sorted; once per range that shows it. */
static struct mt__shown_fd *collect(const mt_view *v, const struct run *runs, size_t nruns,
                                    size_t *out_n)
{
    struct mt__shown_fd *all = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < nruns; i++)
        for (size_t c = runs[i].from; c < runs[i].to; c++) {
            const struct mt__chunk *ch = v->chunks[c];
            for (const mt_range *r = ch->ranges, *end = r + ch->n; r < end; r++) {
                size_t nfd;
                const struct mt__eventfd *fds = mt__region_eventfds(r->region, &nfd);
                for (size_t k = 0; k < nfd; k++) {
                    mt__i128 a = (mt__i128)r->start - (mt__i128)r->offset_in_region +
                                 (mt__i128)fds[k].offset;
                    mt__i128 e = a + fds[k].size, rend = (mt__i128)r->last + 1;
                    if (!((mt__i128)r->start < e && a < rend))
                        continue;
                    /* the same eventfd, at its address in the address space */
                    struct mt__shown_fd *f = &MT__PUSH(all, n, cap);
                    f->fd = fds[k];
                    f->fd.offset = (uint64_t)a;
                    f->from = r->start;
                }
            }
        }
    if (n > 1)
        qsort(all, n, sizeof(*all), shown_cmp);
    *out_n = n;
    return all;
}

static struct mt__shown_fd *collect_all(const mt_view *v, size_t *out_n)
{
    struct run all = {0, v->nchunks};
    return collect(v, &all, 1, out_n);
}

static void send_fd(mt_listener *l, const struct mt__eventfd *f, bool add)
{
    void (*fn)(mt_listener *, uint64_t, unsigned, bool, uint64_t, mt_event_notifier *) =
        add ? l->eventfd_add : l->eventfd_del;
    if (fn)
        fn(l, f->offset, f->size, f->match_data, f->data, f->notifier);
}

/* Tells the listeners of `as` the difference between two sorted lists of
 * eventfds, in their order: del for each one `was` has more of, add for
 * each one `now` has more of. */
static void send_fd_diff(mt_address_space *as, const struct mt__shown_fd *was, size_t nwas,
                         const struct mt__shown_fd *now, size_t nnow)
{
    size_t i = 0, j = 0;
    while (i < nwas || j < nnow) {
        int c = i == nwas ? 1 : j == nnow ? -1 : mt__eventfd_cmp(&was[i].fd, &now[j].fd);
        if (c < 0) {
            MT__FOR_AS_FORWARD(l, as)
                send_fd(l, &was[i].fd, false);
            i++;
        } else if (c > 0) {
            MT__FOR_AS_REVERSE(l, as)
                send_fd(l, &now[j].fd, true);
            j++;
        } else {
            i++;
            j++;
        }
    }
}

/* An empty set is kept as nothing, whichever path read it: the heap at
 * rest is then the same. */
static void keep_fds(mt_address_space *as, struct mt__shown_fd *fds, size_t n)
{
    if (!n) {
        free(fds);
        fds = NULL;
    }
    free(as->eventfds);
    as->eventfds = fds;
    as->neventfds = n;
}

void mt__eventfds_track(mt_address_space *as)
{
    size_t n;
    struct mt__shown_fd *now = collect_all(as->view, &n);
    keep_fds(as, now, n);
}

void mt__eventfds_replay(mt_listener *l, const mt_address_space *as, bool add)
{
    for (size_t i = 0; i < as->neventfds; i++)
        send_fd(l, &as->eventfds[i].fd, add);
}

/* Adds to `runs` the chunks of v that hold any address of [lo, last]. */
static void chunks_over(const mt_view *v, uint64_t lo, uint64_t last, struct run **runs,
                        size_t *n, size_t *cap)
{
    size_t a = mt__view_chunk_reaching(v, lo), to = a;
    while (to < v->nchunks && v->chunks[to]->ranges[0].start <= last)
        to++;
    if (to > a)
        MT__PUSH(*runs, *n, *cap) = (struct run){a, to};
}

static int run_cmp(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* The chunks of v to read again: those the other view does not share
 * (v's side of `u`: the new view's if `is_new`), and those where a
 * changed region shows; sorted, disjoint. */
static struct run *runs_of(const mt_view *v, const struct mt__unshared *u, size_t nu,
                           bool is_new, const struct fds_hit *hits, size_t nhits,
                           size_t *out_n)
{
    struct run *runs = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; k < nu; k++) {
        struct run r = is_new ? (struct run){u[k].nf, u[k].nt} : (struct run){u[k].of, u[k].ot};
        if (r.from < r.to)
            MT__PUSH(runs, n, cap) = r;
    }
    for (size_t i = 0; i < nhits; i++)
        chunks_over(v, hits[i].lo, hits[i].last, &runs, &n, &cap);
    if (n > 1)
        qsort(runs, n, sizeof(*runs), run_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && runs[i].from <= runs[m - 1].to) {
            if (runs[i].to > runs[m - 1].to)
                runs[m - 1].to = runs[i].to;
        } else {
            runs[m++] = runs[i];
        }
    }
    *out_n = m;
    return runs;
}

/* Whether the range starting at `from` lies in one of the runs of v. */
static bool in_runs(const mt_view *v, const struct run *runs, size_t n, uint64_t from)
{
    size_t a = 0, b = n;
    while (a < b) { /* the first run that ends at or after `from` */
        size_t mid = a + (b - a) / 2;
        const struct mt__chunk *last = v->chunks[runs[mid].to - 1];
        if (last->ranges[last->n - 1].last < from)
            a = mid + 1;
        else
            b = mid;
    }
    return a < n && v->chunks[runs[a].from]->ranges[0].start <= from;
}

/* The part update: the entries of the set the old view's runs brought go,
 * the new view's runs are read; the listeners hear the difference of the
 * two, which is that of the whole sets, because the rest is the same
 * chunks showing regions whose eventfds did not change. */
static void update_in_part(mt_address_space *as, const mt_view *old, const mt_view *v,
                           const struct fds_hit *hits, size_t nhits)
{
    size_t nu;
    struct mt__unshared *u = mt__views_unshared(old, v, &nu);
    size_t nold_runs, nnew_runs;
    struct run *old_runs = runs_of(old, u, nu, false, hits, nhits, &nold_runs);
    struct run *new_runs = runs_of(v, u, nu, true, hits, nhits, &nnew_runs);
    if (nold_runs || nnew_runs) {
        size_t ncame, nkept = 0, ngone = 0;
        struct mt__shown_fd *came = collect(v, new_runs, nnew_runs, &ncame);
        struct mt__shown_fd *kept = mt__xmalloc((as->neventfds + 1) * sizeof(*kept));
        struct mt__shown_fd *gone = mt__xmalloc((as->neventfds + 1) * sizeof(*gone));
        for (size_t i = 0; i < as->neventfds; i++) {
            const struct mt__shown_fd *f = &as->eventfds[i];
            if (in_runs(old, old_runs, nold_runs, f->from))
                gone[ngone++] = *f;
            else
                kept[nkept++] = *f;
        }
        send_fd_diff(as, gone, ngone, came, ncame);
        /* the set: the kept entries and the read ones, merged in order */
        struct mt__shown_fd *now = mt__xmalloc((nkept + ncame + 1) * sizeof(*now));
        size_t i = 0, j = 0, n = 0;
        while (i < nkept || j < ncame)
            now[n++] = j == ncame || (i < nkept && shown_cmp(&kept[i], &came[j]) <= 0)
                           ? kept[i++]
                           : came[j++];
        keep_fds(as, now, n);
        free(came);
        free(kept);
        free(gone);
    }
    free(old_runs);
    free(new_runs);
    free(u);
}

void mt__listeners_eventfds(mt_address_space *as, const mt_view *old)
{
    const struct mt__fds_pass *p = as->ctx->fds_pass;
    assert(p);
    /* Only listeners observe the set: without them, keep none (a first
     * registration reads it) and spare every commit the work. */
    if (!as->listeners) {
        keep_fds(as, NULL, 0);
        return;
    }
    if (!as->root) {
        send_fd_diff(as, as->eventfds, as->neventfds, NULL, 0);
        keep_fds(as, NULL, 0);
        return;
    }
    const mt_view *v = as->view;
    /* Read the set whole if the walks gave up, or if a callback of this
     * pass changed eventfds or finalised the root: what the reference
     * reads now shows those changes at once, not at the next pass. */
    if (!old || p->everywhere || as->ctx->fds_changes != p->changes ||
        as->eventfds_root != v->root) {
        size_t n;
        struct mt__shown_fd *now = collect_all(v, &n);
        send_fd_diff(as, as->eventfds, as->neventfds, now, n);
        keep_fds(as, now, n);
        return;
    }
    /* the hits in this address space's flat-root */
    struct fds_hit key = {as->eventfds_root, 0, 0};
    size_t a = 0, b = p->nhits;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (hit_cmp(&p->hits[mid], &key) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    size_t end = a;
    while (end < p->nhits && p->hits[end].root == key.root)
        end++;
    if (old == v && end == a)
        return; /* the same view, and no change shows in it */
    update_in_part(as, old, v, p->hits + a, end - a);
}

void mt__eventfds_changed(mt_region *r)
{
    if (!mt__enabled(r))
        return;
    mt__txn_begin(r->ctx_);
    r->ctx_->eventfds_pending = true;
    mt__txn_commit(r->ctx_);
}
