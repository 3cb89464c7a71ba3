/*
 * The oracle's `model.txt` reader (docs/format.md, "The oracle's
 * `model.txt`"): `R` and `A` lines become a machine description; `V`, `VA`
 * and `VR` lines (the expected views) are checked for syntax and skipped.
 */
#include "machine_build.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Kinds as model.txt spells them. */
static const struct {
    const char *name;
    enum mt__mkind kind;
} model_kinds[] = {
    {"container", MT__MK_CONTAINER}, {"alias", MT__MK_ALIAS}, {"io", MT__MK_IO},
    {"ram", MT__MK_RAM},             {"romd", MT__MK_ROMD},   {"ramd", MT__MK_RAMD},
};

struct model {
    const struct mt__src *src;
    struct mt__mdesc *d;
    struct mt__err *e;
    unsigned line;
    char **parent_ids, **alias_ids, **root_ids; /* resolved after reading */
    size_t cap_parent, cap_alias, cap_root;
    bool in_view;             /* a `V` line was seen, so VA/VR may follow */
};

static int fail(struct model *M, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct model *M, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return mt__fail(M->e, M->src->name, M->line, "%s", what);
}

/*
 * Splits `s` at single spaces into at most `n` fields, the last taking the
 * rest of the line (names contain spaces). Returns the count found; an empty
 * field counts as missing because it can only come from a doubled space.
 */
static int split(char *s, char **f, int n)
{
    int k = 0;
    while (k < n) {
        f[k++] = s;
        if (k == n)
            break;
        char *sp = strchr(s, ' ');
        if (!sp)
            break;
        *sp = '\0';
        s = sp + 1;
    }
    for (int i = 0; i < k; i++)
        if (!*f[i])
            return i;
    return k;
}

/* An id: a decimal number, kept in canonical form as the region's label. */
static int parse_id(struct model *M, const char *s, const char *what, bool dash,
                    char **out)
{
    uint64_t v;
    *out = NULL;
    if (!strcmp(s, "-")) {
        if (dash)
            return 0;
        return fail(M, "%s must be an id, not '-'", what);
    }
    if (!mt__parse_u64(s, &v))
        return fail(M, "bad %s '%s' (decimal id expected)", what, s);
    *out = mt__xasprintf("%" PRIu64, v);
    return 0;
}

static int parse_num(struct model *M, const char *s, const char *what, bool is_size,
                     uint64_t *out, bool *full)
{
    char *why = mt__hex_field_problem(s, what, is_size, out, full);
    int err = why ? fail(M, "%s", why) : 0;
    free(why);
    return err;
}

static int parse_r(struct model *M, char *rest)
{
    char *f[10];
    if (split(rest, f, 10) < 10)
        return fail(M, "R line needs 10 fields after 'R' "
                    "(id parent kind addr size prio flags alias-id offset name)");
    size_t i = M->d->nr;
    struct mt__mrec *r = mt__desc_add_region(M->d);
    r->line = M->line;
    mt__grow(&M->parent_ids, &M->cap_parent, i + 1, sizeof(char *));
    mt__grow(&M->alias_ids, &M->cap_alias, i + 1, sizeof(char *));
    M->parent_ids[i] = M->alias_ids[i] = NULL;
    int err = parse_id(M, f[0], "region id", false, &r->label);
    if (!err)
        err = parse_id(M, f[1], "parent id", true, &M->parent_ids[i]);
    if (err)
        return err;
    size_t k = 0, nk = sizeof(model_kinds) / sizeof(model_kinds[0]);
    while (k < nk && strcmp(f[2], model_kinds[k].name))
        k++;
    if (k == nk)
        return fail(M, "unknown region kind '%s' (container, alias, io, ram, romd or ramd "
                    "expected)", f[2]);
    r->kind = (uint8_t)model_kinds[k].kind;
    if ((err = parse_num(M, f[3], "address", false, &r->addr, NULL)) ||
        (err = parse_num(M, f[4], "size", true, &r->size, &r->size_full)))
        return err;
    if (!mt__parse_i32(f[5], &r->prio))
        return fail(M, "bad priority '%s' (signed 32-bit decimal expected)", f[5]);
    if (strcmp(f[6], "-") != 0) {
        for (const char *c = f[6]; *c; c++) {
            uint8_t bit = *c == 'd' ? MT__MF_DISABLED : *c == 'r' ? MT__MF_READONLY
                        : *c == 'n' ? MT__MF_NONVOLATILE : 0;
            if (!bit || (r->flags & bit))
                return fail(M, "bad flags '%s' (any of d, r, n once, or '-')", f[6]);
            r->flags |= bit;
        }
    }
    /* A ROM is RAM with its own readonly flag: build it as one. */
    if (r->kind == MT__MK_RAM && (r->flags & MT__MF_READONLY)) {
        r->kind = MT__MK_ROM;
        r->flags &= (uint8_t)~MT__MF_READONLY;
    }
    if ((err = parse_id(M, f[7], "alias id", true, &M->alias_ids[i])) ||
        (err = parse_num(M, f[8], "alias offset", false, &r->alias_offset, NULL)))
        return err;
    if ((M->alias_ids[i] != NULL) != (r->kind == MT__MK_ALIAS))
        return fail(M, M->alias_ids[i] ? "a region of kind %s has no alias id"
                                       : "an %s needs an alias id", f[2]);
    if (M->parent_ids[i] && !strcmp(M->parent_ids[i], r->label))
        return fail(M, "region %s is its own parent", r->label);
    r->name = mt__xstrdup(f[9]);
    return 0;
}

static int parse_a(struct model *M, char *rest)
{
    char *f[2];
    if (split(rest, f, 2) < 2)
        return fail(M, "A line needs a root id and a name");
    size_t i = M->d->nas;
    struct mt__mspace *a = mt__desc_add_space(M->d);
    a->line = M->line;
    mt__grow(&M->root_ids, &M->cap_root, i + 1, sizeof(char *));
    M->root_ids[i] = NULL;
    int err = parse_id(M, f[0], "root id", false, &M->root_ids[i]);
    if (err)
        return err;
    a->name = mt__xstrdup(f[1]);
    return 0;
}

/* Expected views are the test's business; only their syntax is checked. */
static int check_vr(struct model *M, char *rest)
{
    char *f[6];
    uint64_t v;
    int32_t prio;
    if (split(rest, f, 6) < 6)
        return fail(M, "VR line needs start end prio type offset name");
    uint64_t start, end;
    if (mt__parse_hex(f[0], &start) || mt__parse_hex(f[1], &end) ||
        mt__parse_hex(f[4], &v))
        return fail(M, "bad hex number in VR line (start end offset, below 2^64)");
    if (end < start)
        return fail(M, "backwards range in VR line: the end %s is below the start %s",
                    f[1], f[0]);
    if (!mt__parse_i32(f[2], &prio))
        return fail(M, "bad priority '%s' (signed 32-bit decimal expected)", f[2]);
    const char *t = f[3];
    if (!strncmp(t, "nv-", 3))
        t += 3;
    if (strcmp(t, "ram") && strcmp(t, "rom") && strcmp(t, "romd") &&
        strcmp(t, "ramd") && strcmp(t, "i/o") && strcmp(t, "container"))
        return fail(M, "unknown range type '%s' (ram, rom, romd, ramd, i/o or container, "
                    "maybe with nv-, expected)", f[3]);
    return 0;
}

static int parse_line(struct model *M, char *s)
{
    if (!*s || *s == '#')
        return 0;
    char *sp = strchr(s, ' ');
    char *rest = sp ? sp + 1 : s + strlen(s);
    if (sp)
        *sp = '\0';
    if (!strcmp(s, "R"))
        return parse_r(M, rest);
    if (!strcmp(s, "A"))
        return parse_a(M, rest);
    if (!strcmp(s, "V")) {
        if (!*rest)
            return fail(M, "V line needs a flat-root name");
        M->in_view = true;
        return 0;
    }
    if (!strcmp(s, "VA") || !strcmp(s, "VR")) {
        if (!M->in_view)
            return fail(M, "%s line outside a V block", s);
        if (s[1] == 'R')
            return check_vr(M, rest);
        return *rest ? 0 : fail(M, "VA line needs an address-space name");
    }
    return fail(M, "unknown line type '%s' (A, R, V, VA, VR or a # comment expected)", s);
}

/* Turns every id of the file into a record index. */
static int resolve_ids(struct model *M)
{
    struct mt__mdesc *d = M->d;
    struct mt__strset ix = {0};
    int err = 0;
    for (size_t i = 0; i < d->nr && !err; i++) {
        size_t prev = mt__strset_put(&ix, d->r[i].label, i);
        if (prev != MT__NONE)
            err = mt__fail(M->e, M->src->name, d->r[i].line, "duplicate region id %s "
                           "(first on line %u)", d->r[i].label, d->r[prev].line);
    }
    for (size_t i = 0; i < d->nr && !err; i++) {
        struct mt__mrec *r = &d->r[i];
        if (M->parent_ids[i] &&
            (r->parent = mt__strset_get(&ix, M->parent_ids[i])) == MT__NONE)
            err = mt__fail(M->e, M->src->name, r->line, "unknown parent id %s",
                           M->parent_ids[i]);
        else if (M->alias_ids[i] &&
                 (r->target = mt__strset_get(&ix, M->alias_ids[i])) == MT__NONE)
            err = mt__fail(M->e, M->src->name, r->line, "unknown alias target id %s",
                           M->alias_ids[i]);
    }
    for (size_t i = 0; i < d->nas && !err; i++)
        if ((d->as[i].root = mt__strset_get(&ix, M->root_ids[i])) == MT__NONE)
            err = mt__fail(M->e, M->src->name, d->as[i].line, "unknown root id %s",
                           M->root_ids[i]);
    mt__strset_free(&ix);
    return err;
}

int mt__model_parse(const struct mt__src *src, struct mt__mdesc *d, struct mt__err *e)
{
    struct model M = {.src = src, .d = d, .e = e};
    int err = 0;
    for (size_t i = 0; i < src->nlines && !err; i++) {
        M.line = (unsigned)i + 1;
        err = parse_line(&M, src->lines[i]);
    }
    if (!err)
        err = resolve_ids(&M);
    for (size_t i = 0; i < d->nr; i++) {
        if (M.parent_ids)
            free(M.parent_ids[i]);
        if (M.alias_ids)
            free(M.alias_ids[i]);
    }
    for (size_t i = 0; i < d->nas; i++)
        if (M.root_ids)
            free(M.root_ids[i]);
    free(M.parent_ids);
    free(M.alias_ids);
    free(M.root_ids);
    return err;
}
