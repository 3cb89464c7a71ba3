/*
 * Subregions: mapping a region into a container and unmapping it, and the
 * order siblings render in. Each container keeps its children in an array
 * in REVERSE render order with the extent of each priority class (render
 * order: docs/regions.md, "Mapping, priorities and render order"). A new child goes
 * before the first sibling of lower or equal priority, so higher
 * priorities come first and the newest wins among equals; reversed, the
 * newest child of a class goes at the end of its class, so mapping
 * children of one priority is an append (QEMU scans a list: O(n) per
 * map), and the renderer walks an array it can prefetch instead of chasing
 * list pointers. Unmapping leaves a hole that the next look at the
 * children closes (mt__children), so unmapping n siblings is O(n).
 *
 * A container with many children also keeps them by address (ix->addr,
 * src/util/ivtree.h), so that rendering a small part of it visits only
 * the children there (render.c). It is built when the children reach
 * MT__ADDR_INDEX_MIN, edited with every map, unmap and resize after that
 * (O(log n) each), and dropped when they fall below a quarter of it, so
 * small containers pay nothing.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Children from which a container keeps its address index. Measured on
 * a part render of one child's span (docs/rendering.md, "Rendering part
 * of a view"): 32 children walked in about 0.4 us, as fast as through an
 * index; 64 in 0.64 us against 0.38; 128 in 2.8 us against 0.44. And one
 * leaf of the index (1.5 KB) costs 24 bytes a child from 64 on. */
#define MT__ADDR_INDEX_MIN 64

/* The last address `sub` covers in its container (it starts at addr_);
 * a child of size 0 covers none but is kept as [addr_, addr_], which a
 * render visits and finds empty. */
static uint64_t child_last(const mt_region *sub)
{
    if (sub->size_full_)
        return UINT64_MAX;
    uint64_t size = sub->size_ ? sub->size_ : 1;
    uint64_t last = sub->addr_ + (size - 1);
    return last < sub->addr_ ? UINT64_MAX : last;
}

static void addr_index_build(struct mt__child_index *ix)
{
    ix->addr = mt__ivtree_new();
    for (size_t i = 0; i < ix->n; i++)
        if (ix->slots[i])
            mt__ivtree_insert(ix->addr, ix->slots[i]->addr_, child_last(ix->slots[i]),
                              ix->slots[i]);
}

void mt__subregion_resized(mt_region *sub)
{
    struct mt__child_index *ix = sub->container_ ? sub->container_->child_index_ : NULL;
    if (ix && mt__children_addr(ix))
        mt__ivtree_set_last(ix->addr, sub->addr_, sub, child_last(sub));
}

/* Index of the class with `prio`, or where it would be inserted. */
static size_t class_search(const struct mt__child_index *ix, int32_t prio)
{
    size_t lo = 0, hi = ix->nclasses;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->classes[mid].priority < prio)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t mt__child_slot(const struct mt__child_index *ix, const mt_region *sub)
{
    size_t k = class_search(ix, sub->priority_);
    assert(k < ix->nclasses && ix->classes[k].priority == sub->priority_);
    return ix->classes[k].start + sub->slot_;
}

/* Grows one of the index's arrays from `n` to `cap` entries; it may still
 * be the inline one (`one`). */
static void *grow_array(void *arr, const void *one, size_t n, size_t cap, size_t elem)
{
    if (arr != one)
        return mt__xrealloc(arr, cap * elem);
    void *p = mt__xmalloc(cap * elem);
    memcpy(p, arr, n * elem);
    return p;
}

static void link_child(mt_region *c, mt_region *sub)
{
    struct mt__child_index *ix = c->child_index_;
    if (!ix) {
        ix = c->child_index_ = mt__xcalloc(1, sizeof(*ix));
        ix->slots = &ix->one_slot;
        ix->classes = &ix->one_class;
        ix->cap = ix->cap_classes = 1;
    }
    if (ix->n == ix->cap) {
        ix->cap *= 2;
        bool was_inline = ix->slots == &ix->one_slot;
        ix->slots = grow_array(ix->slots, &ix->one_slot, ix->n, ix->cap, sizeof(ix->slots[0]));
        if (was_inline)
            ix->addr = NULL; /* the inline slot's room, from now on */
    }
    size_t k = class_search(ix, sub->priority_);
    if (k == ix->nclasses || ix->classes[k].priority != sub->priority_) {
        if (ix->nclasses == ix->cap_classes) {
            ix->cap_classes *= 2;
            ix->classes = grow_array(ix->classes, &ix->one_class, ix->nclasses,
                                     ix->cap_classes, sizeof(ix->classes[0]));
        }
        memmove(&ix->classes[k + 1], &ix->classes[k],
                (ix->nclasses - k) * sizeof(ix->classes[0]));
        uint32_t start = k ? ix->classes[k - 1].start + ix->classes[k - 1].count : 0;
        ix->classes[k] = (struct mt__prio_class){sub->priority_, 0, start};
        ix->nclasses++;
    }
    /* the end of class k; the classes above move up one slot, their
     * members' places in them stay */
    size_t pos = ix->classes[k].start + ix->classes[k].count;
    memmove(&ix->slots[pos + 1], &ix->slots[pos], (ix->n - pos) * sizeof(ix->slots[0]));
    for (size_t j = k + 1; j < ix->nclasses; j++)
        ix->classes[j].start++;
    ix->slots[pos] = sub;
    sub->slot_ = ix->classes[k].count++;
    ix->n++;
    sub->container_ = c;
    if (mt__children_addr(ix))
        mt__ivtree_insert(ix->addr, sub->addr_, child_last(sub), sub);
    else if (ix->n - ix->holes >= MT__ADDR_INDEX_MIN)
        addr_index_build(ix);
}

void mt__children_compact(struct mt__child_index *ix)
{
    size_t from = 0, to = 0, kept = 0;
    for (size_t k = 0; k < ix->nclasses; k++) {
        uint32_t live = 0, start = (uint32_t)to;
        for (size_t end = from + ix->classes[k].count; from < end; from++) {
            mt_region *r = ix->slots[from];
            if (!r)
                continue;
            r->slot_ = live++;
            ix->slots[to++] = r;
        }
        if (live)
            ix->classes[kept++] =
                (struct mt__prio_class){ix->classes[k].priority, live, start};
    }
    assert(from == ix->n);
    ix->n = to;
    ix->nclasses = kept;
    ix->holes = 0;
}

/*
 * Unmapping leaves a hole instead of moving every later sibling down, so
 * that unmapping n siblings (a machine's teardown) is O(n), not O(n^2).
 * Holes at the end are trimmed at once; the rest are closed by the next
 * mt__children, or here once they are half the array.
 */
static void unlink_child(mt_region *c, mt_region *sub)
{
    struct mt__child_index *ix = c->child_index_;
    size_t pos = mt__child_slot(ix, sub);
    assert(pos < ix->n && ix->slots[pos] == sub);
    ix->slots[pos] = NULL;
    ix->holes++;
    sub->container_ = NULL;
    if (mt__children_addr(ix)) {
        mt__ivtree_remove(ix->addr, sub->addr_, sub);
        if (mt__ivtree_count(ix->addr) < MT__ADDR_INDEX_MIN / 4) {
            mt__ivtree_free(ix->addr);
            ix->addr = NULL;
        }
    }
    while (ix->n && !ix->slots[ix->n - 1]) {
        ix->n--;
        ix->holes--;
        if (--ix->classes[ix->nclasses - 1].count == 0)
            ix->nclasses--;
    }
    if (!ix->n) {
        assert(!mt__children_addr(ix));
        if (ix->slots != &ix->one_slot)
            free(ix->slots);
        if (ix->classes != &ix->one_class)
            free(ix->classes);
        free(ix);
        c->child_index_ = NULL;
    } else if (ix->holes > ix->n / 2) {
        mt__children_compact(ix);
    }
}

void mt__subregions_unlink_all(mt_region *c)
{
    /* the address index goes first: removing every child from it one by
     * one would rescan its nodes' summaries for nothing */
    struct mt__child_index *ix = c->child_index_;
    if (mt__children_addr(ix)) {
        mt__ivtree_free(ix->addr);
        ix->addr = NULL;
    }
    /* the last slot first: nothing moves */
    while (c->child_index_)
        mt__subregion_unlink(c, c->child_index_->slots[c->child_index_->n - 1]);
}

static void adjust_alias_chain(mt_region *sub, int delta)
{
    for (mt_region *t = sub->alias_; t; t = t->alias_)
        mt__rare(t)->mapped_via_alias += (uint32_t)delta;
}

struct walk_stack {
    mt_region **items;
    size_t n, cap;
    uint64_t mark;
};

static void walk_push(struct walk_stack *st, mt_region *r)
{
    if (r->walk_mark_ == st->mark)
        return;
    r->walk_mark_ = st->mark;
    MT__PUSH(st->items, st->n, st->cap) = r;
}

/* Would mapping `sub` into `c` make a container cycle, that is, is `c`
 * `sub` or inside it through subregion links alone? (Loops through an alias
 * are legal and render: docs/rendering.md.) Two walks answer it: up from
 * `c` through its containers, and down from `sub` through its children.
 * They take turns one region at a time and the first to finish decides, so
 * the check costs the smaller of c's depth and sub's subtree: building a
 * deep chain top-down or bottom-up stays linear. */
static bool contains(mt_context *ctx, mt_region *sub, mt_region *c)
{
    if (!sub->child_index_)
        return sub == c;
    struct walk_stack st = {.mark = mt__walk_begin(ctx)};
    walk_push(&st, sub);
    const mt_region *up = c;
    bool found = false;
    for (;;) {
        if (up == sub) {
            found = true;
            break;
        }
        if (!up)
            break; /* c's containers end without sub: no cycle */
        up = up->container_;
        if (!st.n)
            break; /* sub's subtree ends without c: no cycle */
        mt_region *r = st.items[--st.n];
        if (r == c) {
            found = true;
            break;
        }
        size_t n;
        mt_region *const *children = mt__children(r, &n);
        for (size_t i = 0; i < n; i++)
            walk_push(&st, children[i]);
    }
    free(st.items);
    return found;
}

/* The flush hook runs at every begin and may edit the tree (docs/threads.md):
 * what the caller checked before its begin may no longer hold after it.
 * The link helpers check again once their own begin has run; -EBUSY, and
 * nothing done, if the hook's edits got there first. */
static int changed_under_edit(mt_context *ctx, const char *what, const mt_region *r)
{
    return mt__diag(ctx, -EBUSY, "%s '%s': the flush hook's edits changed it meanwhile; "
                    "left as the hook made it", what, mt__name(r));
}

/* Marks what mapping or unmapping `sub` changes in `c`: where sub lies in
 * it, only (sub itself: mt__touch_placed). */
static void touch_extent(mt_region *c, mt_region *sub)
{
    mt__i128 end = (mt__i128)sub->addr_ + mt__size(sub);
    if (end == (mt__i128)sub->addr_) {
        mt__touch(c); /* a zero-size child: no extent to speak of */
        return;
    }
    mt__touch_part(c, sub->addr_, mt__last_before(end));
}

int mt__subregion_link(mt_region *c, mt_region *sub, uint64_t addr, int32_t prio)
{
    mt_context *ctx = c->ctx_;
    int err = mt__edit_begin(sub, "map");
    if (err)
        return err;
    if (!mt__region_live(c) || sub->container_) {
        mt__edit_end(ctx, false);
        return changed_under_edit(ctx, "map", sub);
    }
    sub->addr_ = addr;
    sub->priority_ = prio;
    mt__touch_placed(sub);
    link_child(c, sub);
    adjust_alias_chain(sub, +1);
    if (sub->owner_ != c->owner_)
        mt__owner_ref(sub->owner_);
    touch_extent(c, sub);
    mt__edit_end(ctx, mt__enabled(c) && mt__enabled(sub));
    return 0;
}

int mt__subregion_unlink(mt_region *c, mt_region *sub)
{
    mt_context *ctx = c->ctx_;
    int err = mt__edit_begin(sub, "unmap");
    if (err)
        return err;
    if (sub->container_ != c) {
        mt__edit_end(ctx, false);
        return changed_under_edit(ctx, "unmap", sub);
    }
    unlink_child(c, sub);
    mt__touch_placed(sub);
    adjust_alias_chain(sub, -1);
    if (sub->owner_ != c->owner_)
        mt__owner_unref(ctx, sub->owner_);
    touch_extent(c, sub);
    mt__edit_end(ctx, mt__enabled(c) && mt__enabled(sub));
    return 0;
}

static int add_subregion(mt_region *c, uint64_t offset, mt_region *sub,
                         int32_t prio, const char *op)
{
    MT__CHECK_LIVE(c, op);
    MT__CHECK_LIVE(sub, op);
    mt_context *ctx = c->ctx_;
    if (sub->ctx_ != ctx)
        return mt__diag(ctx, -EINVAL, "%s: '%s' and '%s' belong to different contexts",
                        op, mt__name(c), mt__name(sub));
    if (sub->container_)
        return mt__diag(ctx, -EBUSY, "%s: '%s' is already mapped in '%s'", op,
                        mt__name(sub), mt__name(sub->container_));
    if (contains(ctx, sub, c))
        return mt__diag(ctx, -ELOOP,
                        "%s: mapping '%s' into '%s' would make '%s' contain itself",
                        op, mt__name(sub), mt__name(c), mt__name(c));
    return mt__subregion_link(c, sub, offset, prio);
}

int mt_region_add_subregion(mt_region *c, uint64_t offset, mt_region *sub)
{
    return add_subregion(c, offset, sub, 0, "add_subregion");
}

int mt_region_add_subregion_overlap(mt_region *c, uint64_t offset, mt_region *sub,
                                    int32_t priority)
{
    return add_subregion(c, offset, sub, priority, "add_subregion_overlap");
}

int mt_region_del_subregion(mt_region *c, mt_region *sub)
{
    MT__CHECK_LIVE(c, "del_subregion");
    MT__CHECK_LIVE(sub, "del_subregion");
    if (sub->container_ != c)
        return mt__diag(c->ctx_, -ENOENT, "del_subregion: '%s' is not mapped in '%s'",
                        mt__name(sub), mt__name(c));
    return mt__subregion_unlink(c, sub);
}

