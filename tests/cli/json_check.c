/*
 * A strict JSON validator for the CLI tests, so that checking `--json`
 * output needs nothing beyond the C toolchain. It reads one document (a
 * file or standard input), rejects anything RFC 8259 does not allow
 * (trailing commas, bad escapes, control characters in strings, invalid
 * UTF-8, trailing garbage), and prints the values at the paths given on the
 * command line, e.g. `.answers.0.region` or `.count`; a `*` segment matches
 * every key or index (`.views.*.root`), one value per line in document
 * order.
 *
 * Exit status: 0 valid (and every path found), 1 invalid, 2 a path missing
 * or bad usage.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *s;
    size_t pos, len;
    const char *error;
};

/* What the values on the requested path have been: how many were printed. */
struct hits {
    size_t found;
};

static void ws(struct parser *p)
{
    while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]))
        p->pos++;
}

static bool fail(struct parser *p, const char *what)
{
    if (!p->error)
        p->error = what;
    return false;
}

static bool parse_value(struct parser *p, const char *path, struct hits *hit);

/* Consumes `c` when it comes next. */
static bool eat(struct parser *p, char c)
{
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* After a member or an element: 1 when `close` ends the list, 0 when a
 * comma says another follows, -1 (the error recorded) otherwise. */
static int list_next(struct parser *p, char close)
{
    ws(p);
    if (eat(p, ','))
        return 0;
    if (eat(p, close))
        return 1;
    fail(p, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    return -1;
}

static bool utf8_ok(struct parser *p)
{
    const unsigned char *u = (const unsigned char *)p->s + p->pos;
    size_t left = p->len - p->pos, n;
    unsigned cp;
    if ((u[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = u[0] & 0x1f;
    } else if ((u[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = u[0] & 0x0f;
    } else if ((u[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = u[0] & 0x07;
    } else {
        return fail(p, "invalid UTF-8 lead byte");
    }
    if (left < n)
        return fail(p, "truncated UTF-8 sequence");
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80)
            return fail(p, "invalid UTF-8 continuation byte");
        cp = cp << 6 | (u[i] & 0x3f);
    }
    static const unsigned min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return fail(p, "invalid UTF-8 code point");
    p->pos += n;
    return true;
}

/* A string; its unescaped form is not needed, only its validity. */
static bool parse_string(struct parser *p)
{
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail(p, "expected a string");
    p->pos++;
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return true;
        }
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c == '\\') {
            p->pos++;
            if (p->pos >= p->len)
                break;
            char e = p->s[p->pos];
            if (e == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (p->pos + i >= p->len || !isxdigit((unsigned char)p->s[p->pos + i]))
                        return fail(p, "bad \\u escape");
                p->pos += 5;
            } else if (strchr("\"\\/bfnrt", e)) {
                p->pos++;
            } else {
                return fail(p, "bad escape");
            }
        } else if (c >= 0x80) {
            if (!utf8_ok(p))
                return false;
        } else {
            p->pos++;
        }
    }
    return fail(p, "unterminated string");
}

static bool parse_number(struct parser *p)
{
    size_t start = p->pos;
    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0') {
        p->pos++;
    } else if (p->pos < p->len && isdigit((unsigned char)p->s[p->pos])) {
        while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
            p->pos++;
    } else {
        return fail(p, "bad number");
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || !isdigit((unsigned char)p->s[p->pos]))
            return fail(p, "bad fraction");
        while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !isdigit((unsigned char)p->s[p->pos]))
            return fail(p, "bad exponent");
        while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
            p->pos++;
    }
    return p->pos > start;
}

/*
 * `path` is what remains of the requested path below this value (NULL when
 * this value is off the path); "" means this value is the one wanted.
 */
static const char *descend(const char *path, const char *key, size_t keylen)
{
    if (!path || path[0] != '.')
        return NULL;
    const char *seg = path + 1;
    size_t n = strcspn(seg, ".");
    if (n == 1 && seg[0] == '*')
        return seg + n;
    if (n != keylen || strncmp(seg, key, n))
        return NULL;
    return seg + n;
}

static bool parse_object(struct parser *p, const char *path, struct hits *hit)
{
    p->pos++; /* { */
    ws(p);
    if (eat(p, '}'))
        return true;
    for (;;) {
        ws(p);
        size_t kstart = p->pos + 1;
        if (!parse_string(p))
            return false;
        /* Keys in our output never need escapes; compare them raw. */
        const char *sub = descend(path, p->s + kstart, p->pos - 1 - kstart);
        ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return fail(p, "expected ':'");
        p->pos++;
        if (!parse_value(p, sub, hit))
            return false;
        int end = list_next(p, '}');
        if (end)
            return end > 0;
    }
}

static bool parse_array(struct parser *p, const char *path, struct hits *hit)
{
    p->pos++; /* [ */
    ws(p);
    if (eat(p, ']'))
        return true;
    for (size_t index = 0;; index++) {
        char key[32];
        snprintf(key, sizeof(key), "%zu", index);
        if (!parse_value(p, descend(path, key, strlen(key)), hit))
            return false;
        int end = list_next(p, ']');
        if (end)
            return end > 0;
    }
}

static bool parse_value(struct parser *p, const char *path, struct hits *hit)
{
    ws(p);
    if (p->pos >= p->len)
        return fail(p, "unexpected end of input");
    size_t begin = p->pos;
    bool ok;
    char c = p->s[p->pos];
    if (c == '{')
        ok = parse_object(p, path, hit);
    else if (c == '[')
        ok = parse_array(p, path, hit);
    else if (c == '"')
        ok = parse_string(p);
    else if (c == '-' || isdigit((unsigned char)c))
        ok = parse_number(p);
    else if (!strncmp(p->s + p->pos, "true", 4))
        ok = (p->pos += 4, true);
    else if (!strncmp(p->s + p->pos, "false", 5))
        ok = (p->pos += 5, true);
    else if (!strncmp(p->s + p->pos, "null", 4))
        ok = (p->pos += 4, true);
    else
        ok = fail(p, "unexpected character");
    if (ok && path && !*path) {
        /* Strings print without their quotes, everything else as is. */
        const char *v = p->s + begin;
        size_t n = p->pos - begin;
        if (n >= 2 && v[0] == '"')
            printf("%.*s\n", (int)(n - 2), v + 1);
        else
            printf("%.*s\n", (int)n, v);
        hit->found++;
    }
    return ok;
}

static char *slurp(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
        }
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: json_check FILE|- [.PATH...]\n");
        return 2;
    }
    FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "rb") : stdin;
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    size_t len;
    char *text = slurp(f, &len);
    if (f != stdin)
        fclose(f);
    if (!text) {
        fprintf(stderr, "json_check: out of memory\n");
        return 2;
    }
    if (memchr(text, '\0', len)) {
        fprintf(stderr, "json_check: NUL byte in input\n");
        free(text);
        return 1;
    }

    int rc = 0;
    /* One pass per path keeps the parser simple; documents are small. */
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *path = i == 1 ? NULL : argv[i];
        if (i == 1 && argc > 2)
            continue; /* validated by the path passes */
        struct parser p = {text, 0, len, NULL};
        struct hits hit = {0};
        bool ok = parse_value(&p, path, &hit);
        ws(&p);
        if (ok && p.pos != len)
            ok = fail(&p, "trailing characters after the document");
        if (!ok) {
            fprintf(stderr, "json_check: invalid JSON at byte %zu: %s\n", p.pos,
                    p.error ? p.error : "?");
            rc = 1;
            break;
        }
        if (path && !hit.found) {
            fprintf(stderr, "json_check: no value at %s\n", path);
            rc = 2;
            break;
        }
    }
    free(text);
    return rc;
}
