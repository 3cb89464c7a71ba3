/*
 * What every benchmark program shares: the clock, a deterministic random
 * generator, the result line format and the command-line options that
 * bench/run passes. Header-only so each scenario stays one .c file.
 *
 * Result lines go to stdout and nothing else does:
 *     scenario<TAB>n<TAB>metric<TAB>value<TAB>unit
 * Progress and diagnostics go to stderr, so `bench/run > results.tsv` works.
 */
#ifndef MT_BENCH_H
#define MT_BENCH_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t mt_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fixed seeds make every run build the same trees. */
typedef struct mt_bench_rng {
    uint64_t s;
} mt_bench_rng;

static inline uint64_t mt_bench_rand(mt_bench_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi]; the bias is irrelevant for shaping test trees. */
static inline int mt_bench_range(mt_bench_rng *r, int lo, int hi)
{
    return lo + (int)(mt_bench_rand(r) % (uint64_t)(hi - lo + 1));
}

static inline void mt_bench_result(const char *scenario, uint64_t n, const char *metric,
                                   double value, const char *unit)
{
    printf("%s\t%llu\t%s\t%.1f\t%s\n", scenario, (unsigned long long)n, metric, value,
           unit);
    fflush(stdout);
}

/* For metrics that are counts: printed as integers. */
static inline void mt_bench_count(const char *scenario, uint64_t n, const char *metric,
                                  uint64_t value, const char *unit)
{
    printf("%s\t%llu\t%s\t%llu\t%s\n", scenario, (unsigned long long)n, metric,
           (unsigned long long)value, unit);
    fflush(stdout);
}

static inline void mt_bench_progress(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static inline void mt_bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Options every bench program accepts. */
typedef struct mt_bench_opts {
    uint64_t max_n; /* skip sizes above this (0: no limit) */
    int runs;       /* override the number of runs per size (0: default) */
} mt_bench_opts;

/* Parses --max-n N and --runs N; returns 0, or 2 after printing usage. */
static inline int mt_bench_parse(int argc, char **argv, mt_bench_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max-n") == 0 && i + 1 < argc) {
            o->max_n = strtoull(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            o->runs = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--max-n N] [--runs N]\n", argv[0]);
            return 2;
        }
    }
    return 0;
}

#endif /* MT_BENCH_H */
