/*
 * Dispatch and access (docs/access.md, "Device access rules" and "Lookups
 * and the dispatch index"): unassigned addresses, byte-exact lookups,
 * splitting to the implementation sizes in both byte orders, truncation of
 * narrow reads, `valid` rules, alignment and memtree's unaligned emulation
 * at every misalignment, `accepts`, byte order through buffers, the
 * `memory` attribute, IOMMU translation (chained), eventfd emulation and
 * views of many thousands of ranges.
 */
#include "access_test.h"

/* ---- unassigned addresses ----------------------------------------------- */

static void test_unassigned(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0, "r", 0x1000);
    mt_test_io_at(e, 0x8000, "m", 0x1000);
    uint8_t *ram = mt_region_ram_ptr(r);
    memcpy(ram + 0xffc, (uint8_t[]){1, 2, 3, 4}, 4);

    uint8_t buf[8];
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(rd(e->X, 0x4000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_bytes(buf, 0, 0, 0, 0);

    assert_write_refused(e->X, 0x4000, (uint8_t[]){9, 9, 9, 9}, 4, r, 0x1000);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(rd(e->X, 0x4000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_bytes(buf, 0, 0, 0, 0);

    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(rd(e->X, 0xffc, buf, 8), MT_RESULT_DECODE_ERROR);
    assert_bytes(buf, 1, 2, 3, 4, 0, 0, 0, 0);

    /* The unassigned pseudo-section covers all 2^64 bytes. */
    mt_section s;
    mt_view_lookup(mt_address_space_view(e->X), 0x4000, &s);
    assert_null(s.region);
    assert_int_equal(s.start, 0);
    assert_int_equal(s.last, UINT64_MAX);
    assert_int_equal(s.offset_in_region, 0);
    assert_ptr_equal(s.view, mt_address_space_view(e->X));
}

/* ---- sub-page resolution ---------------------------------------------------- */

static void sub_page_resolution(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *ram = pattern_ram(e, "ram", 0x2000);
    rec dev;
    rec_init(&dev, MT_ENDIAN_LITTLE);
    dev.ops.valid.max_access_size = 4;
    dev.read_value = 0xc0c0c0c0;
    mt_region *d = rec_region(e, &dev, "dev", 8);
    mt_test_map(e->C, 0, ram);
    mt_test_map_prio(e->C, 0x1004, d, 1);

    const mt_view *v = mt_address_space_view(e->X);
    for (uint64_t a = 0x1000; a <= 0x1fff; a++) {
        mt_section s;
        mt_view_lookup(v, a, &s);
        uint64_t off = s.offset_in_region + (a - s.start);
        assert_true(s.start <= a && a <= s.last);
        if (a >= 0x1004 && a <= 0x100b) {
            assert_ptr_equal(s.region, d);
            assert_int_equal(off, a - 0x1004);
        } else {
            assert_ptr_equal(s.region, ram);
            assert_int_equal(off, a);
        }
    }

    uint8_t buf[16];
    assert_int_equal(rd(e->X, 0x1000, buf, 16), MT_RESULT_OK);
    assert_log(&dev, "r@0/4 r@4/4");
    assert_bytes(buf, 0, 1, 2, 3, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0, 0xc, 0xd,
                 0xe, 0xf);

    uint8_t out[16];
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(wr(e->X, 0x1000, out, 16), MT_RESULT_OK);
    assert_log(&dev, "w@0/4=a7a6a5a4 w@4/4=abaaa9a8");
    uint8_t *p = mt_region_ram_ptr(ram);
    assert_bytes(p + 0x1000, 0xa0, 0xa1, 0xa2, 0xa3);
    assert_bytes(p + 0x1004, 4, 5, 6, 7, 8, 9, 0xa, 0xb); /* hidden: untouched */
    assert_bytes(p + 0x100c, 0xac, 0xad, 0xae, 0xaf);
}

/* ---- splitting to the implementation size --------------------------------- */

static void split_to_impl_size(void **state)
{
    mt_test_env *e = *state;
    rec le, be;
    rec_init(&le, MT_ENDIAN_LITTLE);
    rec_init(&be, MT_ENDIAN_BIG);
    le.ops.impl.max_access_size = 1;
    be.ops.impl.max_access_size = 1;
    mt_region *rle = rec_region(e, &le, "le", 0x100);
    mt_region *rbe = rec_region(e, &be, "be", 0x100);

    assert_int_equal(mt_region_dispatch_write(rle, 0x10, 0x11223344, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_OK);
    assert_log(&le, "w@10/1=44 w@11/1=33 w@12/1=22 w@13/1=11");
    assert_int_equal(mt_region_dispatch_write(rbe, 0x10, 0x11223344, 4, MT_ENDIAN_BIG, A),
                     MT_RESULT_OK);
    assert_log(&be, "w@10/1=11 w@11/1=22 w@12/1=33 w@13/1=44");
    /* the value stated in the other order is swapped first */
    assert_int_equal(mt_region_dispatch_write(rbe, 0x10, 0x11223344, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_OK);
    assert_log(&be, "w@10/1=44 w@11/1=33 w@12/1=22 w@13/1=11");

    /* reads are assembled the same way */
    le.backed = be.backed = true;
    for (int i = 0; i < 64; i++)
        le.mem[i] = be.mem[i] = (uint8_t)i;
    assert_dispatch_read(rle, 0x10, 4, MT_ENDIAN_LITTLE, 0x13121110);
    assert_log(&le, "r@10/1 r@11/1 r@12/1 r@13/1");
    assert_dispatch_read(rbe, 0x10, 4, MT_ENDIAN_BIG, 0x10111213);
    assert_log(&be, "r@10/1 r@11/1 r@12/1 r@13/1");
}

/* ---- a narrow read through a wide implementation ------------------------- */

static void narrow_read_wide_impl(void **state)
{
    mt_test_env *e = *state;
    rec le, be;
    rec_init(&le, MT_ENDIAN_LITTLE);
    rec_init(&be, MT_ENDIAN_BIG);
    le.ops.impl.min_access_size = be.ops.impl.min_access_size = 4;
    le.read_value = be.read_value = 0xaabbccdd;
    mt_region *rle = rec_region(e, &le, "le", 0x100);
    mt_region *rbe = rec_region(e, &be, "be", 0x100);

    /* no stray upper bits (QEMU may leave them) */
    assert_dispatch_read(rle, 0x10, 1, MT_ENDIAN_LITTLE, 0xdd);
    assert_log(&le, "r@10/4");
    assert_dispatch_read(rbe, 0x10, 1, MT_ENDIAN_BIG, 0xaa);
    assert_log(&be, "r@10/4");
    /* 2 bytes */
    assert_dispatch_read(rle, 0x10, 2, MT_ENDIAN_LITTLE, 0xccdd);
    assert_dispatch_read(rbe, 0x10, 2, MT_ENDIAN_BIG, 0xaabb);
}

/* ---- valid.max_access_size ------------------------------------------------- */

static void valid_max_access_size(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.ops.valid.max_access_size = 2;
    mt_region *m = rec_region(e, &d, "rec", 0x100);
    mt_test_map(e->C, 0x1000, m);
    uint8_t buf[8];
    assert_int_equal(rd(e->X, 0x1000, buf, 4), MT_RESULT_OK);
    assert_log(&d, "r@0/2 r@2/2");

    rec d0;
    mt_region *m0 = rec_device(e, &d0, MT_ENDIAN_LITTLE, "rec0", 0x100);
    mt_test_map(e->C, 0x2000, m0);
    assert_int_equal(rd(e->X, 0x2000, buf, 8), MT_RESULT_OK);
    assert_log(&d0, "r@0/4 r@4/4");
}

/* ---- alignment ---------------------------------------------------------------- */

static void test_alignment(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    mt_region *m = rec_device(e, &d, MT_ENDIAN_LITTLE, "rec", 0x100);
    mt_test_map(e->C, 0x1000, m);

    uint64_t v = 77;
    assert_int_equal(mt_region_dispatch_read(m, 1, &v, 2, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(v, 0);
    v = 77;
    assert_int_equal(mt_region_dispatch_read(m, 2, &v, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(v, 0);
    assert_int_equal(mt_region_dispatch_write(m, 2, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_log(&d, "");

    uint8_t buf[4];
    assert_int_equal(rd(e->X, 0x1001, buf, 4), MT_RESULT_OK);
    assert_log(&d, "r@1/1 r@2/2 r@4/1");
}

/* ---- unaligned emulation ------------------------------------------------------ */

/* A device that accepts unaligned accesses but whose callbacks take exactly
 * 4 aligned bytes, backed by the bytes 00 11 22 .. 77. */
static mt_region *unaligned_device(mt_test_env *e, rec *d, mt_endian endian, const char *name)
{
    rec_init(d, endian);
    d->ops.valid.unaligned = true;
    d->ops.impl.min_access_size = d->ops.impl.max_access_size = 4;
    d->backed = true;
    for (int i = 0; i < 8; i++)
        d->mem[i] = (uint8_t)(0x11 * i);
    return rec_region(e, d, name, 0x40);
}

/* A 2-byte read and write at 3, across the 4-byte chunks at 0 and 4: the
 * read gives `want` from two chunk reads; writing `value` makes bytes 3 and
 * 4 aa and bb, each chunk read, changed and written back (`write_log`). */
static void across_two_chunks(mt_region *m, rec *d, mt_endian endian, uint64_t want,
                              uint64_t value, const char *write_log)
{
    uint64_t v;
    assert_int_equal(mt_region_dispatch_read(m, 3, &v, 2, endian, A), MT_RESULT_OK);
    assert_int_equal(v, want);
    assert_log(d, "r@0/4 r@4/4");
    assert_int_equal(mt_region_dispatch_write(m, 3, value, 2, endian, A), MT_RESULT_OK);
    assert_log(d, write_log);
    assert_bytes(d->mem, 0x00, 0x11, 0x22, 0xaa, 0xbb, 0x55, 0x66, 0x77);
}

static void unaligned_emulation_example(void **state)
{
    mt_test_env *e = *state;
    rec d;
    mt_region *m = unaligned_device(e, &d, MT_ENDIAN_LITTLE, "rec");
    /* chunk 0 reads 33221100, chunk 4 77665544 */
    across_two_chunks(m, &d, MT_ENDIAN_LITTLE, 0x4433, 0xbbaa,
                      "r@0/4 w@0/4=aa221100 r@4/4 w@4/4=776655bb");

    /* callbacks that take 1..4 bytes: two exact 1-byte writes */
    d.ops.impl.min_access_size = 1;
    assert_int_equal(mt_region_dispatch_write(m, 3, 0xbbaa, 2, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_OK);
    assert_log(&d, "w@3/1=aa w@4/1=bb");

    /* the same for a big-endian device: byte 3 of chunk 0, byte 0 of chunk 4 */
    rec b;
    mt_region *mb = unaligned_device(e, &b, MT_ENDIAN_BIG, "recbe");
    /* chunk 0 reads 00112233 */
    across_two_chunks(mb, &b, MT_ENDIAN_BIG, 0x3344, 0xaabb,
                      "r@0/4 w@0/4=1122aa r@4/4 w@4/4=bb556677");
}

/* Every misaligned 2-, 4- and 8-byte access, both byte orders, for several
 * implementation ranges: the value read is the device-order value of the
 * bytes asked for; a write changes exactly those bytes; every callback is
 * naturally aligned and within [impl.min, impl.max]. */
static void every_misalignment(void **state)
{
    mt_test_env *e = *state;
    static const unsigned impls[][2] = {{4, 4}, {1, 4}, {1, 8}, {2, 8}, {8, 8},
                                        {2, 2}, {1, 1}, {2, 4}, {4, 8}};
    static const unsigned sizes[] = {2, 4, 8};
    rec d;
    for (int be = 0; be <= 1; be++) {
        for (size_t k = 0; k < sizeof(impls) / sizeof(impls[0]); k++) {
            rec_init(&d, be ? MT_ENDIAN_BIG : MT_ENDIAN_LITTLE);
            d.ops.valid.unaligned = true;
            d.ops.impl.min_access_size = impls[k][0];
            d.ops.impl.max_access_size = impls[k][1];
            d.backed = true;
            mt_region *m = rec_region(e, &d, "rec", 0x40);
            mt_endian order = be ? MT_ENDIAN_BIG : MT_ENDIAN_LITTLE;
            for (size_t si = 0; si < 3; si++) {
                unsigned s = sizes[si];
                for (uint64_t x = 1; x < 2 * s; x++) {
                    if (x % s == 0)
                        continue;
                    for (int i = 0; i < 64; i++)
                        d.mem[i] = (uint8_t)(0x40 + i);
                    uint64_t want = 0;
                    for (unsigned i = 0; i < s; i++)
                        want |= (uint64_t)d.mem[x + i] << (8 * (be ? s - 1 - i : i));
                    rec_clear(&d);
                    uint64_t v;
                    assert_int_equal(mt_region_dispatch_read(m, x, &v, s, order, A),
                                     MT_RESULT_OK);
                    if (v != want)
                        fail_msg("%s impl %u..%u read %u at %llu: %llx, want %llx",
                                 be ? "BE" : "LE", impls[k][0], impls[k][1], s,
                                 (unsigned long long)x, (unsigned long long)v,
                                 (unsigned long long)want);
                    for (unsigned c = 0; c < d.calls; c++) {
                        assert_int_equal(d.call[c].offset % d.call[c].size, 0);
                        assert_in_range(d.call[c].size, impls[k][0], impls[k][1]);
                    }

                    uint8_t before[64];
                    memcpy(before, d.mem, 64);
                    uint64_t val = 0x8877665544332211ull & (s == 8 ? UINT64_MAX
                                                                   : (1ull << (8 * s)) - 1);
                    rec_clear(&d);
                    assert_int_equal(mt_region_dispatch_write(m, x, val, s, order, A),
                                     MT_RESULT_OK);
                    for (unsigned c = 0; c < d.calls; c++) {
                        assert_int_equal(d.call[c].offset % d.call[c].size, 0);
                        assert_in_range(d.call[c].size, impls[k][0], impls[k][1]);
                    }
                    for (uint64_t i = 0; i < 64; i++) {
                        uint8_t exp = before[i];
                        if (i >= x && i < x + s) {
                            unsigned j = (unsigned)(i - x);
                            exp = (uint8_t)(val >> (8 * (be ? s - 1 - j : j)));
                        }
                        if (d.mem[i] != exp)
                            fail_msg("%s impl %u..%u write %u at %llu: byte %llu is %02x, "
                                     "want %02x", be ? "BE" : "LE", impls[k][0],
                                     impls[k][1], s, (unsigned long long)x,
                                     (unsigned long long)i, d.mem[i], exp);
                    }
                }
            }
            /* the region goes with the next test's environment */
        }
    }
}

/* ---- accepts -------------------------------------------------------------------- */

static void test_accepts(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.ops.valid.accepts = rec_accepts;
    d.refuse = true;
    d.refuse_offset = 8;
    d.read_value = 0x12345678;
    mt_region *m = rec_region(e, &d, "rec", 0x100);
    mt_test_map(e->C, 0x1000, m);

    mt_attrs attrs = {.secure = 1, .requester_id = 0x42};
    uint64_t v = 5;
    assert_int_equal(mt_region_dispatch_read(m, 8, &v, 4, MT_ENDIAN_LITTLE, attrs),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(v, 0);
    assert_log(&d, "");
    assert_int_equal(d.accepts_calls, 1);
    assert_int_equal(d.acc_offset, 8);
    assert_int_equal(d.acc_size, 4);
    assert_false(d.acc_write);
    assert_int_equal(d.acc_attrs.secure, 1);
    assert_int_equal(d.acc_attrs.requester_id, 0x42);

    uint8_t buf[4] = {9, 9, 9, 9};
    assert_int_equal(mt_address_space_read(e->X, 0x1008, attrs, buf, 4),
                     MT_RESULT_DECODE_ERROR);
    assert_bytes(buf, 0, 0, 0, 0);
    assert_log(&d, "");

    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 4, MT_ENDIAN_LITTLE, attrs),
                     MT_RESULT_OK);
    assert_int_equal(v, 0x12345678);
    assert_log(&d, "r@0/4");
    assert_int_equal(d.acc_offset, 0);
}

/* ---- byte order through an address space ---------------------------------------- */

static void byte_order(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec be, le, na;
    rec_init(&be, MT_ENDIAN_BIG);
    rec_init(&le, MT_ENDIAN_LITTLE);
    rec_init(&na, MT_ENDIAN_NATIVE);
    be.read_value = le.read_value = na.read_value = 0x11223344;
    mt_region *mbe = rec_region(e, &be, "be", 0x100);
    mt_test_map(e->C, 0x1000, mbe);
    mt_test_map(e->C, 0x2000, rec_region(e, &le, "le", 0x100));
    mt_test_map(e->C, 0x3000, rec_region(e, &na, "native", 0x100));

    uint8_t buf[4];
    assert_int_equal(rd(e->X, 0x1000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x11, 0x22, 0x33, 0x44);
    assert_int_equal(rd(e->X, 0x2000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x44, 0x33, 0x22, 0x11);
    assert_int_equal(mt_context_target_endian(e->ctx), MT_ENDIAN_LITTLE);
    assert_int_equal(rd(e->X, 0x3000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x44, 0x33, 0x22, 0x11);
    assert_int_equal(mt_context_set_target_endian(e->ctx, MT_ENDIAN_BIG), 0);
    assert_int_equal(rd(e->X, 0x3000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x11, 0x22, 0x33, 0x44);

    /* writes: the buffer holds the device's bytes */
    rec_clear(&be);
    rec_clear(&le);
    assert_int_equal(wr(e->X, 0x1000, (uint8_t[]){0x11, 0x22, 0x33, 0x44}, 4), MT_RESULT_OK);
    assert_log(&be, "w@0/4=11223344");
    assert_int_equal(wr(e->X, 0x2000, (uint8_t[]){0x44, 0x33, 0x22, 0x11}, 4), MT_RESULT_OK);
    assert_log(&le, "w@0/4=11223344");

    assert_dispatch_read(mbe, 0, 4, MT_ENDIAN_LITTLE, 0x44332211);
    assert_dispatch_read(mbe, 0, 4, MT_ENDIAN_BIG, 0x11223344);
    /* native = the target's order, big now */
    assert_dispatch_read(mbe, 0, 4, MT_ENDIAN_NATIVE, 0x11223344);
    assert_int_equal(mt_context_set_target_endian(e->ctx, MT_ENDIAN_NATIVE), -EINVAL);
}

/* ---- the memory attribute ------------------------------------------------------------ */

static void memory_attribute(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = pattern_ram(e, "r", 0x1000);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    mt_test_map(e->C, 0, r);
    mt_test_map(e->C, 0x1000, rec_region(e, &d, "m", 0x1000));
    mt_attrs mem = {.memory = 1};

    uint8_t buf[8];
    assert_int_equal(mt_address_space_read(e->X, 0, mem, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0, 1, 2, 3);
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(mt_address_space_read(e->X, 0x1000, mem, buf, 4),
                     MT_RESULT_ACCESS_ERROR);
    assert_bytes(buf, 0xee, 0xee, 0xee, 0xee);
    assert_log(&d, "");
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(mt_address_space_read(e->X, 0xffc, mem, buf, 8), MT_RESULT_ACCESS_ERROR);
    assert_bytes(buf, 0xfc, 0xfd, 0xfe, 0xff, 0xee, 0xee, 0xee, 0xee);
    assert_log(&d, "");
    /* writes too; and unassigned space is not RAM either */
    assert_int_equal(mt_address_space_write(e->X, 0x1000, mem, buf, 4),
                     MT_RESULT_ACCESS_ERROR);
    assert_log(&d, "");
    assert_int_equal(mt_address_space_read(e->X, 0x8000, mem, buf, 4),
                     MT_RESULT_ACCESS_ERROR);
    assert_bytes(buf, 0xfc, 0xfd, 0xfe, 0xff);
}

/* ---- IOMMU translation ------------------------------------------------------------------ */

static void iommu(void **state)
{
    mt_test_env *e = *state;
    struct iommu_setup s;
    iommu_build(e, &s, false, false);
    uint8_t buf[8];

    assert_int_equal(rd(s.dma, 0x1010, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x10, 0x11, 0x12, 0x13);
    assert_int_equal(s.dma_map.last_input, 0x1010);
    assert_int_equal(s.dma_map.last_access, MT_IOMMU_RO);

    assert_write_refused(s.dma, 0x2000, (uint8_t[]){1, 2, 3, 4}, 4, s.p, 0x10000);
    assert_int_equal(s.dma_map.last_access, MT_IOMMU_WO);
    assert_int_equal(rd(s.dma, 0x2000, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0, 1, 2, 3);

    assert_int_equal(rd(s.dma, 0x1ffc, buf, 8), MT_RESULT_OK);
    assert_bytes(buf, 0xfc, 0xfd, 0xfe, 0xff, 0, 1, 2, 3);

    memset(buf, 0xee, 8);
    assert_int_equal(rd(s.dma, 0x3000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_bytes(buf, 0, 0, 0, 0);

    /* chained: dma 4000 -> mem 100000 (iommu2) -> phys 0 */
    assert_int_equal(rd(s.dma, 0x4010, buf, 1), MT_RESULT_OK);
    assert_int_equal(buf[0], 0xef);
    assert_int_equal(s.phys_map.last_input, 0x10);

    /* the index comes from the attributes */
    mt_attrs sec = {.secure = 1};
    assert_int_equal(mt_address_space_read(s.dma, 0x1010, sec, buf, 1), MT_RESULT_OK);
    assert_int_equal(s.dma_map.last_index, 1);

    /* translate reports where it lands, the clipped length and the mask */
    mt_translation t;
    assert_int_equal(mt_address_space_translate(s.dma, 0x1ff0, 0x100, false, A, &t), 0);
    assert_ptr_equal(t.as, s.mem);
    assert_ptr_equal(t.region, s.p);
    assert_int_equal(t.offset, 0x5ff0);
    assert_int_equal(t.len, 0x10);
    assert_int_equal(t.page_mask, 0xfff);
    assert_false(t.readonly);
    assert_int_equal(mt_address_space_translate(s.dma, 0x4010, 4, false, A, &t), 0);
    assert_ptr_equal(t.as, s.phys);
    assert_ptr_equal(t.region, s.q);
    assert_int_equal(t.offset, 0x10);
    assert_int_equal(mt_address_space_translate(s.dma, 0x2000, 4, true, A, &t), 0);
    assert_null(t.region); /* no write permission */
    assert_int_equal(mt_address_space_translate(s.mem, 0x10, 4, false, A, &t), 0);
    assert_int_equal(t.page_mask, 0xfff); /* the context's page size */
    assert_int_equal(mt_context_set_page_size(e->ctx, 0x10000), 0);
    assert_int_equal(mt_address_space_translate(s.mem, 0x10, 4, false, A, &t), 0);
    assert_int_equal(t.page_mask, 0xffff);
    assert_int_equal(mt_context_set_page_size(e->ctx, 3000), -EINVAL);

    extras_release(e);
}

/* ---- eventfd emulation ------------------------------------------------------------------ */

static void test_eventfd(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    mt_region *door = rec_device(e, &d, MT_ENDIAN_LITTLE, "door", 0x100);
    mt_test_map(e->C, 0x3000, door);
    struct notifier e1 = {{note_signal}, 0}, e2 = {{note_signal}, 0};
    assert_int_equal(mt_region_add_eventfd(door, 8, 4, true, 1, &e1.n), 0);
    assert_int_equal(mt_region_add_eventfd(door, 0x10, 0, false, 0, &e2.n), 0);
    assert_int_equal(mt_region_add_eventfd(door, 8, 4, true, 1, &e1.n), -EEXIST);

    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){1, 0, 0, 0}, 4), MT_RESULT_OK);
    assert_int_equal(e1.signalled, 1);
    assert_log(&d, "");
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){2, 0, 0, 0}, 4), MT_RESULT_OK);
    assert_int_equal(e1.signalled, 1);
    assert_log(&d, "w@8/4=2");
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){1, 0}, 2), MT_RESULT_OK);
    assert_int_equal(e1.signalled, 1);
    assert_log(&d, "w@8/2=1");
    assert_int_equal(wr(e->X, 0x3010, (uint8_t[]){7}, 1), MT_RESULT_OK);
    assert_int_equal(wr(e->X, 0x3010, (uint8_t[]){7, 7, 7, 7}, 4), MT_RESULT_OK);
    assert_int_equal(e2.signalled, 2);
    assert_log(&d, "");
    /* region-level writes take the same shortcut */
    assert_int_equal(mt_region_dispatch_write(door, 8, 1, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_OK);
    assert_int_equal(e1.signalled, 2);
    assert_log(&d, "");

    /* an accelerator handles them: every write reaches the callback */
    mt_context_set_eventfds_external(e->ctx, true);
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){1, 0, 0, 0}, 4), MT_RESULT_OK);
    assert_int_equal(wr(e->X, 0x3010, (uint8_t[]){7}, 1), MT_RESULT_OK);
    assert_log(&d, "w@8/4=1 w@10/1=7");
    assert_int_equal(e1.signalled, 2);
    assert_int_equal(e2.signalled, 2);
    mt_context_set_eventfds_external(e->ctx, false);

    /* deleting needs the same description */
    assert_int_equal(mt_region_del_eventfd(door, 8, 4, true, 2, &e1.n), -ENOENT);
    assert_int_equal(mt_region_del_eventfd(door, 8, 4, true, 1, &e1.n), 0);
    assert_int_equal(wr(e->X, 0x3010, (uint8_t[]){7}, 1), MT_RESULT_OK);
    assert_int_equal(e2.signalled, 3);
    assert_int_equal(mt_region_del_eventfd(door, 0x10, 0, false, 0, &e2.n), 0);
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){1, 0, 0, 0}, 4), MT_RESULT_OK);
    assert_log(&d, "w@8/4=1");
    assert_int_equal(mt_region_add_eventfd(door, 8, 3, true, 1, &e1.n), -EINVAL);
}

/* The match value is given in the target's byte order and matched in the
 * device's (QEMU's adjust_endianness at registration). */
static void eventfd_byte_order(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    mt_region *door = rec_device(e, &d, MT_ENDIAN_BIG, "door", 0x100);
    mt_test_map(e->C, 0x3000, door);
    struct notifier e1 = {{note_signal}, 0};
    assert_int_equal(mt_region_add_eventfd(door, 8, 4, true, 0x11223344, &e1.n), 0);
    /* little-endian target: the guest writes 0x11223344 as 44 33 22 11 in
     * its own order, which the big-endian device sees as 0x44332211 */
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){0x11, 0x22, 0x33, 0x44}, 4), MT_RESULT_OK);
    assert_log(&d, "w@8/4=11223344");
    assert_int_equal(wr(e->X, 0x3008, (uint8_t[]){0x44, 0x33, 0x22, 0x11}, 4), MT_RESULT_OK);
    assert_int_equal(e1.signalled, 1);
    assert_int_equal(mt_region_del_eventfd(door, 8, 4, true, 0x11223344, &e1.n), 0);
}

/* ---- no limit on sections ------------------------------------------------------------------ */

static void ten_thousand_ranges(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    enum { N = 10000 };
    mt_region **p = malloc(N * sizeof(*p));
    mt_transaction_begin(e->ctx);
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%d", i);
        p[i] = mt_test_io(e, e->O2, name, 2);
        mt_test_map(e->C, 4 * (uint64_t)i, p[i]);
    }
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    const mt_view *v = mt_address_space_view(e->X);
    assert_int_equal(mt_view_range_count(v), N);
    for (uint64_t a = 0; a < 0x9c40; a++) {
        mt_section s;
        mt_view_lookup(v, a, &s);
        if (a % 4 < 2) {
            assert_ptr_equal(s.region, p[a / 4]);
            assert_int_equal(s.offset_in_region + (a - s.start), a % 4);
        } else {
            assert_null(s.region);
        }
    }
    free(p);
}

static void one_byte_regions(void **state)
{
    mt_test_env *e = *state;
    mt_region *c = mt_test_container(e, e->O1, "c", UINT64_MAX);
    enum { N = 4096 };
    mt_region **p = malloc(N * sizeof(*p));
    mt_transaction_begin(e->ctx);
    for (int i = 0; i < N; i++) {
        p[i] = mt_test_io(e, e->O2, "b", 1);
        mt_test_map(c, 0x100000 + (uint64_t)i, p[i]);
    }
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    mt_address_space *as = mt_test_as(e, c, "bytes");
    const mt_view *v = mt_address_space_view(as);
    assert_int_equal(mt_view_range_count(v), N);
    for (int i = 0; i < N; i++) {
        mt_section s;
        mt_view_lookup(v, 0x100000 + (uint64_t)i, &s);
        assert_ptr_equal(s.region, p[i]);
        assert_int_equal(s.start, s.last);
    }
    mt_section s;
    mt_view_lookup(v, 0xfffff, &s);
    assert_null(s.region);
    mt_view_lookup(v, 0x101000, &s);
    assert_null(s.region);
    free(p);
}

/* 58 C: records which region (by its address) saw which callback. */
static char odd_log[256];

static uint64_t odd_read(void *opaque, uint64_t offset, unsigned size)
{
    size_t n = strlen(odd_log);
    snprintf(odd_log + n, sizeof(odd_log) - n, "%s%llx:r@%llx/%u", n ? " " : "",
             (unsigned long long)(uintptr_t)opaque, (unsigned long long)offset, size);
    return 0xabababababababab;
}

static void odd_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)value;
    size_t n = strlen(odd_log);
    snprintf(odd_log + n, sizeof(odd_log) - n, "%s%llx:w@%llx/%u", n ? " " : "",
             (unsigned long long)(uintptr_t)opaque, (unsigned long long)offset, size);
}

static const mt_region_ops odd_ops = {.read = odd_read, .write = odd_write,
                                      .endianness = MT_ENDIAN_LITTLE};

static void odd_bytes(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *ram = pattern_ram(e, "ram", 0x1000);
    mt_transaction_begin(e->ctx);
    mt_test_map(e->C, 0, ram);
    for (uint64_t a = 1; a < 0x1000; a += 2)
        mt_test_map_prio(e->C, a,
                         mt_test_io_ops(e, e->O2, &odd_ops, (void *)(uintptr_t)a, "odd", 1), 1);
    assert_int_equal(mt_transaction_commit(e->ctx), 0);
    const mt_view *v = mt_address_space_view(e->X);
    for (uint64_t a = 0; a < 0x1000; a++) {
        mt_section s;
        mt_view_lookup(v, a, &s);
        assert_int_equal(s.start, a);
        assert_int_equal(s.last, a);
        if (a & 1)
            assert_int_equal(mt_region_get_kind(s.region), MT_KIND_IO);
        else
            assert_ptr_equal(s.region, ram);
    }
    uint8_t buf[8];
    odd_log[0] = 0;
    assert_int_equal(rd(e->X, 0, buf, 8), MT_RESULT_OK);
    assert_string_equal(odd_log, "1:r@0/4 5:r@0/2 7:r@0/1");
    assert_bytes(buf, 0, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab);
    odd_log[0] = 0;
    assert_int_equal(wr(e->X, 0, buf, 8), MT_RESULT_OK);
    assert_string_equal(odd_log, "1:w@0/4 5:w@0/2 7:w@0/1");
}

MT_TEST_MAIN(
    MT_TEST(test_unassigned),
    MT_TEST(sub_page_resolution),
    MT_TEST(split_to_impl_size),
    MT_TEST(narrow_read_wide_impl),
    MT_TEST(valid_max_access_size),
    MT_TEST(test_alignment),
    MT_TEST(unaligned_emulation_example),
    MT_TEST(every_misalignment),
    MT_TEST(test_accepts),
    MT_TEST(byte_order),
    MT_TEST(memory_attribute),
    MT_TEST(iommu),
    MT_TEST(test_eventfd),
    MT_TEST(eventfd_byte_order),
    MT_TEST(ten_thousand_ranges),
    MT_TEST(one_byte_regions),
    MT_TEST(odd_bytes))
