/*
 * The access API around dispatch and readonly writes: ROM writes and the
 * ROM loader, ROM device modes (the access part), reads through a kept
 * view, bad arguments, direct pointers and the bounce buffer, find and the
 * references it takes (docs/access.md, "Find"), RAM devices, the 2^64 section, and the guest-error and dirty hooks.
 */
#include "access_test.h"

/* ---- writes to ROM ------------------------------------------------------- */

static void writes_to_rom(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    mt_region *rom = mt_test_rom_at(e, 0, "rom", 0x1000);
    assert_int_equal(mt_address_space_write_rom(e->X, 0, A,
                                                (uint8_t[]){0xaa, 0xbb, 0xcc, 0xdd}, 4),
                     MT_RESULT_OK);
    uint8_t buf[4];
    assert_int_equal(wr(e->X, 0, (uint8_t[]){0x11, 0x22, 0x33, 0x44}, 4),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(rd(e->X, 0, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0xaa, 0xbb, 0xcc, 0xdd);
    assert_int_equal(mt_address_space_write_rom(e->X, 0, A,
                                                (uint8_t[]){0x11, 0x22, 0x33, 0x44}, 4),
                     MT_RESULT_OK);
    assert_int_equal(rd(e->X, 0, buf, 4), MT_RESULT_OK);
    assert_bytes(buf, 0x11, 0x22, 0x33, 0x44);
    /* the loader skips what has no backing, and says OK */
    assert_int_equal(mt_address_space_write_rom(e->X, 0xffe, A, (uint8_t[]){1, 2, 3, 4}, 4),
                     MT_RESULT_OK);
    assert_bytes((uint8_t *)mt_region_ram_ptr(rom) + 0xffe, 1, 2);
    /* region-level writes to ROM are refused too */
    assert_int_equal(mt_region_dispatch_write(rom, 0, 1, 1, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
}

/* ---- ROM device modes (accesses; dumps and listeners: test_flags.c) ---------- */

static void rom_device_modes(void **state)
{
    mt_test_env *e = mt_test_bg_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.read_value = 0x77;
    mt_region *flash = mt_test_rom_device(e, e->O2, &d.ops, &d, "flash", 0x1000);
    memset(mt_region_ram_ptr(flash), 0x5a, 0x1000);
    mt_test_map(e->C, 0, flash);

    uint8_t b = 0;
    assert_int_equal(rd(e->X, 0x10, &b, 1), MT_RESULT_OK);
    assert_int_equal(b, 0x5a);
    assert_log(&d, "");
    assert_int_equal(wr(e->X, 0x10, (uint8_t[]){1}, 1), MT_RESULT_OK);
    assert_log(&d, "w@10/1=1");
    assert_int_equal(((uint8_t *)mt_region_ram_ptr(flash))[0x10], 0x5a);
    /* the loader writes the backing in romd mode */
    assert_int_equal(mt_address_space_write_rom(e->X, 0x20, A, (uint8_t[]){0x42}, 1),
                     MT_RESULT_OK);
    assert_int_equal(((uint8_t *)mt_region_ram_ptr(flash))[0x20], 0x42);
    /* direct reads stop at the range's end (QEMU: the backing's) */
    mt_mapping m;
    assert_int_equal(mt_address_space_map(e->X, 0xff0, 0x100, false, A, &m), 0);
    assert_int_equal(m.len, 0x10);
    assert_int_equal(mt_address_space_unmap(&m, 0), 0);

    assert_int_equal(mt_region_set_romd(flash, false), 0);
    assert_int_equal(rd(e->X, 0x10, &b, 1), MT_RESULT_OK);
    assert_int_equal(b, 0x77);
    assert_log(&d, "r@10/1");
    assert_int_equal(mt_address_space_write_rom(e->X, 0x20, A, (uint8_t[]){0x43}, 1),
                     MT_RESULT_OK);
    assert_int_equal(((uint8_t *)mt_region_ram_ptr(flash))[0x20], 0x42);
    assert_log(&d, "");
}

/* ---- deletion visible only after the commit; a kept view ------------------- */

static void reads_through_a_kept_view(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r1 = mt_test_ram(e, e->O2, "r1", 0x1000);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    mt_region *m2 = mt_test_io_ops(e, e->O3, &d.ops, &d, "m2", 0x1000);
    mt_test_map(e->C, 0, r1);
    mt_test_map(e->C, 0x2000, m2);
    mt_test_reclaim(e);
    uint32_t baseline = 1; /* the test's own reference */

    mt_read_lock();
    mt_view *v0 = mt_address_space_view(e->X);
    assert_true(mt_view_ref(v0));

    mt_transaction_begin(e->ctx);
    mt_test_unmap(e->C, m2);
    uint8_t buf[4];
    assert_int_equal(rd(e->X, 0x2000, buf, 4), MT_RESULT_OK);
    assert_log(&d, "r@0/4");
    assert_int_equal(mt_transaction_commit(e->ctx), 0);

    assert_int_equal(rd(e->X, 0x2000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_log(&d, "");
    mt_section s;
    mt_view_lookup(v0, 0x2000, &s);
    assert_ptr_equal(s.region, m2);
    assert_ptr_equal(s.view, v0);
    assert_int_equal(mt_owner_refcount(e->O3), baseline + 1);

    mt_view_unref(v0);
    mt_read_unlock();
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O3), baseline);
}

/* ---- bad arguments ---------------------------------------------------------------------- */

static void bad_arguments_touch_nothing(void **state)
{
    mt_test_env *e = *state;
    mt_region *top = mt_test_container(e, e->O1, "top", UINT64_MAX);
    mt_region *hi = mt_test_ram(e, e->O2, "hi", 0x1000);
    mt_test_map(top, 0xfffffffffffff000ull, hi);
    mt_address_space *as = mt_test_as(e, top, "top");
    rec d;
    mt_region *m = rec_device(e, &d, MT_ENDIAN_LITTLE, "m", 0x100);
    uint8_t *p = mt_region_ram_ptr(hi);
    uint8_t buf[16];
    memset(buf, 0xee, sizeof(buf));
    unsigned before = e->diag.count;

    /* a length running past 2^64 */
    assert_int_equal(mt_address_space_write(as, UINT64_MAX - 7, A, buf, 9),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_address_space_write(as, UINT64_MAX, A, buf, UINT64_MAX),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_address_space_write_rom(as, UINT64_MAX - 7, A, buf, 16),
                     MT_RESULT_DECODE_ERROR);
    for (int i = 0; i < 0x1000; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(mt_address_space_read(as, 2, A, buf, UINT64_MAX), MT_RESULT_DECODE_ERROR);
    assert_int_equal(buf[0], 0xee);
    assert_int_equal(e->diag.count, before + 4);
    /* ... while exactly reaching the end is fine */
    assert_int_equal(mt_address_space_write(as, UINT64_MAX - 7, A, buf, 8), MT_RESULT_OK);
    assert_int_equal(p[0xfff], 0xee);

    /* NULL buffer, NULL address space */
    before = e->diag.count;
    assert_int_equal(mt_address_space_read(as, 0, A, NULL, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_address_space_write(as, 0, A, NULL, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_address_space_write_rom(as, 0, A, NULL, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(e->diag.count, before + 3);
    assert_int_equal(mt_address_space_read(as, 0, A, buf, 0), MT_RESULT_OK);

    /* dispatch sizes */
    uint64_t v = 0x1234;
    before = e->diag.count;
    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 0, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 16, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 3, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_write(m, 0, 1, 0, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_write(m, 0, 1, 9, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_read(m, 0, NULL, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 4, (mt_endian)7, A),
                     MT_RESULT_DECODE_ERROR);
    assert_int_equal(v, 0x1234);
    assert_log(&d, "");
    assert_int_equal(e->diag.count, before + 7);

    /* the rest of the API */
    mt_translation t;
    mt_mapping mp;
    mt_section s;
    before = e->diag.count;
    assert_int_equal(mt_address_space_translate(as, 0, 0, false, A, &t), -EINVAL);
    assert_int_equal(mt_address_space_translate(as, 2, UINT64_MAX, false, A, &t), -EINVAL);
    assert_int_equal(mt_address_space_translate(as, 0, 1, false, A, NULL), -EINVAL);
    assert_int_equal(mt_address_space_map(as, 0, 0, false, A, &mp), -EINVAL);
    assert_int_equal(mt_address_space_map(as, 0, 4, false, A, NULL), -EINVAL);
    /* (a zeroed mapping names no context: that message goes to stderr) */
    assert_int_equal(mt_address_space_unmap(&mp, 0), -EINVAL);
    assert_int_equal(mt_region_find(hi, 0, 4, NULL), -EINVAL);
    assert_int_equal(mt_region_add_eventfd(m, 0, 3, false, 0, NULL), -EINVAL);
    assert_int_equal(mt_context_set_page_size(e->ctx, 0), -EINVAL);
    assert_int_equal(e->diag.count, before + 8);
    assert_int_equal(mt_region_find(hi, 0, 0, &s), -ENOENT);
    assert_null(s.region);
}

/* ---- direct pointers and the bounce buffer ----------------------------------------------- */

struct dirty_log {
    unsigned calls;
    mt_region *r;
    uint64_t offset, len;
    unsigned clients;
};

static void on_dirty(void *opaque, mt_region *r, uint64_t offset, uint64_t len, unsigned clients)
{
    struct dirty_log *l = opaque;
    l->calls++;
    l->r = r;
    l->offset = offset;
    l->len = len;
    l->clients = clients;
}

static void map_direct(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0x4000, "r", 0x1000);
    mt_test_reclaim(e);
    uint32_t o2 = mt_owner_refcount(e->O2);

    mt_mapping m;
    assert_int_equal(mt_address_space_map(e->X, 0x4f00, 0x2000, true, A, &m), 0);
    assert_ptr_equal(m.host, (uint8_t *)mt_region_ram_ptr(r) + 0xf00);
    assert_int_equal(m.len, 0x100); /* clipped to the range */
    assert_int_equal(mt_owner_refcount(e->O2), o2 + 1);

    /* the mapping alone keeps the region from being finalised */
    mt_test_unmap(e->C, r);
    mt_test_reclaim(e);
    mt_assert_refused(e, mt_region_finalize(r), -EBUSY, "r");
    memset(m.host, 0x33, 0x10);
    assert_int_equal(mt_address_space_unmap(&m, 0x10), 0);
    assert_null(m.host);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), o2 - 2); /* link and range gone too */
    assert_int_equal(mt_test_finalize(e, r), 0);
}

static void map_dirty_and_writes_report(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0x4000, "r", 0x1000);
    struct dirty_log dl = {0};
    mt_context_set_dirty_hook(e->ctx, on_dirty, &dl);

    /* no mask: nothing reported */
    assert_int_equal(wr(e->X, 0x4010, (uint8_t[]){1, 2}, 2), MT_RESULT_OK);
    assert_int_equal(dl.calls, 0);
    assert_int_equal(mt_region_set_log(r, true, MT_DIRTY_VGA), 0);
    assert_int_equal(wr(e->X, 0x4010, (uint8_t[]){1, 2}, 2), MT_RESULT_OK);
    assert_int_equal(dl.calls, 1);
    assert_ptr_equal(dl.r, r);
    assert_int_equal(dl.offset, 0x10);
    assert_int_equal(dl.len, 2);
    assert_int_equal(dl.clients, 1u << MT_DIRTY_VGA);

    mt_mapping m;
    assert_int_equal(mt_address_space_map(e->X, 0x4100, 0x100, true, A, &m), 0);
    assert_int_equal(mt_address_space_unmap(&m, 0x20), 0);
    assert_int_equal(dl.calls, 2);
    assert_int_equal(dl.offset, 0x100);
    assert_int_equal(dl.len, 0x20);
    /* reads and read mappings report nothing */
    assert_int_equal(mt_address_space_map(e->X, 0x4100, 0x100, false, A, &m), 0);
    assert_int_equal(mt_address_space_unmap(&m, 0x20), 0);
    uint8_t buf[4];
    assert_int_equal(rd(e->X, 0x4000, buf, 4), MT_RESULT_OK);
    assert_int_equal(dl.calls, 2);
    assert_int_equal(mt_address_space_write_rom(e->X, 0x4000, A, buf, 4), MT_RESULT_OK);
    assert_int_equal(dl.calls, 3);
    assert_int_equal(mt_region_set_log(r, false, MT_DIRTY_VGA), 0);
}

static void map_bounce(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.backed = true;
    for (int i = 0; i < 64; i++)
        d.mem[i] = (uint8_t)i;
    mt_region *dev = mt_test_io_ops(e, e->O3, &d.ops, &d, "dev", 0x40);
    mt_test_map(e->C, 0x8000, dev);
    mt_test_reclaim(e);
    uint32_t o3 = mt_owner_refcount(e->O3);

    mt_mapping m, m2;
    assert_int_equal(mt_address_space_map(e->X, 0x8000, 8, false, A, &m), 0);
    assert_log(&d, "r@0/4 r@4/4");
    assert_bytes(m.host, 0, 1, 2, 3, 4, 5, 6, 7);
    assert_int_equal(mt_owner_refcount(e->O3), o3 + 1);
    assert_int_equal(mt_address_space_map(e->X, 0x8000, 8, false, A, &m2), -EBUSY);
    assert_int_equal(mt_address_space_unmap(&m, 8), 0);
    assert_log(&d, "");
    assert_int_equal(mt_owner_refcount(e->O3), o3);

    assert_int_equal(mt_address_space_map(e->X, 0x8010, 4, true, A, &m), 0);
    assert_log(&d, "");
    memcpy(m.host, (uint8_t[]){0xa, 0xb, 0xc, 0xd}, 4);
    assert_int_equal(mt_address_space_unmap(&m, 4), 0);
    assert_log(&d, "w@10/4=d0c0b0a");
    assert_bytes(d.mem + 0x10, 0xa, 0xb, 0xc, 0xd);

    /* at most one page; unassigned space bounces too */
    assert_int_equal(mt_address_space_map(e->X, 0x9000, 0x3000, false, A, &m), 0);
    assert_int_equal(m.len, 0x1000);
    assert_int_equal(mt_address_space_unmap(&m, 0), 0);
    /* the memory attribute refuses a mapping of MMIO */
    mt_attrs mem = {.memory = 1};
    assert_int_equal(mt_address_space_map(e->X, 0x8000, 4, false, mem, &m), -EACCES);
}

/* ---- find ---------------------------------------------------------------------------------- */

static void find_holds_a_reference(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_ram_at(e, 0, "r", 0x1000);
    mt_region *m = mt_test_io_at(e, 0x1000, "m", 0x1000);
    mt_region *sub = mt_test_container(e, e->O1, "sub", 0x4000);
    mt_region *inner = mt_test_io(e, e->O3, "inner", 0x1000);
    mt_test_map(sub, 0x2000, inner);
    mt_test_map(e->C, 0x8000, sub);
    mt_test_reclaim(e);
    uint32_t o2 = mt_owner_refcount(e->O2);

    mt_section s;
    assert_int_equal(mt_region_find(r, 0, 4, &s), 0);
    assert_ptr_equal(s.region, r);
    assert_int_equal(s.start, 0);
    assert_int_equal(s.last, 3);
    assert_int_equal(s.offset_in_region, 0);
    assert_ptr_equal(s.as, e->X);
    assert_ptr_equal(s.view, mt_address_space_view(e->X));
    assert_int_equal(mt_owner_refcount(e->O2), o2 + 1);
    mt_section_release(&s);
    assert_null(s.region);
    assert_int_equal(mt_owner_refcount(e->O2), o2);

    /* clipped to the request, offsets follow */
    assert_int_equal(mt_region_find(m, 0x10, 0x2000, &s), 0);
    assert_ptr_equal(s.region, m);
    assert_int_equal(s.start, 0x1010);
    assert_int_equal(s.last, 0x1fff);
    assert_int_equal(s.offset_in_region, 0x10);
    mt_section_release(&s);
    /* nested containers add their addresses */
    assert_int_equal(mt_region_find(inner, 0x20, 4, &s), 0);
    assert_ptr_equal(s.region, inner);
    assert_int_equal(s.start, 0xa020);
    mt_section_release(&s);
    /* a gap: nothing; a request reaching past it: the first range met */
    assert_int_equal(mt_region_find(e->C, 0x5000, 0x100, &s), -ENOENT);
    assert_null(s.region);
    assert_int_equal(mt_region_find(e->C, 0x5000, 0x6000, &s), 0);
    assert_ptr_equal(s.region, inner);
    assert_int_equal(s.start, 0xa000);
    assert_int_equal(s.last, 0xafff);
    /* outstanding: the region cannot be finalised */
    unsigned before = e->diag.count;
    mt_test_unmap(sub, inner);
    mt_test_reclaim(e);
    assert_int_equal(mt_region_finalize(inner), -EBUSY);
    mt_assert_diag(e, before, "inner");
    mt_section_release(&s);
    mt_test_reclaim(e);
    assert_int_equal(mt_test_finalize(e, inner), 0);

    assert_true(mt_region_present(e->C, 0x10));
    assert_false(mt_region_present(e->C, 0x5000));
    /* no address space over the top container */
    mt_region *lone = mt_test_container(e, e->O1, "lone", 0x1000);
    mt_region *leaf = mt_test_io(e, e->O2, "leaf", 0x100);
    mt_test_map(lone, 0, leaf);
    assert_int_equal(mt_region_find(leaf, 0, 1, &s), -ENOENT);
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), o2 + 1); /* the lone link only */
}

/* A copy holds its region's owner and its view: it outlives the read-side
 * section and later commits, and keeps the region from being finalised. A
 * section that holds nothing cannot be released; a replaced view cannot be
 * held. */
static void section_copy_holds_the_view(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_io_at(e, 0x3000, "dev", 0x100);
    mt_test_reclaim(e);
    uint32_t o2 = mt_owner_refcount(e->O2);

    mt_section looked, copy;
    mt_read_lock();
    mt_view_lookup(mt_address_space_view(e->X), 0x3010, &looked);
    assert_int_equal(mt_section_copy(&looked, &copy), 0);
    mt_read_unlock();
    assert_int_equal(mt_owner_refcount(e->O2), o2 + 1); /* 8.3: one per copy */
    assert_ptr_equal(copy.region, r);
    assert_int_equal(copy.start, 0x3000);
    assert_int_equal(copy.offset_in_region, 0);

    /* the lookup's section holds nothing: releasing it is refused */
    unsigned before = e->diag.count;
    mt_section_release(&looked);
    mt_assert_diag(e, before, "holds nothing");
    assert_ptr_equal(looked.region, r);

    /* replaced and unmapped: the copy keeps its view and region alive */
    mt_view *held = copy.view;
    mt_test_unmap(e->C, r);
    mt_test_reclaim(e);
    assert_true(mt_address_space_view(e->X) != held);
    bool names_r = false;
    for (size_t i = 0; i < mt_view_range_count(held); i++)
        names_r |= mt_view_ranges(held)[i].region == r;
    assert_true(names_r);
    mt_assert_refused(e, mt_region_finalize(r), -EBUSY, "dev");

    /* a copy of a copy holds the view again: each is released once */
    mt_section again;
    assert_int_equal(mt_section_copy(&copy, &again), 0);
    mt_section_release(&copy);
    assert_null(copy.view);
    mt_test_reclaim(e);
    before = e->diag.count;
    assert_int_equal(mt_region_finalize(r), -EBUSY);
    mt_section_release(&again);
    mt_section_release(&again); /* cleared: nothing left to drop */
    mt_test_reclaim(e);
    assert_int_equal(mt_owner_refcount(e->O2), o2 - 2); /* link and range gone too */
    assert_int_equal(mt_test_finalize(e, r), 0);

    /* bad arguments (no context to report to: the message goes to stderr) */
    assert_int_equal(mt_section_copy(NULL, &copy), -EINVAL);
    mt_section none = {0};
    assert_int_equal(mt_section_copy(&none, &copy), -EINVAL);
}

/* A view that lost its last reference (replaced, waiting to be freed)
 * cannot be held again: the copy says so. */
static void section_copy_of_a_retired_view(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_region *r = mt_test_io_at(e, 0x3000, "dev", 0x100);
    mt_section looked, copy;
    mt_read_lock();
    mt_view_lookup(mt_address_space_view(e->X), 0x3000, &looked);
    /* a commit replaces the view while this reader still uses it */
    mt_test_unmap(e->C, r);
    mt_assert_refused(e, mt_section_copy(&looked, &copy), -ESTALE, "replaced");
    mt_read_unlock();
}

/* ---- RAM devices, the 2^64 section -------------------------------------------------------- */

static void ram_device_host_order(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    uint8_t host[0x100];
    for (int i = 0; i < 0x100; i++)
        host[i] = (uint8_t)i;
    mt_region *rd_ = test_ram_device(e, host, "ramd", 0x100);
    mt_test_map(e->C, 0x6000, rd_);
    uint8_t buf[16];
    assert_int_equal(rd(e->X, 0x6003, buf, 11), MT_RESULT_OK);
    assert_memory_equal(buf, host + 3, 11);
    assert_int_equal(wr(e->X, 0x60f8, (uint8_t[]){9, 8, 7, 6, 5, 4, 3, 2}, 8), MT_RESULT_OK);
    assert_bytes(host + 0xf8, 9, 8, 7, 6, 5, 4, 3, 2);
    /* the memory attribute allows it: it is RAM-backed */
    assert_int_equal(mt_address_space_read(e->X, 0x6000, (mt_attrs){.memory = 1}, buf, 4),
                     MT_RESULT_OK);
    /* region-level: host loads, refused past the end */
    uint64_t v;
    assert_dispatch_read(rd_, 0xf8, 2, MT_ENDIAN_LITTLE, 0x0809);
    assert_int_equal(mt_region_dispatch_read(rd_, 0xfe, &v, 4, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    /* reads go straight through a read mapping? no: it is not direct */
    mt_mapping m;
    assert_int_equal(mt_address_space_map(e->X, 0x6000, 4, false, A, &m), 0);
    assert_ptr_not_equal(m.host, host);
    assert_bytes(m.host, 0, 1, 2, 3);
    assert_int_equal(mt_address_space_unmap(&m, 0), 0);
    extras_release(e);
}

static void whole_space_section(void **state)
{
    mt_test_env *e = *state;
    mt_region *top = mt_test_container(e, e->O1, "top", UINT64_MAX);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    mt_test_map(top, 0, mt_test_io_ops(e, e->O2, &d.ops, &d, "all", UINT64_MAX));
    mt_address_space *as = mt_test_as(e, top, "all");
    mt_section s;
    mt_view_lookup(mt_address_space_view(as), UINT64_MAX, &s);
    assert_non_null(s.region);
    assert_int_equal(s.start, 0);
    assert_int_equal(s.last, UINT64_MAX);
    uint8_t b;
    assert_int_equal(rd(as, UINT64_MAX, &b, 1), MT_RESULT_OK);
    assert_log(&d, "r@ffffffffffffffff/1");
    mt_translation t;
    assert_int_equal(mt_address_space_translate(as, 0, UINT64_MAX, false, A, &t), 0);
    assert_int_equal(t.len, UINT64_MAX);
}

/* ---- the guest-error hook -------------------------------------------------------------------- */

struct glog {
    unsigned count;
    char last[256];
};

static void on_guest_error(void *opaque, const char *msg)
{
    struct glog *g = opaque;
    g->count++;
    snprintf(g->last, sizeof(g->last), "%s", msg);
}

static void guest_errors_reported(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    rec d;
    rec_init(&d, MT_ENDIAN_LITTLE);
    d.ops.valid.max_access_size = 2;
    d.ops.valid.min_access_size = 2;
    mt_region *m = rec_region(e, &d, "dev", 0x100);
    mt_test_map(e->C, 0x1000, m);
    mt_test_rom_at(e, 0x2000, "rom", 0x100);
    struct glog g = {0};
    uint8_t buf[4];

    assert_int_equal(rd(e->X, 0x4000, buf, 4), MT_RESULT_DECODE_ERROR); /* silent by default */
    mt_context_set_guest_error_hook(e->ctx, on_guest_error, &g);
    assert_int_equal(rd(e->X, 0x4000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(g.count, 1);
    assert_string_equal(g.last, "invalid read at offset 0x4000, size 4, region 'unassigned', "
                                "reason: rejected");
    uint64_t v;
    assert_int_equal(mt_region_dispatch_read(m, 0, &v, 1, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_string_equal(g.last, "invalid read at offset 0x0, size 1, region 'dev', "
                                "reason: invalid size");
    assert_int_equal(mt_region_dispatch_read(m, 1, &v, 2, MT_ENDIAN_LITTLE, A),
                     MT_RESULT_DECODE_ERROR);
    assert_string_equal(g.last, "invalid read at offset 0x1, size 2, region 'dev', "
                                "reason: unaligned");
    assert_int_equal(wr(e->X, 0x2000, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_string_equal(g.last, "write to readonly range at 0x2000, size 4, region 'rom'");
    assert_int_equal(mt_address_space_read(e->X, 0x1000, (mt_attrs){.memory = 1}, buf, 2),
                     MT_RESULT_ACCESS_ERROR);
    assert_string_equal(g.last, "invalid access to non-RAM device at 0x1000, size 2, "
                                "region 'dev'");
    unsigned n = g.count;
    assert_int_equal(rd(e->X, 0x1000, buf, 2), MT_RESULT_OK);
    assert_int_equal(g.count, n);
    mt_context_set_guest_error_hook(e->ctx, NULL, NULL);
}

/* Accesses that read the device's answer with attributes: results OR. */
static mt_result attr_read(void *opaque, uint64_t offset, uint64_t *value, unsigned size,
                           mt_attrs attrs)
{
    (void)opaque, (void)size;
    *value = offset;
    return attrs.user && offset >= 4 ? MT_RESULT_ERROR : MT_RESULT_OK;
}

static mt_result attr_write(void *opaque, uint64_t offset, uint64_t value, unsigned size,
                            mt_attrs attrs)
{
    (void)opaque, (void)offset, (void)value, (void)size;
    return attrs.secure ? MT_RESULT_OK : MT_RESULT_ERROR;
}

static const mt_region_ops attr_ops = {.read_with_attrs = attr_read,
                                       .write_with_attrs = attr_write,
                                       .endianness = MT_ENDIAN_LITTLE};

static void results_or_together(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_map(e->C, 0x1000, mt_test_io_ops(e, e->O2, &attr_ops, NULL, "attr", 0x10));
    uint8_t buf[12];
    assert_int_equal(mt_address_space_read(e->X, 0x1000, (mt_attrs){.user = 1}, buf, 8),
                     MT_RESULT_ERROR);
    assert_bytes(buf, 0, 0, 0, 0, 4, 0, 0, 0);
    /* device error + unassigned */
    assert_int_equal(mt_address_space_read(e->X, 0x100c, (mt_attrs){.user = 1}, buf, 12),
                     MT_RESULT_ERROR | MT_RESULT_DECODE_ERROR);
    assert_int_equal(mt_address_space_write(e->X, 0x1000, (mt_attrs){.secure = 1}, buf, 4),
                     MT_RESULT_OK);
    assert_int_equal(mt_address_space_write(e->X, 0x1000, A, buf, 4), MT_RESULT_ERROR);
}

MT_TEST_MAIN(
    MT_TEST(writes_to_rom),
    MT_TEST(rom_device_modes),
    MT_TEST(reads_through_a_kept_view),
    MT_TEST(bad_arguments_touch_nothing),
    MT_TEST(map_direct),
    MT_TEST(map_dirty_and_writes_report),
    MT_TEST(map_bounce),
    MT_TEST(find_holds_a_reference),
    MT_TEST(section_copy_holds_the_view),
    MT_TEST(section_copy_of_a_retired_view),
    MT_TEST(ram_device_host_order),
    MT_TEST(whole_space_section),
    MT_TEST(guest_errors_reported),
    MT_TEST(results_or_together))
