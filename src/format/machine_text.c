/*
 * Text input shared by the machine readers: the whole file read and split
 * into lines (LF or CRLF), binary data refused, "NAME:LINE: what" errors,
 * number parsing with overflow checks. It owns the file buffer of one load
 * and nothing else.
 */
#include "machine_build.h"

#include <stdlib.h>
#include <string.h>

static int vfail(struct mt__err *e, int code, const char *file, unsigned line,
                 const char *fmt, va_list ap)
{
    char what[400];
    vsnprintf(what, sizeof(what), fmt, ap);
    if (line)
        snprintf(e->msg, sizeof(e->msg), "%s:%u: %s", file, line, what);
    else
        snprintf(e->msg, sizeof(e->msg), "%s: %s", file, what);
    return code;
}

int mt__fail(struct mt__err *e, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(e, -EINVAL, file, line, fmt, ap);
    va_end(ap);
    return rc;
}

int mt__fail_code(struct mt__err *e, int code, const char *file, unsigned line,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(e, code, file, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* Bytes no text dump contains: a file holding them is not a dump at all,
 * and saying so beats a confusing syntax error. Tabs, CR and LF are text. */
static bool binary_byte(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

int mt__src_read(FILE *in, const char *name, uint64_t limit, struct mt__src *src,
                 struct mt__err *e)
{
    memset(src, 0, sizeof(*src));
    src->name = name;
    /* Read in chunks, checking each for binary bytes as it arrives, so an
     * endless binary source (/dev/zero) fails at once and an endless text
     * one (a pipe from `yes`) at the limit, never growing without bound. */
    size_t len = 0, cap = 0, n;
    unsigned line = 1;
    size_t want = limit < SIZE_MAX - 1 ? (size_t)limit + 1 : SIZE_MAX - 1;
    do {
        if (len == cap) {
            cap = cap ? (cap > want / 2 ? want : cap * 2) : (want < 131072 ? want : 131072);
            src->buf = mt__xrealloc(src->buf, cap + 1);
        }
        n = fread(src->buf + len, 1, cap - len, in);
        for (size_t i = len; i < len + n; i++) {
            unsigned char c = (unsigned char)src->buf[i];
            if (c == '\n')
                line++;
            else if (binary_byte(c))
                return mt__fail(e, name, line, "binary data (byte 0x%02x): not a text "
                                "file", c);
        }
        len += n;
    } while (n > 0 && len < want);
    if (len > limit)
        return mt__fail_code(e, -EFBIG, name, 0, "larger than the input limit of %llu "
                             "bytes (raise it with mt_context_set_input_limit; the CLI's "
                             "--max-input or MEMTREE_MAX_INPUT)",
                             (unsigned long long)limit);
    if (ferror(in))
        return mt__fail(e, name, 0, "read error");
    src->buf[len] = '\0';
    if (len == 0)
        return mt__fail(e, name, 1, "empty file");

    size_t nl = 1, capl = 1024;
    src->lines = mt__xmalloc(capl * sizeof(*src->lines));
    src->lines[0] = src->buf;
    for (size_t i = 0; i < len; i++) {
        if (src->buf[i] != '\n')
            continue;
        src->buf[i] = '\0';
        if (i > 0 && src->buf[i - 1] == '\r')
            src->buf[i - 1] = '\0';
        if (i + 1 == len)
            break; /* a final newline does not start another line */
        if (nl == capl)
            src->lines = mt__xrealloc(src->lines, (capl *= 2) * sizeof(*src->lines));
        src->lines[nl++] = src->buf + i + 1;
    }
    /* the last line may lack its newline but may still end in CR */
    char *last = src->lines[nl - 1];
    size_t ll = strlen(last);
    if (ll && last[ll - 1] == '\r')
        last[ll - 1] = '\0';
    src->nlines = nl;
    return 0;
}

void mt__src_free(struct mt__src *src)
{
    free(src->buf);
    free(src->lines);
    memset(src, 0, sizeof(*src));
}

void mt__trim_right(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

int mt__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mt__parse_hex(const char *s, uint64_t *out)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    if (!*s)
        return -1;
    while (s[0] == '0' && s[1])
        s++; /* leading zeros say nothing */
    size_t n = strlen(s);
    if (n > 17 || (n == 17 && strcmp(s, "10000000000000000")))
        return -1;
    if (n == 17)
        return 1;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = mt__hexval(*s);
        if (d < 0)
            return -1;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

char *mt__hex_field_problem(const char *s, const char *what, bool is_size, uint64_t *out,
                            bool *full)
{
    int r = mt__parse_hex(s, out);
    if (r < 0)
        return mt__xasprintf("bad %s '%s' (hex number below 2^64 expected)", what, s);
    if (r == 1 && !is_size)
        return mt__xasprintf("%s '%s' overflows 64 bits", what, s);
    if (is_size) {
        *full = r == 1;
        if (r == 1)
            *out = 0;
        else if (*out == UINT64_MAX)
            return mt__xasprintf("size ffffffffffffffff cannot be represented "
                                 "(2^64 is written 10000000000000000)");
    }
    return NULL;
}

bool mt__parse_hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = mt__hexval(s[i]);
        if (d < 0)
            return false;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return true;
}

bool mt__parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool mt__parse_i32(const char *s, int32_t *out)
{
    bool neg = *s == '-';
    uint64_t v;
    if (!mt__parse_u64(s + neg, &v) || v > (neg ? UINT64_C(0x80000000) : INT32_MAX))
        return false;
    *out = neg ? (int32_t)(-(int64_t)v) : (int32_t)v;
    return true;
}
