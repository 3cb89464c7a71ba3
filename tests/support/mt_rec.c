/* The recording listener of mt_rec.h. */
#include "mt_rec.h"

#include <stdio.h>
#include <string.h>

void mt_rec_put(mt_listener *l, const char *fmt, ...)
{
    mt_rec *r = (mt_rec *)l;
    mt_rec *dst = r->shared ? r->shared : r;
    char word[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(word, sizeof(word), fmt, ap);
    va_end(ap);
    size_t len = strlen(dst->log);
    int n = snprintf(dst->log + len, sizeof(dst->log) - len, "%s%s%s%s", len ? " " : "",
                     r->shared ? r->tag : "", r->shared ? ":" : "", word);
    assert_true(n > 0 && (size_t)n < sizeof(dst->log) - len);
}

const char *mt_rec_name(const mt_section *s)
{
    return mt_region_name(s->region) ? mt_region_name(s->region) : "(null)";
}

void mt_rec_section(mt_listener *l, const char *what, const mt_section *s)
{
    char size[40] = "";
    if (((mt_rec *)l)->style & MT_REC_SIZES)
        snprintf(size, sizeof(size), ":%llx", (unsigned long long)(s->last - s->start) + 1);
    if (s->offset_in_region)
        mt_rec_put(l, "%s(%s@%llx+%llx%s)", what, mt_rec_name(s), (unsigned long long)s->start,
                   (unsigned long long)s->offset_in_region, size);
    else
        mt_rec_put(l, "%s(%s@%llx%s)", what, mt_rec_name(s), (unsigned long long)s->start,
                   size);
}

static void on_begin(mt_listener *l) { mt_rec_put(l, "begin"); }
static void on_commit(mt_listener *l) { mt_rec_put(l, "commit"); }
static void on_add(mt_listener *l, const mt_section *s) { mt_rec_section(l, "add", s); }
static void on_del(mt_listener *l, const mt_section *s) { mt_rec_section(l, "del", s); }
static void on_nop(mt_listener *l, const mt_section *s) { mt_rec_section(l, "nop", s); }

static void log_word(mt_listener *l, const char *what, const mt_section *s, unsigned o,
                     unsigned n)
{
    if (((mt_rec *)l)->style & MT_REC_SIZES)
        mt_rec_put(l, "%s(%s,%x->%x)", what, mt_rec_name(s), o, n);
    else
        mt_rec_put(l, "%s(%s@%llx,%x->%x)", what, mt_rec_name(s), (unsigned long long)s->start,
                   o, n);
}

static void on_log_start(mt_listener *l, const mt_section *s, unsigned o, unsigned n)
{
    log_word(l, "log_start", s, o, n);
}

static void on_log_stop(mt_listener *l, const mt_section *s, unsigned o, unsigned n)
{
    log_word(l, "log_stop", s, o, n);
}

void mt_rec_init(mt_rec *r, int priority, const char *tag, mt_rec *shared, unsigned style)
{
    memset(r, 0, sizeof(*r));
    r->l = (mt_listener){
        .begin = on_begin, .commit = on_commit, .region_add = on_add,
        .region_del = on_del, .region_nop = on_nop, .log_start = on_log_start,
        .log_stop = on_log_stop, .priority = priority,
    };
    r->tag = tag;
    r->shared = shared;
    r->style = style;
}

void mt_rec_attach(mt_rec *r, mt_address_space *as)
{
    assert_int_equal(mt_listener_register(&r->l, as), 0);
    (r->shared ? r->shared : r)->log[0] = '\0';
}

void mt_rec_check(mt_rec *r, const char *expected)
{
    if (strcmp(r->log, expected) != 0)
        fail_msg("listener log\n  expected: %s\n  got:      %s", expected, r->log);
    r->log[0] = '\0';
}

void mt_rec_free(mt_rec *r)
{
    mt_listener_unregister(&r->l);
}
