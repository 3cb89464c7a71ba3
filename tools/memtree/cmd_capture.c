/*
 * `memtree capture`: takes a consistent snapshot of a running QEMU's memory
 * map over QMP and writes it as a case folder the other commands read
 * (mtree-oD.txt, flat.txt, flat-o.txt, pci.txt, qom-tree.txt, meta.json).
 * Either attaches to a QMP socket (--qmp), or starts QEMU itself paused
 * with a private socket (`capture -- qemu-system-... ARGS`) and quits it
 * afterwards. Also what `watch` shares: taking the dumps (stopping the VM
 * around them so the tree and the flat views agree) and loading them.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "jsonc.h"

static const char help[] =
    "usage: memtree capture --qmp SOCKET|HOST:PORT [-O DIR] [--timeout S]\n"
    "       memtree capture [-O DIR] [--after-firmware S] -- QEMU-BINARY ARGS...\n"
    "\n"
    "Snapshots a QEMU machine's memory map into a case folder that the other\n"
    "commands read (show, flat, at, diff, check, draw take the folder as FILE).\n"
    "The VM is stopped while the dumps are taken, so the tree and the flat\n"
    "views describe the same moment, and resumed if it was running.\n"
    "\n"
    "With --qmp, attaches to a QEMU started with e.g.\n"
    "  -qmp unix:/tmp/qmp.sock,server=on,wait=off\n"
    "With -- QEMU-BINARY ARGS, starts that QEMU itself, paused (-S), with a\n"
    "private QMP socket, captures its reset state (or the state after\n"
    "--after-firmware seconds of running) and quits it.\n"
    "\n"
    "  --qmp ADDR          a QMP unix socket path, or HOST:PORT for TCP\n"
    "  -O, --output DIR    the folder to write (created; default\n"
    "                      capture-YYYYMMDD-HHMMSS in the current folder)\n"
    "  --after-firmware S  with --, let the machine run S seconds first\n"
    "  --timeout S         how long to wait for QEMU each time (default 10)\n"
    "  -h, --help          this help\n"
    "\n"
    "Files written: mtree-oD.txt (info mtree -o -D), flat.txt (info mtree -f),\n"
    "flat-o.txt (info mtree -f -o), pci.txt (info pci), qom-tree.txt\n"
    "(info qom-tree) and meta.json (QEMU version, time, run state).\n"
    "Exit status 0 success, 2 usage error, or QEMU unreachable, not QMP,\n"
    "silent past the timeout, or exited.\n"
    "\n"
    "Examples:\n"
    "  memtree capture -O reset -- qemu-system-x86_64 -M q35 -nodefaults\n"
    "  memtree capture -O firmware --after-firmware 1 -- qemu-system-x86_64 -M q35 -nodefaults\n"
    "  memtree capture --qmp /tmp/qmp.sock -O now\n"
    "(the last attaches to a QEMU started with\n"
    " -qmp unix:/tmp/qmp.sock,server=on,wait=off)\n";

enum { OPT_AFTER = 1000 };

static const cli_option options[] = {
    CLI_OPTION_QMP,
    {"output", 'O', true, 'O'},
    {"after-firmware", 0, true, OPT_AFTER},
    CLI_OPTION_TIMEOUT,
    {NULL, 0, false, 0},
};

void cli_capture_free(cli_capture *c)
{
    free(c->tree);
    free(c->flat);
    free(c->flat_o);
    free(c->pci);
    free(c->qom);
    free(c->version);
    free(c->status);
    memset(c, 0, sizeof(*c));
}

/* QEMU's version as its --version prints it, from query-version. */
static char *version_text(qmp_conn *q, char *err, size_t errlen)
{
    json_object *v = qmp_execute(q, "query-version", NULL, err, errlen);
    if (!v)
        return NULL;
    json_object *qemu, *pkg, *major, *minor, *micro;
    char buf[256];
    if (json_object_object_get_ex(v, "qemu", &qemu) &&
        json_object_object_get_ex(qemu, "major", &major) &&
        json_object_object_get_ex(qemu, "minor", &minor) &&
        json_object_object_get_ex(qemu, "micro", &micro)) {
        const char *p = json_object_object_get_ex(v, "package", &pkg)
                            ? json_object_get_string(pkg) : "";
        snprintf(buf, sizeof(buf), "QEMU emulator version %d.%d.%d%s%s%s",
                 json_object_get_int(major), json_object_get_int(minor),
                 json_object_get_int(micro), *p ? " (" : "", p, *p ? ")" : "");
    } else {
        snprintf(buf, sizeof(buf), "QEMU (unknown version)");
    }
    json_object_put(v);
    return cli_strdup(buf);
}

/* The run state from query-status ("running", "prelaunch", "paused"...). */
static char *run_state(qmp_conn *q, bool *running, char *err, size_t errlen)
{
    json_object *s = qmp_execute(q, "query-status", NULL, err, errlen);
    if (!s)
        return NULL;
    json_object *st, *run;
    char *state = cli_strdup(json_object_object_get_ex(s, "status", &st)
                                 ? json_object_get_string(st) : "unknown");
    *running = json_object_object_get_ex(s, "running", &run) &&
               json_object_get_boolean(run);
    json_object_put(s);
    return state;
}

int cli_capture_take(qmp_conn *q, cli_capture *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    double t0 = cli_now();
    if (!c->version && !(c->version = version_text(q, err, errlen)))
        goto fail;
    if (!(c->status = run_state(q, &c->was_running, err, errlen)))
        goto fail;
    if (c->was_running) {
        json_object *r = qmp_execute(q, "stop", NULL, err, errlen);
        if (!r)
            goto fail;
        json_object_put(r);
    }
    clock_gettime(CLOCK_REALTIME, &c->when);
    bool ok = (c->tree = qmp_hmp(q, "info mtree -o -D", err, errlen)) &&
              (c->flat = qmp_hmp(q, "info mtree -f", err, errlen)) &&
              (c->flat_o = qmp_hmp(q, "info mtree -f -o", err, errlen));
    /* Extras for the reader: not every machine has PCI; a failure here is
     * kept as what QEMU said. */
    if (ok) {
        char ignored[256];
        c->pci = qmp_hmp(q, "info pci", ignored, sizeof(ignored));
        c->qom = qmp_hmp(q, "info qom-tree", ignored, sizeof(ignored));
    }
    if (c->was_running) {
        char err2[256];
        json_object *r = qmp_execute(q, "cont", NULL, err2, sizeof(err2));
        if (!r && ok) {
            snprintf(err, errlen, "%s", err2);
            ok = false;
        }
        json_object_put(r);
    }
    if (!ok)
        goto fail;
    c->seconds = cli_now() - t0;
    return 0;
fail:
    cli_capture_free(c);
    return -1;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = cli_alloc(n, 1);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f || fputs(text, f) == EOF) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        rc = -1;
    }
    if (f && fclose(f) && !rc) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        rc = -1;
    }
    free(path);
    return rc;
}

static int write_case(const char *dir, const cli_capture *c, const char *source,
                      json_object *args)
{
    if (mkdir(dir, 0777) && errno != EEXIST) {
        cli_error("cannot create '%s': %s", dir, strerror(errno));
        return -1;
    }
    char stamp[64];
    struct tm tm;
    gmtime_r(&c->when.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_object *meta = json_object_new_object();
    json_object_object_add(meta, "version", json_object_new_string(c->version));
    json_object_object_add(meta, "time", json_object_new_string(stamp));
    json_object_object_add(meta, "source", json_object_new_string(source));
    if (args)
        json_object_object_add(meta, "args", json_object_get(args));
    json_object_object_add(meta, "status", json_object_new_string(c->status));
    json_object_object_add(meta, "was_running", json_object_new_boolean(c->was_running));
    json_object_object_add(meta, "capture_seconds", json_object_new_double(c->seconds));
    char by[64];
    snprintf(by, sizeof(by), "memtree %d.%d.%d capture", MT_VERSION_MAJOR,
             MT_VERSION_MINOR, MT_VERSION_PATCH);
    json_object_object_add(meta, "captured_by", json_object_new_string(by));
    char *text = cli_strdup(json_object_to_json_string_ext(
        meta, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                  JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(meta);
    size_t n = strlen(text);
    text = cli_grow(text, n + 2, 1);
    strcpy(text + n, "\n");

    int rc = write_file(dir, "mtree-oD.txt", c->tree) ||
             write_file(dir, "flat.txt", c->flat) ||
             write_file(dir, "flat-o.txt", c->flat_o) ||
             (c->pci && write_file(dir, "pci.txt", c->pci)) ||
             (c->qom && write_file(dir, "qom-tree.txt", c->qom)) ||
             write_file(dir, "meta.json", text);
    free(text);
    return rc ? -1 : 0;
}

int cli_capture_load(const cli_capture *c, const char *name, mt_context **ctx_out,
                     mt_machine **m_out, char *err, size_t errlen)
{
    mt_context *ctx = mt_context_new();
    if (!ctx) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    FILE *in = fmemopen(c->tree, strlen(c->tree), "r");
    FILE *flat = fmemopen(c->flat, strlen(c->flat), "r");
    int rc = -ENOMEM;
    if (in && flat)
        rc = mt_machine_load(ctx, MT_FORMAT_AUTO, in, name, flat, "flat", m_out,
                             err, errlen);
    if (in)
        fclose(in);
    if (flat)
        fclose(flat);
    if (rc) {
        if (!err[0])
            snprintf(err, errlen, "%s: %s", name, mt_strerror(rc));
        mt_context_free(ctx);
        return -1;
    }
    *ctx_out = ctx;
    return 0;
}

/* ---- starting QEMU ------------------------------------------------------ */

struct child {
    pid_t pid;
    char dir[64];    /* private temporary folder */
    char sock[128];
    char log[128];
};

static bool has_arg(char **argv, int argc, const char *a)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], a))
            return true;
    return false;
}

static int spawn_qemu(char **argv, int argc, struct child *ch)
{
    snprintf(ch->dir, sizeof(ch->dir), "/tmp/memtree-qmp-XXXXXX");
    if (!mkdtemp(ch->dir)) {
        cli_error("cannot create a temporary folder: %s", strerror(errno));
        return -1;
    }
    snprintf(ch->sock, sizeof(ch->sock), "%s/qmp.sock", ch->dir);
    snprintf(ch->log, sizeof(ch->log), "%s/qemu.log", ch->dir);
    char chardev[192];
    snprintf(chardev, sizeof(chardev), "socket,id=memtree_qmp,path=%s,server=on,wait=off",
             ch->sock);
    char **av = cli_alloc((size_t)argc + 12, sizeof(char *));
    int n = 0;
    for (int i = 0; i < argc; i++)
        av[n++] = argv[i];
    av[n++] = "-S";
    av[n++] = "-chardev";
    av[n++] = chardev;
    av[n++] = "-mon";
    av[n++] = "chardev=memtree_qmp,mode=control";
    if (!has_arg(argv, argc, "-display") && !has_arg(argv, argc, "-nographic")) {
        av[n++] = "-display";
        av[n++] = "none";
    }
    av[n] = NULL;

    ch->pid = fork();
    if (ch->pid < 0) {
        cli_error("fork: %s", strerror(errno));
        free(av);
        return -1;
    }
    if (ch->pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        int log = open(ch->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (nul >= 0)
            dup2(nul, 0);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execvp(av[0], av);
        fprintf(stderr, "cannot run '%s': %s\n", av[0], strerror(errno));
        _exit(127);
    }
    free(av);
    return 0;
}

/* The last lines QEMU wrote, for an error message. */
static void show_log(const struct child *ch)
{
    FILE *f = fopen(ch->log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        fprintf(stderr, "  qemu: %s", line);
    fclose(f);
}

/* Ends the child: `quit` already sent or not, it is killed after a grace
 * period, by its pid only. Removes the temporary folder. */
static void reap_qemu(struct child *ch, double grace)
{
    if (ch->pid > 0) {
        double until = cli_now() + grace;
        int status;
        while (waitpid(ch->pid, &status, WNOHANG) == 0) {
            if (cli_now() > until) {
                kill(ch->pid, SIGKILL);
                waitpid(ch->pid, &status, 0);
                break;
            }
            usleep(10000);
        }
        ch->pid = 0;
    }
    unlink(ch->sock);
    unlink(ch->log);
    rmdir(ch->dir);
}

/* Connects to the child's socket once it exists, noticing if QEMU exits. */
static qmp_conn *attach_child(struct child *ch, double timeout)
{
    double until = cli_now() + timeout;
    char err[512] = "";
    for (;;) {
        int status;
        if (waitpid(ch->pid, &status, WNOHANG) == ch->pid) {
            ch->pid = 0;
            cli_error("QEMU exited (%s %d) before answering on QMP:",
                      WIFEXITED(status) ? "status" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            show_log(ch);
            return NULL;
        }
        if (access(ch->sock, F_OK) == 0) {
            qmp_conn *q = qmp_connect(ch->sock, until - cli_now() > 0.5 ? until - cli_now() : 0.5,
                                      err, sizeof(err));
            if (q)
                return q;
        }
        if (cli_now() > until) {
            cli_error("QEMU did not answer on QMP within %.1f s%s%s", timeout,
                      err[0] ? ": " : "", err);
            show_log(ch);
            return NULL;
        }
        usleep(5000);
    }
}

/* ---- the command ---------------------------------------------------------- */

static void default_dir(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(buf, len, "capture-%Y%m%d-%H%M%S", &tm);
}

bool cli_parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

/* Checks that the written folder loads the way the other commands load it. */
static int check_loads(const char *dir)
{
    cli_machine cm;
    int rc = cli_load(dir, NULL, &cm, NULL, 0, NULL);
    if (rc)
        return rc;
    size_t nas = 0;
    for (const mt_address_space *as = mt_context_first_address_space(cm.ctx); as;
         as = mt_address_space_next(as))
        nas++;
    printf("%s: %zu address spaces, %zu regions%s\n", dir, nas,
           mt_machine_region_count(cm.m), cm.flat_path ? ", with flat views" : "");
    cli_unload(&cm);
    return CLI_OK;
}

int cmd_capture(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 0, help);
    a.stop_at_dashdash = true;
    const char *value, *outdir = NULL;
    double after = -1;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case 'O':
            outdir = value;
            break;
        case OPT_AFTER:
            if (!cli_parse_seconds(value, &after))
                return cli_usage_error("bad --after-firmware '%s': expected seconds", value);
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    const char *qmp = a.qmp;
    double timeout = a.timeout;
    int nrest = a.argc - a.next;
    char **rest = a.argv + a.next;
    if (!qmp && nrest == 0)
        return cli_usage_error("say where QEMU is: --qmp SOCKET, or -- QEMU-BINARY ARGS");
    if (qmp && nrest)
        return cli_usage_error("--qmp and a QEMU command line: choose one");
    if (qmp && after >= 0)
        return cli_usage_error("--after-firmware needs a QEMU command line after --");

    char dirbuf[64];
    if (!outdir) {
        default_dir(dirbuf, sizeof(dirbuf));
        outdir = dirbuf;
    }

    struct child ch = {0};
    qmp_conn *q;
    char err[1024];
    if (qmp) {
        q = qmp_connect(qmp, timeout, err, sizeof(err));
        if (!q) {
            cli_error("%s", err);
            return CLI_USAGE;
        }
    } else {
        if (spawn_qemu(rest, nrest, &ch))
            return CLI_USAGE;
        q = attach_child(&ch, timeout);
        if (!q) {
            reap_qemu(&ch, 0);
            return CLI_USAGE;
        }
        if (after > 0) {
            json_object *r = qmp_execute(q, "cont", NULL, err, sizeof(err));
            if (!r) {
                cli_error("%s", err);
                qmp_close(q);
                reap_qemu(&ch, 0);
                return CLI_USAGE;
            }
            json_object_put(r);
            usleep((useconds_t)(after * 1e6));
        }
    }

    cli_capture c;
    int rc = cli_capture_take(q, &c, err, sizeof(err));
    if (rc)
        cli_error("%s", err);
    if (ch.pid > 0) {
        json_object *r = qmp_execute(q, "quit", NULL, err, sizeof(err));
        json_object_put(r);
    }
    qmp_close(q);
    if (ch.pid > 0)
        reap_qemu(&ch, 5);
    if (rc)
        return CLI_USAGE;

    json_object *args = NULL;
    if (!qmp) {
        args = json_object_new_array();
        for (int i = 0; i < nrest; i++)
            json_object_array_add(args, json_object_new_string(rest[i]));
    }
    rc = write_case(outdir, &c, qmp ? qmp : rest[0], args);
    json_object_put(args);
    double took = c.seconds;
    cli_capture_free(&c);
    if (rc)
        return CLI_USAGE;
    rc = check_loads(outdir);
    if (!rc)
        printf("captured in %.3f s\n", took);
    return rc;
}
