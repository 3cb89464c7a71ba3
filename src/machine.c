/*
 * Machines loaded from files: parses the oracle's `model.txt` format
 * (mtree-format.md 8.2), builds its regions in heap storage and its address
 * spaces in one transaction (8.3), and tears all of it down again. The
 * machine owns the regions, the RAM-device backings it allocated, the address
 * spaces and the file-id -> region index; nothing else is kept.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Kinds as spelled in the file; the order maps onto the init calls below. */
enum rec_kind { K_CONTAINER, K_ALIAS, K_IO, K_RAM, K_ROMD, K_RAMD };
static const char *const kind_names[] = {
    "container", "alias", "io", "ram", "romd", "ramd",
};

enum { FL_DISABLED = 1, FL_READONLY = 2, FL_NONVOLATILE = 4 };

/* One `R` line, kept until the region exists. */
struct rec {
    uint64_t id, parent_id, alias_id;
    uint64_t addr, size, alias_offset; /* size UINT64_MAX means 2^64 */
    int32_t prio;
    unsigned line;
    uint8_t kind, flags;
    bool has_parent, has_alias;
    size_t parent, target;             /* indexes of parent and alias target */
    char *name;
};

/* One `A` line. */
struct as_rec {
    uint64_t root_id;
    size_t root;
    unsigned line;
    char *name;
};

struct id_ref {
    uint64_t id;
    size_t idx;
};

struct mt_machine {
    mt_context *ctx;
    size_t nr;                /* regions, in file order */
    mt_region **regions;      /* NULL once finalised (or never created) */
    void **ramd_host;         /* backing of each RAM device, else NULL */
    struct id_ref *by_id;     /* sorted by file id */
    size_t *created;          /* creation order: alias targets first */
    size_t ncreated;
    mt_address_space **spaces;
    size_t nspaces;
};

/* Parser state for one file. */
struct loader {
    const char *file;
    unsigned line;
    char msg[512];            /* the first error, "FILE:LINE: what" */
    struct rec *recs;
    size_t nrec, caprec;
    struct as_rec *as;
    size_t nas, capas;
    bool in_view;             /* a `V` line was seen, so VA/VR may follow */
};

__attribute__((format(printf, 3, 4)))
static int fail_at(struct loader *L, unsigned line, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(L->msg, sizeof(L->msg), "%s:%u: %s", L->file, line, what);
    return -EINVAL;
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

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Hex without prefix. Returns 0, or 1 when the value is exactly 2^64 (only
 * sizes may say so), or -1 for a bad or overflowing number.
 */
static int parse_hex(const char *s, uint64_t *out)
{
    while (s[0] == '0' && s[1])
        s++; /* leading zeros say nothing */
    size_t n = strlen(s);
    if (n == 0 || n > 17 || (n == 17 && strcmp(s, "10000000000000000")))
        return -1;
    if (n == 17)
        return 1;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = hexval(*s);
        if (d < 0)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_i32(const char *s, int32_t *out)
{
    bool neg = *s == '-';
    uint64_t v;
    if (!parse_u64(s + neg, &v) || v > (neg ? UINT64_C(0x80000000) : INT32_MAX))
        return false;
    *out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
    return true;
}

/* An id field: a decimal number, or '-' when `dash` is allowed. */
static int parse_id(struct loader *L, const char *s, const char *what,
                    bool dash, bool *present, uint64_t *out)
{
    *present = strcmp(s, "-") != 0;
    if (!*present) {
        if (dash)
            return 0;
        return fail_at(L, L->line, "%s must be an id, not '-'", what);
    }
    if (!parse_u64(s, out))
        return fail_at(L, L->line, "bad %s '%s' (decimal id expected)", what, s);
    return 0;
}

static int parse_addr(struct loader *L, const char *s, const char *what,
                      bool allow_2_64, uint64_t *out)
{
    int r = parse_hex(s, out);
    if (r < 0)
        return fail_at(L, L->line, "bad %s '%s' (hex number below 2^64 expected)",
                       what, s);
    if (r == 1) {
        if (!allow_2_64)
            return fail_at(L, L->line, "%s '%s' overflows 64 bits", what, s);
        *out = UINT64_MAX; /* the library's spelling of 2^64 */
    } else if (allow_2_64 && *out == UINT64_MAX) {
        return fail_at(L, L->line,
                       "size ffffffffffffffff cannot be represented "
                       "(2^64 is written 10000000000000000)");
    }
    return 0;
}

static int parse_r(struct loader *L, char *rest)
{
    char *f[10];
    if (split(rest, f, 10) < 10)
        return fail_at(L, L->line, "R line needs 10 fields after 'R' "
                       "(id parent kind addr size prio flags alias-id offset name)");
    if (L->nrec == L->caprec) {
        L->caprec = L->caprec ? 2 * L->caprec : 64;
        L->recs = mt__xrealloc(L->recs, L->caprec * sizeof(*L->recs));
    }
    struct rec *r = &L->recs[L->nrec];
    memset(r, 0, sizeof(*r));
    r->line = L->line;
    bool has_id;
    int err = parse_id(L, f[0], "region id", false, &has_id, &r->id);
    if (!err)
        err = parse_id(L, f[1], "parent id", true, &r->has_parent, &r->parent_id);
    if (err)
        return err;
    size_t k = 0;
    while (k < sizeof(kind_names) / sizeof(kind_names[0]) && strcmp(f[2], kind_names[k]))
        k++;
    if (k == sizeof(kind_names) / sizeof(kind_names[0]))
        return fail_at(L, L->line, "unknown region kind '%s'", f[2]);
    r->kind = (uint8_t)k;
    if ((err = parse_addr(L, f[3], "address", false, &r->addr)) ||
        (err = parse_addr(L, f[4], "size", true, &r->size)))
        return err;
    if (!parse_i32(f[5], &r->prio))
        return fail_at(L, L->line, "bad priority '%s' (signed 32-bit decimal expected)",
                       f[5]);
    if (strcmp(f[6], "-") != 0) {
        for (const char *c = f[6]; *c; c++) {
            uint8_t bit = *c == 'd' ? FL_DISABLED : *c == 'r' ? FL_READONLY
                        : *c == 'n' ? FL_NONVOLATILE : 0;
            if (!bit || (r->flags & bit))
                return fail_at(L, L->line, "bad flags '%s' (any of d, r, n once, or '-')",
                               f[6]);
            r->flags |= bit;
        }
    }
    if ((err = parse_id(L, f[7], "alias id", true, &r->has_alias, &r->alias_id)) ||
        (err = parse_addr(L, f[8], "alias offset", false, &r->alias_offset)))
        return err;
    if (r->has_alias != (r->kind == K_ALIAS))
        return fail_at(L, L->line, r->has_alias ? "a region of kind %s has no alias id"
                                                : "an %s needs an alias id",
                       kind_names[r->kind]);
    if (r->has_parent && r->parent_id == r->id)
        return fail_at(L, L->line, "region %" PRIu64 " is its own parent", r->id);
    r->name = mt__xstrdup(f[9]);
    L->nrec++;
    return 0;
}

static int parse_a(struct loader *L, char *rest)
{
    char *f[2];
    if (split(rest, f, 2) < 2)
        return fail_at(L, L->line, "A line needs a root id and a name");
    if (L->nas == L->capas) {
        L->capas = L->capas ? 2 * L->capas : 16;
        L->as = mt__xrealloc(L->as, L->capas * sizeof(*L->as));
    }
    struct as_rec *a = &L->as[L->nas];
    bool has;
    int err = parse_id(L, f[0], "root id", false, &has, &a->root_id);
    if (err)
        return err;
    a->line = L->line;
    a->name = mt__xstrdup(f[1]);
    L->nas++;
    return 0;
}

/* Expected views are the test's business; only their syntax is checked. */
static int check_vr(struct loader *L, char *rest)
{
    char *f[6];
    uint64_t v;
    int32_t prio;
    if (split(rest, f, 6) < 6)
        return fail_at(L, L->line, "VR line needs start end prio type offset name");
    if (parse_hex(f[0], &v) || parse_hex(f[1], &v) || parse_hex(f[4], &v))
        return fail_at(L, L->line, "bad hex number in VR line");
    if (!parse_i32(f[2], &prio))
        return fail_at(L, L->line, "bad priority '%s'", f[2]);
    const char *t = f[3];
    if (!strncmp(t, "nv-", 3))
        t += 3;
    if (strcmp(t, "ram") && strcmp(t, "rom") && strcmp(t, "romd") &&
        strcmp(t, "ramd") && strcmp(t, "i/o") && strcmp(t, "container"))
        return fail_at(L, L->line, "unknown range type '%s'", f[3]);
    return 0;
}

static int parse_line(struct loader *L, char *s)
{
    if (!*s || *s == '#')
        return 0;
    char *sp = strchr(s, ' ');
    char *rest = sp ? sp + 1 : s + strlen(s);
    if (sp)
        *sp = '\0';
    if (!strcmp(s, "R"))
        return parse_r(L, rest);
    if (!strcmp(s, "A"))
        return parse_a(L, rest);
    if (!strcmp(s, "V")) {
        if (!*rest)
            return fail_at(L, L->line, "V line needs a flat-root name");
        L->in_view = true;
        return 0;
    }
    if (!strcmp(s, "VA") || !strcmp(s, "VR")) {
        if (!L->in_view)
            return fail_at(L, L->line, "%s line outside a V block", s);
        if (s[1] == 'R')
            return check_vr(L, rest);
        return *rest ? 0 : fail_at(L, L->line, "VA line needs an address-space name");
    }
    return fail_at(L, L->line, "unknown line type '%s'", s);
}

static int cmp_id_ref(const void *a, const void *b)
{
    const struct id_ref *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static const struct id_ref *find_id(const struct id_ref *ix, size_t n, uint64_t id)
{
    struct id_ref key = {.id = id};
    return bsearch(&key, ix, n, sizeof(*ix), cmp_id_ref);
}

/* Builds the sorted index and turns every id of the file into an index. */
static int resolve_ids(struct loader *L, struct id_ref *ix)
{
    for (size_t i = 0; i < L->nrec; i++)
        ix[i] = (struct id_ref){L->recs[i].id, i};
    qsort(ix, L->nrec, sizeof(*ix), cmp_id_ref);
    for (size_t i = 1; i < L->nrec; i++) {
        if (ix[i].id == ix[i - 1].id) {
            const struct rec *a = &L->recs[ix[i - 1].idx], *b = &L->recs[ix[i].idx];
            const struct rec *late = a->line > b->line ? a : b;
            return fail_at(L, late->line, "duplicate region id %" PRIu64
                           " (first on line %u)", late->id,
                           late == a ? b->line : a->line);
        }
    }
    for (size_t i = 0; i < L->nrec; i++) {
        struct rec *r = &L->recs[i];
        const struct id_ref *p;
        if (r->has_parent) {
            if (!(p = find_id(ix, L->nrec, r->parent_id)))
                return fail_at(L, r->line, "unknown parent id %" PRIu64, r->parent_id);
            r->parent = p->idx;
        }
        if (r->has_alias) {
            if (!(p = find_id(ix, L->nrec, r->alias_id)))
                return fail_at(L, r->line, "unknown alias target id %" PRIu64,
                               r->alias_id);
            r->target = p->idx;
        }
    }
    for (size_t i = 0; i < L->nas; i++) {
        const struct id_ref *p = find_id(ix, L->nrec, L->as[i].root_id);
        if (!p)
            return fail_at(L, L->as[i].line, "unknown root id %" PRIu64,
                           L->as[i].root_id);
        L->as[i].root = p->idx;
    }
    return 0;
}

static int init_region(struct loader *L, mt_machine *m, mt_context *ctx, size_t i)
{
    const struct rec *r = &L->recs[i];
    mt_region *mr = mt_region_alloc();
    int err;
    switch (r->kind) {
    case K_CONTAINER:
        err = mt_region_init_container(mr, ctx, NULL, r->name, r->size);
        break;
    case K_ALIAS:
        err = mt_region_init_alias(mr, ctx, NULL, r->name, m->regions[r->target],
                                   r->alias_offset, r->size);
        break;
    case K_IO:
        err = mt_region_init_io(mr, ctx, NULL, NULL, NULL, r->name, r->size);
        break;
    case K_RAM:
        /* A ROM is RAM with its own readonly flag: build it as one. */
        if (r->flags & FL_READONLY)
            err = mt_region_init_rom(mr, ctx, NULL, r->name, r->size);
        else
            err = mt_region_init_ram(mr, ctx, NULL, r->name, r->size);
        break;
    case K_ROMD:
        err = mt_region_init_rom_device(mr, ctx, NULL, NULL, NULL, r->name, r->size);
        break;
    default: /* K_RAMD: the caller provides the backing, so the machine does */
        if (r->size == UINT64_MAX) { /* 2^64: no host can back it */
            free(mr);
            return fail_at(L, r->line, "RAM device '%s' cannot be 2^64 bytes", r->name);
        }
        if (r->size > SIZE_MAX || !(m->ramd_host[i] = calloc(1, r->size ? r->size : 1))) {
            free(mr);
            return fail_at(L, r->line, "cannot allocate 0x%" PRIx64
                           " bytes for RAM device '%s'", r->size, r->name);
        }
        err = mt_region_init_ram_device(mr, ctx, NULL, r->name, r->size, m->ramd_host[i]);
        break;
    }
    if (err) {
        free(mr); /* never initialised, so finalize cannot free it */
        free(m->ramd_host[i]);
        m->ramd_host[i] = NULL;
        return fail_at(L, r->line, "cannot create %s region '%s': %s",
                       kind_names[r->kind], r->name, mt_strerror(err));
    }
    m->regions[i] = mr;
    m->created[m->ncreated++] = i;
    return 0;
}

/*
 * Creates every region with alias targets before their aliases. Each alias
 * chain is walked to its first existing (or non-alias) region, marking the
 * walk with its start index so that a chain meeting itself is a cycle.
 */
static int create_regions(struct loader *L, mt_machine *m, mt_context *ctx)
{
    size_t *mark = mt__xcalloc(L->nrec, sizeof(*mark));
    size_t *chain = mt__xmalloc(L->nrec * sizeof(*chain));
    int err = 0;
    for (size_t i = 0; i < L->nrec && !err; i++) {
        size_t n = 0, j = i;
        while (!m->regions[j]) {
            if (mark[j] == i + 1) {
                err = fail_at(L, L->recs[i].line, "alias cycle through region %"
                              PRIu64, L->recs[j].id);
                break;
            }
            mark[j] = i + 1;
            chain[n++] = j;
            if (L->recs[j].kind != K_ALIAS)
                break;
            j = L->recs[j].target;
        }
        while (n && !err)
            err = init_region(L, m, ctx, chain[--n]);
    }
    free(chain);
    free(mark);
    return err;
}

static int apply_flags(struct loader *L, mt_machine *m)
{
    for (size_t i = 0; i < L->nrec; i++) {
        const struct rec *r = &L->recs[i];
        int err = 0;
        if (r->flags & FL_DISABLED)
            err = mt_region_set_enabled(m->regions[i], false);
        if (!err && (r->flags & FL_READONLY) && r->kind != K_RAM)
            err = mt_region_set_readonly(m->regions[i], true);
        if (!err && (r->flags & FL_NONVOLATILE))
            err = mt_region_set_nonvolatile(m->regions[i], true);
        if (err)
            return fail_at(L, r->line, "cannot set flags of '%s': %s", r->name,
                           mt_strerror(err));
    }
    return 0;
}

/*
 * Maps subregions in reverse file order: the newest mapping goes first among
 * equal priorities, so this reproduces the listed render order. Unmapped
 * regions only record their address and priority (the tree dump shows both).
 */
static int place_regions(struct loader *L, mt_machine *m)
{
    for (size_t i = L->nrec; i-- > 0;) {
        const struct rec *r = &L->recs[i];
        mt_region *mr = m->regions[i];
        int err = 0;
        if (r->has_parent) {
            err = mt_region_add_subregion_overlap(m->regions[r->parent], r->addr,
                                                  mr, r->prio);
            if (err)
                return fail_at(L, r->line, "cannot map '%s' into region %" PRIu64
                               ": %s", r->name, r->parent_id, mt_strerror(err));
            continue;
        }
        if (r->addr)
            err = mt_region_set_address(mr, r->addr);
        if (!err && r->prio)
            err = mt_region_set_priority(mr, r->prio);
        if (err)
            return fail_at(L, r->line, "cannot place '%s': %s", r->name,
                           mt_strerror(err));
    }
    return 0;
}

static int create_spaces(struct loader *L, mt_machine *m)
{
    m->spaces = mt__xcalloc(L->nas, sizeof(*m->spaces));
    for (size_t i = 0; i < L->nas; i++) {
        mt_address_space *as = mt_address_space_new(m->ctx, m->regions[L->as[i].root],
                                                     L->as[i].name);
        if (!as)
            return fail_at(L, L->as[i].line, "cannot create address space '%s'",
                           L->as[i].name);
        m->spaces[m->nspaces++] = as;
    }
    return 0;
}

static int read_file(struct loader *L, FILE *in)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int err = 0;
    while (!err && (len = getline(&buf, &cap, in)) >= 0) {
        L->line++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        if (strlen(buf) != (size_t)len)
            err = fail_at(L, L->line, "NUL byte in line");
        else
            err = parse_line(L, buf);
    }
    if (!err && ferror(in))
        err = fail_at(L, L->line, "read error");
    free(buf);
    return err;
}

/*
 * Lets go of every region the machine created. The address spaces go first;
 * a forced re-render then makes the view cache drop the views naming our
 * regions, and a reclaim frees them, since a terminal region named by a live
 * view cannot be finalised. Reverse creation order finalises aliases before
 * their targets. Anything still busy (say, an address space the caller made
 * over one of our regions) is reported and left alive rather than freed.
 */
static void release(mt_machine *m)
{
    mt_context *ctx = m->ctx;
    for (size_t i = 0; i < m->nspaces; i++)
        mt_address_space_destroy(m->spaces[i]);
    m->nspaces = 0;
    mt_transaction_begin(ctx);
    mt__topology_changed(ctx);
    mt_transaction_commit(ctx);
    mt_context_reclaim(ctx);

    size_t busy = 0;
    mt_transaction_begin(ctx);
    for (size_t k = m->ncreated; k-- > 0;) {
        size_t i = m->created[k];
        if (mt_region_finalize(m->regions[i]) != 0) {
            busy++;
            continue;
        }
        m->regions[i] = NULL;
        free(m->ramd_host[i]);
        m->ramd_host[i] = NULL;
    }
    mt_transaction_commit(ctx);
    mt_context_reclaim(ctx);
    if (busy)
        mt__diag(ctx, -EBUSY, "machine freed with %zu region(s) still in use; "
                 "they are left alive", busy);
}

static void free_machine(mt_machine *m)
{
    free(m->regions);
    free(m->ramd_host);
    free(m->by_id);
    free(m->created);
    free(m->spaces);
    free(m);
}

static void free_loader(struct loader *L)
{
    for (size_t i = 0; i < L->nrec; i++)
        free(L->recs[i].name);
    for (size_t i = 0; i < L->nas; i++)
        free(L->as[i].name);
    free(L->recs);
    free(L->as);
}

int mt_machine_load_model(mt_context *ctx, FILE *in, const char *filename,
                          mt_machine **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!ctx || !in || !out)
        return mt__diag(ctx, -EINVAL, "mt_machine_load_model: NULL argument");
    *out = NULL;
    struct loader L = {.file = filename ? filename : "<model>"};
    int rc = read_file(&L, in);
    mt_machine *m = NULL;
    if (!rc) {
        m = mt__xcalloc(1, sizeof(*m));
        m->ctx = ctx;
        m->nr = L.nrec;
        m->regions = mt__xcalloc(L.nrec, sizeof(*m->regions));
        m->ramd_host = mt__xcalloc(L.nrec, sizeof(*m->ramd_host));
        m->created = mt__xcalloc(L.nrec, sizeof(*m->created));
        m->by_id = mt__xcalloc(L.nrec, sizeof(*m->by_id));
        rc = resolve_ids(&L, m->by_id);
    }
    if (!rc) {
        /* One commit for the whole machine, as a board's init would do. */
        mt_transaction_begin(ctx);
        rc = create_regions(&L, m, ctx);
        if (!rc)
            rc = apply_flags(&L, m);
        if (!rc)
            rc = place_regions(&L, m);
        if (!rc)
            rc = create_spaces(&L, m);
        mt_transaction_commit(ctx);
    }
    if (rc && m) {
        release(m);
        free_machine(m);
        m = NULL;
    }
    free_loader(&L);
    if (rc && err && errlen)
        snprintf(err, errlen, "%s", L.msg);
    else if (rc)
        mt__diag(ctx, rc, "%s", L.msg);
    *out = m;
    return rc;
}

void mt_machine_free(mt_machine *m)
{
    if (!m)
        return;
    release(m);
    free_machine(m);
}

mt_context *mt_machine_context(const mt_machine *m)
{
    return m ? m->ctx : NULL;
}

size_t mt_machine_region_count(const mt_machine *m)
{
    return m ? m->nr : 0;
}

mt_region *mt_machine_region(const mt_machine *m, size_t i)
{
    return m && i < m->nr ? m->regions[i] : NULL;
}

mt_region *mt_machine_region_by_file_id(const mt_machine *m, uint64_t file_id)
{
    if (!m)
        return NULL;
    const struct id_ref *p = find_id(m->by_id, m->nr, file_id);
    return p ? m->regions[p->idx] : NULL;
}
