/*
 * Test support: the environment every test runs in, heap region constructors,
 * and the text forms tests compare against. The flat range lines are
 * formatted here from the public view queries, independently of mt_dump, so a
 * rendering test does not depend on the dump code and a dump test can compare
 * the two.
 */
#include "mt_test.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- owners --------------------------------------------------------------- */

static void test_owner_release(mt_owner *owner)
{
    ((mt_test_owner *)owner)->released++;
}

void mt_test_owner_init(mt_test_owner *o, const char *label)
{
    memset(o, 0, sizeof(*o));
    assert_int_equal(mt_owner_init(&o->owner, label, test_owner_release), 0);
}

/* ---- diagnostics ------------------------------------------------------------ */

static void diag_record(void *opaque, const char *message)
{
    mt_test_diag *d = opaque;
    d->count++;
    snprintf(d->last, sizeof(d->last), "%s", message ? message : "");
}

void mt_test_diag_install(mt_context *ctx, mt_test_diag *d)
{
    memset(d, 0, sizeof(*d));
    mt_context_set_diag(ctx, diag_record, d);
}

void mt_test__check_diag(const mt_test_env *e, unsigned before, const char *name,
                         const char *file, int line)
{
    if (e->diag.count != before + 1) {
        print_error("expected exactly one diagnostic, got %u (last: \"%s\")\n",
                    e->diag.count - before, e->diag.last);
        _fail(file, line);
    }
    if (!e->diag.last[0]) {
        print_error("the diagnostic message is empty\n");
        _fail(file, line);
    }
    if (name && !strstr(e->diag.last, name)) {
        print_error("the diagnostic \"%s\" does not name '%s'\n", e->diag.last, name);
        _fail(file, line);
    }
}

char *mt_test_stderr_of(void (*call)(void *), void *arg)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    call(arg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    long len = ftell(tmp);
    assert_true(len >= 0);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(tmp);
    assert_int_equal(fread(text, 1, (size_t)len, tmp), (size_t)len);
    fclose(tmp);
    return text;
}

/* ---- logs ------------------------------------------------------------------------ */

void mt_test_log_line(mt_test_log *log, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(k > 0 && (size_t)k < sizeof(buf));
    if (log->len + (size_t)k + 2 > log->cap) {
        log->cap = (log->len + (size_t)k + 2) * 2;
        log->text = realloc(log->text, log->cap);
        assert_non_null(log->text);
    }
    memcpy(log->text + log->len, buf, (size_t)k);
    log->len += (size_t)k;
    log->text[log->len++] = '\n';
    log->text[log->len] = 0;
}

const char *mt_test_log_text(const mt_test_log *log)
{
    return log->text ? log->text : "";
}

void mt_test_log_clear(mt_test_log *log)
{
    log->len = 0;
    if (log->text)
        log->text[0] = 0;
}

void mt_test_log_free(mt_test_log *log)
{
    free(log->text);
    *log = (mt_test_log){0};
}

/* ---- the environment ---------------------------------------------------------- */

unsigned mt_test_lookup_options(void)
{
    const char *hints = getenv("MT_TEST_LOOKUP_HINTS");
    const char *isa = getenv("MT_TEST_LOOKUP_ISA");
    unsigned o = 0;
    if (hints && !strcmp(hints, "0"))
        o |= MT_LOOKUP_NO_HINTS;
    if (isa && !strcmp(isa, "scalar"))
        o |= MT_LOOKUP_SCALAR;
    if (isa && !strcmp(isa, "avx2"))
        o |= MT_LOOKUP_NO_AVX512;
    return o;
}

mt_test_env *mt_test_env_new(void)
{
    mt_test_env *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->ctx = mt_context_new();
    assert_non_null(e->ctx);
    mt_test_diag_install(e->ctx, &e->diag);
    assert_int_equal(mt_context_set_lookup_options(e->ctx, mt_test_lookup_options()), 0);
    static const char *const labels[3] = {"dev id=O1", "dev id=O2", "dev id=O3"};
    for (int i = 0; i < 3; i++)
        mt_test_owner_init(&e->owners[i], labels[i]);
    e->O1 = &e->owners[0].owner;
    e->O2 = &e->owners[1].owner;
    e->O3 = &e->owners[2].owner;
    return e;
}

static void grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    assert_non_null(p);
    *arr = p;
    *cap = n;
}

static void env_add_region(mt_test_env *e, mt_region *r)
{
    grow((void **)&e->regions, &e->cap_regions, e->nr_regions + 1, sizeof(*e->regions));
    e->regions[e->nr_regions++] = r;
}

/* Removes the first element equal to *item (compared byte for byte) from
 * the array of *n elements of `elem` bytes, keeping the others' order. */
static void forget(void *arr, size_t *n, size_t elem, const void *item)
{
    char *a = arr;
    for (size_t i = 0; i < *n; i++) {
        if (!memcmp(a + i * elem, item, elem)) {
            memmove(a + i * elem, a + (i + 1) * elem, (*n - i - 1) * elem);
            (*n)--;
            return;
        }
    }
}

static void env_forget_region(mt_test_env *e, mt_region *r)
{
    forget(e->regions, &e->nr_regions, sizeof(*e->regions), &r);
}

int mt_test_env_free(mt_test_env *e)
{
    int bad = 0;
    if (!e)
        return 0;

    /* A test that failed inside a transaction leaves it open. */
    while (mt_transaction_depth(e->ctx))
        mt_transaction_commit(e->ctx);
    while (e->nr_spaces)
        mt_address_space_destroy(e->spaces[--e->nr_spaces]);

    /* Destroying the last address space committed, which emptied the view
     * cache (docs/views.md, "Destroying an address space"); retired views still name terminal
     * regions until the grace period. */
    mt_context_reclaim(e->ctx);

    /* Newest first: an alias is always newer than its target. */
    while (e->nr_regions) {
        mt_region *r = e->regions[--e->nr_regions];
        const char *name = mt_region_name(r);
        char shown[128];
        snprintf(shown, sizeof(shown), "%s", name ? name : "(null)");
        int rc = mt_region_finalize(r);
        if (rc != 0) {
            print_error("teardown: finalising '%s' returned %d (%s); last diagnostic: %s\n",
                        shown, rc, mt_strerror(rc), e->diag.last);
            bad = 1;
        }
    }

    mt_context_reclaim(e->ctx);
    mt_stats st;
    mt_context_get_stats(e->ctx, &st);
    if (st.live_views || st.cache_entries || st.live_regions || st.address_spaces) {
        print_error("teardown: left behind %" PRIu64 " view(s), %" PRIu64
                    " cache entr(ies), %" PRIu64 " region(s), %" PRIu64
                    " address space(s)\n",
                    st.live_views, st.cache_entries, st.live_regions, st.address_spaces);
        bad = 1;
    }

    /* Every reference the library took must be back: only ours remains. */
    for (int i = 0; i < 3; i++) {
        mt_test_owner *o = &e->owners[i];
        uint32_t refs = mt_owner_refcount(&o->owner);
        if (refs != 1) {
            print_error("teardown: owner O%d holds %u references, expected 1\n", i + 1,
                        refs);
            bad = 1;
            continue; /* dropping ours would not release it; leave it */
        }
        mt_owner_unref(&o->owner);
        if (o->released != 1) {
            print_error("teardown: owner O%d released %u times\n", i + 1, o->released);
            bad = 1;
        }
    }

    mt_context_free(e->ctx);
    free(e->regions);
    free(e->spaces);
    free(e);
    return bad ? -1 : 0;
}

int mt_test_setup(void **state)
{
    *state = mt_test_env_new();
    return 0;
}

int mt_test_teardown(void **state)
{
    int rc = mt_test_env_free(*state);
    *state = NULL;
    return rc;
}

/* ---- regions and address spaces ----------------------------------------------- */

/* Reports the init's code and diagnostic before failing, so a refused init
 * says why. The heap storage of a failed init is not freed: the test is
 * failing anyway and the API does not say how to free unused storage. */
static mt_region *finish_init(mt_test_env *e, mt_region *r, int rc, const char *name)
{
    if (rc != 0) {
        print_error("initialising '%s' returned %d (%s); diagnostic: %s\n",
                    name ? name : "(null)", rc, mt_strerror(rc), e->diag.last);
        fail();
    }
    env_add_region(e, r);
    return r;
}

static mt_region *alloc_region(void)
{
    mt_region *r = mt_region_alloc();
    assert_non_null(r);
    return r;
}

mt_region *mt_test_container(mt_test_env *e, mt_owner *o, const char *name,
                             uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r, mt_region_init_container(r, e->ctx, o, name, size), name);
}

mt_region *mt_test_ram(mt_test_env *e, mt_owner *o, const char *name, uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r, mt_region_init_ram(r, e->ctx, o, name, size), name);
}

mt_region *mt_test_rom(mt_test_env *e, mt_owner *o, const char *name, uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r, mt_region_init_rom(r, e->ctx, o, name, size), name);
}

mt_region *mt_test_io(mt_test_env *e, mt_owner *o, const char *name, uint64_t size)
{
    return mt_test_io_ops(e, o, NULL, NULL, name, size);
}

mt_region *mt_test_io_ops(mt_test_env *e, mt_owner *o, const mt_region_ops *ops,
                          void *opaque, const char *name, uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r, mt_region_init_io(r, e->ctx, o, ops, opaque, name, size),
                       name);
}

mt_region *mt_test_rom_device(mt_test_env *e, mt_owner *o, const mt_region_ops *ops,
                              void *opaque, const char *name, uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r,
                       mt_region_init_rom_device(r, e->ctx, o, ops, opaque, name, size),
                       name);
}

mt_region *mt_test_alias(mt_test_env *e, mt_owner *o, const char *name,
                         mt_region *target, uint64_t offset, uint64_t size)
{
    mt_region *r = alloc_region();
    return finish_init(e, r,
                       mt_region_init_alias(r, e->ctx, o, name, target, offset, size),
                       name);
}

void mt_test_map(mt_region *c, uint64_t addr, mt_region *sub)
{
    assert_int_equal(mt_region_add_subregion(c, addr, sub), 0);
}

static mt_region *mapped_in_c(mt_test_env *e, uint64_t addr, mt_region *r)
{
    mt_test_map(e->C, addr, r);
    return r;
}

mt_region *mt_test_ram_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size)
{
    return mapped_in_c(e, addr, mt_test_ram(e, e->O2, name, size));
}

mt_region *mt_test_rom_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size)
{
    return mapped_in_c(e, addr, mt_test_rom(e, e->O2, name, size));
}

mt_region *mt_test_io_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size)
{
    return mapped_in_c(e, addr, mt_test_io(e, e->O2, name, size));
}

void mt_test_map_prio(mt_region *c, uint64_t addr, mt_region *sub, int32_t prio)
{
    assert_int_equal(mt_region_add_subregion_overlap(c, addr, sub, prio), 0);
}

void mt_test_unmap(mt_region *c, mt_region *sub)
{
    assert_int_equal(mt_region_del_subregion(c, sub), 0);
}

mt_address_space *mt_test_as(mt_test_env *e, mt_region *root, const char *name)
{
    mt_address_space *as = mt_address_space_new(e->ctx, root, name);
    if (!as) {
        print_error("creating address space '%s' failed; diagnostic: %s\n",
                    name ? name : "(null)", e->diag.last);
        fail();
    }
    grow((void **)&e->spaces, &e->cap_spaces, e->nr_spaces + 1, sizeof(*e->spaces));
    e->spaces[e->nr_spaces++] = as;
    return as;
}

void mt_test_as_destroy(mt_test_env *e, mt_address_space *as)
{
    forget(e->spaces, &e->nr_spaces, sizeof(*e->spaces), &as);
    if (as == e->X)
        e->X = NULL;
    mt_address_space_destroy(as);
}

int mt_test_finalize(mt_test_env *e, mt_region *r)
{
    int rc = mt_region_finalize(r);
    if (rc == 0) {
        env_forget_region(e, r);
        if (r == e->C)
            e->C = NULL;
    }
    return rc;
}

void mt_test_std_size(mt_test_env *e, uint64_t size)
{
    e->C = mt_test_container(e, e->O1, "C", size);
    e->X = mt_test_as(e, e->C, "X");
}

mt_region *mt_test_bg(mt_test_env *e)
{
    mt_region *bg = mt_test_io(e, e->O2, "bg", 0x10000);
    mt_test_map_prio(e->C, 0, bg, -1);
    return bg;
}

mt_test_env *mt_test_std_env(void **state)
{
    mt_test_env *e = *state;
    mt_test_std(e);
    return e;
}

mt_test_env *mt_test_bg_env(void **state)
{
    mt_test_env *e = mt_test_std_env(state);
    mt_test_bg(e);
    return e;
}

/* ---- observations ------------------------------------------------------------- */

mt_stats mt_test_stats(const mt_context *ctx)
{
    mt_stats st;
    mt_context_get_stats(ctx, &st);
    return st;
}

uint64_t mt_test_renders(const mt_context *ctx)
{
    return mt_test_stats(ctx).renders;
}

static const char *name_of(const mt_region *r)
{
    const char *n = mt_region_name(r);
    return n ? n : "(null)";
}

/* The flat dump's type (docs/format.md, "QEMU `info mtree` dumps"): `rom` for a readonly range,
 * otherwise the terminal region's own type. */
static const char *range_type(const mt_range *rg)
{
    if (rg->readonly)
        return "rom";
    switch (mt_region_get_kind(rg->region)) {
    case MT_KIND_RAM_DEVICE:
        return "ramd";
    case MT_KIND_ROM_DEVICE:
        /* the range's snapshot, so an uncommitted set_romd does not show */
        return rg->romd_mode ? "romd" : "i/o";
    case MT_KIND_RAM:
        return mt_region_readonly(rg->region) ? "rom" : "ram";
    default:
        return "i/o";
    }
}

char *mt_test_view_text(const mt_view *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_non_null(v);
    const mt_range *rg = mt_view_ranges(v);
    size_t n = mt_view_range_count(v);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "  %016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s%s): %s",
                rg[i].start, rg[i].last, mt_region_priority(rg[i].region),
                rg[i].nonvolatile ? "nv-" : "", range_type(&rg[i]),
                name_of(rg[i].region));
        if (rg[i].offset_in_region)
            fprintf(f, " @%016" PRIx64, rg[i].offset_in_region);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    return buf;
}

char *mt_test_as_text(const mt_address_space *as)
{
    assert_non_null(as);
    return mt_test_view_text(mt_address_space_view(as));
}

char *mt_test_dump(mt_context *ctx, unsigned flags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    int rc = mt_dump(ctx, f, flags);
    assert_int_equal(fclose(f), 0);
    if (rc != 0) {
        free(buf);
        print_error("mt_dump returned %d (%s)\n", rc, mt_strerror(rc));
        fail();
    }
    return buf;
}

static void tree_walk(FILE *f, const mt_region *r, int depth)
{
    uint64_t low = 0;
    bool full = mt_region_size_exact(r, &low);
    fprintf(f, "%*s%s id=%" PRIu64 " kind=%d addr=%" PRIx64 " prio=%" PRId32
               " size=%s%" PRIx64 " en=%d ro=%d nv=%d romd=%d mapped=%d",
            depth * 2, "", name_of(r), mt_region_id(r), (int)mt_region_get_kind(r),
            mt_region_addr(r), mt_region_priority(r), full ? "2^64+" : "", low,
            mt_region_enabled(r), mt_region_readonly(r), mt_region_nonvolatile(r),
            mt_region_romd(r), mt_region_is_mapped(r));
    if (mt_region_get_kind(r) == MT_KIND_ALIAS) {
        const mt_region *t = mt_region_alias_target(r);
        fprintf(f, " -> %s id=%" PRIu64 " @%" PRIx64, t ? name_of(t) : "?",
                t ? mt_region_id(t) : 0, mt_region_alias_offset(r));
    }
    fputc('\n', f);
    for (const mt_region *c = mt_region_first_subregion(r); c; c = mt_region_next_sibling(c)) {
        if (mt_region_container(c) != r)
            fprintf(f, "%*s!! %s does not name its container\n", depth * 2 + 2, "",
                    name_of(c));
        tree_walk(f, c, depth + 1);
    }
}

char *mt_test_tree_text(const mt_region *root)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tree_walk(f, root, 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

void mt_test__check_text(char *got, const char *expected, const char *what,
                         const char *file, int line)
{
    if (strcmp(got, expected) == 0) {
        free(got);
        return;
    }
    print_error("%s differs\n--- expected\n%s--- got\n%s---\n", what, expected, got);
    free(got);
    _fail(file, line);
}

void mt_test__check_contains(const char *hay, const char *needle, bool want,
                             const char *file, int line)
{
    bool found = strstr(hay, needle) != NULL;
    if (found == want)
        return;
    print_error("%s\n%s--- in\n%s---\n", want ? "missing:" : "unexpectedly present:",
                needle, hay);
    _fail(file, line);
}

void mt_test__check_dump_contains(mt_context *ctx, unsigned flags, const char *needle,
                                  bool want, const char *file, int line)
{
    char *dump = mt_test_dump(ctx, flags);
    bool found = strstr(dump, needle) != NULL;
    if (found != want)
        print_error("%s\n%s--- in the dump\n%s---\n",
                    want ? "missing:" : "unexpectedly present:", needle, dump);
    free(dump);
    if (found != want)
        _fail(file, line);
}

size_t mt_test_count(const char *hay, const char *needle)
{
    size_t n = 0, step = strlen(needle);
    if (!step)
        return 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + step, needle))
        n++;
    return n;
}

/* ---- machines loaded from text ------------------------------------------------ */

FILE *mt_test_text_open(mt_test_text *t)
{
    t->text = NULL;
    t->len = 0;
    t->f = open_memstream(&t->text, &t->len);
    assert_non_null(t->f);
    return t->f;
}

char *mt_test_text_close(mt_test_text *t)
{
    assert_int_equal(fclose(t->f), 0);
    t->f = NULL;
    return t->text;
}

void mt_test_load(mt_test_loaded *L, mt_file_format fmt, const char *text,
                  const char *name, const char *flat, uint64_t limit)
{
    memset(L, 0, sizeof(*L));
    L->ctx = mt_context_new();
    assert_non_null(L->ctx);
    mt_test_diag_install(L->ctx, &L->diag);
    if (limit)
        assert_int_equal(mt_context_set_input_limit(L->ctx, limit), 0);
    /* fmemopen refuses size 0 on some libcs */
    FILE *in = *text ? fmemopen((void *)text, strlen(text), "r") : fopen("/dev/null", "r");
    assert_non_null(in);
    FILE *fl = NULL;
    if (flat) {
        fl = *flat ? fmemopen((void *)flat, strlen(flat), "r") : fopen("/dev/null", "r");
        assert_non_null(fl);
    }
    L->rc = mt_machine_load(L->ctx, fmt, in, name, fl, flat ? "flat.txt" : NULL, &L->m,
                            L->err, sizeof(L->err));
    fclose(in);
    if (fl)
        fclose(fl);
}

void mt_test_load_ok(mt_test_loaded *L, mt_file_format fmt, const char *text,
                     const char *name, const char *flat)
{
    mt_test_load(L, fmt, text, name, flat, 0);
    if (L->rc)
        fail_msg("loading %s failed (%d): %s", name, L->rc, L->err);
}

void mt_test_unload(mt_test_loaded *L)
{
    if (L->rc)
        assert_null(L->m);
    mt_machine_free(L->m);
    mt_stats st;
    mt_context_get_stats(L->ctx, &st);
    assert_int_equal(st.live_regions, 0);
    assert_int_equal(st.address_spaces, 0);
    mt_context_free(L->ctx);
    L->ctx = NULL;
    L->m = NULL;
}

char *mt_test_map_text(const mt_machine *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(mt_machine_save_map(m, f), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

void mt_test_ignore_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque;
    (void)offset;
    (void)value;
    (void)size;
}

uint64_t mt_test_read_zero(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    return 0;
}

const mt_region_ops mt_test_zero_ops = {
    .read = mt_test_read_zero,
    .write = mt_test_ignore_write,
    .endianness = MT_ENDIAN_LITTLE,
};

static mt_iommu_tlb_entry translate_nothing(void *opaque, uint64_t offset,
                                            mt_iommu_perm access, int index)
{
    (void)opaque, (void)offset, (void)access, (void)index;
    return (mt_iommu_tlb_entry){.perm = MT_IOMMU_NONE};
}

const mt_iommu_ops mt_test_unmapped_iommu_ops = {.translate = translate_nothing};

void mt_test_assert_no_regions(const mt_context *ctx)
{
    assert_int_equal(mt_test_stats(ctx).live_regions, 0);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* from the sanitizer runtime; GCC ships no header declaring it */
size_t __sanitizer_get_current_allocated_bytes(void);

size_t mt_test_heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
size_t mt_test_heap_in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#endif

const mt_range *mt_test_ranges_find(const mt_range *r, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid].last < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && r[lo].start <= addr ? &r[lo] : NULL;
}

uint64_t mt_test_env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}
