/*
 * The interval index of ivtree.h: a B+ tree of (start, last, payload)
 * entries ordered by (start, payload), each inner node holding, for every
 * child, that child's first key and the largest last below it.
 *
 * Node sizes: a leaf of 64 entries is 1,544 bytes, an inner node of 32
 * children 1,032; the inner levels add about 2% to the leaves. A full node
 * splits where the new entry goes when that is its end or its start (so
 * entries added in ascending or descending order leave full nodes behind,
 * as a machine built in address order does); a full leaf that takes an
 * entry elsewhere first shares its entries with a neighbour that has room,
 * and splits in the middle only when neither has. A node
 * left under a quarter full by a removal is merged into a neighbour when
 * the two fit in one.
 */
#include "ivtree.h"

#include "alloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define LEAF_CAP 64
#define INNER_CAP 32
/* Every inner node but the root has at least 2 children, so 64 levels
 * are never reached. */
#define MAX_HEIGHT 64

struct entry {
    uint64_t start, last;
    void *payload;
};

/* `rising`, in a leaf and in an inner node: known to hold its lasts (the
 * children's largest lasts) in non-decreasing order, as disjoint
 * intervals do, so that its largest is its last one. False means not
 * known: a change that may break the order clears it, a rescan sets it. */
struct leaf {
    uint32_t n;
    uint32_t rising;
    struct entry e[LEAF_CAP];
};

/* An inner node's view of one child: its first key and its largest last. */
struct ref {
    uint64_t start;
    void *payload;
    uint64_t max_last;
    void *node;
};

struct inner {
    uint32_t n;
    uint32_t rising;
    struct ref c[INNER_CAP];
};

struct mt__ivtree {
    void *root;          /* a leaf when height is 0 */
    unsigned height;     /* inner levels above the leaves */
    size_t count, leaves, inners;
};

struct step {
    struct inner *node;
    uint32_t i;
};

static inline int key_cmp(uint64_t s1, const void *p1, uint64_t s2, const void *p2)
{
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    if (p1 != p2)
        return (uintptr_t)p1 < (uintptr_t)p2 ? -1 : 1;
    return 0;
}

struct mt__ivtree *mt__ivtree_new(void)
{
    struct mt__ivtree *t = mt__xcalloc(1, sizeof(*t));
    t->root = mt__xcalloc(1, sizeof(struct leaf));
    t->leaves = 1;
    return t;
}

static void free_node(void *node, unsigned height)
{
    if (height) {
        struct inner *in = node;
        for (uint32_t i = 0; i < in->n; i++)
            free_node(in->c[i].node, height - 1);
    }
    free(node);
}

void mt__ivtree_free(struct mt__ivtree *t)
{
    if (!t)
        return;
    free_node(t->root, t->height);
    free(t);
}

size_t mt__ivtree_count(const struct mt__ivtree *t)
{
    return t->count;
}

size_t mt__ivtree_bytes(const struct mt__ivtree *t)
{
    return sizeof(*t) + t->leaves * sizeof(struct leaf) + t->inners * sizeof(struct inner);
}

/* ---- summaries ------------------------------------------------------------ */

/* The largest of n lasts `stride` bytes apart, and whether they rise. */
static uint64_t scan_lasts(const void *first, size_t stride, uint32_t n, bool *rising)
{
    const char *p = first;
    uint64_t m = 0;
    bool up = true;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v = *(const uint64_t *)(p + i * stride);
        up &= v >= m;
        m = v > m ? v : m;
    }
    *rising = up;
    return m;
}

/* The largest of a node's n lasts: read off its end while the node is
 * known to rise (removing the end of a machine built in address order
 * then rescans nothing), else a rescan that learns whether it does. */
static uint64_t node_max(const void *first, size_t stride, uint32_t n, uint32_t *rising)
{
    assert(n > 0);
    if (*rising)
        return *(const uint64_t *)((const char *)first + (n - 1) * stride);
    bool up;
    uint64_t m = scan_lasts(first, stride, n, &up);
    *rising = up;
    return m;
}

static struct ref leaf_ref(struct leaf *l)
{
    uint64_t m = node_max(&l->e[0].last, sizeof(l->e[0]), l->n, &l->rising);
    return (struct ref){l->e[0].start, l->e[0].payload, m, l};
}

static struct ref inner_ref(struct inner *in)
{
    uint64_t m = node_max(&in->c[0].max_last, sizeof(in->c[0]), in->n, &in->rising);
    return (struct ref){in->c[0].start, in->c[0].payload, m, in};
}

/* After last i of a node's n (`stride` bytes apart) changed or came in:
 * clears *rising unless it still sits between its neighbours. */
static void last_changed(const void *first, size_t stride, uint32_t n, uint32_t i,
                         uint32_t *rising)
{
    const char *p = first;
    uint64_t m = *(const uint64_t *)(p + i * stride);
    if ((i > 0 && *(const uint64_t *)(p + (i - 1) * stride) > m) ||
        (i + 1 < n && m > *(const uint64_t *)(p + (i + 1) * stride)))
        *rising = 0;
}

static void ref_changed(struct inner *in, uint32_t i)
{
    last_changed(&in->c[0].max_last, sizeof(in->c[0]), in->n, i, &in->rising);
}

static void entry_changed(struct leaf *l, uint32_t pos)
{
    last_changed(&l->e[0].last, sizeof(l->e[0]), l->n, pos, &l->rising);
}

static inline struct ref node_ref(void *node, bool is_leaf)
{
    return is_leaf ? leaf_ref(node) : inner_ref(node);
}

static inline uint32_t node_n(const void *node, bool is_leaf)
{
    return is_leaf ? ((const struct leaf *)node)->n : ((const struct inner *)node)->n;
}

/* The child of `in` whose keys (start, payload) fall in: the last whose
 * first key is <= it, or the first. The last child is tried first: a
 * machine built in address order adds every region there. */
static uint32_t child_for(const struct inner *in, uint64_t start, const void *payload)
{
    uint32_t lo = 1, hi = in->n - 1;
    if (key_cmp(in->c[hi].start, in->c[hi].payload, start, payload) <= 0)
        return hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_cmp(in->c[mid].start, in->c[mid].payload, start, payload) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* Down to the leaf of (start, payload), recording the path. */
static struct leaf *descend(const struct mt__ivtree *t, uint64_t start, const void *payload,
                            struct step *path)
{
    void *node = t->root;
    for (unsigned level = t->height; level > 0; level--) {
        struct inner *in = node;
        uint32_t i = child_for(in, start, payload);
        path[level - 1] = (struct step){in, i};
        node = in->c[i].node;
    }
    return node;
}

/* The first entry of `l` whose key is >= (start, payload); past the last
 * tried first, as in child_for. */
static uint32_t leaf_pos(const struct leaf *l, uint64_t start, const void *payload)
{
    uint32_t lo = 0, hi = l->n;
    if (hi == 0 || key_cmp(l->e[hi - 1].start, l->e[hi - 1].payload, start, payload) < 0)
        return hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_cmp(l->e[mid].start, l->e[mid].payload, start, payload) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Refreshes the summaries along `path` from level `from` up. */
static void refresh_up(struct mt__ivtree *t, struct step *path, unsigned from, void *child)
{
    for (unsigned level = from; level <= t->height; level++) {
        struct step s = path[level - 1];
        s.node->c[s.i] = node_ref(child, level == 1);
        ref_changed(s.node, s.i);
        child = s.node;
    }
}

/* Where a full node of `cap` splits when an element goes in at `pos`. */
static inline uint32_t split_at(uint32_t pos, uint32_t cap)
{
    return pos == cap || pos == 0 ? pos : cap / 2;
}

/* ---- insert ------------------------------------------------------------- */

/* A full leaf `l` (child i of `parent`) gets `e` at `pos` by sharing its
 * entries with a neighbour that has room, rather than splitting: inserts
 * in random order then leave leaves about 80% full instead of 70%. The
 * parent's summary of the neighbour is refreshed here, that of `l` by the
 * caller. False if neither neighbour has room. */
static bool insert_sharing(struct inner *parent, uint32_t i, struct leaf *l, uint32_t pos,
                           struct entry e)
{
    struct leaf *left = i > 0 ? parent->c[i - 1].node : NULL;
    struct leaf *right = i + 1 < parent->n ? parent->c[i + 1].node : NULL;
    bool use_left = left && left->n < LEAF_CAP - 1;
    if (!use_left && !(right && right->n < LEAF_CAP - 1))
        return false;
    /* the two leaves and e, in order, then cut in the middle */
    struct leaf *a = use_left ? left : l, *b = use_left ? l : right;
    struct entry all[2 * LEAF_CAP + 1];
    uint32_t n = 0, at = use_left ? left->n + pos : pos;
    memcpy(all, a->e, a->n * sizeof(e));
    n += a->n;
    memcpy(&all[n], b->e, b->n * sizeof(e));
    n += b->n;
    memmove(&all[at + 1], &all[at], (n - at) * sizeof(e));
    all[at] = e;
    n++;
    a->n = n / 2;
    b->n = n - a->n;
    a->rising = b->rising = 0;
    memcpy(a->e, all, a->n * sizeof(e));
    memcpy(b->e, &all[a->n], b->n * sizeof(e));
    uint32_t j = use_left ? i - 1 : i + 1;
    parent->c[j] = leaf_ref(use_left ? left : right);
    ref_changed(parent, j);
    return true;
}

void mt__ivtree_insert(struct mt__ivtree *t, uint64_t start, uint64_t last, void *payload)
{
    assert(start <= last);
    struct step path[MAX_HEIGHT];
    struct leaf *l = descend(t, start, payload, path);
    uint32_t pos = leaf_pos(l, start, payload);
    assert(pos == l->n || key_cmp(l->e[pos].start, l->e[pos].payload, start, payload) != 0);
    struct entry e = {start, last, payload};
    void *split = NULL; /* a new node to the right of the one below */
    if (l->n < LEAF_CAP) {
        memmove(&l->e[pos + 1], &l->e[pos], (l->n - pos) * sizeof(e));
        l->e[pos] = e;
        l->n++;
        entry_changed(l, pos);
        t->count++;
        /* No node split: each summary on the path can only take the new
         * key as its first and the new last as its largest; up to the
         * first that changes neither, without rescanning any node. */
        for (unsigned level = 1; level <= t->height; level++) {
            struct ref *ref = &path[level - 1].node->c[path[level - 1].i];
            bool changed = false;
            if (last > ref->max_last) {
                ref->max_last = last;
                ref_changed(path[level - 1].node, path[level - 1].i);
                changed = true;
            }
            if (key_cmp(start, payload, ref->start, ref->payload) < 0) {
                ref->start = start;
                ref->payload = payload;
                changed = true;
            }
            if (!changed)
                break;
        }
        return;
    } else if (t->height > 0 && split_at(pos, LEAF_CAP) == LEAF_CAP / 2 &&
               insert_sharing(path[0].node, path[0].i, l, pos, e)) {
        /* shared with a neighbour: no split */
    } else {
        struct leaf *r = mt__xmalloc(sizeof(*r));
        t->leaves++;
        uint32_t cut = split_at(pos, LEAF_CAP);
        r->n = LEAF_CAP - cut;
        memcpy(r->e, &l->e[cut], r->n * sizeof(e));
        l->n = cut;
        l->rising = r->rising = 0;
        struct leaf *into = pos <= cut && l->n < LEAF_CAP ? l : r;
        uint32_t at = into == l ? pos : pos - cut;
        memmove(&into->e[at + 1], &into->e[at], (into->n - at) * sizeof(e));
        into->e[at] = e;
        into->n++;
        split = r;
    }
    t->count++;
    void *child = l;
    for (unsigned level = 1; level <= t->height; level++) {
        struct inner *in = path[level - 1].node;
        uint32_t i = path[level - 1].i;
        bool leaves = level == 1;
        in->c[i] = node_ref(child, leaves);
        ref_changed(in, i);
        child = in;
        if (!split)
            continue;
        struct ref sr = node_ref(split, leaves);
        split = NULL;
        uint32_t at = i + 1;
        if (in->n < INNER_CAP) {
            memmove(&in->c[at + 1], &in->c[at], (in->n - at) * sizeof(sr));
            in->c[at] = sr;
            in->n++;
            ref_changed(in, at);
            continue;
        }
        struct inner *r = mt__xmalloc(sizeof(*r));
        t->inners++;
        uint32_t cut = split_at(at, INNER_CAP);
        r->n = INNER_CAP - cut;
        memcpy(r->c, &in->c[cut], r->n * sizeof(sr));
        in->n = cut;
        in->rising = r->rising = 0;
        struct inner *into = at <= cut && in->n < INNER_CAP ? in : r;
        uint32_t k = into == in ? at : at - cut;
        memmove(&into->c[k + 1], &into->c[k], (into->n - k) * sizeof(sr));
        into->c[k] = sr;
        into->n++;
        split = r;
    }
    if (split) {
        /* the root split: a new root above both halves */
        bool leaves = t->height == 0;
        struct inner *root = mt__xmalloc(sizeof(*root));
        t->inners++;
        root->n = 2;
        root->rising = 0;
        root->c[0] = node_ref(t->root, leaves);
        root->c[1] = node_ref(split, leaves);
        t->root = root;
        t->height++;
    }
}

/* ---- remove ------------------------------------------------------------- */

/* Merges child i + 1 of `in` into child i (both leaves or both inner
 * nodes, as `leaves` says); they fit in one. */
static void merge_children(struct mt__ivtree *t, struct inner *in, uint32_t i, bool leaves)
{
    void *a = in->c[i].node, *b = in->c[i + 1].node;
    if (leaves) {
        struct leaf *la = a, *lb = b;
        memcpy(&la->e[la->n], lb->e, lb->n * sizeof(lb->e[0]));
        la->n += lb->n;
        la->rising = 0;
        t->leaves--;
    } else {
        struct inner *ia = a, *ib = b;
        memcpy(&ia->c[ia->n], ib->c, ib->n * sizeof(ib->c[0]));
        ia->n += ib->n;
        ia->rising = 0;
        t->inners--;
    }
    free(b);
    in->c[i] = node_ref(a, leaves);
    memmove(&in->c[i + 1], &in->c[i + 2], (in->n - i - 2) * sizeof(in->c[0]));
    in->n--;
    ref_changed(in, i);
}

static void first_key(const void *node, bool is_leaf, uint64_t *start, void **payload)
{
    if (is_leaf) {
        const struct leaf *l = node;
        *start = l->e[0].start;
        *payload = l->e[0].payload;
    } else {
        const struct inner *in = node;
        *start = in->c[0].start;
        *payload = in->c[0].payload;
    }
}

/* After an entry whose last was `gone_last` left leaf `l`, which kept
 * enough entries not to merge: a summary on the path changes its first
 * key when its node's first entry went, and its largest last only if the
 * entry held it (the only case that rescans a node); up to the first
 * summary that changes neither. */
static void shrink_up(struct mt__ivtree *t, struct step *path, struct leaf *l,
                      uint64_t gone_last)
{
    void *child = l;
    for (unsigned level = 1; level <= t->height; level++) {
        bool leaves = level == 1;
        struct step st = path[level - 1];
        struct ref *ref = &st.node->c[st.i];
        uint64_t start;
        void *payload;
        first_key(child, leaves, &start, &payload);
        bool key_changed = key_cmp(start, payload, ref->start, ref->payload) != 0;
        bool max_changed = false;
        if (gone_last == ref->max_last) {
            uint64_t m = node_ref(child, leaves).max_last;
            max_changed = m != ref->max_last;
            ref->max_last = m;
            ref_changed(st.node, st.i);
        }
        ref->start = start;
        ref->payload = payload;
        /* the parent's summary of st.node reads its first child's key */
        if (!(key_changed && st.i == 0) && !max_changed)
            return;
        child = st.node;
    }
}

void mt__ivtree_remove(struct mt__ivtree *t, uint64_t start, void *payload)
{
    struct step path[MAX_HEIGHT];
    struct leaf *l = descend(t, start, payload, path);
    uint32_t pos = leaf_pos(l, start, payload);
    assert(pos < l->n && l->e[pos].start == start && l->e[pos].payload == payload);
    uint64_t gone_last = l->e[pos].last;
    memmove(&l->e[pos], &l->e[pos + 1], (l->n - pos - 1) * sizeof(l->e[0]));
    l->n--;
    t->count--;
    if (t->height > 0 && l->n >= LEAF_CAP / 4) {
        shrink_up(t, path, l, gone_last);
        return;
    }
    void *child = l;
    for (unsigned level = 1; level <= t->height; level++) {
        struct inner *in = path[level - 1].node;
        uint32_t i = path[level - 1].i;
        bool leaves = level == 1;
        uint32_t cap = leaves ? LEAF_CAP : INNER_CAP;
        uint32_t n = node_n(child, leaves);
        if (n == 0) {
            free(child);
            if (leaves)
                t->leaves--;
            else
                t->inners--;
            memmove(&in->c[i], &in->c[i + 1], (in->n - i - 1) * sizeof(in->c[0]));
            in->n--;
        } else {
            in->c[i] = node_ref(child, leaves);
            ref_changed(in, i);
            if (n < cap / 4 && in->n > 1) {
                uint32_t left = i > 0 ? i - 1 : i;
                if (node_n(in->c[left].node, leaves) + node_n(in->c[left + 1].node, leaves) <=
                    cap)
                    merge_children(t, in, left, leaves);
            }
        }
        child = in;
    }
    /* an inner root with one child gives way to it; an empty one to a leaf */
    while (t->height > 0 && ((struct inner *)t->root)->n <= 1) {
        struct inner *root = t->root;
        if (root->n == 1) {
            t->root = root->c[0].node;
        } else {
            t->root = mt__xcalloc(1, sizeof(struct leaf));
            t->leaves++;
            t->height = 1; /* decremented below to 0 */
        }
        free(root);
        t->inners--;
        t->height--;
    }
}

void mt__ivtree_set_last(struct mt__ivtree *t, uint64_t start, void *payload, uint64_t last)
{
    assert(start <= last);
    struct step path[MAX_HEIGHT];
    struct leaf *l = descend(t, start, payload, path);
    uint32_t pos = leaf_pos(l, start, payload);
    assert(pos < l->n && l->e[pos].start == start && l->e[pos].payload == payload);
    l->e[pos].last = last;
    entry_changed(l, pos);
    refresh_up(t, path, 1, l);
}

/* ---- query -------------------------------------------------------------- */

struct query {
    uint64_t lo, last;
    size_t limit;
    void ***out;
    size_t *n, *cap;
};

static bool query_node(const struct query *q, const void *node, unsigned height)
{
    if (height == 0) {
        const struct leaf *l = node;
        for (uint32_t i = 0; i < l->n && l->e[i].start <= q->last; i++) {
            if (l->e[i].last < q->lo)
                continue;
            if (*q->n >= q->limit)
                return false;
            MT__PUSH(*q->out, *q->n, *q->cap) = l->e[i].payload;
        }
        return true;
    }
    const struct inner *in = node;
    for (uint32_t i = 0; i < in->n && in->c[i].start <= q->last; i++)
        if (in->c[i].max_last >= q->lo && !query_node(q, in->c[i].node, height - 1))
            return false;
    return true;
}

bool mt__ivtree_query(const struct mt__ivtree *t, uint64_t lo, uint64_t last, size_t limit,
                      void ***out, size_t *n, size_t *cap)
{
    struct query q = {lo, last, *n + limit, out, n, cap};
    return query_node(&q, t->root, t->height);
}

/* ---- checking ------------------------------------------------------------ */

struct check {
    size_t count, leaves, inners;
    bool have_prev;
    uint64_t prev_start;
    const void *prev_payload;
};

static bool check_node(struct check *c, const void *node, unsigned height, bool is_root,
                       struct ref *summary)
{
    if (height == 0) {
        const struct leaf *l = node;
        c->leaves++;
        if (l->n > LEAF_CAP || (l->n == 0 && !is_root))
            return false;
        for (uint32_t i = 0; i < l->n; i++) {
            const struct entry *e = &l->e[i];
            if (e->start > e->last)
                return false;
            if (c->have_prev && key_cmp(c->prev_start, c->prev_payload, e->start, e->payload) >= 0)
                return false;
            c->have_prev = true;
            c->prev_start = e->start;
            c->prev_payload = e->payload;
            c->count++;
        }
        if (l->n) {
            bool up;
            uint64_t m = scan_lasts(&l->e[0].last, sizeof(l->e[0]), l->n, &up);
            if (l->rising && !up)
                return false;
            *summary = (struct ref){l->e[0].start, l->e[0].payload, m, (void *)l};
        }
        return true;
    }
    const struct inner *in = node;
    c->inners++;
    if (in->n > INNER_CAP || in->n < (is_root ? 2u : 1u))
        return false;
    for (uint32_t i = 0; i < in->n; i++) {
        struct ref sub;
        if (!check_node(c, in->c[i].node, height - 1, false, &sub))
            return false;
        if (sub.start != in->c[i].start || sub.payload != in->c[i].payload ||
            sub.max_last != in->c[i].max_last)
            return false;
    }
    bool up;
    uint64_t m = scan_lasts(&in->c[0].max_last, sizeof(in->c[0]), in->n, &up);
    if (in->rising && !up)
        return false;
    *summary = (struct ref){in->c[0].start, in->c[0].payload, m, (void *)in};
    return true;
}

bool mt__ivtree_check(const struct mt__ivtree *t)
{
    struct check c = {0};
    struct ref summary;
    if (!check_node(&c, t->root, t->height, true, &summary))
        return false;
    return c.count == t->count && c.leaves == t->leaves && c.inners == t->inners;
}
