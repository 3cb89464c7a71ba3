/*
 * Test support shared by every memtree test program: an environment that owns
 * a context, three counting owners, a diagnostic recorder and every region
 * and address space a test creates, and tears them all down so the leak
 * checker sees nothing; heap region constructors following the tests' naming
 * conventions; and text helpers that print a view as `info mtree -f` range
 * lines, so tests compare with expected blocks verbatim without depending on
 * mt_dump.
 */
#ifndef MT_TEST_H
#define MT_TEST_H

/* cmocka needs these before its own header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtree.h"
#include <memtree/format.h>

/* ---- owners --------------------------------------------------------------- */

/* An owner whose count tests read; `released` counts release callbacks. */
typedef struct mt_test_owner {
    mt_owner owner; /* first, so the release callback can cast back */
    unsigned released;
} mt_test_owner;

void mt_test_owner_init(mt_test_owner *o, const char *label);

/* ---- diagnostics ------------------------------------------------------------ */

typedef struct mt_test_diag {
    unsigned count;
    char last[512];
} mt_test_diag;

/* Routes ctx's diagnostics into `d` (nothing reaches stderr). */
void mt_test_diag_install(mt_context *ctx, mt_test_diag *d);

/* What `call(arg)` printed on stderr, where the default hook reports (a
 * call given no context has no other). Malloc'd. */
char *mt_test_stderr_of(void (*call)(void *), void *arg);

/* ---- logs ------------------------------------------------------------------------ */

/* A growing text, one line per call: what a context's listeners heard,
 * compared with another's as one string. */
typedef struct mt_test_log {
    char *text; /* NULL until the first line */
    size_t len, cap;
} mt_test_log;

__attribute__((format(printf, 2, 3)))
void mt_test_log_line(mt_test_log *log, const char *fmt, ...);
/* The text, "" when empty. */
const char *mt_test_log_text(const mt_test_log *log);
void mt_test_log_clear(mt_test_log *log);
void mt_test_log_free(mt_test_log *log);

/* ---- the environment ---------------------------------------------------------- */

typedef struct mt_test_env {
    mt_context *ctx;
    mt_test_diag diag;
    mt_test_owner owners[3];
    mt_owner *O1, *O2, *O3;
    /* the usual container `C` and address space `X`, set by mt_test_std() */
    mt_region *C;
    mt_address_space *X;
    /* what teardown destroys, in creation order */
    mt_region **regions;
    size_t nr_regions, cap_regions;
    mt_address_space **spaces;
    size_t nr_spaces, cap_spaces;
} mt_test_env;

/* The lookup options ctest asks for (MT_TEST_LOOKUP_HINTS=0,
 * MT_TEST_LOOKUP_ISA=scalar|avx2): every test context uses them, so one
 * program covers each form of the index when run again with them. */
unsigned mt_test_lookup_options(void);
mt_test_env *mt_test_env_new(void);
/*
 * Destroys the address spaces, empties the view cache with one committed
 * topology change, reclaims, finalises the regions newest first (so an
 * alias goes before its target), checks that no view, cache entry or owner
 * reference is left, drops the owners and frees the context. Returns 0, or
 * -1 after printing what was left.
 */
int mt_test_env_free(mt_test_env *e);

/* cmocka fixtures: *state is an mt_test_env. */
int mt_test_setup(void **state);
int mt_test_teardown(void **state);
#define MT_TEST(fn) cmocka_unit_test_setup_teardown(fn, mt_test_setup, mt_test_teardown)

/* A test that only calls `call` (one scenario run with a parameter). */
#define MT_TEST_CASE(name, call)   \
    static void name(void **state) \
    {                              \
        (void)state;               \
        call;                      \
    }

/* The main() of a test program: runs the tests given (cmocka_unit_test(f),
 * MT_TEST(f), ...) as one group without a group fixture. */
#define MT_TEST_MAIN(...)                                  \
    int main(void)                                         \
    {                                                      \
        const struct CMUnitTest tests[] = {__VA_ARGS__};   \
        return cmocka_run_group_tests(tests, NULL, NULL);  \
    }

/* ---- regions and address spaces (all asserted to succeed, all registered) ---- */

mt_region *mt_test_container(mt_test_env *e, mt_owner *o, const char *name,
                             uint64_t size);
mt_region *mt_test_ram(mt_test_env *e, mt_owner *o, const char *name, uint64_t size);
mt_region *mt_test_rom(mt_test_env *e, mt_owner *o, const char *name, uint64_t size);
/* MMIO with no ops: renders as `i/o`, rejects accesses. */
mt_region *mt_test_io(mt_test_env *e, mt_owner *o, const char *name, uint64_t size);
mt_region *mt_test_io_ops(mt_test_env *e, mt_owner *o, const mt_region_ops *ops,
                          void *opaque, const char *name, uint64_t size);
mt_region *mt_test_rom_device(mt_test_env *e, mt_owner *o, const mt_region_ops *ops,
                              void *opaque, const char *name, uint64_t size);
mt_region *mt_test_alias(mt_test_env *e, mt_owner *o, const char *name,
                         mt_region *target, uint64_t offset, uint64_t size);
/* The tests' most common region: owned by O2 and mapped at `addr` in C
 * (the usual setup's container) with mt_test_map. */
mt_region *mt_test_ram_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size);
mt_region *mt_test_rom_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size);
mt_region *mt_test_io_at(mt_test_env *e, uint64_t addr, const char *name, uint64_t size);

/* A device write callback that ignores the write. */
void mt_test_ignore_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);
/* A device read callback that reads 0. */
uint64_t mt_test_read_zero(void *opaque, uint64_t offset, unsigned size);
/* Little-endian device ops that read 0 and ignore writes. */
extern const mt_region_ops mt_test_zero_ops;
/* IOMMU ops that translate nothing (every access faults): for tests that
 * need an IOMMU region only for its notifiers. */
extern const mt_iommu_ops mt_test_unmapped_iommu_ops;

/* Maps with add_subregion (plain) or add_subregion_overlap (prio). */
void mt_test_map(mt_region *c, uint64_t addr, mt_region *sub);
void mt_test_map_prio(mt_region *c, uint64_t addr, mt_region *sub, int32_t prio);
void mt_test_unmap(mt_region *c, mt_region *sub);

mt_address_space *mt_test_as(mt_test_env *e, mt_region *root, const char *name);
/* Destroys an address space early (teardown then skips it). */
void mt_test_as_destroy(mt_test_env *e, mt_address_space *as);
/* Finalises a region early; on success teardown skips it. Returns the code. */
int mt_test_finalize(mt_test_env *e, mt_region *r);

/* The usual setup: `C` container of `size` owned by O1, `X` over it. */
void mt_test_std_size(mt_test_env *e, uint64_t size);
static inline void mt_test_std(mt_test_env *e)
{
    mt_test_std_size(e, 0x10000);
}
/* `bg`: MMIO 0x10000 owned by O2 at 0 in C, priority -1. */
mt_region *mt_test_bg(mt_test_env *e);
/* The opening of most tests: the fixture's environment (*state) with the
 * usual setup done; the _bg form maps `bg` too. */
mt_test_env *mt_test_std_env(void **state);
mt_test_env *mt_test_bg_env(void **state);

/* The range of the sorted array r[0..n) holding addr, or NULL: a plain
 * binary search, the reference the view's lookup index is checked against. */
const mt_range *mt_test_ranges_find(const mt_range *r, size_t n, uint64_t addr);

/* A longer run's setting: the environment variable `name` as a number
 * (decimal or 0x hex), or `dflt` when it is unset or empty. */
uint64_t mt_test_env_u64(const char *name, uint64_t dflt);

/* The tests' pseudo-random numbers (xorshift64): a fixed seed replays a run
 * exactly. `*state` must not be 0. */
static inline uint64_t mt_test_xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* ---- observations ------------------------------------------------------------- */

uint64_t mt_test_renders(const mt_context *ctx);
/* "reclaim": a grace period, then every pending release. */
static inline void mt_test_reclaim(mt_test_env *e)
{
    mt_context_reclaim(e->ctx);
}
mt_stats mt_test_stats(const mt_context *ctx);
/* Fails unless no region of ctx is alive (finalised regions all released). */
void mt_test_assert_no_regions(const mt_context *ctx);
/* Bytes of heap in use: the sanitizer's count in sanitized builds, glibc's
 * otherwise. For leak checks that LeakSanitizer cannot make (memory still
 * reachable, but never to be freed). */
size_t mt_test_heap_in_use(void);

/*
 * The view's ranges as `info mtree -f` prints them, one line each:
 * `  S-E (prio P, T): NAME[ @OFFSET]\n`; "" for a view without ranges.
 * Malloc'd.
 */
char *mt_test_view_text(const mt_view *v);
/* The same for an address space's current view. */
char *mt_test_as_text(const mt_address_space *as);
/* mt_dump's output as a malloc'd string; fails the test if mt_dump fails. */
char *mt_test_dump(mt_context *ctx, unsigned flags);
/*
 * Every region under `root` with every property the public queries give
 * (identity, kind, addr, priority, size, flags, container, alias target and
 * offset), depth-first in render order. Two snapshots are equal exactly when
 * the tree is unchanged. Malloc'd.
 */
char *mt_test_tree_text(const mt_region *root);

/* Compares and frees `got`; on a mismatch prints both and fails. */
void mt_test__check_text(char *got, const char *expected, const char *what,
                         const char *file, int line);
/* Fails unless `needle` occurs in `hay` (or, negated, does not). */
void mt_test__check_contains(const char *hay, const char *needle, bool want,
                             const char *file, int line);
/* Occurrences of `needle` in `hay`. */
size_t mt_test_count(const char *hay, const char *needle);

#define mt_assert_view(as, expected) \
    mt_test__check_text(mt_test_as_text(as), (expected), "view of " #as, __FILE__, __LINE__)
#define mt_assert_view_of(v, expected) \
    mt_test__check_text(mt_test_view_text(v), (expected), "view " #v, __FILE__, __LINE__)
#define mt_assert_text(got, expected) \
    mt_test__check_text((got), (expected), #got, __FILE__, __LINE__)
#define mt_assert_contains(hay, needle) \
    mt_test__check_contains((hay), (needle), true, __FILE__, __LINE__)
#define mt_assert_not_contains(hay, needle) \
    mt_test__check_contains((hay), (needle), false, __FILE__, __LINE__)
/* mt_dump's output with `flags` contains `needle` (or, negated, does not). */
void mt_test__check_dump_contains(mt_context *ctx, unsigned flags, const char *needle,
                                  bool want, const char *file, int line);
#define mt_assert_dump_contains(ctx, flags, needle) \
    mt_test__check_dump_contains((ctx), (flags), (needle), true, __FILE__, __LINE__)
#define mt_assert_dump_not_contains(ctx, flags, needle) \
    mt_test__check_dump_contains((ctx), (flags), (needle), false, __FILE__, __LINE__)

/*
 * A usage error was reported: the hook fired exactly once since `before`
 * (a count taken before the call) with a non-empty message that, when
 * `name` is given, names that region.
 */
void mt_test__check_diag(const mt_test_env *e, unsigned before, const char *name,
                         const char *file, int line);
#define mt_assert_diag(e, before, name) \
    mt_test__check_diag((e), (before), (name), __FILE__, __LINE__)
/* `call` is refused: it returns `rc` and reports exactly one usage error,
 * which names `name` when given (mt_assert_diag). */
#define mt_assert_refused(e, call, rc, name)                \
    do {                                                    \
        unsigned before_ = (e)->diag.count;                 \
        assert_int_equal((call), (rc));                     \
        mt_assert_diag((e), before_, (name));               \
    } while (0)

/* ---- machines loaded from text ------------------------------------------------ */

/* A text written with stdio (a generated machine, say): open gives the
 * stream to write to, close closes it and returns the text, malloc'd. */
typedef struct mt_test_text {
    FILE *f;
    char *text;
    size_t len;
} mt_test_text;

FILE *mt_test_text_open(mt_test_text *t);
char *mt_test_text_close(mt_test_text *t);

/* A machine loaded by mt_test_load, in a context of its own. */
typedef struct mt_test_loaded {
    mt_context *ctx;
    mt_machine *m;
    int rc;              /* mt_machine_load's return */
    char err[1024];      /* its message on failure */
    mt_test_diag diag;   /* the diagnostics printed while loading */
} mt_test_loaded;

/*
 * Loads `text` in format `fmt`, named `name` in messages, with `flat` (the
 * flat dump, named "flat.txt") when not NULL, into a new context; `limit`,
 * when not 0, is the context's input limit. Does not assert on the result:
 * the test reads L->rc and L->err.
 */
void mt_test_load(mt_test_loaded *L, mt_file_format fmt, const char *text,
                  const char *name, const char *flat, uint64_t limit);
/* mt_test_load that must succeed: on failure the test fails with the
 * loader's message. */
void mt_test_load_ok(mt_test_loaded *L, mt_file_format fmt, const char *text,
                     const char *name, const char *flat);
/*
 * Frees the machine (a failed load must have made none), checks that it
 * left no region or address space behind and frees the context.
 */
void mt_test_unload(mt_test_loaded *L);
/* mt_machine_save_map's output as a malloc'd string; fails the test if the
 * save fails. */
char *mt_test_map_text(const mt_machine *m);

#endif /* MT_TEST_H */
