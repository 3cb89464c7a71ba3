/*
 * The lookup index of a view (QEMU's AddressSpaceDispatch): built once when
 * the view is built, read by any number of readers without locks, freed
 * with the view. Also the public lookup, mt_view_lookup.
 *
 * QEMU resolves addresses through a radix tree of target pages whose leaves
 * index a table of sections, capped at one page's worth of entries (4096 on
 * x86). memtree indexes the ranges themselves, byte-exact and uncapped:
 * each chunk of up to 256 ranges (internal.h) has a static B+-tree of its
 * starts, and the view a static B+-tree of its chunks' first starts
 * (layout in access_internal.h): about 9 bytes per range and log16(n) node
 * reads per miss, over the chunks' own ranges (which carry what the RAM
 * fast path needs: mt_range.host_), and in front of the walk two hints that
 * readers keep: the last range found and a table of recent answers by
 * address hash (8 to 16 bytes per range), shared along a lineage of views.
 */
#include "access_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- the walk, in three widths ---------------------------------------------------- */

/* Keys <= addr among those of a node, portable form. Written as a sum of
 * comparisons so the compiler emits flag arithmetic, not branches: which
 * keys qualify is unpredictable. */
static inline size_t count_scalar(const uint64_t *node, uint64_t addr)
{
    /* four partial sums: a single one becomes one long carry chain */
    size_t c[4] = {0, 0, 0, 0};
    for (unsigned j = 0; j < MT__NODE_KEYS; j += 4)
        for (unsigned i = 0; i < 4; i++)
            c[i] += node[j + i] <= addr;
    return (c[0] + c[1]) + (c[2] + c[3]);
}

/* The walk shared by every width: `count` is inlined into each copy. The
 * caller has answered addr == UINT64_MAX and addr below the first key, so
 * every node visited holds at least one key <= addr. The top tree gives
 * the chunk (its rank - 1), the chunk's two levels the range; *out is the
 * chunk's index and the result the range's rank in it (>= 1). A view of
 * one chunk, or a chunk of one leaf node, skips the level above: a
 * predictable branch, cheaper than a node. (A wider root,
 * several nodes counted at once, saves a level of latency but costs more
 * instructions than it saves when lookups overlap: measured, no gain.) */
#define WALK(d, addr, count, out)                                                      \
    do {                                                                               \
        size_t node_ = 0, c_ = 0;                                                      \
        unsigned last_ = (d)->levels - 1;                                              \
        if ((d)->nchunks > 1) {                                                        \
            for (unsigned l_ = 0; l_ < last_; l_++)                                    \
                node_ = node_ * MT__NODE_KEYS +                                        \
                        count((d)->level[l_] + node_ * MT__NODE_KEYS, (addr)) - 1;     \
            c_ = node_ * MT__NODE_KEYS +                                               \
                 count((d)->level[last_] + node_ * MT__NODE_KEYS, (addr)) - 1;         \
        }                                                                              \
        const struct mt__chunk *ch_ = (d)->chunks[c_];                                 \
        size_t j_ = ch_->n > MT__NODE_KEYS ? count(ch_->keys, (addr)) - 1 : 0;         \
        *(out) = c_;                                                                   \
        return j_ * MT__NODE_KEYS +                                                    \
               count(ch_->keys + MT__NODE_KEYS + j_ * MT__NODE_KEYS, (addr));          \
    } while (0)

static size_t rank_scalar(const struct mt__dispatch *d, uint64_t addr,
                          size_t *out)
{
    WALK(d, addr, count_scalar, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* One unsigned compare per 64 bytes of keys. */
__attribute__((target("avx512f"))) static inline size_t count_avx512(const uint64_t *node,
                                                                     uint64_t addr)
{
    __m512i q = _mm512_set1_epi64((long long)addr);
    size_t c = 0;
    for (unsigned j = 0; j < MT__NODE_KEYS; j += 8)
        c += (size_t)__builtin_popcount(
            _mm512_cmple_epu64_mask(_mm512_load_si512((const void *)(node + j)), q));
    return c;
}

__attribute__((target("avx512f"))) static size_t rank_avx512(const struct mt__dispatch *d,
                                                             uint64_t addr,
                                                             size_t *out)
{
    WALK(d, addr, count_avx512, out);
}

/* AVX2 compares signed: flipping the top bit of both sides orders
 * unsigned values the same way. Counts the keys > addr, then the rest. */
__attribute__((target("avx2"))) static inline size_t count_avx2(const uint64_t *node,
                                                               uint64_t addr)
{
    const __m256i sign = _mm256_set1_epi64x((long long)0x8000000000000000ull);
    __m256i q = _mm256_xor_si256(_mm256_set1_epi64x((long long)addr), sign);
    size_t gt = 0;
    for (unsigned j = 0; j < MT__NODE_KEYS; j += 4) {
        __m256i k = _mm256_xor_si256(_mm256_load_si256((const __m256i *)(node + j)), sign);
        gt += (size_t)__builtin_popcount(
            (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(k, q))));
    }
    return MT__NODE_KEYS - gt;
}

__attribute__((target("avx2"))) static size_t rank_avx2(const struct mt__dispatch *d,
                                                        uint64_t addr,
                                                        size_t *out)
{
    WALK(d, addr, count_avx2, out);
}
#endif

/* The widest walk this CPU runs, unless the context's lookup options ask
 * for a narrower one (tests cover every width; benchmarks compare them). */
static uint8_t choose_isa(unsigned options)
{
    if (options & MT_LOOKUP_SCALAR)
        return MT__ISA_SCALAR;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f");
    bool avx2 = __builtin_cpu_supports("avx2");
    if (options & MT_LOOKUP_NO_AVX512)
        avx512 = false;
    if (avx512)
        return MT__ISA_AVX512;
    if (avx2)
        return MT__ISA_AVX2;
#endif
    return MT__ISA_SCALAR;
}

/* Chunk c's ranges, from its entry (struct mt__chunk_base). */
static inline const mt_range *chunk_ranges(const struct mt__dispatch *d, size_t c)
{
    return (const mt_range *)(d->base[c].bias + (c << MT__HINT_OFFSET_BITS));
}

/* The entry of chunk ch at index c. */
static inline struct mt__chunk_base base_entry(const struct mt__chunk *ch, size_t c)
{
    uintptr_t at = (uintptr_t)ch->ranges;
    return (struct mt__chunk_base){at - (c << MT__HINT_OFFSET_BITS),
                                   at + ch->n * sizeof(mt_range)};
}

/* The range holding addr, or NULL, and its chunk's index: the walk, with
 * the two answers that need none. */
static inline const mt_range *locate(const struct mt__dispatch *d, uint64_t addr,
                                     size_t *chunk)
{
    if (addr < d->level[0][0])
        return NULL;
    size_t c, k;
    /* the padding keys are UINT64_MAX: this is the one address that would
     * count them */
    if (__builtin_expect(addr == UINT64_MAX, 0)) {
        c = d->nchunks - 1;
        k = d->chunks[c]->n;
    }
    /* a predictable branch and a direct call: cheaper than a pointer */
#if defined(__x86_64__) && defined(__GNUC__)
    else if (d->isa == MT__ISA_AVX512)
        k = rank_avx512(d, addr, &c);
    else if (d->isa == MT__ISA_AVX2)
        k = rank_avx2(d, addr, &c);
#endif
    else
        k = rank_scalar(d, addr, &c);
    const mt_range *r = (const mt_range *)chunk_ranges(d, c) + (k - 1);
    *chunk = c;
    return addr <= r->last ? r : NULL;
}

/* The hint-table slot value naming range k of chunk c. */
_Static_assert(MT__CHUNK_MAX * sizeof(mt_range) <= (1u << MT__HINT_OFFSET_BITS),
               "a hint slot holds a range's byte offset in its chunk");
static inline uint32_t slot_value(size_t c, size_t k)
{
    return (uint32_t)(c << MT__HINT_OFFSET_BITS | k * sizeof(mt_range));
}

/* Like mt__set_mru: stores only on change. */
static inline void set_slot(uint32_t *slot, uint32_t value)
{
    if (__atomic_load_n(slot, __ATOMIC_RELAXED) != value)
        __atomic_store_n(slot, value, __ATOMIC_RELAXED);
}

const mt_range *mt__dispatch_find_slow(struct mt__dispatch *d, uint64_t addr)
{
    size_t c;
    const mt_range *r = locate(d, addr, &c);
    if (!r)
        return NULL;
    mt__promote(d, r);
    if (d->hints)
        set_slot(&d->hints[mt__hint_slot(d, addr)],
                 slot_value(c, (size_t)(r - chunk_ranges(d, c))));
    return r;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* A chunk's header and index for n ranges, with room for `room` ranges
 * after them; the keys are filled from `ranges`. */
static struct mt__chunk *chunk_alloc(const mt_range *ranges, size_t n, size_t room)
{
    assert(n > 0 && n <= MT__CHUNK_MAX);
    size_t nleaf = round_up(n, MT__NODE_KEYS);
    size_t nkeys = MT__NODE_KEYS + nleaf;
    size_t bytes = sizeof(struct mt__chunk) + nkeys * sizeof(uint64_t) + room * sizeof(mt_range);
    struct mt__chunk *ch = aligned_alloc(64, round_up(bytes, 64));
    if (!ch) {
        mt__diag(NULL, -ENOMEM, "out of memory building a chunk of %zu ranges", n);
        abort();
    }
    ch->n = (uint32_t)n;
    ch->over = NULL;
    memset(ch->moved, 0, sizeof(ch->moved));
    ch->ranges = (mt_range *)(ch->keys + nkeys);
    uint64_t *leaf = ch->keys + MT__NODE_KEYS;
    for (size_t i = 0; i < nleaf; i++)
        leaf[i] = i < n ? ranges[i].start : UINT64_MAX;
    for (size_t j = 0; j < MT__NODE_KEYS; j++)
        ch->keys[j] = j * MT__NODE_KEYS < n ? leaf[j * MT__NODE_KEYS] : UINT64_MAX;
    return ch;
}

struct mt__chunk *mt__chunk_new(const mt_range *ranges, size_t n)
{
    struct mt__chunk *ch = chunk_alloc(ranges, n, n);
    memcpy(ch->ranges, ranges, n * sizeof(mt_range));
    return ch;
}

struct mt__chunk *mt__chunk_over(struct mt__range_block *block, mt_range *ranges, size_t n)
{
    struct mt__chunk *ch = chunk_alloc(ranges, n, 0);
    ch->ranges = ranges;
    ch->over = block;
    block->users++;
    return ch;
}

/* The hint table's granule: the median range size, rounded down to a
 * power of two (a histogram of the sizes' logarithms: linear, no sort).
 * Smaller granules would give one range many slots; larger ones would
 * make neighbouring ranges share one. */
static unsigned hint_granule_shift(const mt_view *v)
{
    size_t count[65] = {0};
    MT__FOR_RANGES(v, r) {
        uint64_t size = r->last - r->start + 1; /* 0: 2^64 */
        count[size ? 63 - __builtin_clzll(size) : 64]++;
    }
    size_t seen = 0;
    for (unsigned b = 0; b < 64; b++)
        if ((seen += count[b]) * 2 >= v->nr)
            return b;
    return 63;
}

/* Warm: each range's first granule names it, so that a new view (one per
 * commit) does not send its readers down the walk until they have filled
 * the table again. Measured with a writer committing 1,000 times a second
 * (bench/run readers): readers keep 88% of their throughput with a cold
 * table, 95% with this. */
static const uint64_t *chunk_starts(const struct mt__chunk *ch)
{
    /* the leaf level: 8 bytes a range, where the ranges take 48 */
    return ch->keys + MT__NODE_KEYS;
}

static void warm_chunks(struct mt__dispatch *d, size_t from, size_t to)
{
    for (size_t c = from; c < to; c++) {
        const struct mt__chunk *ch = d->chunks[c];
        const uint64_t *start = chunk_starts(ch);
        for (size_t k = 0; k < ch->n; k++)
            set_slot(&d->hints[mt__hint_slot(d, start[k])], slot_value(c, k));
    }
}

static void use_table(struct mt__dispatch *d, struct mt__hints *t)
{
    t->refs++;
    d->table = t;
    d->hints = t->slot;
    d->hint_keep = (uint8_t)(64 - t->bits);
    d->hint_shift = t->shift;
    d->bytes += ((size_t)1 << t->bits) * sizeof(uint32_t);
}

/* At least two slots per range when built, a power of two, within the
 * bounds; shared from `from` while it holds at least one per range. */
static void build_hints(struct mt__dispatch *d, const mt_view *v, const mt_view *from)
{
    /* MT_LOOKUP_NO_HINTS: the tests cover both forms, and the lookup
     * benchmark times the bare walk with it */
    if ((v->ctx->access->lookup_options & MT_LOOKUP_NO_HINTS) ||
        v->nchunks > MT__HINT_MAX_CHUNKS)
        return;
    /* Shared while it has one to sixteen slots per range (a new one has
     * two to four): growing or shrinking past that builds a new one, in
     * O(n), once per doubling or halving several times over. */
    struct mt__hints *t = from && from->dispatch ? from->dispatch->table : NULL;
    size_t slots = t ? (size_t)1 << t->bits : 0;
    if (t && (slots >= v->nr || t->bits == MT__HINT_MAX_BITS) &&
        (slots <= 16 * v->nr || t->bits == MT__HINT_MIN_BITS)) {
        /* warmed by the caller where the change shows (mt__dispatch_warm):
         * each slot written misses the cache in a big table */
        use_table(d, t);
        return;
    }
    unsigned bits = MT__HINT_MIN_BITS;
    while (bits < MT__HINT_MAX_BITS && ((size_t)1 << bits) < 2 * v->nr)
        bits++;
    /* zeroed: a slot no range starts in names range 0 until a reader
     * stores better */
    t = calloc(1, sizeof(*t) + ((size_t)1 << bits) * sizeof(uint32_t));
    if (!t)
        return; /* the walk alone answers; the table only saves time */
    t->bits = (uint8_t)bits;
    t->shift = (uint8_t)hint_granule_shift(v);
    use_table(d, t);
    warm_chunks(d, 0, v->nchunks);
}

void mt__dispatch_build(mt_view *v, const mt_view *from, const struct mt__kept *kept,
                        size_t nkept)
{
    v->dispatch = NULL;
    if (v->nr == 0)
        return; /* lookups answer "unassigned" without an index */

    /* Level sizes, leaf first: each upper level keeps the first key of
     * every node of the one below, until one node holds them all. */
    size_t count[MT__MAX_LEVELS];
    unsigned levels = 0;
    size_t total = 0;
    for (size_t c = v->nchunks;; c = (c + MT__NODE_KEYS - 1) / MT__NODE_KEYS) {
        assert(levels < MT__MAX_LEVELS);
        count[levels++] = c;
        total += round_up(c, MT__NODE_KEYS);
        if (c <= MT__NODE_KEYS)
            break;
    }

    size_t nbase = 1;
    while (nbase < v->nchunks)
        nbase *= 2;
    size_t head = round_up(sizeof(struct mt__dispatch), 64);
    struct mt__dispatch *d = aligned_alloc(64, head);
    /* the levels, then the chunk bases (total is a multiple of 16 keys) */
    uint64_t *keys = aligned_alloc(
        64, round_up(total * sizeof(uint64_t) + nbase * sizeof(struct mt__chunk_base), 64));
    if (!d || !keys) {
        mt__diag(v->ctx, -ENOMEM, "out of memory building a lookup index of %zu ranges",
                 v->nr);
        abort();
    }
    memset(d, 0, sizeof(*d));
    d->chunks = v->chunks;
    d->mru = v->chunks[0]->ranges;
    d->nchunks = v->nchunks;
    d->base_mask = nbase - 1;
    d->levels = (uint8_t)levels;
    d->isa = choose_isa(v->ctx->access->lookup_options);
    d->keys = keys;
    /* the chunks' trees (root node, leaves) and the ranges' host_ fields,
     * which serve only the fast path: counted here, as full chunks */
    d->bytes = head + total * sizeof(uint64_t) + nbase * sizeof(struct mt__chunk_base) +
               v->nchunks * MT__NODE_KEYS * sizeof(uint64_t) +
               v->nr * (sizeof(uint64_t) + sizeof(uintptr_t));

    /* Lay the levels out top first, so the hot upper nodes share lines. */
    size_t at = 0;
    for (unsigned l = 0; l < levels; l++) {
        unsigned from_leaf = levels - 1 - l;
        d->level[l] = keys + at;
        at += round_up(count[from_leaf], MT__NODE_KEYS);
    }
    /* The leaf level (a chunk's first start) and the chunk bases. Those of
     * the chunks a part render kept are copied from the old index: reading
     * them from the chunks would touch every chunk. */
    uint64_t *leaf = (uint64_t *)d->level[levels - 1];
    struct mt__chunk_base *base = (struct mt__chunk_base *)(keys + total);
    d->base = base;
    const struct mt__dispatch *o = from ? from->dispatch : NULL;
    if (!o)
        nkept = 0;
    for (size_t c = 0, i = 0; c < v->nchunks;) {
        if (i < nkept && kept[i].at == c) {
            const uint64_t *old = o->level[o->levels - 1];
            memcpy(leaf + c, old + kept[i].from, kept[i].n * sizeof(*leaf));
            /* the entries hold their index: a run that moved is rebiased */
            uintptr_t shift = (uintptr_t)(c - kept[i].from) << MT__HINT_OFFSET_BITS;
            for (size_t j = 0; j < kept[i].n; j++)
                base[c + j] = (struct mt__chunk_base){o->base[kept[i].from + j].bias - shift,
                                                      o->base[kept[i].from + j].end};
            c += kept[i++].n;
            continue;
        }
        leaf[c] = v->chunks[c]->ranges[0].start;
        base[c] = base_entry(v->chunks[c], c);
        c++;
    }
    memset(base + v->nchunks, 0, (nbase - v->nchunks) * sizeof(*base));
    for (size_t i = v->nchunks; i < round_up(v->nchunks, MT__NODE_KEYS); i++)
        leaf[i] = UINT64_MAX;
    for (unsigned l = levels - 1; l-- > 0;) {
        uint64_t *up = (uint64_t *)d->level[l];
        const uint64_t *down = d->level[l + 1];
        size_t c = count[levels - 1 - l];
        for (size_t i = 0; i < c; i++)
            up[i] = down[i * MT__NODE_KEYS];
        for (size_t i = c; i < round_up(c, MT__NODE_KEYS); i++)
            up[i] = UINT64_MAX;
    }
    build_hints(d, v, from && from->dispatch ? from : NULL);
    v->dispatch = d;
}

void mt__dispatch_warm(mt_view *v, size_t from, size_t to, uint64_t lo, uint64_t last)
{
    struct mt__dispatch *d = v->dispatch;
    if (!d || !d->hints)
        return;
    for (size_t c = from; c < to; c++) {
        const struct mt__chunk *ch = d->chunks[c];
        const uint64_t *start = chunk_starts(ch);
        for (size_t k = 0; k < ch->n; k++)
            if (start[k] - lo <= last - lo)
                set_slot(&d->hints[mt__hint_slot(d, start[k])], slot_value(c, k));
    }
}

void mt__dispatch_free(mt_view *v)
{
    struct mt__dispatch *d = v->dispatch;
    if (d) {
        free(d->keys);
        if (d->table && --d->table->refs == 0)
            free(d->table);
        free(d);
    }
    v->dispatch = NULL;
}

/* ---- public ----------------------------------------------------------------- */

/* The most-recent hint missed: the hint table, then the walk. Out of line,
 * so that the hit path of mt_view_lookup needs no stack frame. */
static void __attribute__((noinline)) lookup_miss(const mt_view *v, uint64_t addr,
                                                  mt_section *out)
{
    const mt_range *r = mt__dispatch_find(v, addr);
    if (r)
        mt__section_of(out, r, v, NULL);
    else
        *out = (mt_section){.last = UINT64_MAX, .view = (mt_view *)v};
}

/* No index (the empty view, a view without ranges) or bad arguments. */
static void __attribute__((noinline)) lookup_other(const mt_view *v, mt_section *out)
{
    if (!out)
        return;
    if (!v)
        mt__diag(NULL, -EINVAL, "mt_view_lookup: NULL view");
    *out = (mt_section){.last = UINT64_MAX, .view = (mt_view *)v};
}

MT__HOT_ENTRY void mt_view_lookup(const mt_view *v, uint64_t addr, mt_section *out)
{
    struct mt__dispatch *d;
    if (__builtin_expect(!v || !out || !(d = v->dispatch), 0)) {
        lookup_other(v, out);
        return;
    }
    /* the hint checked against the range itself: the section needs it */
    const mt_range *r = __atomic_load_n(&d->mru, __ATOMIC_RELAXED);
    if (__builtin_expect(mt__range_holds(r, addr), 1))
        mt__section_of(out, r, v, NULL);
    else
        lookup_miss(v, addr, out);
}

MT__HOT_ENTRY const mt_range *mt_view_find_range(const mt_view *v, uint64_t addr)
{
    if (mt__null_arg(v, "mt_view_find_range", "view"))
        return NULL;
    return mt__dispatch_find(v, addr);
}

size_t mt_view_index_bytes(const mt_view *v)
{
    return v && v->dispatch ? v->dispatch->bytes : 0;
}
