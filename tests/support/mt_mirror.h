/*
 * A listener that mirrors what it is told: it keeps the ranges of its
 * address space from region_add and region_del, and checks every call
 * against them (a del or nop must name a range it holds, an add a free
 * start, begin and commit must pair without nesting). Replaying a
 * listener's add/del log to the final view is then one comparison:
 * mt_mirror_matches. For tests of re-entrant callbacks (issue 12): the
 * failure is recorded, not asserted, because callbacks run inside the
 * library, maybe on another thread.
 */
#ifndef MT_MIRROR_H
#define MT_MIRROR_H

#include <memtree.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MT_MIRROR_MAX 256

typedef struct mt_mirror {
    mt_listener l;
    mt_range held[MT_MIRROR_MAX];
    size_t n;
    int depth;          /* begin/commit nesting seen */
    unsigned calls;
    char failure[256];  /* the first inconsistency, "" if none */
    /* optional: what region_add calls besides recording */
    void (*on_add)(struct mt_mirror *m, const mt_section *s);
    void *opaque;
} mt_mirror;

static inline void mt_note_fail(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void mt_note_fail(char *buf, size_t len, const char *fmt, ...)
{
    if (buf[0])
        return; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static inline long mt_mirror_find(const mt_mirror *m, const mt_section *s)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->held[i].start == s->start)
            return (long)i;
    return -1;
}

static inline bool mt_mirror_same(const mt_range *r, const mt_section *s)
{
    return r->region == s->region && r->last == s->last &&
           r->offset_in_region == s->offset_in_region;
}

static void mt_mirror_begin(mt_listener *l)
{
    mt_mirror *m = (mt_mirror *)l;
    if (m->depth++ != 0)
        mt_note_fail(m->failure, sizeof(m->failure), "begin inside begin (call %u)", m->calls);
    m->calls++;
}

static void mt_mirror_commit(mt_listener *l)
{
    mt_mirror *m = (mt_mirror *)l;
    if (--m->depth != 0)
        mt_note_fail(m->failure, sizeof(m->failure), "commit without its begin (call %u)",
                m->calls);
    m->calls++;
}

static void mt_mirror_add(mt_listener *l, const mt_section *s)
{
    mt_mirror *m = (mt_mirror *)l;
    m->calls++;
    if (m->depth != 1)
        mt_note_fail(m->failure, sizeof(m->failure), "region_add outside begin/commit");
    if (mt_mirror_find(m, s) >= 0 || m->n == MT_MIRROR_MAX) {
        mt_note_fail(m->failure, sizeof(m->failure), "region_add at 0x%llx, which it holds",
                (unsigned long long)s->start);
        return;
    }
    m->held[m->n++] = (mt_range){.start = s->start, .last = s->last, .region = s->region,
                                 .offset_in_region = s->offset_in_region};
    if (m->on_add)
        m->on_add(m, s);
}

static void mt_mirror_del(mt_listener *l, const mt_section *s)
{
    mt_mirror *m = (mt_mirror *)l;
    m->calls++;
    long i = mt_mirror_find(m, s);
    if (i < 0 || !mt_mirror_same(&m->held[i], s)) {
        mt_note_fail(m->failure, sizeof(m->failure), "region_del of '%s' at 0x%llx, not held",
                s->region ? mt_region_name(s->region) : "?", (unsigned long long)s->start);
        return;
    }
    m->held[i] = m->held[--m->n];
}

static void mt_mirror_nop(mt_listener *l, const mt_section *s)
{
    mt_mirror *m = (mt_mirror *)l;
    m->calls++;
    long i = mt_mirror_find(m, s);
    if (i < 0 || !mt_mirror_same(&m->held[i], s))
        mt_note_fail(m->failure, sizeof(m->failure), "region_nop of '%s' at 0x%llx, not held",
                s->region ? mt_region_name(s->region) : "?", (unsigned long long)s->start);
}

static inline void mt_mirror_init(mt_mirror *m)
{
    memset(m, 0, sizeof(*m));
    m->l.begin = mt_mirror_begin;
    m->l.commit = mt_mirror_commit;
    m->l.region_add = mt_mirror_add;
    m->l.region_del = mt_mirror_del;
    m->l.region_nop = mt_mirror_nop;
}

/* The mirror holds exactly the view's ranges. */
static inline bool mt_mirror_matches(const mt_mirror *m, const mt_view *v, char *why,
                                     size_t len)
{
    size_t nr = mt_view_range_count(v);
    const mt_range *r = mt_view_ranges(v);
    if (nr != m->n) {
        mt_note_fail(why, len, "mirror holds %zu ranges, the view has %zu", m->n, nr);
        return false;
    }
    for (size_t i = 0; i < nr; i++) {
        mt_section s = {.region = r[i].region, .start = r[i].start, .last = r[i].last,
                        .offset_in_region = r[i].offset_in_region};
        long k = mt_mirror_find(m, &s);
        if (k < 0 || !mt_mirror_same(&m->held[k], &s)) {
            mt_note_fail(why, len, "the view's range at 0x%llx is not in the mirror",
                    (unsigned long long)r[i].start);
            return false;
        }
    }
    return true;
}

#endif
