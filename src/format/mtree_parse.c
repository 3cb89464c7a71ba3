/*
 * Reading QEMU `info mtree [-o] [-D]` tree dumps (docs/format.md, "QEMU `info
 * mtree` dumps"): blocks of `address-space:` / `memory-region:` headers with
 * indented region lines, turned into printed trees. Each line's fixed part is
 * parsed first; whether the dump carries owner suffixes (-o) and disabled
 * lines (-D) is decided over the whole file, because a name alone may look
 * like either. Hidden disabled parents (dumps without -D) get placeholders.
 * Also the entry point of the whole QEMU import (mt__qemu_parse).
 */
#include "mtree_parse.h"

#include <stdlib.h>
#include <string.h>

#define OVERFLOW_MARK "[DETECTED OVERFLOW!] "

static struct mt__occ *add_occ(struct mt__tree *t)
{
    struct mt__occ *o = &MT__PUSH(t->o, t->no, t->capo);
    memset(o, 0, sizeof(*o));
    o->parent = o->tblock = MT__NONE;
    o->uf = t->no - 1;
    return o;
}

static struct mt__blk *add_blk(struct mt__tree *t, bool mr, unsigned line)
{
    struct mt__blk *b = &MT__PUSH(t->b, t->nb, t->capb);
    memset(b, 0, sizeof(*b));
    b->mr = mr;
    b->line = line;
    b->top = MT__NONE;
    return b;
}

static void add_kid(struct mt__occ *p, size_t kid, struct mt__occ *k)
{
    k->kid_pos = p->nkids;
    MT__PUSH(p->kids, p->nkids, p->capkids) = kid;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A 16-digit address; says which of the usual mistakes it is. */
static int parse_addr(struct mt__tree *t, unsigned line, const char *p, uint64_t *v,
                      const char *what)
{
    if (!mt__parse_hex16(p, v))
        return mt__fail(t->e, t->src->name, line, "bad %s address (16 hex digits "
                        "expected)", what);
    if (is_hex(p[16]))
        return mt__fail(t->e, t->src->name, line, "%s address has more than 16 hex "
                        "digits (overflows 64 bits)", what);
    return 0;
}

static const struct {
    const char *word;
    uint8_t type;
} type_words[] = {
    {"ram", MT__PT_RAM},   {"rom", MT__PT_ROM}, {"romd", MT__PT_ROMD},
    {"ramd", MT__PT_RAMD}, {"i/o", MT__PT_IO},  {"container", MT__PT_CONTAINER},
};

/* Parses the type column up to "): " and returns what follows, or NULL. */
static char *parse_type(char *p, uint8_t *type, bool *nv)
{
    *nv = !strncmp(p, "nv-", 3);
    if (*nv)
        p += 3;
    for (size_t k = 0; k < sizeof(type_words) / sizeof(type_words[0]); k++) {
        size_t n = strlen(type_words[k].word);
        if (!strncmp(p, type_words[k].word, n) && !strncmp(p + n, "): ", 3)) {
            *type = type_words[k].type;
            return p + n + 3;
        }
    }
    return NULL;
}

/* `[marker]<indent>S-E (prio P, T): rest` */
static int parse_region_line(struct mt__tree *t, unsigned line, char *s)
{
    struct mt__occ *o = add_occ(t);
    o->line = line;
    o->block = t->nb - 1;
    bool marked = !strncmp(s, OVERFLOW_MARK, strlen(OVERFLOW_MARK));
    if (marked)
        s += strlen(OVERFLOW_MARK); /* may belong to a hidden line */
    size_t sp = strspn(s, " ");
    if (sp == 0 || sp % 2)
        return mt__fail(t->e, t->src->name, line, "bad indentation: %zu space(s) "
                        "(a positive even number expected)", sp);
    if (sp / 2 > 100000)
        return mt__fail(t->e, t->src->name, line, "indentation too deep");
    o->level = (int)(sp / 2);
    char *p = s + sp;
    int err = parse_addr(t, line, p, &o->s, "start");
    if (err)
        return err;
    if (p[16] != '-')
        return mt__fail(t->e, t->src->name, line, "bad range: '-' expected after "
                        "the start address");
    if ((err = parse_addr(t, line, p + 17, &o->e, "end")))
        return err;
    /* QEMU marks every line whose end wrapped below its start; without the
     * mark such a line is damaged, and its size would be nearly 2^64 */
    if (o->e < o->s && !marked)
        return mt__fail(t->e, t->src->name, line, "backwards range %016llx-%016llx: the "
                        "end is below the start (only a line marked [DETECTED "
                        "OVERFLOW!] may wrap)", (unsigned long long)o->s,
                        (unsigned long long)o->e);
    p += 33;
    if (strncmp(p, " (prio ", 7))
        return mt__fail(t->e, t->src->name, line, "' (prio ' expected after the range");
    p += 7;
    char *comma = strchr(p, ',');
    if (!comma || comma[1] != ' ')
        return mt__fail(t->e, t->src->name, line, "bad priority column ('(prio P, TYPE): ' "
                        "expected)");
    *comma = '\0';
    if (!mt__parse_i32(p, &o->prio))
        return mt__fail(t->e, t->src->name, line, "bad priority '%s' (signed 32-bit "
                        "decimal expected)", p);
    char *rest = parse_type(comma + 2, &o->type, &o->nv);
    if (!rest)
        return mt__fail(t->e, t->src->name, line, "unknown region type (ram, rom, "
                        "romd, ramd, i/o or container, maybe with nv-)");
    o->rest = rest;
    return 0;
}

/* ---- owner suffixes, [disabled] and alias lines ------------------------------------ */

/*
 * Finds the owner suffix at the end of `s` (QEMU's -o): ` orphan`, or one or
 * two of ` owner:{...}` / ` parent:{...}` with matched braces. Returns the
 * offset of its leading space, or -1; owner and olen give the inside.
 */
long mt__owner_suffix(const char *s, const char **owner, size_t *olen)
{
    size_t n = strlen(s);
    *owner = NULL;
    *olen = 0;
    if (n >= 7 && !strcmp(s + n - 7, " orphan"))
        return (long)(n - 7);
    size_t end = n;
    bool found = false;
    for (int pass = 0; pass < 2 && end > 0 && s[end - 1] == '}'; pass++) {
        size_t i = end, depth = 0;
        while (i-- > 0) {
            if (s[i] == '}')
                depth++;
            else if (s[i] == '{' && --depth == 0)
                break;
        }
        if (depth != 0)
            break;
        if (i >= 7 && !strncmp(s + i - 7, " owner:", 7)) {
            *owner = s + i + 1;
            *olen = end - i - 2;
            end = i - 7;
        } else if (i >= 8 && !strncmp(s + i - 8, " parent:", 8)) {
            end = i - 8;
        } else {
            break;
        }
        found = true;
    }
    return found ? (long)end : -1;
}

#define DISABLED_MARK " [disabled]"

/* Whether `name` is a memory-region block's name. */
static bool is_block_name(const struct mt__strset *mr, const char *name)
{
    return mt__strset_get(mr, name) != MT__NONE;
}

/* Alias lines: `alias NAME @TARGET OS-OE`. */
static int split_alias(struct mt__tree *t, struct mt__occ *o, const struct mt__strset *mr)
{
    char *r = o->rest;
    size_t n = strlen(r);
    if (strncmp(r, "alias ", 6) || n < 6 + 34 || r[n - 34] != ' ' || r[n - 17] != '-')
        return 0;
    uint64_t os, oe;
    if (!mt__parse_hex16(r + n - 33, &os) || !mt__parse_hex16(r + n - 16, &oe))
        return 0;
    char *body = r + 6;
    r[n - 34] = '\0';
    /* the rightmost ` @` whose right side names a printed block wins */
    char *split = NULL, *last = NULL;
    for (char *p = strstr(body, " @"); p; p = strstr(p + 1, " @")) {
        last = p;
        if (is_block_name(mr, p + 2))
            split = p;
    }
    if (!split) {
        if (!last)
            return mt__fail(t->e, t->src->name, o->line, "alias line without "
                            "' @TARGET'");
        return mt__fail(t->e, t->src->name, o->line, "unknown alias target '%s' "
                        "(no memory-region block of that name)", last + 2);
    }
    *split = '\0';
    o->alias = true;
    o->name = body;
    o->target = split + 2;
    o->os = os;
    if (oe - os != o->e - o->s)
        return mt__fail(t->e, t->src->name, o->line, "alias offsets %016llx-%016llx "
                        "do not span the same size as the range", (unsigned long long)os,
                        (unsigned long long)oe);
    return 0;
}

/* Cuts the owner suffix, ` [disabled]` and the alias parts out of `rest`. */
static int split_rest(struct mt__tree *t, struct mt__occ *o, const struct mt__strset *mr)
{
    char *r = o->rest;
    if (t->has_owners) {
        const char *own;
        size_t olen;
        long cut = mt__owner_suffix(r, &own, &olen);
        o->suffix = mt__xstrdup(r + cut + 1);
        if (own) {
            o->owner = mt__xmalloc(olen + 1);
            memcpy(o->owner, own, olen);
            o->owner[olen] = '\0';
        }
        r[cut] = '\0';
    }
    size_t n = strlen(r), dl = strlen(DISABLED_MARK);
    if (n >= dl && !strcmp(r + n - dl, DISABLED_MARK)) {
        o->disabled = true;
        r[n - dl] = '\0';
    }
    o->name = r;
    return split_alias(t, o, mr);
}

/* ---- structure ---------------------------------------------------------------------- */

/* A stand-in for a disabled line that a dump without -D does not print. */
static size_t add_placeholder(struct mt__tree *t, size_t block, size_t parent,
                              unsigned line)
{
    size_t i = t->no;
    struct mt__occ *h = add_occ(t);
    h->line = line;
    h->block = block;
    h->hidden = h->disabled = true;
    h->type = MT__PT_CONTAINER;
    t->nhidden++;
    if (parent == MT__NONE) {
        h->level = 1;
        h->e = UINT64_MAX; /* any extent renders nothing when disabled */
    } else {
        struct mt__occ *p = &t->o[parent];
        h->level = p->level + 1;
        h->s = p->s;
        h->e = p->e;
        h->parent = parent;
        add_kid(p, i, h);
    }
    return i;
}

/* Links every block's lines by indentation into trees. */
static int link_levels(struct mt__tree *t, size_t nreal)
{
    size_t *stack = NULL; /* stack[L] = occurrence at level L */
    size_t cap = 0, depth = 0, block = MT__NONE;
    int err = 0;
    for (size_t i = 0; i < nreal && !err; i++) {
        if (t->o[i].block != block) {
            block = t->o[i].block;
            depth = 0;
        }
        int level = t->o[i].level;
        mt__grow(&stack, &cap, (size_t)level + 1, sizeof(*stack));
        if (level == 1 && t->b[block].top != MT__NONE) {
            err = mt__fail(t->e, t->src->name, t->o[i].line, "a second level-1 line "
                           "in one block (a blank line missing before it?)");
            break;
        }
        if ((size_t)level > depth + 1) {
            if (t->has_disabled) {
                err = mt__fail(t->e, t->src->name, t->o[i].line, "indentation jumps "
                               "from level %zu to %d", depth, level);
                break;
            }
            /* without -D a disabled line is hidden but its children are not */
            for (size_t l = depth + 1; l < (size_t)level; l++) {
                size_t h = add_placeholder(t, block, l == 1 ? MT__NONE : stack[l - 1],
                                           t->o[i].line);
                if (l == 1)
                    t->b[block].top = h;
                stack[l] = h;
            }
        }
        if (level == 1) {
            t->b[block].top = i;
        } else {
            t->o[i].parent = stack[level - 1];
            add_kid(&t->o[stack[level - 1]], i, &t->o[i]);
        }
        stack[level] = i;
        depth = (size_t)level;
    }
    free(stack);
    for (size_t b = 0; b < t->nb && !err; b++) {
        if (t->b[b].top == MT__NONE && t->has_disabled)
            err = mt__fail(t->e, t->src->name, t->b[b].line, "block without region "
                           "lines (a level-1 region line expected after the header)");
        else if (t->b[b].top == MT__NONE)
            t->b[b].top = add_placeholder(t, b, MT__NONE, t->b[b].line);
        /* a memory-region header names the hidden region it stands for */
        if (!err && t->b[b].mr && t->o[t->b[b].top].hidden)
            t->o[t->b[b].top].name = t->b[b].mr_name;
    }
    return err;
}

static void add_name(struct mt__blk *b, char *name)
{
    MT__PUSH(b->names, b->nnames, b->capnames) = name;
}

/* Pass 1: blocks, headers and the fixed part of every region line. */
static int read_lines(struct mt__tree *t)
{
    const struct mt__src *src = t->src;
    bool open = false; /* a block is open and may take lines */
    for (size_t i = 0; i < src->nlines; i++) {
        unsigned line = (unsigned)i + 1;
        char *s = src->lines[i];
        mt__trim_right(s); /* pasted dumps pick up trailing blanks; QEMU prints none */
        if (!strncmp(s, "(qemu)", 6))
            continue; /* a pasted monitor prompt */
        if (s[strspn(s, " \t")] == '\0') {
            open = false;
            continue;
        }
        if (!strncmp(s, "address-space: ", 15)) {
            struct mt__blk *cur = t->nb ? &t->b[t->nb - 1] : NULL;
            /* consecutive headers share one tree */
            if (!open || !cur || cur->mr || (t->no && t->o[t->no - 1].block == t->nb - 1))
                cur = add_blk(t, false, line);
            add_name(cur, s + 15);
            open = true;
        } else if (!strncmp(s, "memory-region: ", 15)) {
            add_blk(t, true, line)->mr_name = s + 15;
            open = true;
        } else if (s[0] == ' ' || s[0] == '[') {
            if (!open)
                return mt__fail(t->e, src->name, line, "region line outside a block "
                                "(no address-space: or memory-region: header above it)");
            int err = parse_region_line(t, line, s);
            if (err)
                return err;
        } else if (!strncmp(s, "FlatView #", 10)) {
            return mt__fail(t->e, src->name, line, "flat-dump block in a tree dump");
        } else {
            return mt__fail(t->e, src->name, line, "unrecognised line (not a header "
                            "or an indented region line)");
        }
    }
    if (!t->nb)
        return mt__fail(t->e, src->name, (unsigned)src->nlines, "no address-space or "
                        "memory-region block");
    bool any_as = false;
    for (size_t b = 0; b < t->nb; b++)
        any_as |= !t->b[b].mr;
    if (!any_as)
        return mt__fail(t->e, src->name, (unsigned)src->nlines, "no address-space block");
    return 0;
}

int mt__tree_read(const struct mt__src *src, struct mt__tree *t, struct mt__err *e)
{
    memset(t, 0, sizeof(*t));
    t->src = src;
    t->e = e;
    int err = read_lines(t);
    if (err)
        return err;

    /* -o: every line has an owner suffix; otherwise suffix-like text is name */
    t->has_owners = t->no > 0;
    for (size_t i = 0; i < t->no && t->has_owners; i++) {
        const char *own;
        size_t olen;
        t->has_owners = mt__owner_suffix(t->o[i].rest, &own, &olen) >= 0;
    }
    struct mt__strset mr = {0};
    for (size_t b = 0; b < t->nb; b++)
        if (t->b[b].mr)
            mt__strset_put(&mr, t->b[b].mr_name, b);
    for (size_t i = 0; i < t->no && !err; i++)
        err = split_rest(t, &t->o[i], &mr);
    mt__strset_free(&mr);
    if (err)
        return err;
    for (size_t i = 0; i < t->no; i++)
        t->has_disabled |= t->o[i].disabled;
    return link_levels(t, t->no);
}

void mt__tree_free(struct mt__tree *t)
{
    for (size_t i = 0; i < t->no; i++) {
        free(t->o[i].kids);
        free(t->o[i].owner);
        free(t->o[i].suffix);
    }
    for (size_t b = 0; b < t->nb; b++)
        free(t->b[b].names);
    free(t->o);
    free(t->b);
    memset(t, 0, sizeof(*t));
}

/* ---- the whole import ------------------------------------------------------------------ */

int mt__qemu_parse(const struct mt__src *tree, const struct mt__src *flat,
                   struct mt__mdesc *d, struct mt__err *e)
{
    struct mt__tree t;
    struct mt__flat f = {0};
    int err = mt__tree_read(tree, &t, e);
    if (!err && flat)
        err = mt__flat_parse(flat, &f, e);
    if (!err)
        err = mt__tree_resolve(&t, d);
    if (!err && flat)
        err = mt__infer_from_flat(d, &f, e);
    if (!err)
        mt__qemu_note_open(d, flat != NULL);
    mt__tree_free(&t);
    mt__flat_free(&f);
    return err;
}
