/*
 * Which printed lines of a QEMU tree dump are one region (docs/import.md,
 * "The inferences"). A region is printed once per block whose top
 * contains it. Distinct blocks of one kind are distinct regions; a block's
 * top is the same region as an identical printed subtree elsewhere (names,
 * owners, layout and children all equal) when that is the only candidate,
 * and merging two printings merges their subtrees line by line. Classes
 * are kept as a union-find over the printed lines.
 */
#include "mtree_parse.h"

#include <stdlib.h>
#include <string.h>

/* ---- subtree signatures ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    if (!s)
        return mix(h, 0x5bd1e995);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return mix(h, 1);
}

/* A line's address inside its parent: what identical printings share. */
static uint64_t rel_addr(const struct mt__tree *t, const struct mt__occ *o)
{
    return o->parent == MT__NONE ? o->s : o->s - t->o[o->parent].s;
}

static uint64_t line_sig(const struct mt__tree *t, const struct mt__occ *o)
{
    uint64_t h = mix(0, o->type);
    h = mix(h, (uint64_t)o->prio);
    h = mix(h, rel_addr(t, o));
    h = mix(h, o->e - o->s);
    h = mix(h, (uint64_t)o->nv | (uint64_t)o->alias << 1 | (uint64_t)o->disabled << 2 |
                   (uint64_t)o->hidden << 3);
    h = mix_str(h, o->name);
    h = mix_str(h, o->target);
    h = mix(h, o->os);
    return mix_str(h, o->suffix);
}

/* Post-order over every block's tree, children before their parent. */
static void compute_sigs(struct mt__tree *t)
{
    size_t *stack = mt__xmalloc((t->no + 1) * sizeof(*stack));
    bool *done = mt__xcalloc(t->no, sizeof(*done));
    for (size_t b = 0; b < t->nb; b++) {
        size_t sp = 0;
        stack[sp++] = t->b[b].top;
        while (sp) {
            size_t i = stack[sp - 1];
            struct mt__occ *o = &t->o[i];
            if (!done[i]) {
                done[i] = true;
                for (size_t k = o->nkids; k-- > 0;)
                    stack[sp++] = o->kids[k];
                continue;
            }
            sp--;
            uint64_t h = line_sig(t, o);
            for (size_t k = 0; k < o->nkids; k++)
                h = mix(h, t->o[o->kids[k]].sig);
            o->sig = mix(h, o->nkids);
        }
    }
    free(done);
    free(stack);
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool same_line(const struct mt__tree *t, const struct mt__occ *a,
                      const struct mt__occ *b)
{
    return a->sig == b->sig && a->type == b->type && a->prio == b->prio &&
           rel_addr(t, a) == rel_addr(t, b) && a->e - a->s == b->e - b->s &&
           a->nv == b->nv && a->alias == b->alias && a->disabled == b->disabled &&
           a->hidden == b->hidden && a->os == b->os && a->nkids == b->nkids &&
           str_eq(a->name, b->name) && str_eq(a->target, b->target) &&
           str_eq(a->suffix, b->suffix);
}

/* Printed subtrees equal line for line (signatures only narrow the search). */
static bool same_tree(const struct mt__tree *t, size_t a, size_t b)
{
    size_t cap = 0, sp = 0;
    size_t *st = NULL;
    mt__grow(&st, &cap, 2, sizeof(*st));
    bool same = true;
    st[sp++] = a;
    st[sp++] = b;
    while (sp && same) {
        const struct mt__occ *y = &t->o[st[--sp]], *x = &t->o[st[--sp]];
        same = same_line(t, x, y);
        for (size_t k = 0; same && k < x->nkids; k++) {
            mt__grow(&st, &cap, sp + 2, sizeof(*st));
            st[sp++] = x->kids[k];
            st[sp++] = y->kids[k];
        }
    }
    free(st);
    return same;
}

/* ---- identity ---------------------------------------------------------------------- */

struct ident {
    struct mt__tree *t;
    /* per union-find root */
    bool *has_as, *has_mr;   /* holds an address-space or memory-region top */
    size_t *parent_occ;      /* the printed parent of some member, or NONE */
    size_t *by_sig;          /* occurrences sorted by signature */
};

size_t mt__occ_class(struct mt__tree *t, size_t i)
{
    while (t->o[i].uf != i) {
        t->o[i].uf = t->o[t->o[i].uf].uf;
        i = t->o[i].uf;
    }
    return i;
}

static size_t class_parent(struct ident *I, size_t root)
{
    size_t p = I->parent_occ[root];
    return p == MT__NONE ? MT__NONE : mt__occ_class(I->t, p);
}

/* Would one region, printed as both, break what QEMU guarantees? */
static bool may_merge(struct ident *I, size_t a, size_t b)
{
    struct mt__tree *t = I->t;
    size_t ra = mt__occ_class(t, a), rb = mt__occ_class(t, b);
    if (ra == rb || (I->has_as[ra] && I->has_as[rb]) || (I->has_mr[ra] && I->has_mr[rb]))
        return false;
    if (t->o[a].hidden || t->o[b].hidden)
        return false; /* a stand-in has no identity to share */
    size_t pa = class_parent(I, ra), pb = class_parent(I, rb);
    if (pa != MT__NONE && pb != MT__NONE && pa != pb)
        return false; /* one container each */
    /* neither may contain the other */
    for (size_t x = pb; x != MT__NONE; x = class_parent(I, x))
        if (x == ra)
            return false;
    for (size_t x = pa; x != MT__NONE; x = class_parent(I, x))
        if (x == rb)
            return false;
    return true;
}

/* Unites two identical printings and, pair by pair, their subtrees. */
static void merge(struct ident *I, size_t a, size_t b)
{
    struct mt__tree *t = I->t;
    size_t cap = 0, sp = 0;
    size_t *st = NULL;
    mt__grow(&st, &cap, 2, sizeof(*st));
    st[sp++] = a;
    st[sp++] = b;
    while (sp) {
        size_t y = st[--sp], x = st[--sp];
        size_t rx = mt__occ_class(t, x), ry = mt__occ_class(t, y);
        if (rx == ry)
            continue;
        if ((I->has_as[rx] && I->has_as[ry]) || (I->has_mr[rx] && I->has_mr[ry]))
            continue; /* distinct blocks stay distinct regions */
        t->o[ry].uf = rx;
        I->has_as[rx] |= I->has_as[ry];
        I->has_mr[rx] |= I->has_mr[ry];
        if (I->parent_occ[rx] == MT__NONE)
            I->parent_occ[rx] = I->parent_occ[ry];
        for (size_t k = 0; k < t->o[x].nkids; k++) {
            mt__grow(&st, &cap, sp + 2, sizeof(*st));
            st[sp++] = t->o[x].kids[k];
            st[sp++] = t->o[y].kids[k];
        }
    }
    free(st);
}

static int cmp_sig(const void *a, const void *b, void *ctx)
{
    const struct mt__tree *t = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (t->o[i].sig != t->o[j].sig)
        return t->o[i].sig < t->o[j].sig ? -1 : 1;
    return (i > j) - (i < j);
}

/*
 * The candidates for block top `top`: one occurrence per distinct region
 * that prints exactly like it and may be it. Returns how many, the first
 * (in file order) in *pick.
 */
static size_t candidates(struct ident *I, size_t top, size_t *pick)
{
    struct mt__tree *t = I->t;
    uint64_t sig = t->o[top].sig;
    size_t lo = 0, hi = t->no;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->o[I->by_sig[mid]].sig < sig)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0, roots[8];
    *pick = MT__NONE;
    for (size_t k = lo; k < t->no && t->o[I->by_sig[k]].sig == sig; k++) {
        size_t o = I->by_sig[k];
        if (!may_merge(I, top, o) || !same_tree(t, top, o))
            continue;
        size_t r = mt__occ_class(t, o), j = 0;
        while (j < n && j < 8 && roots[j] != r)
            j++;
        if (j < n && j < 8)
            continue; /* another printing of a region already counted */
        if (n == 0 || t->o[o].line < t->o[*pick].line)
            *pick = o;
        if (n < 8)
            roots[n] = r;
        n++;
    }
    return n;
}

void mt__tree_identity(struct mt__tree *t, struct mt__mdesc *d)
{
    compute_sigs(t);
    struct ident I = {.t = t};
    I.has_as = mt__xcalloc(t->no, sizeof(bool));
    I.has_mr = mt__xcalloc(t->no, sizeof(bool));
    I.parent_occ = mt__xmalloc(t->no * sizeof(size_t));
    I.by_sig = mt__xmalloc(t->no * sizeof(size_t));
    for (size_t i = 0; i < t->no; i++) {
        I.parent_occ[i] = t->o[i].parent;
        I.by_sig[i] = i;
    }
    for (size_t b = 0; b < t->nb; b++) {
        if (t->b[b].mr)
            I.has_mr[t->b[b].top] = true;
        else
            I.has_as[t->b[b].top] = true;
    }
    qsort_r(I.by_sig, t->no, sizeof(size_t), cmp_sig, t);

    /* Certain merges first (one candidate), repeated because each merge can
     * make another top's candidates one region; then the ambiguous ones. */
    for (;;) {
        bool changed = false;
        for (size_t b = 0; b < t->nb; b++) {
            size_t pick, top = t->b[b].top;
            if (candidates(&I, top, &pick) == 1) {
                merge(&I, pick, top);
                changed = true;
            }
        }
        if (changed)
            continue;
        for (size_t b = 0; b < t->nb && !changed; b++) {
            size_t pick, top = t->b[b].top;
            size_t n = candidates(&I, top, &pick);
            if (n > 1) {
                merge(&I, pick, top);
                mt__desc_note(d, "identity: the %s block '%s' (line %u) is taken to "
                              "be the region printed on line %u, one of %zu identical "
                              "printings (guess)", t->b[b].mr ? "memory-region"
                              : "address-space", t->o[top].name ? t->o[top].name
                              : "(hidden)", t->b[b].line, t->o[pick].line, n);
                changed = true;
            }
        }
        if (!changed)
            break;
    }
    free(I.has_as);
    free(I.has_mr);
    free(I.parent_occ);
    free(I.by_sig);
}
