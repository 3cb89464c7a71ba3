/*
 * What the access tests share (header-only, each test program includes it
 * once): the tests' `rec` device, which records its callbacks and can
 * answer from a byte array; regions the test support has no constructor
 * for (IOMMU, RAM device), released by extras_release(); and small helpers
 * for buffers and results.
 */
#ifndef ACCESS_TEST_H
#define ACCESS_TEST_H

#include "mt_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- rec: the recording device ------------------ */

typedef struct rec {
    mt_region_ops ops;      /* rules: edit before creating the region */
    char log[4096];         /* "r@OFF/SIZE w@OFF/SIZE=VAL ..." */
    unsigned calls, reads, writes;
    struct rec_call {
        bool write;
        uint64_t offset;
        unsigned size;
        uint64_t value;
    } call[64];             /* the first 64 calls since rec_clear */
    uint64_t read_value;    /* what reads return (masked to the size) */
    bool backed;            /* reads and writes act on mem[], device order */
    uint8_t mem[64];
    bool refuse;            /* accepts refuses refuse_offset */
    uint64_t refuse_offset;
    unsigned accepts_calls;
    uint64_t acc_offset;    /* the last accepts call */
    unsigned acc_size;
    bool acc_write;
    mt_attrs acc_attrs;
} rec;

static inline bool rec_is_be(const rec *d)
{
    return d->ops.endianness == MT_ENDIAN_BIG;
}

static inline void rec_logf(rec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void rec_logf(rec *d, const char *fmt, ...)
{
    size_t n = strlen(d->log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->log + n, sizeof(d->log) - n, fmt, ap);
    va_end(ap);
}

static inline uint64_t rec_read(void *opaque, uint64_t offset, unsigned size)
{
    rec *d = opaque;
    if (d->calls < 64)
        d->call[d->calls] = (struct rec_call){false, offset, size, 0};
    rec_logf(d, "%sr@%llx/%u", d->calls++ ? " " : "", (unsigned long long)offset, size);
    d->reads++;
    if (!d->backed)
        return d->read_value & (size >= 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1);
    assert_true(offset + size <= sizeof(d->mem));
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)d->mem[offset + i] << (8 * (rec_is_be(d) ? size - 1 - i : i));
    return v;
}

static inline void rec_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    rec *d = opaque;
    if (d->calls < 64)
        d->call[d->calls] = (struct rec_call){true, offset, size, value};
    rec_logf(d, "%sw@%llx/%u=%llx", d->calls++ ? " " : "", (unsigned long long)offset, size,
             (unsigned long long)value);
    d->writes++;
    if (!d->backed)
        return;
    assert_true(offset + size <= sizeof(d->mem));
    for (unsigned i = 0; i < size; i++)
        d->mem[offset + i] = (uint8_t)(value >> (8 * (rec_is_be(d) ? size - 1 - i : i)));
}

static inline bool rec_accepts(void *opaque, uint64_t offset, unsigned size, bool is_write,
                        mt_attrs attrs)
{
    rec *d = opaque;
    d->accepts_calls++;
    d->acc_offset = offset;
    d->acc_size = size;
    d->acc_write = is_write;
    d->acc_attrs = attrs;
    return !(d->refuse && offset == d->refuse_offset);
}

/* Defaults of the `rec` device: valid 0/0, impl 1..4 (0/0), little-endian. */
static inline void rec_init(rec *d, mt_endian endian)
{
    memset(d, 0, sizeof(*d));
    d->ops.read = rec_read;
    d->ops.write = rec_write;
    d->ops.endianness = endian;
}

static inline void rec_clear(rec *d)
{
    d->log[0] = 0;
    d->calls = d->reads = d->writes = 0;
}

#define assert_log(d, expected)                                                \
    do {                                                                       \
        if (strcmp((d)->log, (expected)) != 0)                                 \
            fail_msg("callbacks: got \"%s\", expected \"%s\"", (d)->log, (expected)); \
        rec_clear(d);                                                          \
    } while (0)

static inline mt_region *rec_region(mt_test_env *e, rec *d, const char *name, uint64_t size)
{
    return mt_test_io_ops(e, e->O2, &d->ops, d, name, size);
}

/* rec_init with `endian`, then the device's region (rec_region). */
static inline mt_region *rec_device(mt_test_env *e, rec *d, mt_endian endian, const char *name,
                                    uint64_t size)
{
    rec_init(d, endian);
    return rec_region(e, d, name, size);
}

/* ---- regions the test support does not make ---------------------------------- */

#define MAX_EXTRAS 16
static __attribute__((unused)) mt_region *extras[MAX_EXTRAS];
static __attribute__((unused)) unsigned nr_extras;

static inline mt_region *extra_region(void)
{
    assert_true(nr_extras < MAX_EXTRAS);
    mt_region *r = mt_region_alloc();
    extras[nr_extras++] = r;
    return r;
}

/* Unmaps the extras (newest first), lets the views naming them go, and
 * finalises them, so the environment's teardown finds nothing of theirs. */
static inline void extras_release(mt_test_env *e)
{
    for (unsigned i = nr_extras; i-- > 0;) {
        mt_region *c = mt_region_container(extras[i]);
        if (c)
            mt_test_unmap(c, extras[i]);
    }
    mt_context_reclaim(e->ctx);
    while (nr_extras) {
        mt_region *r = extras[--nr_extras];
        int rc = mt_region_finalize(r);
        if (rc != 0)
            fail_msg("finalising an extra region: %s (%s)", mt_strerror(rc), e->diag.last);
    }
}

static inline mt_region *test_iommu(mt_test_env *e, const mt_iommu_ops *ops, void *opaque,
                             const char *name, uint64_t size)
{
    mt_region *r = extra_region();
    assert_int_equal(mt_region_init_iommu(r, e->ctx, e->O2, ops, opaque, name, size), 0);
    return r;
}

static inline mt_region *test_ram_device(mt_test_env *e, void *host, const char *name, uint64_t size)
{
    mt_region *r = extra_region();
    assert_int_equal(mt_region_init_ram_device(r, e->ctx, e->O2, name, size, host), 0);
    return r;
}

/* ---- buffers and results -------------------------------------------------------- */

static inline void fill_pattern(mt_region *ram, uint64_t size)
{
    uint8_t *p = mt_region_ram_ptr(ram);
    for (uint64_t i = 0; i < size; i++)
        p[i] = (uint8_t)i;
}

static inline void fill_byte(mt_region *ram, uint64_t size, uint8_t b)
{
    memset(mt_region_ram_ptr(ram), b, size);
}

/* RAM owned by O2 filled with fill_pattern: byte i holds i (mod 256). */
static inline mt_region *pattern_ram(mt_test_env *e, const char *name, uint64_t size)
{
    mt_region *r = mt_test_ram(e, e->O2, name, size);
    fill_pattern(r, size);
    return r;
}

/* An eventfd notifier that counts its signals. */
struct notifier {
    mt_event_notifier n;
    unsigned signalled;
};

static inline void note_signal(mt_event_notifier *n)
{
    ((struct notifier *)n)->signalled++;
}

#define A MT_ATTRS_UNSPECIFIED

static inline mt_result rd(mt_address_space *as, uint64_t addr, void *buf, uint64_t len)
{
    return mt_address_space_read(as, addr, A, buf, len);
}

static inline mt_result wr(mt_address_space *as, uint64_t addr, const void *buf, uint64_t len)
{
    return mt_address_space_write(as, addr, A, buf, len);
}

/* The write of `len` bytes from `buf` at `addr` fails with
 * MT_RESULT_DECODE_ERROR and leaves the first `size` bytes of RAM `ram`
 * as they were. */
static inline void assert_write_refused(mt_address_space *as, uint64_t addr, const void *buf,
                                        uint64_t len, mt_region *ram, size_t size)
{
    uint8_t *before = malloc(size);
    assert_non_null(before);
    memcpy(before, mt_region_ram_ptr(ram), size);
    assert_int_equal(wr(as, addr, buf, len), MT_RESULT_DECODE_ERROR);
    assert_memory_equal(mt_region_ram_ptr(ram), before, size);
    free(before);
}

/* mt_region_dispatch_read of `size` bytes at `offset` in byte order
 * `endian` succeeds and gives exactly `want`: no bits of what the value
 * held before survive above the bytes read. */
#define assert_dispatch_read(m, offset, size, endian, want)                   \
    do {                                                                      \
        uint64_t got_ = 0x5555555555555555ull;                                \
        assert_int_equal(mt_region_dispatch_read((m), (offset), &got_, (size), \
                                                 (endian), A),                \
                         MT_RESULT_OK);                                       \
        assert_int_equal(got_, (want));                                       \
    } while (0)

#define assert_bytes(got, ...)                                                 \
    do {                                                                       \
        const uint8_t want_[] = {__VA_ARGS__};                                 \
        assert_memory_equal((got), want_, sizeof(want_));                      \
    } while (0)

/* ---- the IOMMU setup of test_dispatch.c and test_readonly_access.c ------
 *
 * `mem` holds p (RAM, byte i = i & ff) and, at 100000, iommu2 translating
 * everything to `phys` (q: byte i = ff - (i & ff)); `dma` holds `iommu`
 * (2^32 bytes) over bg. dma pages: 1000 -> mem 5000 rw, 2000 -> mem 6000
 * read-only, 4000 -> mem 100000 rw, others nothing.
 */

struct iommu_map {
    mt_address_space *mem, *phys;
    uint64_t last_input;
    unsigned calls;
    int last_index;
    mt_iommu_perm last_access;
};

static inline mt_iommu_tlb_entry dma_translate(void *opaque, uint64_t offset, mt_iommu_perm access,
                                        int index)
{
    struct iommu_map *m = opaque;
    m->calls++;
    m->last_input = offset;
    m->last_index = index;
    m->last_access = access;
    mt_iommu_tlb_entry t = {.target_as = m->mem, .iova = offset & ~0xfffull,
                            .addr_mask = 0xfff, .perm = MT_IOMMU_NONE};
    switch (offset & ~0xfffull) {
    case 0x1000: t.translated_addr = 0x5000; t.perm = MT_IOMMU_RW; break;
    case 0x2000: t.translated_addr = 0x6000; t.perm = MT_IOMMU_RO; break;
    case 0x4000: t.translated_addr = 0x100000; t.perm = MT_IOMMU_RW; break;
    default: break;
    }
    return t;
}

static inline mt_iommu_tlb_entry phys_translate(void *opaque, uint64_t offset, mt_iommu_perm access,
                                         int index)
{
    struct iommu_map *m = opaque;
    (void)access, (void)index;
    m->calls++;
    m->last_input = offset;
    return (mt_iommu_tlb_entry){.target_as = m->phys, .iova = offset & ~0xfffull,
                                .translated_addr = offset & ~0xfffull, .addr_mask = 0xfff,
                                .perm = MT_IOMMU_RW};
}

static inline int dma_index(void *opaque, mt_attrs attrs)
{
    (void)opaque;
    return attrs.secure ? 1 : 0;
}

static const mt_iommu_ops dma_ops __attribute__((unused)) = {
    .translate = dma_translate, .attrs_to_index = dma_index};
static const mt_iommu_ops phys_ops __attribute__((unused)) = {.translate = phys_translate};

struct iommu_setup {
    struct iommu_map dma_map, phys_map;
    mt_region *p, *q, *memc, *iommu, *iommu2, *dmac;
    mt_address_space *mem, *phys, *dma;
};

static inline void iommu_build(mt_test_env *e, struct iommu_setup *s, bool readonly_page_5000,
                        bool iommu_in_readonly_container)
{
    memset(s, 0, sizeof(*s));
    s->memc = mt_test_container(e, e->O1, "memc", UINT64_MAX);
    s->p = pattern_ram(e, "p", 0x10000);
    mt_test_map(s->memc, 0, s->p);
    if (readonly_page_5000) {
        mt_region *ro = mt_test_alias(e, e->O2, "p-ro", s->p, 0x5000, 0x1000);
        mt_region_set_readonly(ro, true);
        mt_test_map_prio(s->memc, 0x5000, ro, 1);
    }
    mt_region *physc = mt_test_container(e, e->O1, "physc", UINT64_MAX);
    s->q = mt_test_ram(e, e->O2, "q", 0x10000);
    uint8_t *qp = mt_region_ram_ptr(s->q);
    for (int i = 0; i < 0x10000; i++)
        qp[i] = (uint8_t)(0xff - (i & 0xff));
    mt_test_map(physc, 0, s->q);
    s->mem = mt_test_as(e, s->memc, "mem");
    s->phys = mt_test_as(e, physc, "phys");
    s->dma_map.mem = s->mem;
    s->phys_map.phys = s->phys;
    s->iommu2 = test_iommu(e, &phys_ops, &s->phys_map, "iommu2", 0x1000);
    mt_test_map(s->memc, 0x100000, s->iommu2);

    s->dmac = mt_test_container(e, e->O1, "dmac", UINT64_MAX);
    mt_region *bg = mt_test_io(e, e->O2, "bg", UINT64_MAX);
    mt_test_map_prio(s->dmac, 0, bg, -1);
    s->iommu = test_iommu(e, &dma_ops, &s->dma_map, "iommu", 0x100000000ull);
    if (iommu_in_readonly_container) {
        mt_region *roc = mt_test_container(e, e->O1, "roc", 0x100000000ull);
        mt_region_set_readonly(roc, true);
        mt_test_map(roc, 0, s->iommu);
        mt_test_map(s->dmac, 0, roc);
    } else {
        mt_test_map(s->dmac, 0, s->iommu);
    }
    s->dma = mt_test_as(e, s->dmac, "dma");
}

#endif /* ACCESS_TEST_H */
