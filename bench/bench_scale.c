/*
 * Scenario `scale`: machines far larger than real ones, loaded from a file
 * and taken through everything a user does with them (issue 13).
 *
 * For n = 10k, 100k and 1M regions, two generated memtree maps:
 *   flat   n - 1 RAM regions of 4 KiB side by side in one 2^64 container
 *   chain  n regions nested n deep: each container 2^62 long, mapped at
 *          0x10 in the one before (so each overhangs it: `check` reports
 *          n - 3 problems), a 4 KiB RAM region at the bottom
 *   chain_up the same chain listed from the bottom up (each container
 *          after what it holds)
 * and for each, in a fresh child process:
 *   load_ms            mt_machine_load: read, parse, build, first render
 *   dump_ms            mt_dump(MT_DUMP_FLAT) to /dev/null (`memtree flat`)
 *   render_ms          one more render of the whole machine (a commit that
 *                      disables and re-enables the deepest region, in the
 *                      from-scratch mode MT_RENDER_FULL: the default mode
 *                      would render only that region's span again)
 *   free_ms            mt_machine_free
 *   bytes_per_region   peak resident memory of load (with its render) and
 *                      dump over the child's own before loading, divided
 *                      by n (taken before the second render, which keeps
 *                      the old view until a reclaim)
 *   cli_flat_ms        `memtree flat FILE > /dev/null`, the whole process
 *   check_ms           `memtree check FILE > /dev/null`, the whole process
 *   check_bytes_per_region  its peak resident memory divided by n
 * The two cli metrics need the tool: bench/run passes its path in
 * MT_BENCH_MEMTREE; without it they are skipped.
 *
 * Everything runs with the default stack: the render walk, teardown and
 * the tool's check keep their own stacks, so a 1M-deep chain needs none.
 *
 * Targets (issue 13): 1M regions load + render + dump under 10 s, free
 * under 1 s, at most 400 bytes per region; check of a 100k-deep chain
 * under 5 s. Timings are the best of --runs runs (default 1).
 */
#include "bench.h"

#include <memtree.h>
#include <memtree/format.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>


enum shape { FLAT, CHAIN, CHAIN_UP };
static const char *const shape_names[] = {"flat", "chain", "chain_up"};

static void fail(const char *what)
{
    fprintf(stderr, "bench_scale: %s\n", what);
    exit(1);
}

static void write_map(const char *path, enum shape shape, uint64_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail("cannot write the generated map");
    fprintf(f, "memtree-map 1\n");
    if (shape != CHAIN_UP)
        fprintf(f, "region c0 - container 0 10000000000000000 0 - - - - system\n");
    if (shape == FLAT) {
        for (uint64_t i = 1; i < n; i++)
            fprintf(f, "region r%llu c0 ram %llx 1000 0 - - - - ram%llu\n",
                    (unsigned long long)i, (unsigned long long)(i - 1) * 0x1000,
                    (unsigned long long)i);
    } else {
        if (shape == CHAIN_UP)
            fprintf(f, "region c%llu c%llu ram 10 1000 0 - - - - leaf\n",
                    (unsigned long long)n - 1, (unsigned long long)n - 2);
        for (uint64_t k = 1; k + 1 < n; k++) {
            uint64_t i = shape == CHAIN_UP ? n - 1 - k : k;
            fprintf(f, "region c%llu c%llu container 10 4000000000000000 0 - - - - c%llu\n",
                    (unsigned long long)i, (unsigned long long)i - 1, (unsigned long long)i);
        }
        if (shape == CHAIN)
            fprintf(f, "region c%llu c%llu ram 10 1000 0 - - - - leaf\n",
                    (unsigned long long)n - 1, (unsigned long long)n - 2);
    }
    if (shape == CHAIN_UP)
        fprintf(f, "region c0 - container 0 10000000000000000 0 - - - - system\n");
    fprintf(f, "as c0 memory\n");
    if (fclose(f) != 0)
        fail("cannot write the generated map");
}

static long maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* What the child measures, in the order of the scenario's comment. */
struct inproc {
    double load_ms, dump_ms, render_ms, free_ms, bytes_per_region;
};

struct job {
    const char *path;
    enum shape shape;
    uint64_t n;
    struct inproc r;
};

static double ms_since(uint64_t t0)
{
    return (double)(mt_bench_now_ns() - t0) / 1e6;
}

static void *measure(void *arg)
{
    struct job *j = arg;
    mt_context *ctx = mt_context_new();
    FILE *in = fopen(j->path, "r");
    FILE *null = fopen("/dev/null", "w");
    if (!ctx || !in || !null)
        fail("cannot set up");
    long rss0 = maxrss_kib();

    uint64_t t0 = mt_bench_now_ns();
    mt_machine *m;
    char err[512];
    if (mt_machine_load(ctx, MT_FORMAT_MAP, in, j->path, NULL, NULL, &m, err, sizeof(err)))
        fail(err);
    j->r.load_ms = ms_since(t0);
    fclose(in);

    /* every region rendered: one range per RAM region, or the chain's leaf */
    const mt_view *v = mt_address_space_view(mt_machine_address_space(m, 0));
    if (mt_view_range_count(v) != (j->shape == FLAT ? j->n - 1 : 1))
        fail("the view does not have the expected ranges");

    t0 = mt_bench_now_ns();
    if (mt_dump(ctx, null, MT_DUMP_FLAT))
        fail("mt_dump failed");
    fflush(null);
    j->r.dump_ms = ms_since(t0);
    fclose(null);
    j->r.bytes_per_region = (double)(maxrss_kib() - rss0) * 1024.0 / (double)j->n;

    /* after the peak is taken: the old view lives on until a reclaim */
    mt_region *last = mt_machine_region(m, j->shape == CHAIN_UP ? 0 : j->n - 1);
    t0 = mt_bench_now_ns();
    if (mt_context_set_render_mode(ctx, MT_RENDER_FULL))
        fail("cannot set the render mode");
    mt_transaction_begin(ctx);
    mt_region_set_enabled(last, false);
    mt_region_set_enabled(last, true);
    mt_transaction_commit(ctx);
    j->r.render_ms = ms_since(t0);
    mt_context_set_render_mode(ctx, MT_RENDER_INCREMENTAL);

    t0 = mt_bench_now_ns();
    mt_machine_free(m);
    j->r.free_ms = ms_since(t0);
    mt_context_free(ctx);
    return NULL;
}

/* Runs measure() in a child: a fresh heap, and a peak memory of its own. */
static struct inproc run_inproc(const char *path, enum shape shape, uint64_t n)
{
    int fds[2];
    if (pipe(fds))
        fail("pipe");
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        close(fds[0]);
        struct job j = {.path = path, .shape = shape, .n = n};
        measure(&j);
        if (write(fds[1], &j.r, sizeof(j.r)) != (ssize_t)sizeof(j.r))
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    struct inproc r;
    ssize_t got = read(fds[0], &r, sizeof(r));
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof(r) || !WIFEXITED(status) || WEXITSTATUS(status))
        fail("the measuring child failed");
    return r;
}

/* `memtree CMD path`, output discarded: wall time and peak memory. */
static double run_tool(const char *tool, const char *cmd, const char *path, int *exit_code,
                       long *maxrss)
{
    uint64_t t0 = mt_bench_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        fail("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(tool, tool, cmd, path, (char *)NULL);
        _exit(127);
    }
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    double ms = ms_since(t0);
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    *maxrss = ru.ru_maxrss;
    return ms;
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    mt_bench_opts o;
    if (mt_bench_parse(argc, argv, &o))
        return 2;
    int runs = o.runs > 0 ? o.runs : 1;
    const char *tool = getenv("MT_BENCH_MEMTREE");
    if (!tool)
        mt_bench_progress("scale: MT_BENCH_MEMTREE is not set: cli_flat and check skipped");

    uint64_t sizes[] = {10000, 100000, 1000000};
    size_t nsizes = 3;
    if (o.max_n && o.max_n < sizes[0]) { /* a quick run: one small size */
        sizes[0] = o.max_n < 4 ? 4 : o.max_n;
        nsizes = 1;
    }
    char dir[] = "/tmp/mt_bench_scale_XXXXXX";
    if (!mkdtemp(dir))
        fail("mkdtemp");
    char path[sizeof(dir) + 32];
    snprintf(path, sizeof(path), "%s/machine.map", dir);

    for (int s = FLAT; s <= CHAIN_UP; s++) {
        for (size_t k = 0; k < nsizes; k++) {
            uint64_t n = sizes[k];
            if (o.max_n && n > o.max_n)
                continue;
            mt_bench_progress("scale: %s, %llu regions", shape_names[s], (unsigned long long)n);
            write_map(path, (enum shape)s, n);
            struct inproc r = run_inproc(path, (enum shape)s, n);
            for (int i = 1; i < runs; i++) {
                struct inproc again = run_inproc(path, (enum shape)s, n);
                r.load_ms = best(r.load_ms, again.load_ms);
                r.render_ms = best(r.render_ms, again.render_ms);
                r.dump_ms = best(r.dump_ms, again.dump_ms);
                r.free_ms = best(r.free_ms, again.free_ms);
            }
            char scenario[32];
            snprintf(scenario, sizeof(scenario), "scale_%s", shape_names[s]);
            mt_bench_result(scenario, n, "load_ms", r.load_ms, "ms");
            mt_bench_result(scenario, n, "dump_ms", r.dump_ms, "ms");
            mt_bench_result(scenario, n, "render_ms", r.render_ms, "ms");
            mt_bench_result(scenario, n, "free_ms", r.free_ms, "ms");
            mt_bench_result(scenario, n, "bytes_per_region", r.bytes_per_region, "B");
            if (!tool)
                continue;
            int code;
            long rss;
            double flat_ms = 0, check_ms = 0;
            for (int i = 0; i < runs; i++) {
                double t = run_tool(tool, "flat", path, &code, &rss);
                if (code != 0)
                    fail("memtree flat failed");
                flat_ms = i ? best(flat_ms, t) : t;
            }
            mt_bench_result(scenario, n, "cli_flat_ms", flat_ms, "ms");
            for (int i = 0; i < runs; i++) {
                double t = run_tool(tool, "check", path, &code, &rss);
                /* the chain overhangs at every level; the flat map is clean */
                if (code != (s == FLAT ? 0 : 1))
                    fail("memtree check did not give the expected exit status");
                check_ms = i ? best(check_ms, t) : t;
            }
            mt_bench_result(scenario, n, "check_ms", check_ms, "ms");
            mt_bench_result(scenario, n, "check_bytes_per_region",
                            (double)rss * 1024.0 / (double)n, "B");
        }
    }
    unlink(path);
    rmdir(dir);
    return 0;
}
