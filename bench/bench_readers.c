/*
 * Scenario `readers`: what a writer costs lock-free readers (issue 5).
 *
 * A view of n ranges (RAM and MMIO, 4 KiB apart). One reader thread does
 * lookups at pseudo-random addresses inside read-side sections, first alone
 * and then while a writer thread commits a change 1,000 times a second; the
 * ratio is the throughput the readers keep (target: at least 90 %). Then the
 * writer commits 100,000 times as fast as it can with the reader running,
 * and the peak of views waiting for a grace period and of the process's
 * resident memory are reported: reclamation must stay bounded.
 *
 * One reader, because the machine has two cores and the writer needs one:
 * more readers would measure the scheduler, not memtree.
 *
 * Output: readers  n  lookups_alone / lookups_with_writer  (Mops/s),
 *         kept_throughput (%), commits_per_s, peak_retired_views,
 *         peak_rss_growth (MiB) during the 100k commits.
 */
#include "bench.h"

#include <memtree.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct world {
    mt_context *ctx;
    mt_region *regs; /* [0] is the root */
    size_t n;
    mt_address_space *as;
};

static atomic_bool stop_readers, stop_writer;
static atomic_uint_fast64_t lookups;
static volatile uint64_t sink;

static void *reader(void *arg)
{
    struct world *w = arg;
    mt_bench_rng rng = {0x1234567u};
    uint64_t span = (uint64_t)w->n * 0x1000, count = 0, hits = 0;
    mt_reader_register();
    while (!atomic_load_explicit(&stop_readers, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++) {
            uint64_t addr = mt_bench_rand(&rng) % span;
            mt_read_lock();
            const mt_range *r = mt_view_find_range(mt_address_space_view(w->as), addr);
            hits += r != NULL;
            mt_read_unlock();
        }
        count += 256;
    }
    mt_reader_unregister();
    atomic_fetch_add(&lookups, count);
    sink += hits; /* keeps the lookups from being optimised away */
    return NULL;
}

static uint64_t peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu", (unsigned long long *)&kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Toggles one region, so every commit renders and publishes a new view. */
static void writer_commit(struct world *w, uint64_t i)
{
    mt_region_set_enabled(&w->regs[1 + i % w->n], i / w->n % 2 == 1);
}

struct writer_args {
    struct world *w;
    uint64_t per_second; /* 0: as fast as possible */
    uint64_t max_commits;
    uint64_t commits, peak_retired;
};

static void *writer(void *arg)
{
    struct writer_args *a = arg;
    uint64_t start = mt_bench_now_ns();
    for (uint64_t i = 0; !atomic_load(&stop_writer) && i < a->max_commits; i++) {
        if (a->per_second) {
            uint64_t due = start + i * 1000000000u / a->per_second;
            while (mt_bench_now_ns() < due) {
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
            }
        }
        writer_commit(a->w, i);
        a->commits++;
        mt_stats st;
        mt_context_get_stats(a->w->ctx, &st);
        if (st.retired_views > a->peak_retired)
            a->peak_retired = st.retired_views;
        if (i % 1024 == 1023)
            mt_context_reclaim(a->w->ctx);
    }
    return NULL;
}

static double measure(struct world *w, struct writer_args *wa, double seconds)
{
    pthread_t r, wr;
    atomic_store(&stop_readers, false);
    atomic_store(&stop_writer, false);
    atomic_store(&lookups, 0);
    pthread_create(&r, NULL, reader, w);
    if (wa)
        pthread_create(&wr, NULL, writer, wa);
    uint64_t t0 = mt_bench_now_ns();
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&stop_readers, true);
    pthread_join(r, NULL);
    uint64_t t1 = mt_bench_now_ns();
    if (wa) {
        atomic_store(&stop_writer, true);
        pthread_join(wr, NULL);
    }
    return (double)atomic_load(&lookups) / ((double)(t1 - t0) / 1e9);
}

int main(int argc, char **argv)
{
    mt_bench_opts o;
    if (mt_bench_parse(argc, argv, &o))
        return 2;
    uint64_t n = o.max_n && o.max_n < 4096 ? o.max_n : 4096;
    double seconds = o.runs ? 0.2 : 2.0; /* --runs 1 (smoke test): short */
    uint64_t burst = o.runs ? 1000 : 100000;

    struct world w = {.ctx = mt_context_new(), .n = n};
    w.regs = calloc(n + 1, sizeof *w.regs);
    mt_region_init_container(&w.regs[0], w.ctx, NULL, "root", UINT64_MAX);
    mt_transaction_begin(w.ctx);
    for (uint64_t i = 0; i < n; i++) {
        if (i % 4 == 0)
            mt_region_init_ram(&w.regs[1 + i], w.ctx, NULL, "ram", 0x1000);
        else
            mt_region_init_io(&w.regs[1 + i], w.ctx, NULL, NULL, NULL, "io", 0x1000);
        mt_region_add_subregion(&w.regs[0], i * 0x1000, &w.regs[1 + i]);
    }
    w.as = mt_address_space_new(w.ctx, &w.regs[0], "memory");
    mt_transaction_commit(w.ctx);

    /* alone before and after, so drift (frequency, caches) does not count
     * against or for the writer */
    double alone = measure(&w, NULL, seconds) / 2;
    struct writer_args paced = {.w = &w, .per_second = 1000, .max_commits = UINT64_MAX};
    double with = measure(&w, &paced, seconds);
    alone += measure(&w, NULL, seconds) / 2;
    mt_bench_result("readers", n, "lookups_alone", alone / 1e6, "Mops/s");
    mt_bench_result("readers", n, "lookups_with_writer", with / 1e6, "Mops/s");
    mt_bench_result("readers", n, "kept_throughput", 100.0 * with / alone, "%");
    mt_bench_result("readers", n, "writer_commits", (double)paced.commits / seconds, "commits/s");

    mt_context_reclaim(w.ctx);
    uint64_t rss0 = peak_rss_kib();
    struct writer_args burst_args = {.w = &w, .per_second = 0, .max_commits = burst};
    pthread_t r, wr;
    atomic_store(&stop_readers, false);
    atomic_store(&stop_writer, false);
    pthread_create(&r, NULL, reader, &w);
    uint64_t t0 = mt_bench_now_ns();
    pthread_create(&wr, NULL, writer, &burst_args);
    pthread_join(wr, NULL);
    uint64_t t1 = mt_bench_now_ns();
    atomic_store(&stop_readers, true);
    pthread_join(r, NULL);
    mt_bench_count("readers", burst, "burst_commits", burst_args.commits, "commits");
    mt_bench_result("readers", burst, "burst_commits_per_s",
                    (double)burst_args.commits / ((double)(t1 - t0) / 1e9), "commits/s");
    mt_bench_count("readers", burst, "peak_retired_views", burst_args.peak_retired, "views");
    mt_bench_result("readers", burst, "peak_rss_growth",
                    (double)(peak_rss_kib() - rss0) / 1024.0, "MiB");

    mt_address_space_destroy(w.as);
    mt_context_reclaim(w.ctx);
    for (uint64_t i = n + 1; i-- > 0;)
        mt_region_finalize(&w.regs[i]);
    mt_context_free(w.ctx);
    free(w.regs);
    return 0;
}
