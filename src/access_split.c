/*
 * Splitting a device access into the callbacks its region's rules allow
 * (docs/access.md, "Device access rules"): callbacks narrower or wider than
 * the access, results placed by byte order, and memtree's emulation of
 * unaligned accesses for devices that accept them but whose callbacks
 * cannot take them. The access path (access.c) comes here only when one
 * callback cannot take the access as it is.
 */
#include "access_internal.h"

/* Byte j (0 = lowest offset) of a k-byte value in a device's byte order,
 * and the value with that byte replaced: the byte model that unaligned
 * emulation assembles values in. */
static inline uint8_t byte_at(uint64_t v, unsigned k, unsigned j, bool be)
{
    return (uint8_t)(v >> (8 * (be ? k - 1 - j : j)));
}

static inline uint64_t with_byte(uint64_t v, unsigned k, unsigned j, bool be, uint8_t b)
{
    unsigned shift = 8 * (be ? k - 1 - j : j);
    return (v & ~(UINT64_C(0xff) << shift)) | ((uint64_t)b << shift);
}

static inline unsigned pow2_ceil(unsigned v)
{
    return v <= 1 ? 1 : v <= 2 ? 2 : v <= 4 ? 4 : 8;
}

/* The callbacks' size range (docs/access.md, "Device access rules"): 0
 * means 1 and 4; kept to powers of two within 1..8 so that chunks tile the
 * value. */
static inline void impl_sizes(const mt_region_ops *ops, unsigned *imin, unsigned *imax)
{
    unsigned lo = pow2_ceil(ops->impl.min_access_size ? ops->impl.min_access_size : 1);
    unsigned hi = mt__pow2_floor(ops->impl.max_access_size ? ops->impl.max_access_size : 4);
    *imin = lo;
    *imax = hi < lo ? lo : hi;
}

/*
 * Unaligned emulation (memtree's, docs/access.md): the next naturally aligned callback
 * for the bytes from `pos` on (`rem` of them). The largest chunk within
 * [imin, imax] that starts at pos and ends inside the access covers bytes
 * exactly; when imin makes that impossible, the aligned imin-chunk holding
 * pos is used and only part of it (`skip` bytes in, `n` bytes) is wanted.
 */
struct emul_chunk {
    uint64_t at;
    unsigned size, skip, n;
};

static inline struct emul_chunk next_chunk(uint64_t pos, unsigned rem, unsigned imin,
                                           unsigned imax)
{
    unsigned k = imax;
    while (k >= imin && (k > rem || (pos & (k - 1))))
        k >>= 1;
    if (k >= imin)
        return (struct emul_chunk){pos, k, 0, k};
    uint64_t at = pos & ~(uint64_t)(imin - 1);
    unsigned skip = (unsigned)(pos - at);
    unsigned n = imin - skip < rem ? imin - skip : rem;
    return (struct emul_chunk){at, imin, skip, n};
}

static mt_result read_emulated(const struct mt__dev *d, uint64_t x, unsigned size,
                               unsigned imin, unsigned imax, mt_attrs attrs, uint64_t *out)
{
    mt_result res = MT_RESULT_OK;
    uint64_t v = 0;
    for (unsigned done = 0; done < size;) {
        struct emul_chunk c = next_chunk(x + done, size - done, imin, imax);
        uint64_t cv;
        res |= mt__cb_read(d, c.at, c.size, attrs, &cv);
        for (unsigned j = 0; j < c.n; j++)
            v = with_byte(v, size, done + j, d->be, byte_at(cv, c.size, c.skip + j, d->be));
        done += c.n;
    }
    *out = v;
    return res;
}

static mt_result write_emulated(const struct mt__dev *d, uint64_t x, unsigned size,
                                unsigned imin, unsigned imax, mt_attrs attrs, uint64_t v)
{
    mt_result res = MT_RESULT_OK;
    for (unsigned done = 0; done < size;) {
        struct emul_chunk c = next_chunk(x + done, size - done, imin, imax);
        uint64_t cv = 0;
        if (c.n != c.size) /* a partial chunk: read, merge, write back */
            res |= mt__cb_read(d, c.at, c.size, attrs, &cv);
        for (unsigned j = 0; j < c.n; j++)
            cv = with_byte(cv, c.size, c.skip + j, d->be, byte_at(v, size, done + j, d->be));
        res |= mt__cb_write(d, c.at, cv, c.size, attrs);
        done += c.n;
    }
    return res;
}

/* Splitting (docs/access.md) for a valid read: callbacks of the clamped
 * size, results placed by byte order and OR-ed, the value truncated to
 * `size` bytes. */
mt_result mt__split_read(const struct mt__dev *d, uint64_t x, unsigned size, mt_attrs attrs,
                         uint64_t *out)
{
    unsigned imin, imax;
    impl_sizes(d->ops, &imin, &imax);
    unsigned c = size < imin ? imin : size > imax ? imax : size;
    if (mt__needs_emulation(d->ops, x, c))
        return read_emulated(d, x, size, imin, imax, attrs, out);
    mt_result res;
    uint64_t v, cv;
    if (c >= size) {
        /* a narrow read through a wider callback (or the plain case) */
        res = mt__cb_read(d, x, c, attrs, &cv);
        v = d->be ? cv >> (8 * (c - size)) : cv;
    } else {
        res = MT_RESULT_OK;
        v = 0;
        for (unsigned i = 0; i < size; i += c) {
            res |= mt__cb_read(d, x + i, c, attrs, &cv);
            v |= cv << (8 * (d->be ? size - c - i : i));
        }
    }
    *out = v & mt__size_mask(size);
    return res;
}

mt_result mt__split_write(const struct mt__dev *d, uint64_t x, unsigned size, mt_attrs attrs,
                          uint64_t v)
{
    unsigned imin, imax;
    impl_sizes(d->ops, &imin, &imax);
    unsigned c = size < imin ? imin : size > imax ? imax : size;
    if (mt__needs_emulation(d->ops, x, c))
        return write_emulated(d, x, size, imin, imax, attrs, v);
    if (c >= size)
        return mt__cb_write(d, x, d->be ? v << (8 * (c - size)) : v, c, attrs);
    mt_result res = MT_RESULT_OK;
    for (unsigned i = 0; i < size; i += c)
        res |= mt__cb_write(d, x + i, (v >> (8 * (d->be ? size - c - i : i))) & mt__size_mask(c),
                            c, attrs);
    return res;
}
