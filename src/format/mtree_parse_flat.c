/*
 * Reading QEMU `info mtree -f [-o] [-d]` flat dumps (docs/form, "QEMU `info
 * mtree` dumps"): one block per view with its address-space lines, flat-root
 * and ranges. Dispatch sections are skipped. The result is what the QEMU
 * importer matches its candidate machine against (machine_infer.c).
 */
#include "mtree_parse.h"

#include <stdlib.h>
#include <string.h>

struct flat_reader {
    const struct mt__src *src;
    struct mt__flat *f;
    struct mt__err *e;
    size_t capv, capas, capr, caprest;
    char **range_rest;  /* text after "): " of each range, cut after pass 1 */
};

static int fail(struct flat_reader *F, unsigned line, const char *what)
{
    return mt__fail(F->e, F->src->name, line, "%s", what);
}

static struct mt__frange *add_range(struct flat_reader *F)
{
    struct mt__flat *f = F->f;
    mt__grow(&F->range_rest, &F->caprest, f->nranges + 1, sizeof(*F->range_rest));
    struct mt__frange *r = &MT__PUSH(f->ranges, f->nranges, F->capr);
    memset(r, 0, sizeof(*r));
    return r;
}

/* `  S-E (prio P, T): rest` */
static int parse_range(struct flat_reader *F, unsigned line, char *s)
{
    struct mt__fview *v = &F->f->v[F->f->nv - 1];
    struct mt__frange *r = add_range(F);
    v->nranges++;
    r->line = line;
    if (!mt__parse_hex16(s, &r->start) || s[16] != '-' ||
        !mt__parse_hex16(s + 17, &r->last) || strncmp(s + 33, " (prio ", 7))
        return fail(F, line, "bad range line (S-E (prio P, T): NAME expected)");
    if (r->last < r->start)
        return mt__fail(F->e, F->src->name, line, "backwards range %016llx-%016llx: "
                        "the end is below the start", (unsigned long long)r->start,
                        (unsigned long long)r->last);
    char *p = s + 40, *comma = strchr(p, ',');
    if (!comma || comma[1] != ' ')
        return fail(F, line, "bad priority column ('(prio P, TYPE): NAME' expected)");
    *comma = '\0';
    if (!mt__parse_i32(p, &r->prio))
        return fail(F, line, "bad priority (signed 32-bit decimal expected)");
    p = comma + 2;
    char *close = strstr(p, "): ");
    if (!close)
        return fail(F, line, "bad type column ('TYPE): NAME' expected after the priority)");
    *close = '\0';
    r->type = mt__xstrdup(p);
    F->range_rest[F->f->nranges - 1] = close + 3;
    return 0;
}

static int parse_as(struct flat_reader *F, unsigned line, char *s)
{
    struct mt__flat *f = F->f;
    char *sep = strstr(s, "\", root: ");
    if (!sep)
        return fail(F, line, "bad AS line (AS \"NAME\", root: ROOT expected)");
    *sep = '\0';
    struct mt__fspace *a = &MT__PUSH(f->as, f->nas, F->capas);
    a->name = mt__xstrdup(s);
    a->root_text = mt__xstrdup(sep + 9);
    a->view = f->nv - 1;
    a->line = line;
    return 0;
}

static int read_lines(struct flat_reader *F)
{
    struct mt__flat *f = F->f;
    enum { OUT, HEAD, BODY, DISPATCH } st = OUT;
    for (size_t i = 0; i < F->src->nlines; i++) {
        unsigned line = (unsigned)i + 1;
        char *s = F->src->lines[i];
        mt__trim_right(s);
        if (!strncmp(s, "(qemu)", 6))
            continue;
        if (s[strspn(s, " \t")] == '\0') {
            st = OUT;
            continue;
        }
        if (!strncmp(s, "FlatView #", 10)) {
            struct mt__fview *v = &MT__PUSH(f->v, f->nv, F->capv);
            memset(v, 0, sizeof(*v));
            v->line = line;
            v->first_range = f->nranges;
            st = HEAD;
        } else if (st == OUT) {
            return fail(F, line, "line outside a FlatView block (is this a flat "
                        "dump, `info mtree -f`?)");
        } else if (st == DISPATCH) {
            continue;
        } else if (st == HEAD && !strncmp(s, " AS \"", 5)) {
            int err = parse_as(F, line, s + 5);
            if (err)
                return err;
        } else if (st == HEAD && !strncmp(s, " Root memory region: ", 21)) {
            const char *root = s + 21;
            f->v[f->nv - 1].root = strcmp(root, "(none)") ? mt__xstrdup(root) : NULL;
            st = BODY;
        } else if (st == BODY && !strcmp(s, "  No rendered FlatView")) {
            continue;
        } else if (st == BODY && !strcmp(s, "  Dispatch")) {
            st = DISPATCH;
        } else if (st == BODY && s[0] == ' ' && s[1] == ' ' && s[2] != ' ') {
            int err = parse_range(F, line, s + 2);
            if (err)
                return err;
        } else {
            return fail(F, line, "unrecognised line in a FlatView block (an AS line, ' Root "
                        "memory region: ', a range line '  S-E (prio P, T): NAME', '  No "
                        "rendered FlatView' or '  Dispatch' expected)");
        }
    }
    if (!f->nv)
        return fail(F, (unsigned)F->src->nlines, "no FlatView block (not a flat dump)");
    return 0;
}

/* Names end in ` @OFFSET` when the offset is not 0; owners (-o) follow. */
static void split_names(struct flat_reader *F)
{
    struct mt__flat *f = F->f;
    bool owners = f->nranges > 0;
    for (size_t i = 0; i < f->nranges && owners; i++) {
        const char *own;
        size_t olen;
        owners = mt__owner_suffix(F->range_rest[i], &own, &olen) >= 0;
    }
    for (size_t i = 0; i < f->nranges; i++) {
        char *s = F->range_rest[i];
        if (owners) {
            const char *own;
            size_t olen;
            s[mt__owner_suffix(s, &own, &olen)] = '\0';
        }
        size_t n = strlen(s);
        if (n >= 18 && s[n - 18] == ' ' && s[n - 17] == '@' &&
            mt__parse_hex16(s + n - 16, &f->ranges[i].offset))
            s[n - 18] = '\0';
        f->ranges[i].name = mt__xstrdup(s);
    }
}

int mt__flat_parse(const struct mt__src *src, struct mt__flat *f, struct mt__err *e)
{
    struct flat_reader F = {.src = src, .f = f, .e = e};
    memset(f, 0, sizeof(*f));
    f->file = src->name;
    int err = read_lines(&F);
    if (!err)
        split_names(&F);
    free(F.range_rest);
    return err;
}

void mt__flat_free(struct mt__flat *f)
{
    for (size_t i = 0; i < f->nv; i++)
        free(f->v[i].root);
    for (size_t i = 0; i < f->nas; i++) {
        free(f->as[i].name);
        free(f->as[i].root_text);
    }
    for (size_t i = 0; i < f->nranges; i++) {
        free(f->ranges[i].name);
        free(f->ranges[i].type);
    }
    free(f->v);
    free(f->as);
    free(f->ranges);
    memset(f, 0, sizeof(*f));
}
