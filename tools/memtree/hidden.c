/*
 * Why a region does not show where it could: the renderer's walk replayed
 * from a view's root, going on where the renderer stops. Per address, the
 * losers `memtree at` explains (each with the reason closest to answering);
 * per view, the stretches of each region's extent that the view does not
 * show, which `memtree draw` marks beside its columns. Both follow the
 * rules in docs/rendering.md through the public API only.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void cli_path_push(cli_path *p, const mt_region *r, cli_i128 base)
{
    cli_reserve(&p->s, &p->cap, p->n + 1, sizeof(*p->s));
    p->s[p->n++] = (cli_step){r, base};
}

/*
 * The renderer's loop rules for an alias about to show `t` with t's offset
 * 0 at `t_origin`, `p` holding the path down to the alias: whether that is
 * a loop pass (t already on the path), and whether the renderer stops there
 * instead (rule a: t would sit where it already sits; rule b: `loops`
 * passes already made reach 16). docs/rendering.md, "Loops through aliases".
 */
static bool loop_stops(const cli_path *p, const mt_region *t, cli_i128 t_origin,
                       unsigned loops, bool *again)
{
    bool same = false;
    *again = false;
    for (size_t i = 0; i < p->n; i++) {
        if (p->s[i].r == t) {
            *again = true;
            same |= p->s[i].base == t_origin;
        }
    }
    return *again && (same || loops >= 16);
}

/*
 * The terminal region that rendering `r` (its container's offset 0 at
 * `base`) puts at `addr`, or NULL if its subtree renders nothing there. The
 * regions passed through are left on `p`. These are the renderer's rules
 * (docs/rendering.md): a disabled region renders nothing, each level clips
 * to its own extent, an alias renders its target shifted, children render
 * in order and the first to cover the address wins, and a terminal region
 * fills what its children left. An alias reaching a region already on the
 * path is a loop pass (docs/rendering.md, "Loops through aliases"): it
 * finds nothing when the region would sit where it already sits (rule a)
 * or once `loops` reaches 16 (rule b).
 */
static const mt_region *resolve(const mt_region *r, cli_i128 base, uint64_t addr,
                                cli_path *p, unsigned loops)
{
    if (!mt_region_enabled(r))
        return NULL;
    base += mt_region_addr(r);
    if ((cli_i128)addr < base || (cli_i128)addr >= base + (cli_i128)cli_region_size(r))
        return NULL;
    size_t mark = p->n;
    cli_path_push(p, r, base);
    const mt_region *t = mt_region_alias_target(r);
    if (mt_region_get_kind(r) == MT_KIND_ALIAS && t) {
        cli_i128 tbase = base - (cli_i128)mt_region_alias_offset(r);
        bool again;
        const mt_region *hit = NULL;
        if (!loop_stops(p, t, tbase, loops, &again))
            hit = resolve(t, tbase - (cli_i128)mt_region_addr(t), addr, p, loops + again);
        if (!hit)
            p->n = mark;
        return hit;
    }
    for (const mt_region *c = mt_region_first_subregion(r); c;
         c = mt_region_next_sibling(c)) {
        const mt_region *hit = resolve(c, base, addr, p, loops);
        if (hit)
            return hit;
    }
    if (mt_region_is_terminal(r))
        return r;
    p->n = mark;
    return NULL;
}

const mt_region *cli_resolve(const mt_region *r, cli_i128 base, uint64_t addr,
                             cli_path *p)
{
    return resolve(r, base, addr, p, 0);
}

/*
 * The losers: every region that covers the address in its own extent but
 * does not answer there, with the first reason met on the way down from
 * the view's root. The walk follows the renderer's order (cli_resolve) but
 * keeps going where the renderer stops, remembering why: a disabled region,
 * a container or alias window that does not reach the address (clipping),
 * an earlier sibling that already answered (higher priority, or the same
 * priority and added later), a zero-size region, an alias whose offset
 * points past its target, a terminal region whose subregion answers.
 */
/* Rank of a reason when a region is reached by several routes: the one
 * closest to answering is the one worth reading. */
static int why_rank(cli_why w)
{
    switch (w) {
    case CLI_WHY_NONE: return 0;
    case CLI_WHY_SUBREGION: case CLI_WHY_PRIORITY: case CLI_WHY_SIBLING: return 1;
    case CLI_WHY_ZERO_SIZE: case CLI_WHY_ALIAS_BEYOND: case CLI_WHY_LOOP: return 2;
    case CLI_WHY_CLIPPED: return 3;
    case CLI_WHY_DISABLED: return 4;
    }
    return 5;
}

static size_t depth_of(const cli_path *p, const mt_region *r)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->s[i].r == r)
            return i;
    return 0;
}

static void add_loser(cli_losers *ls, const mt_region *r, cli_i128 base,
                      cli_why why, const mt_region *by, const cli_path *p)
{
    for (size_t i = 0; i < ls->n; i++) {
        cli_loser *l = &ls->l[i];
        if (l->r != r)
            continue;
        /* Of two clipping windows, the one met nearer the region (the
         * route went further), then the wider one: the window meant to show
         * the region (pci-hole rather than a PAM segment). */
        bool better = false;
        if (why == CLI_WHY_CLIPPED && l->why == CLI_WHY_CLIPPED) {
            size_t d_new = depth_of(p, by), d_old = depth_of(&l->chain, l->by);
            better = d_new > d_old ||
                     (d_new == d_old && cli_region_size(by) > cli_region_size(l->by));
        }
        if (why_rank(why) < why_rank(l->why) || better) {
            l->why = why;
            l->by = by;
            l->base = base;
            l->chain.n = 0;
            for (size_t k = 0; k < p->n; k++)
                cli_path_push(&l->chain, p->s[k].r, p->s[k].base);
        }
        return;
    }
    cli_reserve(&ls->l, &ls->cap, ls->n + 1, sizeof(*ls->l));
    cli_loser *l = &ls->l[ls->n++];
    *l = (cli_loser){.r = r, .base = base, .why = why, .by = by};
    for (size_t k = 0; k < p->n; k++)
        cli_path_push(&l->chain, p->s[k].r, p->s[k].base);
}

/* How far the loser walks go: the nesting they recurse through (the C
 * stack), and the regions one walk may visit, since several aliases looping
 * through their own container multiply the paths (up to 16 passes each). A
 * walk cut short says so (cli_losers.cut, a candidate list marked cut). */
#define WALK_DEPTH_MAX 4096
#define WALK_VISITS_MAX 1000000

static void explore(const mt_region *r, cli_i128 base, uint64_t addr, cli_why why,
                    const mt_region *by, cli_path *p, cli_losers *ls, unsigned loops)
{
    if (p->n >= WALK_DEPTH_MAX || ls->visits >= WALK_VISITS_MAX) {
        ls->cut = true;
        return;
    }
    ls->visits++;
    cli_i128 origin = base + (cli_i128)mt_region_addr(r);
    cli_u128 size = cli_region_size(r);
    bool covers = (cli_i128)addr >= origin && (cli_i128)addr < origin + (cli_i128)size;
    bool alias = mt_region_get_kind(r) == MT_KIND_ALIAS;

    /* A region that cannot show here at all (disabled, or a window that
     * misses) says more than losing to a sibling further up: even without
     * that sibling it would not answer. So structural reasons replace
     * competitive ones; the first structural one stays. */
    bool competitive = why == CLI_WHY_NONE || why == CLI_WHY_PRIORITY || why == CLI_WHY_SIBLING ||
                       why == CLI_WHY_SUBREGION;
    if (competitive && !mt_region_enabled(r)) {
        why = CLI_WHY_DISABLED;
        by = r;
        competitive = false;
    }
    if (size == 0) {
        if ((cli_i128)addr == origin && (alias || mt_region_is_terminal(r))) {
            cli_path_push(p, r, origin);
            add_loser(ls, r, origin, why == CLI_WHY_NONE ? CLI_WHY_ZERO_SIZE : why,
                      why == CLI_WHY_NONE ? r : by, p);
            p->n--;
        }
        return;
    }
    /* A window that misses the address: what lies beneath it is clipped
     * there. A disabled alias adds nothing to say (its target is reached,
     * enabled, by another route or not at all). */
    if (!covers) {
        if (!alias && !mt_region_first_subregion(r))
            return;
        if (alias && !mt_region_enabled(r))
            return;
        if (competitive) {
            why = CLI_WHY_CLIPPED;
            by = r;
        }
    }
    cli_path_push(p, r, origin);
    const mt_region *t = mt_region_alias_target(r);
    if (alias && t) {
        cli_i128 in_target = (cli_i128)addr - origin + (cli_i128)mt_region_alias_offset(r);
        if (in_target >= (cli_i128)cli_region_size(t)) {
            /* Only an alias whose own window covers the address loses
             * for this reason; one that misses was never in the running. */
            if (covers)
                add_loser(ls, r, origin, why == CLI_WHY_NONE ? CLI_WHY_ALIAS_BEYOND : why,
                          why == CLI_WHY_NONE ? t : by, p);
        } else {
            cli_i128 t_origin = origin - (cli_i128)mt_region_alias_offset(r);
            bool again;
            if (!loop_stops(p, t, t_origin, loops, &again))
                explore(t, t_origin - (cli_i128)mt_region_addr(t), addr, why, by, p, ls,
                        loops + again);
            else if (covers)
                add_loser(ls, r, origin, why == CLI_WHY_NONE ? CLI_WHY_LOOP : why,
                          why == CLI_WHY_NONE ? t : by, p);
        }
        p->n--;
        return;
    }
    const mt_region *won = NULL;
    for (const mt_region *c = mt_region_first_subregion(r); c;
         c = mt_region_next_sibling(c)) {
        cli_why cw = why;
        const mt_region *cb = by;
        if (why == CLI_WHY_NONE && won) {
            cw = mt_region_priority(c) < mt_region_priority(won) ? CLI_WHY_PRIORITY
                                                                 : CLI_WHY_SIBLING;
            cb = won;
        }
        explore(c, origin, addr, cw, cb, p, ls, loops);
        if (why == CLI_WHY_NONE && !won && covers) {
            cli_path scratch = {0};
            if (cli_resolve(c, origin, addr, &scratch))
                won = c;
            free(scratch.s);
        }
    }
    if (covers && mt_region_is_terminal(r)) {
        if (why == CLI_WHY_NONE && won)
            add_loser(ls, r, origin, CLI_WHY_SUBREGION, won, p);
        else if (why != CLI_WHY_NONE)
            add_loser(ls, r, origin, why, by, p);
    }
    p->n--;
}

/* The losers of a view at addr (the winner is left out). */
void cli_find_losers(const mt_view *v, const mt_region *as_root,
                     const mt_region *winner, uint64_t addr, cli_losers *ls)
{
    memset(ls, 0, sizeof(*ls));
    /* An empty view has no root; its address space's root still holds
     * what does not show (all of it disabled, say). */
    const mt_region *root = mt_view_root(v) ? mt_view_root(v) : as_root;
    if (!root)
        return;
    cli_path p = {0};
    explore(root, 0, addr, CLI_WHY_NONE, NULL, &p, ls, 0);
    free(p.s);
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++) {
        if (ls->l[i].r == winner)
            free(ls->l[i].chain.s);
        else
            ls->l[n++] = ls->l[i];
    }
    ls->n = n;
}

void cli_losers_free(cli_losers *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        free(ls->l[i].chain.s);
    free(ls->l);
}

const char *cli_why_word(cli_why w)
{
    switch (w) {
    case CLI_WHY_NONE: return "answers";
    case CLI_WHY_SUBREGION: return "covered by its subregion";
    case CLI_WHY_PRIORITY: return "lower priority";
    case CLI_WHY_SIBLING: return "earlier sibling";
    case CLI_WHY_ZERO_SIZE: return "zero size";
    case CLI_WHY_ALIAS_BEYOND: return "alias offset beyond target";
    case CLI_WHY_CLIPPED: return "clipped";
    case CLI_WHY_DISABLED: return "disabled";
    case CLI_WHY_LOOP: return "alias loop";
    }
    return "?";
}

/* "lower priority: 'pci' (prio -1) loses to 'ram-below-4g' (prio 0)". */
void cli_explain_loser(FILE *out, const cli_loser *l)
{
    const mt_region *by = l->by;
    switch (l->why) {
    case CLI_WHY_PRIORITY: {
        /* The region on this path that is by's sibling lost there. */
        const mt_region *at = l->r;
        for (size_t i = 0; i < l->chain.n; i++)
            if (mt_region_container(l->chain.s[i].r) == mt_region_container(by))
                at = l->chain.s[i].r;
        if (at == l->r)
            fprintf(out, "lower priority: prio %" PRId32 " < prio %" PRId32 " of sibling '%s'",
                    mt_region_priority(at), mt_region_priority(by), cli_name(by));
        else
            fprintf(out, "lower priority: its container '%s' (prio %" PRId32 ") < prio %" PRId32
                    " of sibling '%s'", cli_name(at), mt_region_priority(at),
                    mt_region_priority(by), cli_name(by));
        break;
    }
    case CLI_WHY_SIBLING:
        fprintf(out, "earlier sibling '%s' answers first (same priority %" PRId32
                ", added later)", cli_name(by), mt_region_priority(by));
        break;
    case CLI_WHY_SUBREGION:
        fprintf(out, "covered by its subregion '%s'", cli_name(by));
        break;
    case CLI_WHY_CLIPPED:
        fprintf(out, "clipped: outside the window of %s '%s'",
                mt_region_get_kind(by) == MT_KIND_ALIAS ? "alias" : "container",
                cli_name(by));
        break;
    case CLI_WHY_DISABLED:
        if (by == l->r)
            fputs("disabled", out);
        else
            fprintf(out, "disabled: '%s' on the way is disabled", cli_name(by));
        break;
    case CLI_WHY_ZERO_SIZE:
        fputs("zero size", out);
        break;
    case CLI_WHY_ALIAS_BEYOND:
        fprintf(out, "alias offset beyond target: '%s' is only 0x%" PRIx64 " bytes",
                cli_name(by), mt_region_size(by));
        break;
    case CLI_WHY_LOOP:
        fprintf(out, "alias loop: it shows its own container '%s' again, and rendering "
                "stops there (at the same place, or after 16 passes)", cli_name(by));
        break;
    case CLI_WHY_NONE:
        break;
    }
}

/*
 * The per-view walk. Each terminal region (and each alias, for the part
 * of its window its target does not reach) is a candidate on every route
 * that reaches it: its extent, cut to the alias windows on the route. What
 * the view shows of the region is taken away; what is left is hidden. The
 * view is the truth about who answers, so the walk needs no occupancy
 * bookkeeping of its own, and the reasons come from cli_find_losers, asked
 * at one address per stretch by the caller.
 */
struct candidate {
    const mt_region *r;
    cli_i128 first, last;
    bool in_window;         /* inside every alias window on its route */
    size_t order;           /* when the walk met it */
};

struct candidates {
    struct candidate *c;
    size_t n, cap;
    cli_path path;          /* the walk's route, for the loop rules */
    size_t visits;
    bool cut;               /* the walk hit WALK_DEPTH_MAX or WALK_VISITS_MAX */
};

static void add_candidate(struct candidates *cs, const mt_region *r, cli_i128 first,
                          cli_i128 last, cli_i128 win_first, cli_i128 win_last)
{
    cli_i128 lo = first > win_first ? first : win_first;
    cli_i128 hi = last < win_last ? last : win_last;
    bool in_window = lo <= hi;
    if (!in_window) {
        lo = first;
        hi = last;
    }
    cli_reserve(&cs->c, &cs->cap, cs->n + 1, sizeof(*cs->c));
    cs->c[cs->n] = (struct candidate){r, lo, hi, in_window, cs->n};
    cs->n++;
}

static void collect(const mt_region *r, cli_i128 base, cli_i128 win_first,
                    cli_i128 win_last, struct candidates *cs, unsigned loops)
{
    if (cs->path.n >= WALK_DEPTH_MAX || cs->visits >= WALK_VISITS_MAX) {
        cs->cut = true;
        return;
    }
    cs->visits++;
    cli_i128 origin = base + (cli_i128)mt_region_addr(r);
    cli_u128 size = cli_region_size(r);
    bool alias = mt_region_get_kind(r) == MT_KIND_ALIAS;
    if (size == 0) {
        /* As in cli_find_losers: one address long, and nothing beneath. */
        if (alias || mt_region_is_terminal(r))
            add_candidate(cs, r, origin, origin, win_first, win_last);
        return;
    }
    cli_i128 last = origin + (cli_i128)size - 1;
    const mt_region *t = mt_region_alias_target(r);
    if (alias) {
        if (!t)
            return;
        cli_i128 target_origin = origin - (cli_i128)mt_region_alias_offset(r);
        cli_i128 target_last = target_origin + (cli_i128)cli_region_size(t) - 1;
        if (target_last < last)
            add_candidate(cs, r, target_last + 1 > origin ? target_last + 1 : origin,
                          last, win_first, win_last);
        bool again;
        cli_path_push(&cs->path, r, origin);
        if (!loop_stops(&cs->path, t, target_origin, loops, &again))
            collect(t, target_origin - (cli_i128)mt_region_addr(t),
                    origin > win_first ? origin : win_first,
                    last < win_last ? last : win_last, cs, loops + again);
        cs->path.n--;
        return;
    }
    cli_path_push(&cs->path, r, origin);
    for (const mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c))
        collect(c, origin, win_first, win_last, cs, loops);
    cs->path.n--;
    if (mt_region_is_terminal(r))
        add_candidate(cs, r, origin, last, win_first, win_last);
}

static int by_region_then_first(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->r != y->r)
        return (uintptr_t)x->r < (uintptr_t)y->r ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int by_first(const void *a, const void *b)
{
    const cli_hidden *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    /* Not by address of the region: the order must not depend on the
     * allocator. */
    return x->order < y->order ? -1 : x->order > y->order;
}

struct stretches {
    cli_hidden *h;
    size_t n, cap;
};

static void add_stretch(struct stretches *hs, const mt_region *r, size_t order,
                        uint64_t first, uint64_t last)
{
    /* Routes that overlap (a PAM alias over the RAM alias it shadows) give
     * the same stretch twice: join them. */
    if (hs->n && hs->h[hs->n - 1].r == r && first <= hs->h[hs->n - 1].last + 1 &&
        hs->h[hs->n - 1].last != UINT64_MAX) {
        if (last > hs->h[hs->n - 1].last)
            hs->h[hs->n - 1].last = last;
        return;
    }
    if (hs->n && hs->h[hs->n - 1].r == r && hs->h[hs->n - 1].last == UINT64_MAX)
        return;
    cli_reserve(&hs->h, &hs->cap, hs->n + 1, sizeof(*hs->h));
    hs->h[hs->n++] = (cli_hidden){r, first, last, order};
}

/* The parts of [first, last] where the view does not show r. */
static void subtract_shown(const mt_view *v, const mt_region *r, size_t order,
                           uint64_t first, uint64_t last, struct stretches *hs)
{
    const mt_range *rg = mt_view_ranges(v);
    size_t n = mt_view_range_count(v), lo = cli_first_range_from(v, first);
    uint64_t at = first;
    for (size_t i = lo; i < n && rg[i].start <= last; i++) {
        if (rg[i].region != r)
            continue;
        if (rg[i].start > at)
            add_stretch(hs, r, order, at, rg[i].start - 1);
        if (rg[i].last >= last)
            return;
        at = rg[i].last + 1;
    }
    add_stretch(hs, r, order, at, last);
}

size_t cli_hidden_stretches(const mt_view *v, const mt_region *as_root, cli_hidden **out)
{
    const mt_region *root = mt_view_root(v) ? mt_view_root(v) : as_root;
    struct candidates cs = {0};
    if (root)
        collect(root, 0, 0, (cli_i128)UINT64_MAX, &cs, 0);
    if (cs.n > 1)
        qsort(cs.c, cs.n, sizeof(*cs.c), by_region_then_first);
    struct stretches hs = {0};
    for (size_t i = 0, j; i < cs.n; i = j) {
        bool any_in_window = false;
        size_t order = cs.c[i].order; /* the region's first route */
        for (j = i; j < cs.n && cs.c[j].r == cs.c[i].r; j++) {
            any_in_window |= cs.c[j].in_window;
            order = cs.c[j].order < order ? cs.c[j].order : order;
        }
        for (size_t k = i; k < j; k++) {
            const struct candidate *c = &cs.c[k];
            if (c->in_window != any_in_window)
                continue;
            cli_i128 lo = c->first < 0 ? 0 : c->first;
            cli_i128 hi = c->last > (cli_i128)UINT64_MAX ? (cli_i128)UINT64_MAX : c->last;
            if (lo <= hi)
                subtract_shown(v, c->r, order, (uint64_t)lo, (uint64_t)hi, &hs);
        }
    }
    free(cs.c);
    free(cs.path.s);
    if (cs.cut)
        fprintf(stderr, "memtree: the hidden-region walk of a view was cut short after "
                        "%d levels or %d regions (aliases looping through their own "
                        "container); some marks may be missing\n",
                WALK_DEPTH_MAX, WALK_VISITS_MAX);
    if (hs.n > 1)
        qsort(hs.h, hs.n, sizeof(*hs.h), by_first);
    *out = hs.h;
    return hs.n;
}
