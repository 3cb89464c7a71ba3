/*
 * Owners: the reference-counted objects regions belong to (QEMU's devices).
 * A reference on a region is a reference on its owner. The library's own
 * releases never tear an owner down inline; they queue it for the next
 * mt_context_reclaim, so no edit can finalise regions half-way through.
 */
#include "internal.h"

#include <stdlib.h>

int mt_owner_init(mt_owner *o, const char *label, mt_owner_release_fn release)
{
    if (!o)
        return -EINVAL;
    o->magic_ = MT__OWNER_LIVE;
    o->refs_ = 1;
    o->release_ = release;
    o->label_ = mt__xstrdup(label);
    o->regions_ = NULL;
    o->pending_next_ = NULL;
    o->pending_ = 0;
    o->reader_refs_ = 0;
    o->user_refs_ = 1;
    o->ctx_ = NULL;
    o->ctx_serial_ = 0;
    return 0;
}

/* -EINVAL, reported, unless `o` is a live owner. A released owner keeps
 * its context and label pointer cleared, so the report still reaches the
 * context's hook. */
static int owner_check(const mt_owner *o, const char *what)
{
    if (o && o->magic_ == MT__OWNER_LIVE)
        return 0;
    /* a released owner's storage is the caller's: it can outlive its context */
    return mt__diag(o ? mt__context_alive(o->ctx_, o->ctx_serial_) : NULL, -EINVAL,
                    "%s: owner %p is not initialised or was released", what, (const void *)o);
}

static const char *owner_label(const mt_owner *o)
{
    return o->label_ ? o->label_ : "(no label)";
}

int mt_owner_ref(mt_owner *o)
{
    int err = owner_check(o, "mt_owner_ref");
    if (err)
        return err;
    o->refs_++;
    o->user_refs_++;
    return 0;
}

uint32_t mt_owner_refcount(const mt_owner *o)
{
    return o ? o->refs_ + __atomic_load_n(&o->reader_refs_, __ATOMIC_RELAXED) : 0;
}

const char *mt_owner_label(const mt_owner *o)
{
    return o ? o->label_ : NULL;
}

/* Finalises every region of the owner, in any order, then releases it. */
static void owner_teardown(mt_owner *o)
{
    /* Mark them first so finalisation does not follow alias pointers into
     * regions that are going away in the same teardown (docs/lifetimes.md). */
    for (mt_region *r = o->regions_; r; r = r->owner_next_)
        r->flags_ |= MT__F_DYING;
    /* An alias dying with its target stops counting for it now, while both
     * are certainly live: whichever is finalised first, the target's count
     * is then exactly its aliases of other owners. */
    for (mt_region *r = o->regions_; r; r = r->owner_next_) {
        if (r->alias_ && (r->alias_->flags_ & MT__F_DYING)) {
            r->alias_->rare_->alias_refs--;
            r->flags_ |= MT__F_UNCOUNTED;
            mt__alias_unlink(r);
        }
    }
    while (o->regions_)
        mt__region_finalize_dying(o->regions_);
    free(o->label_);
    o->label_ = NULL;
    o->magic_ = 0;
    if (o->release_)
        o->release_(o);
}

/* No reference of any kind is left. The writer's count is its own; the
 * readers' is atomic, and once both are 0 no reader can take a new one:
 * readers find regions through views, whose ranges hold writer
 * references until a grace period after they stop being published. */
static bool owner_unreferenced(const mt_owner *o)
{
    return o->refs_ == 0 && __atomic_load_n(&o->reader_refs_, __ATOMIC_ACQUIRE) == 0;
}

/* Queues `o` for the next reclaim, once however many threads ask. */
static void owner_queue(mt_context *ctx, mt_owner *o)
{
    if (__atomic_exchange_n(&o->pending_, 1, __ATOMIC_ACQ_REL))
        return;
    mt_owner *head = atomic_load_explicit(&ctx->pending_owners, memory_order_relaxed);
    do {
        o->pending_next_ = head;
    } while (!atomic_compare_exchange_weak_explicit(&ctx->pending_owners, &head, o,
                                                    memory_order_release,
                                                    memory_order_relaxed));
}

int mt_owner_unref(mt_owner *o)
{
    int err = owner_check(o, "mt_owner_unref");
    if (err)
        return err;
    if (o->user_refs_ == 0)
        return mt__diag(mt__context_alive(o->ctx_, o->ctx_serial_), -EINVAL,
                        "mt_owner_unref: owner '%s' released more often than referenced; the "
                        "%u reference(s) left are the library's, nothing is torn down",
                        owner_label(o), mt_owner_refcount(o));
    assert(o->refs_ > 0);
    o->user_refs_--;
    --o->refs_;
    if (owner_unreferenced(o) && !__atomic_load_n(&o->pending_, __ATOMIC_ACQUIRE)) {
        /* Finalising its regions may let a closed context go; the release
         * callback runs the caller's code, so the context is held until
         * the teardown is over. An owner without regions names no context. */
        mt_context *ctx = o->regions_ ? o->ctx_ : NULL;
        if (ctx)
            ctx->holds++;
        owner_teardown(o); /* may free o */
        if (ctx) {
            ctx->holds--;
            mt__context_settle(ctx);
        }
    }
    return 0;
}

void mt__owner_unref(mt_context *ctx, mt_owner *o)
{
    if (!o)
        return;
    assert(o->refs_ > 0);
    if (--o->refs_ == 0 && owner_unreferenced(o))
        owner_queue(ctx, o);
}

void mt__owner_reader_ref(mt_owner *o)
{
    if (o)
        __atomic_fetch_add(&o->reader_refs_, 1, __ATOMIC_RELAXED);
}

void mt__owner_reader_unref(mt_context *ctx, mt_owner *o)
{
    /* The last reader reference queues the owner whatever the writer's
     * count is (a reader cannot read that count): the reclaim decides. */
    if (o && __atomic_sub_fetch(&o->reader_refs_, 1, __ATOMIC_ACQ_REL) == 0)
        owner_queue(ctx, o);
}

void mt__owners_reap(mt_context *ctx)
{
    mt_owner *o;
    while ((o = atomic_exchange_explicit(&ctx->pending_owners, NULL, memory_order_acquire))) {
        while (o) {
            mt_owner *next = o->pending_next_;
            o->pending_next_ = NULL;
            __atomic_store_n(&o->pending_, 0, __ATOMIC_RELEASE);
            /* A region of it may have been mapped again meanwhile. */
            if (owner_unreferenced(o))
                owner_teardown(o); /* may free o, and queue more owners */
            o = next;
        }
    }
}

void mt__owner_add_region(mt_owner *o, mt_region *r)
{
    o->ctx_ = r->ctx_;
    o->ctx_serial_ = r->ctx_->serial;
    r->owner_prev_ = NULL;
    r->owner_next_ = o->regions_;
    if (o->regions_)
        o->regions_->owner_prev_ = r;
    o->regions_ = r;
}

void mt__owner_remove_region(mt_owner *o, mt_region *r)
{
    if (r->owner_prev_)
        r->owner_prev_->owner_next_ = r->owner_next_;
    else
        o->regions_ = r->owner_next_;
    if (r->owner_next_)
        r->owner_next_->owner_prev_ = r->owner_prev_;
    r->owner_next_ = r->owner_prev_ = NULL;
}
