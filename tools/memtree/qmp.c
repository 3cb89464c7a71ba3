/*
 * A small QMP client for `capture` and `watch`: connects to a unix socket
 * or HOST:PORT, checks the greeting, negotiates capabilities, runs commands
 * and human-monitor commands, and queues the events that arrive meanwhile.
 * Every read waits at most the connection's timeout, so a QEMU that hangs
 * or a socket that speaks something else ends in an error, never a hang.
 * JSON goes through json-c (Debian's libjson-c-dev).
 */
#include "cli.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "jsonc.h"

struct qmp_conn {
    int fd;
    int timeout_ms;
    char *buf;          /* bytes read and not yet handed out as a message */
    size_t len, cap;
    json_object **events; /* events seen while waiting for replies */
    size_t nevents, capevents;
};

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A unix socket path unless it reads as HOST:PORT and is not a file. */
static bool is_tcp_address(const char *addr)
{
    struct stat st;
    if (strchr(addr, '/') || stat(addr, &st) == 0)
        return false;
    const char *colon = strrchr(addr, ':');
    return colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1);
}

static int connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        set_err(err, errlen, "socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        set_err(err, errlen, "cannot connect to '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_tcp(const char *addr, char *err, size_t errlen)
{
    char *host = cli_strdup(addr);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    const char *port = colon + 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(*host ? host : "localhost", port, &hints, &res);
    if (rc) {
        set_err(err, errlen, "cannot resolve '%s': %s", addr, gai_strerror(rc));
        free(host);
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        set_err(err, errlen, "cannot connect to '%s': %s", addr,
                strerror(saved ? saved : ECONNREFUSED));
    free(host);
    return fd;
}

/*
 * The next complete line (QMP ends each message with CRLF), waiting until
 * `deadline` (monotonic seconds). Returns the line (caller frees), or NULL
 * with *why: 0 timeout, -1 closed or error (message in err).
 */
static char *read_line(qmp_conn *q, double deadline, int *why, char *err, size_t errlen)
{
    for (;;) {
        char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->buf);
            char *line = cli_alloc(n + 1, 1);
            memcpy(line, q->buf, n);
            if (n && line[n - 1] == '\r')
                line[n - 1] = '\0';
            memmove(q->buf, nl + 1, q->len - n - 1);
            q->len -= n + 1;
            return line;
        }
        double left = deadline - cli_now();
        if (left <= 0) {
            *why = 0;
            set_err(err, errlen, "no answer within %.1f s", q->timeout_ms / 1000.0);
            return NULL;
        }
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(left * 1000) + 1);
        /* Ctrl-C during a reply: finish the exchange (the VM may be
         * stopped and waiting for its `cont`); the caller checks its flag
         * between exchanges. */
        if (pr <= 0)
            continue; /* the deadline check above ends the wait */
        if (q->cap - q->len < 65536) {
            q->cap = q->cap ? 2 * q->cap : 131072;
            q->buf = cli_grow(q->buf, q->cap, 1);
        }
        ssize_t got = read(q->fd, q->buf + q->len, q->cap - q->len);
        if (got <= 0) {
            *why = -1;
            set_err(err, errlen, "the connection closed%s%s (did QEMU exit?)",
                    got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
            return NULL;
        }
        q->len += (size_t)got;
        /* A peer that is not QMP may send megabytes without a newline. */
        if (q->len > ((size_t)256 << 20)) {
            *why = -1;
            set_err(err, errlen, "a message longer than 256 MiB: not QMP");
            return NULL;
        }
    }
}

/* The next message as a JSON object; NULL with err set otherwise. */
static json_object *read_message(qmp_conn *q, double deadline, char *err, size_t errlen)
{
    int why;
    char *line = read_line(q, deadline, &why, err, errlen);
    if (!line)
        return NULL;
    json_object *o = json_tokener_parse(line);
    if (!o || !json_object_is_type(o, json_type_object)) {
        set_err(err, errlen, "not a QMP message: '%.60s'", line);
        json_object_put(o);
        free(line);
        return NULL;
    }
    free(line);
    return o;
}

static void queue_event(qmp_conn *q, json_object *ev)
{
    cli_reserve(&q->events, &q->capevents, q->nevents + 1, sizeof(*q->events));
    q->events[q->nevents++] = ev;
}

qmp_conn *qmp_connect(const char *addr, double timeout, char *err, size_t errlen)
{
    int fd = is_tcp_address(addr) ? connect_tcp(addr, err, errlen)
                                   : connect_unix(addr, err, errlen);
    if (fd < 0)
        return NULL;
    qmp_conn *q = cli_alloc(1, sizeof(*q));
    q->fd = fd;
    q->timeout_ms = (int)(timeout * 1000);
    char why[256];
    double deadline = cli_now() + timeout;
    /* QEMU 7.2 can send an event before its greeting: its monitor enters
     * the negotiation phase only when it handles the connection, on its
     * own thread, so an event the main thread emits in between (RESUME,
     * as a guest starts) reaches the new client first. Such an event
     * belongs to no session, and a QEMU that starts its monitors in that
     * phase (as later ones do) sends none: skip it. */
    json_object *greeting, *key;
    while ((greeting = read_message(q, deadline, why, sizeof(why))) &&
           !json_object_object_get_ex(greeting, "QMP", &key) &&
           json_object_object_get_ex(greeting, "event", &key))
        json_object_put(greeting);
    if (!greeting || !json_object_object_get_ex(greeting, "QMP", &key)) {
        if (greeting)
            snprintf(why, sizeof(why), "its first message is not a greeting: '%.100s'",
                     json_object_to_json_string_ext(greeting, JSON_C_TO_STRING_PLAIN));
        set_err(err, errlen, "'%s' does not greet like a QMP socket (%s)", addr, why);
        json_object_put(greeting);
        qmp_close(q);
        return NULL;
    }
    json_object_put(greeting);
    json_object *ret = qmp_execute(q, "qmp_capabilities", NULL, why, sizeof(why));
    if (!ret) {
        set_err(err, errlen, "'%s': qmp_capabilities failed: %s", addr, why);
        qmp_close(q);
        return NULL;
    }
    json_object_put(ret);
    return q;
}

void qmp_close(qmp_conn *q)
{
    if (!q)
        return;
    close(q->fd);
    for (size_t i = 0; i < q->nevents; i++)
        json_object_put(q->events[i]);
    free(q->events);
    free(q->buf);
    free(q);
}

json_object *qmp_execute(qmp_conn *q, const char *cmd, json_object *args,
                         char *err, size_t errlen)
{
    json_object *req = json_object_new_object();
    json_object_object_add(req, "execute", json_object_new_string(cmd));
    if (args)
        json_object_object_add(req, "arguments", args);
    const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
    size_t n = strlen(text);
    char *msg = cli_alloc(n + 2, 1);
    memcpy(msg, text, n);
    msg[n] = '\n';
    json_object_put(req);
    /* MSG_NOSIGNAL: a QEMU that died must give an error, not SIGPIPE. */
    for (size_t off = 0; off < n + 1;) {
        ssize_t w = send(q->fd, msg + off, n + 1 - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            set_err(err, errlen, "%s: the connection closed: %s (did QEMU exit?)", cmd,
                    strerror(errno));
            free(msg);
            return NULL;
        }
        off += (size_t)w;
    }
    free(msg);

    double deadline = cli_now() + q->timeout_ms / 1000.0;
    for (;;) {
        char why[256];
        json_object *o = read_message(q, deadline, why, sizeof(why));
        if (!o) {
            set_err(err, errlen, "%s: %s", cmd, why);
            return NULL;
        }
        json_object *v;
        if (json_object_object_get_ex(o, "event", &v)) {
            queue_event(q, o);
            continue;
        }
        if (json_object_object_get_ex(o, "return", &v)) {
            json_object_get(v);
            json_object_put(o);
            return v;
        }
        if (json_object_object_get_ex(o, "error", &v)) {
            json_object *desc;
            set_err(err, errlen, "%s: %s", cmd,
                    json_object_object_get_ex(v, "desc", &desc)
                        ? json_object_get_string(desc) : "error");
            json_object_put(o);
            return NULL;
        }
        json_object_put(o); /* something else: not ours to answer */
    }
}

char *qmp_hmp(qmp_conn *q, const char *line, char *err, size_t errlen)
{
    json_object *args = json_object_new_object();
    json_object_object_add(args, "command-line", json_object_new_string(line));
    json_object *ret = qmp_execute(q, "human-monitor-command", args, err, errlen);
    if (!ret)
        return NULL;
    if (!json_object_is_type(ret, json_type_string)) {
        set_err(err, errlen, "human-monitor-command '%s': not a string", line);
        json_object_put(ret);
        return NULL;
    }
    /* The monitor writes for a terminal (CRLF); files and the readers
     * want plain newlines, as in the oracle's dumps. */
    char *text = cli_strdup(json_object_get_string(ret));
    json_object_put(ret);
    char *w = text;
    for (const char *r = text; *r; r++)
        if (!(r[0] == '\r' && r[1] == '\n'))
            *w++ = *r;
    *w = '\0';
    return text;
}

json_object *qmp_next_event(qmp_conn *q, double wait, char *err, size_t errlen)
{
    if (!q->nevents && wait > 0) {
        /* Only events arrive unasked; wait for one without a deadline error. */
        struct pollfd p = {.fd = q->fd, .events = POLLIN};
        bool buffered = q->len && memchr(q->buf, '\n', q->len);
        if (buffered || poll(&p, 1, (int)(wait * 1000)) > 0) {
            json_object *o = read_message(q, cli_now() + q->timeout_ms / 1000.0,
                                          err, errlen);
            if (!o)
                return NULL;
            queue_event(q, o);
        }
    }
    if (!q->nevents) {
        if (err && errlen)
            err[0] = '\0';
        return NULL;
    }
    json_object *ev = q->events[0];
    memmove(q->events, q->events + 1, (q->nevents - 1) * sizeof(*q->events));
    q->nevents--;
    return ev;
}
