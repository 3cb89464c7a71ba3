/*
 * Listeners: registration in priority order, replay on registration and
 * unregistration, the two-pass diff of a view switch, the coalesced-MMIO
 * ranges of a view as listeners see them. Dirty logging, which listeners
 * see as log_start/log_stop and the log requests, is dirty_log.c's; the
 * eventfds, listener_eventfds.c's.
 */
#include "internal.h"

#include <stdlib.h>

/* ---- ordering ------------------------------------------------------------ */

/* Inserts after every listener of equal or lower priority. */
#define INSERT_SORTED(head, l, next, prev)                                    \
    do {                                                                       \
        mt_listener *before_ = NULL, *it_ = (head);                            \
        while (it_ && it_->priority <= (l)->priority) {                        \
            before_ = it_;                                                     \
            it_ = it_->next;                                                   \
        }                                                                      \
        (l)->prev = before_;                                                   \
        (l)->next = it_;                                                       \
        if (before_)                                                           \
            before_->next = (l);                                               \
        else                                                                   \
            (head) = (l);                                                      \
        if (it_)                                                               \
            it_->prev = (l);                                                   \
    } while (0)

#define UNLINK(head, l, next, prev)                                            \
    do {                                                                       \
        if ((l)->prev)                                                         \
            (l)->prev->next = (l)->next;                                       \
        else                                                                   \
            (head) = (l)->next;                                                \
        if ((l)->next)                                                         \
            (l)->next->prev = (l)->prev;                                       \
        (l)->next = (l)->prev = NULL;                                          \
    } while (0)

/* ---- sections ------------------------------------------------------------ */

/* The dirty mask is not part of equality (docs/listeners.md): a mask
 * change alone is a log_start/log_stop, not a del and an add. */
static bool ranges_equal(const mt_range *a, const mt_range *b)
{
    return a->region == b->region && a->start == b->start && a->last == b->last &&
           a->offset_in_region == b->offset_in_region && a->romd_mode == b->romd_mode &&
           a->readonly == b->readonly && a->nonvolatile == b->nonvolatile;
}

/* ---- coalesced ranges ------------------------------------------------------- */

/* The region's list, if it has one. A range of an old view can name a
 * region an owner teardown finalised while still in use (reported there):
 * its storage no longer holds a list to follow. */
static const struct mt__coalesced *coalesced_of(const mt_region *r)
{
    return r && r->magic_ == MT__REGION_LIVE ? mt__rare_get(r)->coalesced : NULL;
}

/* The part of coalesced range `c` that the range `s` shows, in address-space
 * coordinates: the range shifted by the section's placement, cut to the
 * section. False if they do not meet. A length of 2^64 reads UINT64_MAX. */
static bool coalesced_part(const mt_section *s, const struct mt__coalesced_range *c,
                           uint64_t *addr, uint64_t *len)
{
    mt_section part = *s;
    if (!mt__section_cut(&part, c->offset, c->last))
        return false;
    *addr = part.start;
    *len = part.last - part.start == UINT64_MAX ? UINT64_MAX : part.last - part.start + 1;
    return true;
}

/* coalesced_io_add (forward) or _del (reverse) to every listener of `as`,
 * for each range of `list` the section shows, in list order. */
static void send_coalesced(mt_address_space *as, const mt_section *s,
                           const struct mt__coalesced *list, bool add)
{
    for (size_t i = 0; list && i < list->n; i++) {
        uint64_t addr, len;
        if (!coalesced_part(s, &list->ranges[i], &addr, &len))
            continue;
        if (add) {
            MT__FOR_AS_FORWARD(l, as)
                if (l->coalesced_io_add)
                    l->coalesced_io_add(l, s, addr, len);
        } else {
            MT__FOR_AS_REVERSE(l, as)
                if (l->coalesced_io_del)
                    l->coalesced_io_del(l, s, addr, len);
        }
    }
}

/* The same to one listener alone (registration replay). */
static void tell_coalesced(mt_listener *l, const mt_section *s, bool add)
{
    const struct mt__coalesced *list = coalesced_of(s->region);
    void (*fn)(mt_listener *, const mt_section *, uint64_t, uint64_t) =
        add ? l->coalesced_io_add : l->coalesced_io_del;
    for (size_t i = 0; fn && list && i < list->n; i++) {
        uint64_t addr, len;
        if (coalesced_part(s, &list->ranges[i], &addr, &len))
            fn(l, s, addr, len);
    }
}

void mt__coalesced_changed(mt_region *r, const struct mt__coalesced *old,
                           const struct mt__coalesced *now)
{
    mt_context *ctx = r->ctx_;
    mt__notify_begin(ctx);
    for (mt_address_space *as = ctx->as_first; as; as = as->next) {
        if (!as->listeners)
            continue;
        mt_view *v = as->view;
        MT__FOR_RANGES(v, rg) {
            if (rg->region != r)
                continue;
            mt_section s;
            mt__section_of(&s, rg, v, as);
            send_coalesced(as, &s, old, false);
            send_coalesced(as, &s, now, true);
        }
    }
    mt__notify_end(ctx);
}

/* ---- global begin/commit ------------------------------------------------- */

void mt__listeners_begin(mt_context *ctx)
{
    MT__FOR_CTX_FORWARD(l, ctx)
        if (l->begin)
            l->begin(l);
}

void mt__listeners_commit(mt_context *ctx)
{
    MT__FOR_CTX_FORWARD(l, ctx)
        if (l->commit)
            l->commit(l);
}

/* ---- the diff -------------------------------------------------------------- */

/* The range's coalesced parts go first, as in the unregistration replay:
 * a listener drops them while the slot still exists. */
static void send_del(mt_address_space *as, const mt_section *s)
{
    send_coalesced(as, s, coalesced_of(s->region), false);
    MT__FOR_AS_REVERSE(l, as)
        if (l->region_del)
            l->region_del(l, s);
}

static void send_add(mt_address_space *as, const mt_section *s)
{
    MT__FOR_AS_FORWARD(l, as)
        if (l->region_add)
            l->region_add(l, s);
    send_coalesced(as, s, coalesced_of(s->region), true);
}

static void send_nop(mt_address_space *as, const mt_section *s, unsigned old_mask,
                     unsigned new_mask)
{
    MT__FOR_AS_FORWARD(l, as)
        if (l->region_nop)
            l->region_nop(l, s);
    if (new_mask & ~old_mask)
        MT__FOR_AS_FORWARD(l, as)
            if (l->log_start)
                l->log_start(l, s, old_mask, new_mask);
    if (old_mask & ~new_mask)
        MT__FOR_AS_REVERSE(l, as)
            if (l->log_stop)
                l->log_stop(l, s, old_mask, new_mask);
}

/* A walk over the ranges of chunks [c, end) of a view. */
struct cursor {
    const mt_view *v;
    size_t c, k, end;
};

static struct cursor cursor_at(const mt_view *v, size_t c, size_t end)
{
    return (struct cursor){v, c, 0, v ? end : 0};
}

static const mt_range *cursor_get(const struct cursor *u)
{
    return u->c < u->end ? &u->v->chunks[u->c]->ranges[u->k] : NULL;
}

static void cursor_next(struct cursor *u)
{
    if (++u->k == u->v->chunks[u->c]->n) {
        u->c++;
        u->k = 0;
    }
}

/* The range starting exactly at `start`, found by advancing `u` (both
 * lists are sorted by start). */
static const mt_range *match_at(struct cursor *u, uint64_t start)
{
    const mt_range *r;
    while ((r = cursor_get(u)) && r->start < start)
        cursor_next(u);
    return r && r->start == start ? r : NULL;
}

/* region_nop for every range of chunks [from, to) of `v`, unchanged. */
static void nops_of(mt_address_space *as, const mt_view *v, size_t from, size_t to)
{
    for (struct cursor u = cursor_at(v, from, to); cursor_get(&u); cursor_next(&u)) {
        const mt_range *r = cursor_get(&u);
        mt_section s;
        mt__section_of(&s, r, v, as);
        send_nop(as, &s, r->dirty_log_mask, r->dirty_log_mask);
    }
}

static bool any_nop_listener(mt_address_space *as)
{
    bool any = false;
    MT__FOR_AS_FORWARD(l, as)
        any |= l->region_nop != NULL;
    return any;
}

/*
 * Only the runs of chunks the two views do not share (docs/views.md) can
 * differ: of the chunks they share only region_nop can be said, so
 * without a listener that has one the diff skips them and costs what
 * changed.
 */
void mt__listeners_diff(mt_address_space *as, mt_view *old, mt_view *new_view)
{
    if (!as->listeners || old == new_view)
        return;
    size_t nu;
    struct mt__unshared *u = mt__views_unshared(old, new_view, &nu);
    /* pass 1: removals, in address order */
    for (size_t k = 0; k < nu; k++) {
        struct cursor j = cursor_at(new_view, u[k].nf, u[k].nt);
        for (struct cursor i = cursor_at(old, u[k].of, u[k].ot); cursor_get(&i);
             cursor_next(&i)) {
            const mt_range *o = cursor_get(&i);
            const mt_range *n = match_at(&j, o->start);
            if (!n || !ranges_equal(o, n)) {
                mt_section s;
                mt__section_of(&s, o, old, as);
                send_del(as, &s);
            }
        }
    }
    /* pass 2: no-ops and additions, in address order */
    bool nops = any_nop_listener(as);
    size_t shared_from = 0;
    for (size_t k = 0; k < nu; k++) {
        if (nops)
            nops_of(as, new_view, shared_from, u[k].nf);
        struct cursor j = cursor_at(old, u[k].of, u[k].ot);
        for (struct cursor i = cursor_at(new_view, u[k].nf, u[k].nt); cursor_get(&i);
             cursor_next(&i)) {
            const mt_range *n = cursor_get(&i);
            const mt_range *o = match_at(&j, n->start);
            mt_section s;
            mt__section_of(&s, n, new_view, as);
            if (o && ranges_equal(o, n))
                send_nop(as, &s, o->dirty_log_mask, n->dirty_log_mask);
            else
                send_add(as, &s);
        }
        shared_from = u[k].nt;
    }
    if (nops)
        nops_of(as, new_view, shared_from, new_view->nchunks);
    free(u);
}

void mt__listeners_nops(mt_address_space *as, mt_view *v)
{
    if (as->listeners && any_nop_listener(as))
        nops_of(as, v, 0, v->nchunks);
}

/* ---- registration ------------------------------------------------------------ */

int mt_listener_register(mt_listener *l, mt_address_space *as)
{
    if (!l || !as)
        return mt__diag(as ? as->ctx : NULL, -EINVAL, "listener_register: NULL %s",
                        l ? "address space" : "listener");
    mt_context *ctx = as->ctx;
    if (l->as_)
        return mt__diag(ctx, -EBUSY, "listener_register: already registered on '%s'",
                        l->as_->name);
    if (ctx->notifying)
        return mt__diag(ctx, -EBUSY, "listener_register: called from a listener callback "
                        "on '%s'; register after the calls end", as->name);
    if (!as->root)
        return mt__diag(ctx, -EINVAL, "listener_register: address space '%s' is destroyed",
                        as->name);
    if (l->log_sync && l->log_sync_global)
        return mt__diag(ctx, -EINVAL,
                        "listener_register: both log_sync and log_sync_global are set");
    if (!as->listeners)
        mt__eventfds_track(as); /* the eventfds it will hear of */
    l->as_ = as;
    INSERT_SORTED(ctx->listeners, l, ctx_next_, ctx_prev_);
    INSERT_SORTED(as->listeners, l, as_next_, as_prev_);

    /* Replay the current state to this listener alone (docs/listeners.md). Commits its
     * callbacks make are processed after the replay. */
    mt__notify_begin(ctx);
    mt_view *v = as->view;
    if (l->begin)
        l->begin(l);
    if (ctx->global_dirty_log && l->log_global_start)
        l->log_global_start(l);
    MT__FOR_RANGES(v, rg) {
        mt_section s;
        mt__section_of(&s, rg, v, as);
        if (l->region_add)
            l->region_add(l, &s);
        tell_coalesced(l, &s, true);
        if (rg->dirty_log_mask && l->log_start)
            l->log_start(l, &s, 0, rg->dirty_log_mask);
    }
    mt__eventfds_replay(l, as, true);
    if (l->commit)
        l->commit(l);
    mt__notify_end(ctx);
    return 0;
}

void mt_listener_unregister(mt_listener *l)
{
    if (!l || !l->as_)
        return;
    mt_address_space *as = l->as_;
    mt_context *ctx = as->ctx;
    if (ctx->notifying) {
        /* the lists are being walked: unlinking now could skip or revisit */
        mt__diag(ctx, -EBUSY, "listener_unregister: called from a listener callback on "
                 "'%s'; the listener stays registered", as->name);
        return;
    }
    mt__notify_begin(ctx);
    mt_view *v = as->view;
    if (l->begin)
        l->begin(l);
    mt__eventfds_replay(l, as, false);
    MT__FOR_RANGES(v, rg) {
        mt_section s;
        mt__section_of(&s, rg, v, as);
        if (rg->dirty_log_mask && l->log_stop)
            l->log_stop(l, &s, rg->dirty_log_mask, 0);
        tell_coalesced(l, &s, false);
        if (l->region_del)
            l->region_del(l, &s);
    }
    if (l->commit)
        l->commit(l);
    UNLINK(ctx->listeners, l, ctx_next_, ctx_prev_);
    UNLINK(as->listeners, l, as_next_, as_prev_);
    l->as_ = NULL;
    mt__notify_end(ctx);
}

void mt__listeners_detach_all(mt_address_space *as)
{
    while (as->listeners) {
        mt_listener *l = as->listeners;
        UNLINK(as->ctx->listeners, l, ctx_next_, ctx_prev_);
        UNLINK(as->listeners, l, as_next_, as_prev_);
        l->as_ = NULL;
    }
}
