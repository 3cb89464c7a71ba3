/*
 * `memtree watch --qmp ADDR`: follows a running QEMU's memory map. Samples
 * it at an interval, and at once when QEMU reports an event, and prints
 * what changed since the previous sample as causes (causes.c), each with
 * the time since the watch began. Ctrl-C (or --duration, --count) ends it
 * with a summary of what was seen.
 */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "jsonc.h"

static const char help[] =
    "usage: memtree watch --qmp SOCKET|HOST:PORT [--interval S] [--resume]\n"
    "                     [--duration S] [--count N] [--timeout S]\n"
    "\n"
    "Watches a running QEMU's memory map: samples it every --interval seconds\n"
    "and whenever QEMU sends an event, and prints each change since the\n"
    "previous sample as a cause (region added, removed, moved, resized,\n"
    "enabled, disabled, priority, alias retargeted or re-offset, read-only),\n"
    "with the seconds since the watch began and the region's owner. The VM\n"
    "is stopped for the moment each sample is taken, so every sample is\n"
    "consistent. Ctrl-C ends the watch with a summary.\n"
    "\n"
    "  --qmp ADDR      a QMP unix socket path, or HOST:PORT for TCP\n"
    "  --interval S    seconds between samples (default 0.5)\n"
    "  --resume        resume a paused VM after the first sample: start QEMU\n"
    "                  with -S and watch its firmware from the first instruction\n"
    "  --duration S    stop after S seconds (default: until Ctrl-C)\n"
    "  --count N       stop after N samples\n"
    "  --timeout S     how long to wait for each QEMU answer (default 10)\n"
    CLI_HELP_HELP
    "\n"
    "Exit status 0 after Ctrl-C, --duration or --count; 2 for a usage error,\n"
    "or when QEMU cannot be reached, is not QMP, stops answering or exits.\n"
    "\n"
    "Examples (SeaBIOS programming a q35 machine's BARs, with QEMU started as\n"
    "qemu-system-x86_64 -M q35 -S -qmp unix:/tmp/qmp.sock,server=on,wait=off):\n"
    "  memtree watch --qmp /tmp/qmp.sock --resume --interval 0.1\n"
    "  memtree watch --qmp /tmp/qmp.sock --duration 5\n";

enum { OPT_INTERVAL = 1000, OPT_RESUME, OPT_DURATION, OPT_COUNT };

static const cli_option options[] = {
    CLI_OPTION_QMP,
    {"interval", 0, true, OPT_INTERVAL},
    {"resume", 0, false, OPT_RESUME},
    {"duration", 0, true, OPT_DURATION},
    {"count", 0, true, OPT_COUNT},
    CLI_OPTION_TIMEOUT,
    {NULL, 0, false, 0},
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* One loaded sample. */
struct sample {
    mt_context *ctx;
    mt_machine *m;
};

static void drop(struct sample *s)
{
    if (s->m)
        mt_machine_free(s->m);
    if (s->ctx)
        mt_context_free(s->ctx);
    memset(s, 0, sizeof(*s));
}

static int take(qmp_conn *q, struct sample *s, cli_capture *c, char *err, size_t len)
{
    if (cli_capture_take(q, c, err, len))
        return -1;
    int rc = cli_capture_load(c, "sample", &s->ctx, &s->m, err, len);
    return rc;
}

/* Counts per cause word, for the summary. */
struct tally {
    const char *what[16];
    size_t count[16];
    size_t n;
};

static void count(struct tally *t, const char *what)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->what[i], what)) {
            t->count[i]++;
            return;
        }
    }
    if (t->n < 16) {
        t->what[t->n] = what;
        t->count[t->n++] = 1;
    }
}

static void summary(double elapsed, size_t samples, size_t changes,
                    const struct tally *t)
{
    printf("summary: %.1f s, %zu sample%s, %zu change%s", elapsed, samples,
           samples == 1 ? "" : "s", changes, changes == 1 ? "" : "s");
    for (size_t i = 0; i < t->n; i++)
        printf("%s%zu %s", i ? ", " : ": ", t->count[i], t->what[i]);
    putchar('\n');
}

int cmd_watch(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 0, help);
    const char *value;
    double interval = 0.5, duration = -1;
    long max_samples = -1;
    bool resume = false;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case OPT_INTERVAL:
            if (!cli_parse_seconds(value, &interval) || interval < 0.01)
                return cli_usage_error("bad --interval '%s': expected seconds, at least 0.01",
                                       value);
            break;
        case OPT_RESUME:
            resume = true;
            break;
        case OPT_DURATION:
            if (!cli_parse_seconds(value, &duration))
                return cli_usage_error("bad --duration '%s': expected seconds", value);
            break;
        case OPT_COUNT: {
            uint64_t n;
            if (!cli_parse_number(value, &n) || n == 0 || n > 1000000000)
                return cli_usage_error("bad --count '%s': expected a positive number", value);
            max_samples = (long)n;
            break;
        }
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    const char *qmp = a.qmp;
    double timeout = a.timeout;
    if (!qmp)
        return cli_usage_error("say where QEMU is: --qmp SOCKET or HOST:PORT");

    char err[1024];
    qmp_conn *q = qmp_connect(qmp, timeout, err, sizeof(err));
    if (!q) {
        cli_error("%s", err);
        return CLI_USAGE;
    }
    /* No SA_RESTART: Ctrl-C must wake the wait for the next sample. */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double t0 = cli_now();
    struct sample prev = {0}, cur = {0};
    cli_capture c;
    if (take(q, &prev, &c, err, sizeof(err))) {
        cli_error("%s", err);
        qmp_close(q);
        return CLI_USAGE;
    }
    size_t nas = 0;
    for (const mt_address_space *as = mt_context_first_address_space(prev.ctx); as;
         as = mt_address_space_next(as))
        nas++;
    printf("[%8.3f] %s, %s: %zu address spaces, %zu regions\n", cli_now() - t0,
           c.version, c.status, nas, mt_machine_region_count(prev.m));
    bool was_running = c.was_running;
    cli_capture_free(&c);
    if (resume && !was_running) {
        json_object *r = qmp_execute(q, "cont", NULL, err, sizeof(err));
        if (!r) {
            cli_error("%s", err);
            drop(&prev);
            qmp_close(q);
            return CLI_USAGE;
        }
        json_object_put(r);
        printf("[%8.3f] resumed\n", cli_now() - t0);
    }
    fflush(stdout);

    size_t samples = 1, changes = 0;
    struct tally tally = {0};
    int rc = CLI_OK;
    double next = cli_now() + interval;
    while (!interrupted) {
        if (max_samples > 0 && (long)samples >= max_samples)
            break;
        if (duration >= 0 && cli_now() - t0 >= duration)
            break;
        /* Wait for the next sample time, or an event. The VM's own STOP
         * and RESUME come from our sampling and do not count. */
        double wait = next - cli_now();
        if (duration >= 0 && t0 + duration - cli_now() < wait)
            wait = t0 + duration - cli_now();
        if (wait > 0) {
            json_object *ev = qmp_next_event(q, wait, err, sizeof(err));
            if (!ev && err[0]) {
                cli_error("%s", err);
                rc = CLI_USAGE;
                break;
            }
            if (ev) {
                json_object *name;
                const char *n = json_object_object_get_ex(ev, "event", &name)
                                    ? json_object_get_string(name) : "?";
                bool ours = !strcmp(n, "STOP") || !strcmp(n, "RESUME");
                if (!ours)
                    printf("[%8.3f] event %s\n", cli_now() - t0, n);
                json_object_put(ev);
                if (ours || interrupted)
                    continue;
            } else {
                continue; /* woken early (Ctrl-C): the loop checks */
            }
        }
        next = cli_now() + interval;
        if (take(q, &cur, &c, err, sizeof(err))) {
            cli_error("%s", err);
            rc = CLI_USAGE;
            break;
        }
        double when = cli_now() - t0;
        cli_capture_free(&c);
        samples++;
        cli_cause *causes;
        size_t n = cli_find_causes(prev.ctx, cur.ctx, &causes);
        char stamp[32];
        snprintf(stamp, sizeof(stamp), "[%8.3f] ", when);
        for (size_t i = 0; i < n; i++) {
            cli_print_cause(stdout, stamp, &causes[i]);
            count(&tally, causes[i].what);
        }
        changes += n;
        cli_causes_free(causes, n);
        fflush(stdout);
        drop(&prev);
        prev = cur;
        memset(&cur, 0, sizeof(cur));
    }
    summary(cli_now() - t0, samples, changes, &tally);
    drop(&prev);
    qmp_close(q);
    return rc;
}
