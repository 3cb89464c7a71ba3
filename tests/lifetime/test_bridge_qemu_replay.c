/*
 * Bridge decoding against real QEMU 7.2: for every oracle case whose
 * setup.log lists the configuration writes that produced it (the `-qfw`
 * cases of ../shared/oracle/cases), the bridges of the case are built as
 * model bridges in the topology the log gives (bus numbers, device list),
 * reset the way QEMU resets them (PCIe root ports 1b36:000c with
 * forwarding disabled), and every logged write to a bridge is replayed, in
 * order, addressed through the bus numbers the bridges hold at that moment.
 * The resulting window aliases (offset, size, address, enabled, and whether
 * the VGA aliases are mapped) are then compared with three views of what
 * QEMU did:
 *   - model.txt: the `pci_bridge_io`, `pci_bridge_mem`, `pci_bridge_pref_mem`
 *     and `pci_bridge_vga_*` alias lines; a size printed as 1 may stand for
 *     0 (docs/import.md);
 *   - mr-qom.tsv: the exact size and address of each window object;
 *   - the log's own device list (`io=[..] mem=[..] pref=[..]`).
 * Oracle bridges carry no bus number, so each replayed bridge is matched,
 * parent first, to an oracle bridge under the oracle bridge matched to its
 * parent. The oracle directory is argv[1], else $MT_ORACLE_DIR, else
 * ../shared/oracle/cases next to the source tree; without it the test skips.
 */
#include "test_bridge_common.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/stat.h>

enum { S_IO, S_MEM, S_PREF, S_VGA_MEM, S_VGA_LO, S_VGA_HI, NSLOT };

static const char *const slot_name[NSLOT] = {
    "pci_bridge_io", "pci_bridge_mem", "pci_bridge_pref_mem",
    "pci_bridge_vga_mem", "pci_bridge_vga_io_lo", "pci_bridge_vga_io_hi",
};

/* ---- reading files ----------------------------------------------------------------------- */

typedef struct lines {
    char **v;
    size_t n;
} lines;

static bool read_lines(const char *dir, const char *file, lines *out)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    memset(out, 0, sizeof(*out));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n++] = strdup(buf);
    }
    free(buf);
    fclose(f);
    return true;
}

static void free_lines(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int slot_of(const char *name)
{
    for (int s = 0; s < NSLOT; s++)
        if (strcmp(name, slot_name[s]) == 0)
            return s;
    return -1;
}

/* ---- oracle bridges ------------------------------------------------------------------------ */

/* One window as the oracle shows it. */
typedef struct owin {
    bool known;        /* this source says something about this slot */
    bool mapped;
    bool full;         /* 2^64 */
    bool has_offset, has_enabled;
    bool enabled;
    uint64_t addr, offset, size;
    char ref[64];      /* where it came from, for the report */
} owin;

typedef struct onode {
    char key[512];     /* model: container id; mr-qom: device path */
    char io_box[1040], mem_box[1040]; /* mr-qom: paths of its containers */
    int parent;        /* node index, -1 for the root bus, -2 unknown */
    owin w[NSLOT];
    int matched;       /* replayed bridge index, or -1 */
} onode;

typedef struct osrc {
    const char *name;
    onode *n;
    size_t nr;
    bool size01;       /* a printed size 1 may be 0 */
} osrc;

static int add_node(osrc *src, const char *key)
{
    for (size_t i = 0; i < src->nr; i++)
        if (strcmp(src->n[i].key, key) == 0)
            return (int)i;
    src->n = realloc(src->n, (src->nr + 1) * sizeof(*src->n));
    onode *o = &src->n[src->nr];
    memset(o, 0, sizeof(*o));
    snprintf(o->key, sizeof(o->key), "%s", key);
    o->parent = -2;
    o->matched = -1;
    return (int)src->nr++;
}

/* model.txt: R <id> <parent|-> <kind> <addr> <size> <prio> <flags> <alias|-> <offset> <name> */
typedef struct rline {
    long id, parent, alias;
    char kind[16], flags[8], name[128];
    uint64_t addr, size, offset;
    bool full;
} rline;

static bool parse_r(const char *s, rline *r)
{
    char parent[32], alias[32], size[40];
    int used = 0;
    if (sscanf(s, "R %ld %31s %15s %" SCNx64 " %39s %*d %7s %31s %" SCNx64 " %n", &r->id,
               parent, r->kind, &r->addr, size, r->flags, alias, &r->offset, &used) != 8)
        return false;
    snprintf(r->name, sizeof(r->name), "%s", s + used);
    r->parent = parent[0] == '-' ? -1 : strtol(parent, NULL, 10);
    r->alias = alias[0] == '-' ? -1 : strtol(alias, NULL, 10);
    r->full = strlen(size) > 16;
    r->size = r->full ? 0 : strtoull(size, NULL, 16);
    return true;
}

/*
 * model.txt names containers, not devices, so it gives two forests: I/O
 * containers (`pci_bridge_io`) with the I/O window and VGA I/O aliases
 * that target them, and memory containers (`pci_bridge_pci`) with the
 * memory, prefetchable and VGA memory aliases.
 */
static void load_model(const lines *l, osrc *io, osrc *mem)
{
    size_t n = 0;
    rline *r = calloc(l->n + 1, sizeof(*r));
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i][0] == 'R' && parse_r(l->v[i], &r[n]))
            n++;
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%ld", r[i].id);
        if (strcmp(r[i].kind, "container") == 0 && strcmp(r[i].name, "pci_bridge_io") == 0)
            add_node(io, key);
        if (strcmp(r[i].kind, "container") == 0 && strcmp(r[i].name, "pci_bridge_pci") == 0)
            add_node(mem, key);
    }
    for (size_t i = 0; i < io->nr; i++)
        for (int s = S_IO; s < NSLOT; s++)
            io->n[i].w[s].known = s == S_IO || s == S_VGA_LO || s == S_VGA_HI;
    for (size_t i = 0; i < mem->nr; i++)
        for (int s = S_IO; s < NSLOT; s++)
            mem->n[i].w[s].known = s == S_MEM || s == S_PREF || s == S_VGA_MEM;
    for (size_t i = 0; i < n; i++) {
        int s = slot_of(r[i].name);
        if (s < 0 || strcmp(r[i].kind, "alias") != 0)
            continue;
        osrc *src = (s == S_IO || s == S_VGA_LO || s == S_VGA_HI) ? io : mem;
        char key[32], pkey[32];
        snprintf(key, sizeof(key), "%ld", r[i].alias);
        snprintf(pkey, sizeof(pkey), "%ld", r[i].parent);
        int k = -1, p = -1;
        for (size_t j = 0; j < src->nr; j++) {
            if (strcmp(src->n[j].key, key) == 0)
                k = (int)j;
            if (strcmp(src->n[j].key, pkey) == 0)
                p = (int)j;
        }
        assert_true(k >= 0);
        owin *w = &src->n[k].w[s];
        *w = (owin){
            .known = true, .mapped = r[i].parent >= 0, .full = r[i].full,
            .has_offset = true, .has_enabled = true, .enabled = !strchr(r[i].flags, 'd'),
            .addr = r[i].addr, .offset = r[i].offset, .size = r[i].size,
        };
        snprintf(w->ref, sizeof(w->ref), "R %ld", r[i].id);
        if (s == S_IO || s == S_MEM)
            src->n[k].parent = p; /* a parent that is not a bridge container: root bus */
    }
    free(r);
}

/* mr-qom.tsv: qom_path type container addr size priority, one object each. */
static void load_qom(const lines *l, osrc *q)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < l->n; i++) {
            char path[512], type[64], box[512], addr[40], size[40];
            if (l->v[i][0] == '#' ||
                sscanf(l->v[i], "%511[^\t]\t%63[^\t]\t%511[^\t]\t%39[^\t]\t%39[^\t]", path, type,
                       box, addr, size) != 5)
                continue;
            char *slash = strrchr(path, '/');
            if (!slash)
                continue;
            char base[128];
            snprintf(base, sizeof(base), "%s", slash + 1);
            char *br = strchr(base, '[');
            if (br)
                *br = 0;
            *slash = 0; /* path is now the device */
            bool mapped = strcmp(box, "-") != 0;
            if (pass == 0) {
                /* first the devices and their secondary containers */
                bool mem_box = strcmp(base, "pci_bridge_pci") == 0;
                bool io_box = strcmp(base, "pci_bridge_io") == 0 && !mapped;
                if (mem_box || io_box) {
                    int k = add_node(q, path); /* may move q->n */
                    onode *o = &q->n[k];
                    snprintf(mem_box ? o->mem_box : o->io_box, sizeof(o->io_box), "%s/%s",
                             path, slash + 1);
                }
                continue;
            }
            int s = slot_of(base);
            if (s < 0 || (s == S_IO && !mapped))
                continue;
            int k = add_node(q, path);
            onode *o = &q->n[k];
            uint64_t sz = strtoull(size, NULL, 16);
            o->w[s] = (owin){
                .known = true, .mapped = mapped, .full = sz == UINT64_MAX,
                .addr = strtoull(addr, NULL, 16), .size = sz == UINT64_MAX ? 0 : sz,
            };
            snprintf(o->w[s].ref, sizeof(o->w[s].ref), "%s", slash + 1);
            if (s == S_IO || s == S_MEM) {
                /* mapped into another bridge's secondary container, or the root bus */
                o->parent = -1;
                for (size_t j = 0; j < q->nr; j++)
                    if (strcmp(q->n[j].io_box, box) == 0 || strcmp(q->n[j].mem_box, box) == 0)
                        o->parent = (int)j;
            }
        }
    }
    for (size_t i = 0; i < q->nr; i++)
        for (int s = 0; s < NSLOT; s++)
            q->n[i].w[s].known = true; /* an absent VGA object: never mapped */
}

/* ---- the replay -------------------------------------------------------------------------------- */

typedef struct rbridge {
    char bdf[16];
    unsigned bus, devfn, vendor, device;
    int sec;                /* final secondary bus, from the device list */
    int parent;             /* index, -1 on the root bus */
    int depth;
    bool has_sum[3];
    uint64_t sum_base[3], sum_limit[3];
    bt_bridge *bb;
    int match[3];           /* node per source */
} rbridge;

typedef struct replay {
    mt_test_env *e;
    bt_root root;
    rbridge *b;
    size_t nb;
    unsigned writes, ignored;
} replay;

static void parse_devices(replay *r, const lines *log)
{
    for (size_t i = 0; i < log->n; i++) {
        unsigned bus, dev, fn, vendor, device, cls, hdr;
        int used = 0;
        if (sscanf(log->v[i], "%2x:%2x.%1x %4x:%4x class %4x hdr %u%n", &bus, &dev, &fn, &vendor,
                   &device, &cls, &hdr, &used) != 7 || hdr != 1)
            continue;
        r->b = realloc(r->b, (r->nb + 1) * sizeof(*r->b));
        rbridge *b = &r->b[r->nb++];
        memset(b, 0, sizeof(*b));
        snprintf(b->bdf, sizeof(b->bdf), "%02x:%02x.%x", bus, dev, fn);
        b->bus = bus;
        b->devfn = dev << 3 | fn;
        b->vendor = vendor;
        b->device = device;
        const char *rest = log->v[i] + used;
        static const char *const tag[3] = {" io=[", " mem=[", " pref=["};
        for (int k = 0; k < 3; k++) {
            const char *p = strstr(rest, tag[k]);
            if (p && sscanf(p + strlen(tag[k]), "0x%" SCNx64 "-0x%" SCNx64, &b->sum_base[k],
                            &b->sum_limit[k]) == 2)
                b->has_sum[k] = true;
        }
        const char *sec = strstr(rest, " sec ");
        b->sec = sec ? atoi(sec + 5) : -1;
        b->match[0] = b->match[1] = b->match[2] = -1;
    }
    /* the topology: a bridge's parent is the one whose final secondary bus
     * is the bridge's bus */
    for (size_t i = 0; i < r->nb; i++) {
        r->b[i].parent = -1;
        for (size_t j = 0; j < r->nb && r->b[i].bus; j++)
            if (r->b[j].sec == (int)r->b[i].bus)
                r->b[i].parent = (int)j;
        assert_true(r->b[i].bus == 0 || r->b[i].parent >= 0);
    }
    for (size_t i = 0; i < r->nb; i++) {
        int d = 0;
        for (int p = r->b[i].parent; p >= 0; p = r->b[p].parent)
            d++;
        assert_true(d < 8);
        r->b[i].depth = d;
    }
}

/* The bridge a write to bus:devfn reaches now, through the bus numbers the
 * bridges hold at this point of the log. */
static rbridge *resolve(replay *r, unsigned bus, unsigned devfn)
{
    int parent = -1;
    if (bus != 0) {
        parent = -2;
        for (size_t j = 0; j < r->nb; j++)
            if (mt_pci_bridge_config_read(&r->b[j].bb->b, MT_PCI_BRIDGE_SEC_BUS, 1) == bus)
                parent = (int)j;
        if (parent == -2)
            return NULL;
    }
    for (size_t j = 0; j < r->nb; j++)
        if (r->b[j].parent == parent && r->b[j].devfn == devfn)
            return &r->b[j];
    return NULL;
}

static void build_and_replay(replay *r, const lines *log)
{
    mt_test_env *e = r->e;
    /* realise parents first, as QEMU creates the buses */
    for (int d = 0; d < 8; d++) {
        for (size_t i = 0; i < r->nb; i++) {
            rbridge *b = &r->b[i];
            if (b->depth != d)
                continue;
            mt_pci_bridge_options o = {.vendor_id = (uint16_t)b->vendor,
                                       .device_id = (uint16_t)b->device};
            char label[48];
            snprintf(label, sizeof(label), "dev bdf=%s", b->bdf);
            b->bb = bt_bridge_new(e, label, &o);
            if (b->parent < 0) {
                bt_realize(e, b->bb, r->root.pci, r->root.io);
            } else {
                mt_pci_bridge *p = &r->b[b->parent].bb->b;
                bt_realize(e, b->bb, mt_pci_bridge_sec_mem(p), mt_pci_bridge_sec_io(p));
            }
        }
    }
    /* machine reset: QEMU's PCIe root ports come out with forwarding off */
    for (size_t i = 0; i < r->nb; i++) {
        bool root_port = r->b[i].vendor == 0x1b36 && r->b[i].device == 0x000c;
        assert_int_equal(mt_pci_bridge_reset(&r->b[i].bb->b,
                                             root_port ? MT_PCI_BRIDGE_RESET_FORWARDING_DISABLED
                                                       : MT_PCI_BRIDGE_RESET_DEFAULT),
                         0);
    }
    for (size_t i = 0; i < log->n; i++) {
        unsigned bus, dev, fn, off, size, value;
        if (sscanf(log->v[i], " cfg %2x:%2x.%1x +0x%x/%u <- 0x%x", &bus, &dev, &fn, &off, &size,
                   &value) != 6)
            continue;
        rbridge *b = resolve(r, bus, dev << 3 | fn);
        if (!b) {
            r->ignored++;
            continue;
        }
        bt_write(e, b->bb, off, value, size);
        r->writes++;
    }
    bt_check_views(e->ctx);
}

/* ---- comparing -------------------------------------------------------------------------------- */

static mt_region *slot_region(mt_pci_bridge *b, int s)
{
    switch (s) {
    case S_IO: return mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_IO);
    case S_MEM: return mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_MEM);
    case S_PREF: return mt_pci_bridge_window_region(b, MT_PCI_BRIDGE_WIN_PREF);
    case S_VGA_MEM: return mt_pci_bridge_vga_mem(b);
    case S_VGA_LO: return mt_pci_bridge_vga_io_lo(b);
    default: return mt_pci_bridge_vga_io_hi(b);
    }
}

/* Does the replayed bridge look like oracle node `o`? Writes the first
 * difference into `why`; counts size-1-for-0 readings in *ambiguous. */
static bool same_windows(const rbridge *rb, const onode *o, const osrc *src, char *why,
                         size_t whylen, unsigned *ambiguous)
{
    unsigned amb = 0;
    for (int s = 0; s < NSLOT; s++) {
        const owin *w = &o->w[s];
        if (!w->known)
            continue;
        mt_region *a = slot_region(&rb->bb->b, s);
        bool mapped = mt_region_container(a) != NULL;
        uint64_t size;
        bool full = mt_region_size_exact(a, &size);
        if (mapped != w->mapped) {
            snprintf(why, whylen, "%s: %s mapped here, %s there", slot_name[s],
                     mapped ? "is" : "not", w->mapped ? "is" : "not");
            return false;
        }
        if (!mapped)
            continue;
        bool size_ok = full == w->full && (full || size == w->size);
        if (!size_ok && src->size01 && !full && !w->full && size == 0 && w->size == 1) {
            size_ok = true;
            amb++;
        }
        if (mt_region_addr(a) != w->addr || !size_ok ||
            (w->has_offset && mt_region_alias_offset(a) != w->offset) ||
            (w->has_enabled && mt_region_enabled(a) != w->enabled)) {
            snprintf(why, whylen,
                     "%s: replay @%" PRIx64 " size %s%" PRIx64 " offset %" PRIx64 " %s; "
                     "%s @%" PRIx64 " size %s%" PRIx64 " offset %" PRIx64 " %s",
                     slot_name[s], mt_region_addr(a), full ? "2^64+" : "", size,
                     mt_region_alias_offset(a), mt_region_enabled(a) ? "on" : "off", w->ref,
                     w->addr, w->full ? "2^64+" : "", w->size, w->offset,
                     w->has_enabled ? (w->enabled ? "on" : "off") : "");
            return false;
        }
    }
    *ambiguous += amb;
    return true;
}

/* Matches every replayed bridge, parents first, to an unmatched node of
 * `src` under its parent's node. Returns the number of failures. */
static unsigned match_source(replay *r, osrc *src, int which, unsigned *ambiguous)
{
    unsigned failures = 0;
    for (int d = 0; d < 8; d++) {
        for (size_t i = 0; i < r->nb; i++) {
            rbridge *rb = &r->b[i];
            if (rb->depth != d)
                continue;
            int want_parent = rb->parent < 0 ? -1 : r->b[rb->parent].match[which];
            char why[512] = "no oracle bridge on that bus";
            for (size_t k = 0; k < src->nr && rb->match[which] < 0; k++) {
                onode *o = &src->n[k];
                if (o->matched >= 0 || o->parent != want_parent || want_parent == -2)
                    continue;
                if (same_windows(rb, o, src, why, sizeof(why), ambiguous)) {
                    o->matched = (int)i;
                    rb->match[which] = (int)k;
                }
            }
            if (rb->match[which] < 0) {
                print_error("%s: bridge %s: no match in %s (%s)\n", src->name, rb->bdf,
                            src->name, why);
                rb->match[which] = -2;
                failures++;
            }
        }
    }
    for (size_t k = 0; k < src->nr; k++) {
        if (src->n[k].matched < 0) {
            print_error("%s: oracle bridge %s matches no replayed bridge\n", src->name,
                        src->n[k].key);
            failures++;
        }
    }
    return failures;
}

/* The log's device list: what the allocator meant each window to be. */
static unsigned check_summary(const rbridge *rb)
{
    unsigned failures = 0;
    static const char *const kind[3] = {"io", "mem", "pref"};
    for (int k = 0; k < 3; k++) {
        mt_pci_bridge_window w = mt_pci_bridge_get_window(&rb->bb->b, (mt_pci_bridge_window_kind)k);
        bool ok = rb->has_sum[k] ? (w.size != 0 && w.base == rb->sum_base[k] &&
                                    w.limit == rb->sum_limit[k])
                                 : w.size == 0;
        if (!ok) {
            print_error("setup.log: bridge %s %s: replay %" PRIx64 "-%" PRIx64 " size %" PRIx64
                        ", listed %s\n",
                        rb->bdf, kind[k], w.base, w.limit, w.size,
                        rb->has_sum[k] ? "non-empty" : "empty");
            failures++;
        }
    }
    return failures;
}

static void describe(const rbridge *rb, char *out, size_t len)
{
    size_t n = 0;
    n += (size_t)snprintf(out + n, len - n, "%s", rb->bdf);
    for (int s = 0; s < NSLOT && n < len; s++) {
        mt_region *a = slot_region(&rb->bb->b, s);
        if (s >= S_VGA_MEM && !mt_region_container(a))
            continue;
        uint64_t size;
        bool full = mt_region_size_exact(a, &size);
        n += (size_t)snprintf(out + n, len - n, " %s=%" PRIx64 "+%s%" PRIx64 "%s",
                              slot_name[s] + strlen("pci_bridge_"), mt_region_addr(a),
                              full ? "2^64" : "", full ? 0 : size,
                              mt_region_enabled(a) ? "" : "(off)");
    }
}

/* ---- one case ---------------------------------------------------------------------------------- */

typedef struct case_state {
    const char *dir;
    mt_test_env *e;
} case_state;

static int case_setup(void **state)
{
    case_state *cs = calloc(1, sizeof(*cs));
    cs->dir = *state;
    cs->e = mt_test_env_new();
    *state = cs;
    return 0;
}

static int case_teardown(void **state)
{
    case_state *cs = *state;
    int rc = mt_test_env_free(cs->e);
    free(cs);
    return rc;
}

static void replay_case(void **state)
{
    case_state *cs = *state;
    const char *name = strrchr(cs->dir, '/') ? strrchr(cs->dir, '/') + 1 : cs->dir;
    lines log, model, qom;
    assert_true(read_lines(cs->dir, "setup.log", &log));
    assert_true(read_lines(cs->dir, "model.txt", &model));
    assert_true(read_lines(cs->dir, "mr-qom.tsv", &qom));

    replay r = {.e = cs->e};
    r.root = bt_root_new(cs->e);
    parse_devices(&r, &log);
    assert_true(r.nb > 0);
    build_and_replay(&r, &log);

    osrc src[3] = {
        {.name = "model.txt (I/O)", .size01 = true},
        {.name = "model.txt (memory)", .size01 = true},
        {.name = "mr-qom.tsv", .size01 = false},
    };
    load_model(&model, &src[0], &src[1]);
    load_qom(&qom, &src[2]);
    unsigned failures = 0, ambiguous = 0, ambiguous_qom = 0;
    failures += match_source(&r, &src[0], 0, &ambiguous);
    failures += match_source(&r, &src[1], 1, &ambiguous);
    failures += match_source(&r, &src[2], 2, &ambiguous_qom);
    print_message("%s: %zu bridges, %u writes replayed (%u to other devices)\n", name, r.nb,
                  r.writes, r.ignored);
    for (size_t i = 0; i < r.nb; i++) {
        rbridge *rb = &r.b[i];
        unsigned bad = check_summary(rb);
        failures += bad;
        char text[512];
        describe(rb, text, sizeof(text));
        bool ok = !bad && rb->match[0] >= 0 && rb->match[1] >= 0 && rb->match[2] >= 0;
        print_message("  %s  %s: model.txt %s/%s, mr-qom %s\n", ok ? "match   " : "MISMATCH",
                      text, rb->match[0] >= 0 ? src[0].n[rb->match[0]].key : "-",
                      rb->match[1] >= 0 ? src[1].n[rb->match[1]].key : "-",
                      rb->match[2] >= 0 ? src[2].n[rb->match[2]].key : "-");
    }
    if (ambiguous)
        print_message("  (%u window(s) of size 0 printed as size 1 in model.txt; mr-qom.tsv "
                      "confirms the exact sizes)\n", ambiguous);

    /* unplug, children first */
    for (int d = 7; d >= 0; d--)
        for (size_t i = 0; i < r.nb; i++)
            if (r.b[i].depth == d)
                bt_unplug(cs->e, r.b[i].bb);
    for (int k = 0; k < 3; k++)
        free(src[k].n);
    free(r.b);
    free_lines(&log);
    free_lines(&model);
    free_lines(&qom);
    assert_int_equal(failures, 0);
}

/* ---- finding the cases ---------------------------------------------------------------------------- */

static void no_oracle(void **state)
{
    print_message("oracle directory %s not found: pass it as argv[1] or set MT_ORACLE_DIR\n",
                  (const char *)*state);
    skip();
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    char dir[1024];
    if (argc > 1) {
        snprintf(dir, sizeof(dir), "%s", argv[1]);
    } else if (getenv("MT_ORACLE_DIR")) {
        snprintf(dir, sizeof(dir), "%s", getenv("MT_ORACLE_DIR"));
    } else {
        /* this file is <src>/tests/lifetime/...; the corpus <src>/../shared/oracle/cases */
        snprintf(dir, sizeof(dir), "%s", __FILE__);
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            else
                snprintf(dir, sizeof(dir), ".");
        }
        size_t n = strlen(dir);
        snprintf(dir + n, sizeof(dir) - n, "/../shared/oracle/cases");
    }

    char **cases = NULL;
    size_t nc = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d))) {
            size_t len = strlen(ent->d_name);
            if (len < 4 || strcmp(ent->d_name + len - 4, "-qfw") != 0)
                continue;
            char path[2048];
            snprintf(path, sizeof(path), "%s/%s/setup.log", dir, ent->d_name);
            struct stat st;
            if (stat(path, &st) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
            cases = realloc(cases, (nc + 1) * sizeof(*cases));
            cases[nc++] = strdup(path);
        }
        closedir(d);
    }
    int rc;
    if (nc == 0) {
        const struct CMUnitTest t[] = {{"qemu_replay", no_oracle, NULL, NULL, dir}};
        rc = cmocka_run_group_tests(t, NULL, NULL);
    } else {
        qsort(cases, nc, sizeof(*cases), by_name);
        struct CMUnitTest *t = calloc(nc, sizeof(*t));
        for (size_t i = 0; i < nc; i++)
            t[i] = (struct CMUnitTest){strrchr(cases[i], '/') + 1, replay_case, case_setup,
                                       case_teardown, cases[i]};
        rc = _cmocka_run_group_tests("bridge_qemu_replay", t, nc, NULL, NULL);
        free(t);
    }
    for (size_t i = 0; i < nc; i++)
        free(cases[i]);
    free(cases);
    return rc;
}
