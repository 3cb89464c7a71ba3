/*
 * Which `memory-region:` block each alias line of a QEMU tree dump targets
 * (docs/import.md, "The inferences"). Alias lines name targets only by name and
 * names repeat, but the blocks are printed in the order their targets were
 * first met: walking the alias lines in print order must queue the blocks
 * in file order (in a -D dump; without -D hidden aliases queue some). A
 * backtracking search finds such an assignment, preferring the target with
 * the alias's owner, new blocks before queued ones, and targets that do not
 * contain the alias (such loops are legal and render, docs/rendering.md,
 * but rare: the SSE-200 and OMAP boards). What was ambiguous is kept for
 * the flat dump.
 */
#include "mtree_parse.h"

#include <stdlib.h>
#include <string.h>

/* ---- alias targets ----------------------------------------------------------------- */

struct choice {
    size_t ev;          /* the alias event deciding */
    size_t cls;
    size_t q_before;
    size_t *cand;       /* memory-region block numbers, preferred first */
    size_t ncand, at;
    bool by_owner;      /* the alias's owner singled the first one out */
};

struct targets {
    struct mt__tree *t;
    size_t *mr_blocks;  /* memory-region block number -> block index */
    size_t nmr;
    size_t *ev;         /* events: an alias occurrence, or a block number */
    bool *ev_block;
    size_t nev;
    size_t *cls_target; /* per class root: block number or NONE */
    struct mt__strset by_name; /* target name -> first block number */
    size_t *next_same;  /* block number -> next block number of that name */
    size_t *cls_parent; /* class root -> its container's class root */
};

/* Does the region of class `top` contain alias `a`? Aliasing it from `a`
 * makes a loop through the alias. */
static bool contains(const struct targets *T, size_t top, size_t a)
{
    size_t steps = 0;
    for (size_t c = mt__occ_class(T->t, a); c != MT__NONE && steps++ <= T->t->no;
         c = T->cls_parent[c])
        if (c == top)
            return true;
    return false;
}

static bool type_fits(const struct mt__occ *alias, const struct mt__occ *top)
{
    return top->hidden || top->type == alias->type;
}

/* Candidate blocks for alias `a` when `q` blocks are queued. */
static void list_candidates(struct targets *T, size_t a, size_t q, bool strict,
                            struct choice *c)
{
    struct mt__tree *t = T->t;
    const struct mt__occ *al = &t->o[a];
    size_t n = 0, first = mt__strset_get(&T->by_name, al->target);
    c->cand = mt__xmalloc((T->nmr ? T->nmr : 1) * sizeof(*c->cand));
    c->by_owner = false;
    /* targets that do not contain the alias first; then owner matches
     * first, then new before queued, queued in queue order */
    for (int pass = 0; pass < 8; pass++) {
        bool want_loop = pass >= 4, want_owner = pass % 4 < 2, want_new = pass % 2 == 0;
        for (size_t j = first; j != MT__NONE; j = T->next_same[j]) {
            const struct mt__occ *top = &t->o[t->b[T->mr_blocks[j]].top];
            bool owner = al->owner && top->owner && !strcmp(al->owner, top->owner);
            bool is_new = j >= q;
            if (owner != want_owner || is_new != want_new || !type_fits(al, top) ||
                contains(T, mt__occ_class(t, t->b[T->mr_blocks[j]].top), a) != want_loop)
                continue;
            if (is_new && strict && j != q)
                continue;
            if (owner && n == 0)
                c->by_owner = true;
            c->cand[n++] = j;
        }
    }
    if (n == 0) {
        /* the printed types disagree with every block: a hand-edited dump?
         * the name still decides */
        for (size_t j = first; j != MT__NONE; j = T->next_same[j])
            if (j < q || !strict || j == q)
                c->cand[n++] = j;
    }
    if (n > 1 && c->by_owner) {
        /* the owner decides only when no other candidate shares it */
        const struct mt__occ *t0 = &t->o[t->b[T->mr_blocks[c->cand[1]]].top];
        c->by_owner = !(t0->owner && al->owner && !strcmp(t0->owner, al->owner));
    }
    c->ncand = n;
    c->at = 0;
}

static void apply_choice(struct targets *T, struct choice *c, size_t *q)
{
    size_t j = c->cand[c->at];
    T->cls_target[c->cls] = j;
    if (j >= *q)
        *q = j + 1;
}

/*
 * Walks the alias lines in print order. strict: every block is queued by a
 * printed alias exactly when it is next (a -D dump); otherwise hidden
 * disabled aliases may have queued blocks in between, and the first
 * preferred candidate is taken without search. Returns the decisions made
 * (or NULL when strict search fails within its budget).
 */
static struct choice *walk_aliases(struct targets *T, bool strict, size_t *nch)
{
    struct mt__tree *t = T->t;
    struct choice *ch = mt__xmalloc((T->nev + 1) * sizeof(*ch));
    size_t n = 0, q = 0, ev = 0, budget = 200000;
    bool ok = true;
    while (ev <= T->nev) {
        bool dead = false;
        if (ev == T->nev) {
            if (!strict || q == T->nmr)
                break;
            dead = true;
        } else if (T->ev_block[ev]) {
            dead = strict && T->ev[ev] >= q;
        } else {
            size_t a = T->ev[ev], cls = mt__occ_class(t, a);
            if (T->cls_target[cls] == MT__NONE) {
                struct choice *c = &ch[n];
                c->ev = ev;
                c->cls = cls;
                c->q_before = q;
                list_candidates(T, a, q, strict, c);
                if (c->ncand == 0) {
                    free(c->cand);
                    dead = true;
                } else {
                    n++;
                    apply_choice(T, c, &q);
                }
            }
        }
        if (!dead) {
            ev++;
            continue;
        }
        if (!strict || budget-- == 0) {
            ok = false;
            break;
        }
        /* backtrack to the latest decision with an untried candidate */
        while (n > 0) {
            struct choice *c = &ch[n - 1];
            T->cls_target[c->cls] = MT__NONE;
            q = c->q_before;
            if (++c->at < c->ncand) {
                apply_choice(T, c, &q);
                ev = c->ev + 1;
                break;
            }
            free(c->cand);
            n--;
        }
        if (n == 0) {
            ok = false;
            break;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) {
            T->cls_target[ch[i].cls] = MT__NONE;
            free(ch[i].cand);
        }
        free(ch);
        return NULL;
    }
    *nch = n;
    return ch;
}

static void keep_choices(struct choice *ch, size_t n, bool strict, struct mt__kept *K)
{
    for (size_t i = 0; i < n; i++) {
        struct choice *c = &ch[i];
        if (c->ncand < 2) {
            free(c->cand);
            continue;
        }
        K->how[c->cls] = c->at == 0 && c->by_owner ? MT__TN_OWNER
                       : strict ? MT__TN_ORDER : MT__TN_GUESS;
        /* the chosen one first */
        size_t chosen = c->cand[c->at];
        c->cand[c->at] = c->cand[0];
        c->cand[0] = chosen;
        K->alt[c->cls] = c->cand;
        K->nalt[c->cls] = c->ncand;
    }
    free(ch);
}

void mt__tree_targets(struct mt__tree *t, struct mt__mdesc *d, size_t *cls_target,
                      struct mt__kept *K)
{
    struct targets T = {.t = t, .cls_target = cls_target};
    T.cls_parent = mt__xmalloc((t->no + 1) * sizeof(size_t));
    for (size_t i = 0; i < t->no; i++)
        T.cls_parent[i] = MT__NONE;
    for (size_t i = 0; i < t->no; i++)
        if (t->o[i].parent != MT__NONE)
            T.cls_parent[mt__occ_class(t, i)] = mt__occ_class(t, t->o[i].parent);
    T.mr_blocks = mt__xmalloc((t->nb + 1) * sizeof(size_t));
    T.next_same = mt__xmalloc((t->nb + 1) * sizeof(size_t));
    size_t *last_same = mt__xmalloc((t->nb + 1) * sizeof(size_t));
    for (size_t b = 0; b < t->nb; b++) {
        if (!t->b[b].mr)
            continue;
        size_t j = T.nmr++;
        T.mr_blocks[j] = b;
        T.next_same[j] = MT__NONE;
        size_t f = mt__strset_put(&T.by_name, t->b[b].mr_name, j);
        if (f != MT__NONE) {
            T.next_same[last_same[f]] = j;
            last_same[f] = j;
        } else {
            last_same[j] = j;
        }
    }
    free(last_same);
    /* events in print order: a block start, then its alias lines */
    T.ev = mt__xmalloc((t->no + t->nb + 1) * sizeof(size_t));
    T.ev_block = mt__xmalloc((t->no + t->nb + 1) * sizeof(bool));
    /* real lines come in file order, and so do blocks */
    size_t mrn = 0, i = 0;
    for (size_t b = 0; b < t->nb; b++) {
        if (t->b[b].mr) {
            T.ev_block[T.nev] = true;
            T.ev[T.nev++] = mrn++;
        }
        for (; i < t->no && t->o[i].block == b; i++) {
            if (t->o[i].alias) {
                T.ev_block[T.nev] = false;
                T.ev[T.nev++] = i;
            }
        }
    }
    size_t n = 0;
    bool strict = true;
    struct choice *ch = walk_aliases(&T, true, &n);
    if (!ch) {
        strict = false;
        ch = walk_aliases(&T, false, &n);
        if (t->has_disabled)
            mt__desc_note(d, "alias targets: the memory-region blocks are not in the "
                          "order their aliases meet them; targets are guessed");
    }
    if (ch)
        keep_choices(ch, n, strict, K);
    free(T.mr_blocks);
    free(T.cls_parent);
    free(T.next_same);
    free(T.ev);
    free(T.ev_block);
    mt__strset_free(&T.by_name);
}
