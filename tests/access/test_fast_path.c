/*
 * The entry points' short path (src/access.c): reads and writes of 1, 2,
 * 4 and 8 bytes that the lookup's hints place in one RAM range are copied
 * without entering the general path. Everything else must still reach the
 * general path and behave as it does: lengths of other sizes, accesses
 * that straddle two ranges or leave RAM, readonly and dirty-logged ranges,
 * unassigned bytes, bad arguments, a thread that has never read before.
 * Each access here is checked against what the view says each byte is
 * (mt_view_find_range), at every offset around every boundary.
 */
#include "access_test.h"

#include <pthread.h>

/* The map: two RAM regions side by side, a readonly alias of a third, a
 * dirty-logged fourth, a hole, a fifth RAM at the end of the root. */
struct map {
    mt_region *ram[5];
    unsigned dirty_calls;
    uint64_t dirty_offset, dirty_len;
    mt_region *dirty_region;
};

static void note_dirty(void *opaque, mt_region *r, uint64_t offset, uint64_t len, unsigned mask)
{
    struct map *m = opaque;
    assert_int_equal(mask, 1u << MT_DIRTY_VGA);
    m->dirty_calls++;
    m->dirty_region = r;
    m->dirty_offset = offset;
    m->dirty_len = len;
}

static void build(mt_test_env *e, struct map *m)
{
    memset(m, 0, sizeof(*m));
    mt_test_std(e);
    static const char *names[5] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        m->ram[i] = mt_test_ram(e, e->O2, names[i], 0x1000);
        uint8_t *p = mt_region_ram_ptr(m->ram[i]);
        for (int j = 0; j < 0x1000; j++)
            p[j] = (uint8_t)(j * (2 * i + 3) + i);
    }
    mt_test_map(e->C, 0x0000, m->ram[0]);
    mt_test_map(e->C, 0x1000, m->ram[1]);
    mt_region *ro = mt_test_alias(e, e->O2, "ro", m->ram[2], 0, 0x1000);
    assert_int_equal(mt_region_set_readonly(ro, true), 0);
    mt_test_map(e->C, 0x2000, ro);
    assert_int_equal(mt_region_set_log(m->ram[3], true, MT_DIRTY_VGA), 0);
    mt_test_map(e->C, 0x3000, m->ram[3]);
    /* 0x4000..0xefff: nothing */
    mt_test_map(e->C, 0xf000, m->ram[4]);
    mt_context_set_dirty_hook(e->ctx, note_dirty, m);
}

/* Where byte `addr` lives for this test: its backing, or NULL (unassigned);
 * *readonly and *dirty say what its range is. */
static uint8_t *byte_at_addr(mt_address_space *as, uint64_t addr, bool *readonly, bool *dirty)
{
    const mt_range *r = mt_view_find_range(mt_address_space_view(as), addr);
    if (!r || !r->region)
        return NULL;
    uint8_t *p = mt_region_ram_ptr(r->region);
    if (!p)
        return NULL;
    *readonly = r->readonly;
    *dirty = r->dirty_log_mask != 0;
    return p + r->offset_in_region + (addr - r->start);
}

/* Every length from 1 to 9 and 16, at every offset from 12 below to 12
 * above `edge`: reads give what the view holds, or fail where a byte is
 * unassigned; writes land, or are refused on a readonly byte. */
static void sweep(mt_test_env *e, struct map *m, uint64_t edge)
{
    static const uint64_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
    for (uint64_t at = edge - 12; at <= edge + 12; at++) {
        for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
            uint64_t len = lens[li];
            if (at + len > 0x10000)
                continue;
            uint8_t *where[16];
            bool all_ram = true, any_ro = false, any_dirty = false;
            for (uint64_t i = 0; i < len; i++) {
                bool ro = false, dirty = false;
                where[i] = byte_at_addr(e->X, at + i, &ro, &dirty);
                all_ram &= where[i] != NULL;
                any_ro |= where[i] && ro;
                any_dirty |= where[i] && dirty;
            }

            uint8_t buf[16];
            memset(buf, 0xee, sizeof(buf));
            mt_result res = rd(e->X, at, buf, len);
            if (all_ram) {
                assert_int_equal(res, MT_RESULT_OK);
                for (uint64_t i = 0; i < len; i++)
                    assert_int_equal(buf[i], *where[i]);
            } else {
                assert_int_not_equal(res, MT_RESULT_OK);
            }

            if (!all_ram)
                continue;
            uint8_t data[16], before[16];
            for (uint64_t i = 0; i < len; i++) {
                before[i] = *where[i];
                data[i] = (uint8_t)~before[i];
            }
            m->dirty_calls = 0;
            res = wr(e->X, at, data, len);
            if (any_ro) {
                assert_int_equal(res, MT_RESULT_DECODE_ERROR);
            } else {
                assert_int_equal(res, MT_RESULT_OK);
                for (uint64_t i = 0; i < len; i++)
                    assert_int_equal(*where[i], data[i]);
                /* a logged range is reported, however short the write */
                assert_true(any_dirty ? m->dirty_calls >= 1 : m->dirty_calls == 0);
                if (any_dirty && len <= 8 && at >= 0x3000 && at + len <= 0x4000) {
                    assert_int_equal(m->dirty_calls, 1);
                    assert_ptr_equal(m->dirty_region, m->ram[3]);
                    assert_int_equal(m->dirty_offset, at - 0x3000);
                    assert_int_equal(m->dirty_len, len);
                }
            }
            for (uint64_t i = 0; i < len; i++) {
                bool ro = false, dirty = false;
                if (byte_at_addr(e->X, at + i, &ro, &dirty) && ro)
                    assert_int_equal(*where[i], before[i]); /* refused: unchanged */
                *where[i] = before[i];
            }
        }
    }
}

static void every_edge(void **state)
{
    mt_test_env *e = *state;
    struct map m;
    build(e, &m);
    static const uint64_t edges[] = {0x800, 0x1000, 0x2000, 0x3000, 0x3800, 0x4000, 0xf000};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        sweep(e, &m, edges[i]);
}

/* The same accesses after the map changed under the hints: the hints a
 * reader kept from the old view may name ranges the new one does not
 * have, which must cost a walk, never a wrong byte. */
static void after_remap(void **state)
{
    mt_test_env *e = *state;
    struct map m;
    build(e, &m);
    sweep(e, &m, 0x1000); /* hints of every range near 0x1000 taken */
    mt_test_unmap(e->C, m.ram[0]);
    mt_test_unmap(e->C, m.ram[1]);
    mt_test_map(e->C, 0x0800, m.ram[1]);
    mt_test_map(e->C, 0x1800, m.ram[0]);
    sweep(e, &m, 0x0800);
    sweep(e, &m, 0x1800);
    sweep(e, &m, 0x2800);
}

/* Arguments the short path does not take are checked and refused by the
 * general one, with the same results as before it existed. */
static void bad_arguments(void **state)
{
    mt_test_env *e = *state;
    struct map m;
    build(e, &m);
    uint8_t buf[8];
    assert_int_equal(rd(NULL, 0, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_int_equal(rd(e->X, 0, NULL, 4), MT_RESULT_DECODE_ERROR);
    assert_non_null(strstr(e->diag.last, "mt_address_space_read: NULL buffer"));
    assert_int_equal(wr(e->X, 0, NULL, 4), MT_RESULT_DECODE_ERROR);
    assert_non_null(strstr(e->diag.last, "mt_address_space_write: NULL buffer"));
    assert_int_equal(rd(e->X, UINT64_MAX - 2, buf, 4), MT_RESULT_DECODE_ERROR);
    assert_non_null(strstr(e->diag.last, "run past the end"));
    assert_int_equal(wr(e->X, UINT64_MAX - 6, buf, 8), MT_RESULT_DECODE_ERROR);
    assert_non_null(strstr(e->diag.last, "run past the end"));
    assert_int_equal(rd(e->X, 0, buf, 0), MT_RESULT_OK);
    assert_int_equal(wr(e->X, 0, buf, 0), MT_RESULT_OK);
    /* past the root: unassigned */
    assert_int_not_equal(rd(e->X, 0x10000, buf, 4), MT_RESULT_OK);
    e->diag.count = 0;
}

/* A thread that never read before: its first access registers it as a
 * reader (the short path does not, and leaves that to the general one). */
struct first_read {
    mt_address_space *as;
    uint32_t value;
    mt_result res;
    bool registered_before, registered_after;
};

static void *first_read_thread(void *arg)
{
    struct first_read *f = arg;
    f->registered_before = mt_reader_registered();
    f->res = mt_address_space_read(f->as, 0x10, A, &f->value, 4);
    f->registered_after = mt_reader_registered();
    return NULL;
}

static void first_read_of_a_thread(void **state)
{
    mt_test_env *e = *state;
    struct map m;
    build(e, &m);
    struct first_read f = {.as = e->X};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, first_read_thread, &f), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_false(f.registered_before);
    assert_int_equal(f.res, MT_RESULT_OK);
    assert_true(f.registered_after);
    uint32_t want;
    memcpy(&want, (uint8_t *)mt_region_ram_ptr(m.ram[0]) + 0x10, 4);
    assert_int_equal(f.value, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_edge, mt_test_setup, mt_test_teardown),
        cmocka_unit_test_setup_teardown(after_remap, mt_test_setup, mt_test_teardown),
        cmocka_unit_test_setup_teardown(bad_arguments, mt_test_setup, mt_test_teardown),
        cmocka_unit_test_setup_teardown(first_read_of_a_thread, mt_test_setup,
                                        mt_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
