/*
 * memtree's own map format (docs/format.md): a line-oriented description
 * that loses nothing a view depends on (unique ids, kinds, exact sizes,
 * flags, alias targets, render order) and that people can write by hand.
 * This file owns its reader (text -> machine description) and its writer
 * (a live machine -> text); the writer's output reads back to the same
 * regions and writes again byte for byte.
 */
#include "machine_build.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAP_MAGIC "memtree-map"
#define MAP_VERSION 1

static const struct {
    const char *word;
    uint8_t bit;
} flag_words[] = {
    {"disabled", MT__MF_DISABLED},
    {"readonly", MT__MF_READONLY},
    {"nonvolatile", MT__MF_NONVOLATILE},
    {"romd-off", MT__MF_ROMD_OFF},
};
#define NFLAGS (sizeof(flag_words) / sizeof(flag_words[0]))

/* ---- reading ------------------------------------------------------------------ */

struct reader {
    const struct mt__src *src;
    struct mt__mdesc *d;
    struct mt__err *e;
    unsigned line;
    bool seen_magic;
    /* ids as written, resolved once every line is read */
    char **parent_ids, **target_ids, **owner_ids, **root_ids;
    /* their capacities, each following its description array's */
    size_t cap_parent, cap_target, cap_owner, cap_root, cap_owner_labels, cap_owner_lines;
    char **owner_labels_ids; /* the id of each owner line */
    unsigned *owner_lines;
};

static int fail(struct reader *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct reader *R, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return mt__fail(R->e, R->src->name, R->line, "%s", what);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated field; NULL when the line has no more. */
static char *next_field(char **s)
{
    char *p = *s;
    while (is_blank(*p))
        p++;
    if (!*p)
        return NULL;
    char *start = p;
    while (*p && !is_blank(*p))
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return start;
}

/*
 * The last field: `-` (absent), a C-style quoted string, or the raw rest of
 * the line (trailing blanks dropped, as editors do). Sets *out to a heap
 * string or NULL.
 */
static int parse_text(struct reader *R, char *s, const char *what, bool required,
                      char **out)
{
    *out = NULL;
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1]))
        s[--n] = '\0';
    if (!n)
        return required ? fail(R, "missing %s", what) : 0;
    if (!strcmp(s, "-"))
        return 0;
    if (*s != '"') {
        *out = mt__xstrdup(s);
        return 0;
    }
    char *buf = mt__xmalloc(n), *w = buf;
    const char *p = s + 1;
    for (; *p && *p != '"'; p++) {
        if (*p != '\\') {
            *w++ = *p;
            continue;
        }
        p++;
        int h1, h2;
        switch (*p) {
        case '\\': *w++ = '\\'; break;
        case '"': *w++ = '"'; break;
        case 'n': *w++ = '\n'; break;
        case 't': *w++ = '\t'; break;
        case 'r': *w++ = '\r'; break;
        case 'x':
            h1 = mt__hexval(p[1]);
            h2 = h1 < 0 ? -1 : mt__hexval(p[2]);
            if (h2 < 0 || (h1 == 0 && h2 == 0)) {
                free(buf);
                return fail(R, "bad \\x escape in quoted %s", what);
            }
            *w++ = (char)(h1 * 16 + h2);
            p += 2;
            break;
        default:
            free(buf);
            return fail(R, "bad escape in quoted %s", what);
        }
    }
    if (*p != '"' || p[1]) {
        free(buf);
        return fail(R, *p != '"' ? "unterminated quoted %s"
                                 : "text after the closing quote of the %s", what);
    }
    *w = '\0';
    *out = buf;
    return 0;
}

/* An id field: any token but `-` unless `dash` allows it. */
static int parse_ref(struct reader *R, char *tok, const char *what, bool dash,
                     char **out)
{
    *out = NULL;
    if (!tok)
        return fail(R, "missing %s", what);
    if (!strcmp(tok, "-")) {
        if (dash)
            return 0;
        return fail(R, "%s must be an id, not '-'", what);
    }
    if (tok[0] == '"' || tok[0] == '#')
        return fail(R, "bad %s '%s' (ids cannot start with '\"' or '#')", what, tok);
    *out = mt__xstrdup(tok);
    return 0;
}

static int parse_num(struct reader *R, const char *tok, const char *what, bool is_size,
                     uint64_t *out, bool *full)
{
    if (!tok)
        return fail(R, "missing %s", what);
    char *why = mt__hex_field_problem(tok, what, is_size, out, full);
    int err = why ? fail(R, "%s", why) : 0;
    free(why);
    return err;
}

static int parse_flags(struct reader *R, char *tok, uint8_t *flags)
{
    *flags = 0;
    if (!tok)
        return fail(R, "missing flags");
    if (!strcmp(tok, "-"))
        return 0;
    char *save = NULL;
    for (char *w = strtok_r(tok, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        size_t k = 0;
        while (k < NFLAGS && strcmp(w, flag_words[k].word))
            k++;
        if (k == NFLAGS || (*flags & flag_words[k].bit))
            return fail(R, "bad flag '%s' (disabled, readonly, nonvolatile, "
                        "romd-off, each once, comma-separated, or '-')", w);
        *flags |= flag_words[k].bit;
    }
    return 0;
}

/* Makes room for slot i of an id array parallel to a description array,
 * cleared. mt__grow doubles: a realloc per line would copy under the
 * sanitizers, which made loading n regions O(n^2) there. */
static void grow_ids(char ***ids, size_t *cap, size_t i)
{
    mt__grow(ids, cap, i + 1, sizeof(**ids));
    (*ids)[i] = NULL;
}

static int parse_region(struct reader *R, char *rest)
{
    struct mt__mdesc *d = R->d;
    size_t i = d->nr;
    struct mt__mrec *r = mt__desc_add_region(d);
    r->line = R->line;
    grow_ids(&R->parent_ids, &R->cap_parent, i);
    grow_ids(&R->target_ids, &R->cap_target, i);
    grow_ids(&R->owner_ids, &R->cap_owner, i);
    int err = parse_ref(R, next_field(&rest), "region id", false, &r->label);
    if (!err)
        err = parse_ref(R, next_field(&rest), "parent id", true, &R->parent_ids[i]);
    if (err)
        return err;
    char *kind = next_field(&rest);
    if (!kind)
        return fail(R, "missing kind");
    size_t k = 0;
    while (k < MT__MK_COUNT && strcmp(kind, mt__mkind_names[k]))
        k++;
    if (k == MT__MK_COUNT)
        return fail(R, "unknown kind '%s' (container, ram, rom, romd, ramd, io, "
                    "iommu, reservation or alias)", kind);
    r->kind = (uint8_t)k;
    if ((err = parse_num(R, next_field(&rest), "address", false, &r->addr, NULL)) ||
        (err = parse_num(R, next_field(&rest), "size", true, &r->size, &r->size_full)))
        return err;
    char *prio = next_field(&rest);
    if (!prio || !mt__parse_i32(prio, &r->prio))
        return fail(R, "bad or missing priority '%s' (signed 32-bit decimal)",
                    prio ? prio : "");
    if ((err = parse_flags(R, next_field(&rest), &r->flags)))
        return err;
    if ((r->flags & MT__MF_ROMD_OFF) && r->kind != MT__MK_ROMD)
        return fail(R, "romd-off applies to romd regions only");
    if ((err = parse_ref(R, next_field(&rest), "alias target", true, &R->target_ids[i])))
        return err;
    char *off = next_field(&rest);
    if (r->kind == MT__MK_ALIAS) {
        if (!R->target_ids[i])
            return fail(R, "an alias needs a target id");
        if ((err = parse_num(R, off, "alias offset", false, &r->alias_offset, NULL)))
            return err;
    } else if (R->target_ids[i] || !off || strcmp(off, "-")) {
        return fail(R, "only aliases have a target and offset (write '- -')");
    }
    if ((err = parse_ref(R, next_field(&rest), "owner id", true, &R->owner_ids[i])))
        return err;
    return parse_text(R, rest, "name", true, &r->name);
}

static int parse_owner(struct reader *R, char *rest)
{
    struct mt__mdesc *d = R->d;
    char *id;
    int err = parse_ref(R, next_field(&rest), "owner id", false, &id);
    if (err)
        return err;
    char *label;
    if ((err = parse_text(R, rest, "owner label", true, &label))) {
        free(id);
        return err;
    }
    size_t i = mt__desc_add_owner(d, label);
    grow_ids(&R->owner_labels_ids, &R->cap_owner_labels, i);
    R->owner_labels_ids[i] = id;
    mt__grow(&R->owner_lines, &R->cap_owner_lines, i + 1, sizeof(*R->owner_lines));
    R->owner_lines[i] = R->line;
    return 0;
}

static int parse_as(struct reader *R, char *rest)
{
    struct mt__mdesc *d = R->d;
    size_t i = d->nas;
    struct mt__mspace *a = mt__desc_add_space(d);
    a->line = R->line;
    grow_ids(&R->root_ids, &R->cap_root, i);
    int err = parse_ref(R, next_field(&rest), "root id", false, &R->root_ids[i]);
    return err ? err : parse_text(R, rest, "address-space name", true, &a->name);
}

static int parse_line(struct reader *R, char *s)
{
    while (is_blank(*s))
        s++;
    if (!*s || *s == '#')
        return 0;
    char *word = next_field(&s);
    if (!R->seen_magic) {
        char *ver = next_field(&s);
        uint64_t v;
        if (strcmp(word, MAP_MAGIC))
            return fail(R, "not a memtree map (the first line must be '%s %d')",
                        MAP_MAGIC, MAP_VERSION);
        if (!ver || !mt__parse_u64(ver, &v) || v != MAP_VERSION || next_field(&s))
            return fail(R, "unsupported map version '%s' (this reader knows %d)",
                        ver ? ver : "", MAP_VERSION);
        R->seen_magic = true;
        return 0;
    }
    if (!strcmp(word, "region"))
        return parse_region(R, s);
    if (!strcmp(word, "as"))
        return parse_as(R, s);
    if (!strcmp(word, "owner"))
        return parse_owner(R, s);
    if (!strcmp(word, "note")) {
        while (is_blank(*s))
            s++;
        mt__desc_note(R->d, "%s", s);
        return 0;
    }
    return fail(R, "unknown line type '%s' (region, as, owner, note or # comment)",
                word);
}

static int resolve(struct reader *R)
{
    struct mt__mdesc *d = R->d;
    const char *file = R->src->name;
    struct mt__strset ix = {0}, ox = {0};
    int err = 0;
    for (size_t i = 0; i < d->nr && !err; i++) {
        size_t prev = mt__strset_put(&ix, d->r[i].label, i);
        if (prev != MT__NONE)
            err = mt__fail(R->e, file, d->r[i].line, "duplicate region id '%s' "
                           "(first on line %u)", d->r[i].label, d->r[prev].line);
    }
    for (size_t i = 0; i < d->nowners && !err; i++)
        if (mt__strset_put(&ox, R->owner_labels_ids[i], i) != MT__NONE)
            err = mt__fail(R->e, file, R->owner_lines[i], "duplicate owner id '%s'",
                           R->owner_labels_ids[i]);
    for (size_t i = 0; i < d->nr && !err; i++) {
        struct mt__mrec *r = &d->r[i];
        if (R->parent_ids[i] &&
            (r->parent = mt__strset_get(&ix, R->parent_ids[i])) == MT__NONE)
            err = mt__fail(R->e, file, r->line, "unknown parent id '%s'",
                           R->parent_ids[i]);
        else if (R->target_ids[i] &&
                 (r->target = mt__strset_get(&ix, R->target_ids[i])) == MT__NONE)
            err = mt__fail(R->e, file, r->line, "unknown alias target id '%s'",
                           R->target_ids[i]);
        else if (R->owner_ids[i] &&
                 (r->owner = mt__strset_get(&ox, R->owner_ids[i])) == MT__NONE)
            err = mt__fail(R->e, file, r->line, "unknown owner id '%s'",
                           R->owner_ids[i]);
    }
    for (size_t i = 0; i < d->nas && !err; i++)
        if ((d->as[i].root = mt__strset_get(&ix, R->root_ids[i])) == MT__NONE)
            err = mt__fail(R->e, file, d->as[i].line, "unknown root id '%s'",
                           R->root_ids[i]);
    mt__strset_free(&ix);
    mt__strset_free(&ox);
    return err;
}

static void free_ids(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int mt__map_parse(const struct mt__src *src, struct mt__mdesc *d, struct mt__err *e)
{
    struct reader R = {.src = src, .d = d, .e = e};
    int err = 0;
    for (size_t i = 0; i < src->nlines && !err; i++) {
        R.line = (unsigned)i + 1;
        err = parse_line(&R, src->lines[i]);
    }
    R.line = (unsigned)src->nlines;
    if (!err && !R.seen_magic)
        err = fail(&R, "not a memtree map (no '%s %d' line)", MAP_MAGIC, MAP_VERSION);
    if (!err)
        err = resolve(&R);
    free_ids(R.parent_ids, d->nr);
    free_ids(R.target_ids, d->nr);
    free_ids(R.owner_ids, d->nr);
    free_ids(R.root_ids, d->nas);
    free_ids(R.owner_labels_ids, d->nowners);
    free(R.owner_lines);
    return err;
}

/* ---- writing ------------------------------------------------------------------- */

/* Names and labels print raw unless that would not read back the same. */
static bool needs_quotes(const char *s)
{
    size_t n = strlen(s);
    if (!n || !strcmp(s, "-") || s[0] == '"' || is_blank(s[0]) || is_blank(s[n - 1]))
        return true;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static void put_text(FILE *out, const char *s)
{
    if (!s) {
        fputc('-', out);
        return;
    }
    if (!needs_quotes(s)) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* One region line's columns before the name, as strings, so the writer
 * can align them. */
enum { C_ID, C_PARENT, C_KIND, C_ADDR, C_SIZE, C_PRIO, C_FLAGS, C_TARGET, C_OFFSET,
       C_OWNER, NCOLS };
static const char *const col_titles[NCOLS] = {
    "id", "parent", "kind", "addr", "size", "prio", "flags", "target", "offset", "owner",
};

struct row {
    char *col[NCOLS];
    const char *name;
};

struct writer {
    const mt_machine *m;
    size_t *order;            /* region indexes in output order */
    size_t norder;
    const mt_owner **owners;  /* first-use order */
    size_t nowners;
    int err;
};

static const char *kind_word(const mt_region *r)
{
    switch (mt_region_get_kind(r)) {
    case MT_KIND_CONTAINER: return "container";
    case MT_KIND_RAM: return mt_region_readonly(r) ? "rom" : "ram";
    case MT_KIND_ROM_DEVICE: return "romd";
    case MT_KIND_RAM_DEVICE: return "ramd";
    case MT_KIND_IO: return "io";
    case MT_KIND_RESERVATION: return "reservation";
    case MT_KIND_IOMMU: return "iommu";
    default: return "alias";
    }
}

static char *flags_text(const mt_region *r)
{
    char buf[64] = "";
    mt_region_kind k = mt_region_get_kind(r);
    bool bits[NFLAGS] = {
        !mt_region_enabled(r),
        mt_region_readonly(r) && k != MT_KIND_RAM, /* a RAM says so by `rom` */
        mt_region_nonvolatile(r),
        k == MT_KIND_ROM_DEVICE && !mt_region_romd(r),
    };
    for (size_t i = 0; i < NFLAGS; i++) {
        if (!bits[i])
            continue;
        if (buf[0])
            strcat(buf, ",");
        strcat(buf, flag_words[i].word);
    }
    return mt__xstrdup(buf[0] ? buf : "-");
}

static size_t owner_index(struct writer *W, const mt_owner *o)
{
    for (size_t i = 0; i < W->nowners; i++)
        if (W->owners[i] == o)
            return i;
    W->owners[W->nowners] = o;
    return W->nowners++;
}

static const char *label_of(const mt_machine *m, const mt_region *r)
{
    size_t i = mt__machine_index_of(m, r);
    return i == MT__NONE || !m->regions[i] ? NULL : m->labels[i];
}

/*
 * Output order: every region without a machine container, in file order,
 * each followed by its subtree depth first with siblings in render order,
 * so the file reads as the tree and re-reading keeps the order.
 */
static void order_regions(struct writer *W)
{
    const mt_machine *m = W->m;
    size_t *stack = mt__xmalloc((m->nr ? m->nr : 1) * sizeof(*stack));
    W->order = mt__xmalloc((m->nr ? m->nr : 1) * sizeof(*W->order));
    for (size_t i = 0; i < m->nr; i++) {
        mt_region *r = m->regions[i];
        if (!r || label_of(m, mt_region_container(r)))
            continue;
        size_t sp = 0;
        stack[sp++] = i;
        while (sp) {
            size_t j = stack[--sp];
            W->order[W->norder++] = j;
            /* push children reversed so the first child is emitted first */
            size_t base = sp;
            for (mt_region *c = mt_region_first_subregion(m->regions[j]); c;
                 c = mt_region_next_sibling(c)) {
                size_t ci = mt__machine_index_of(m, c);
                if (ci != MT__NONE && m->regions[ci])
                    stack[sp++] = ci;
            }
            for (size_t a = base, b = sp; a + 1 < b; a++, b--) {
                size_t t = stack[a];
                stack[a] = stack[b - 1];
                stack[b - 1] = t;
            }
        }
    }
    free(stack);
}

static void fill_row(struct writer *W, size_t i, struct row *row)
{
    const mt_machine *m = W->m;
    const mt_region *r = m->regions[i];
    uint64_t size;
    bool full = mt_region_size_exact(r, &size);
    const char *parent = label_of(m, mt_region_container(r));
    mt_region *target = mt_region_alias_target(r);
    mt_owner *o = mt_region_owner(r);

    row->col[C_ID] = mt__xstrdup(m->labels[i]);
    row->col[C_PARENT] = mt__xstrdup(parent ? parent : "-");
    row->col[C_KIND] = mt__xstrdup(kind_word(r));
    row->col[C_ADDR] = mt__xasprintf("%" PRIx64, mt_region_addr(r));
    row->col[C_SIZE] = full ? mt__xstrdup("10000000000000000")
                            : mt__xasprintf("%" PRIx64, size);
    row->col[C_PRIO] = mt__xasprintf("%" PRId32, mt_region_priority(r));
    row->col[C_FLAGS] = flags_text(r);
    if (target) {
        const char *t = label_of(m, target);
        if (!t) {
            W->err = mt_context_report(m->ctx, -EINVAL, "save map: alias '%s' targets a region "
                              "that is not part of the machine", m->labels[i]);
            t = "?";
        }
        row->col[C_TARGET] = mt__xstrdup(t);
        row->col[C_OFFSET] = mt__xasprintf("%" PRIx64, mt_region_alias_offset(r));
    } else {
        row->col[C_TARGET] = mt__xstrdup("-");
        row->col[C_OFFSET] = mt__xstrdup("-");
    }
    row->col[C_OWNER] = o ? mt__xasprintf("o%zu", owner_index(W, o) + 1)
                          : mt__xstrdup("-");
    row->name = mt_region_name(r);
}

static void put_padded(FILE *out, const char *s, size_t width)
{
    fputs(s, out);
    for (size_t n = strlen(s); n < width; n++)
        fputc(' ', out);
}

int mt_machine_save_map(const mt_machine *m, FILE *out)
{
    if (!m || !out)
        return -EINVAL;
    struct writer W = {.m = m};
    order_regions(&W);
    W.owners = mt__xcalloc(m->nr ? m->nr : 1, sizeof(*W.owners));
    struct row *rows = mt__xcalloc(W.norder ? W.norder : 1, sizeof(*rows));
    size_t width[NCOLS];
    for (size_t c = 0; c < NCOLS; c++)
        width[c] = strlen(col_titles[c]);
    for (size_t k = 0; k < W.norder; k++) {
        fill_row(&W, W.order[k], &rows[k]);
        for (size_t c = 0; c < NCOLS; c++) {
            size_t n = strlen(rows[k].col[c]);
            if (n > width[c])
                width[c] = n;
        }
    }
    for (size_t i = 0; i < m->nspaces && !W.err; i++)
        if (!label_of(m, mt_address_space_root(m->spaces[i])))
            W.err = mt_context_report(m->ctx, -EINVAL, "save map: address space '%s' has a "
                             "root that is not part of the machine",
                             mt_address_space_name(m->spaces[i]));

    if (!W.err) {
        fprintf(out, "%s %d\n", MAP_MAGIC, MAP_VERSION);
        for (size_t i = 0; i < m->nnotes; i++)
            fprintf(out, "note %s\n", m->notes[i]);
        for (size_t i = 0; i < W.nowners; i++) {
            fprintf(out, "owner o%zu ", i + 1);
            put_text(out, mt_owner_label(W.owners[i]));
            fputc('\n', out);
        }
        /* the legend lines up with the columns below it */
        fputs("#      ", out);
        for (size_t c = 0; c < NCOLS; c++) {
            put_padded(out, col_titles[c], width[c]);
            fputc(' ', out);
        }
        fputs("name\n", out);
        for (size_t k = 0; k < W.norder; k++) {
            fputs("region ", out);
            for (size_t c = 0; c < NCOLS; c++) {
                put_padded(out, rows[k].col[c], width[c]);
                fputc(' ', out);
            }
            put_text(out, rows[k].name);
            fputc('\n', out);
        }
        for (size_t i = 0; i < m->nspaces; i++) {
            fprintf(out, "as %s ", label_of(m, mt_address_space_root(m->spaces[i])));
            put_text(out, mt_address_space_name(m->spaces[i]));
            fputc('\n', out);
        }
    }
    for (size_t k = 0; k < W.norder; k++)
        for (size_t c = 0; c < NCOLS; c++)
            free(rows[k].col[c]);
    free(rows);
    free(W.order);
    free(W.owners);
    if (W.err)
        return W.err;
    errno = 0;
    if (fflush(out) != 0 || ferror(out))
        return errno ? -errno : -EIO;
    return 0;
}
