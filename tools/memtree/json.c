/*
 * The JSON writer behind every `--json` option: a streaming emitter that
 * tracks commas and indentation per nesting level and escapes strings
 * (region names are arbitrary bytes from a dump: quotes, backslashes,
 * control characters and invalid UTF-8 all have to come out valid).
 */
#include "cli.h"

#include <inttypes.h>
#include <string.h>

void json_init(cli_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->first[0] = true;
}

static void indent(cli_json *j)
{
    fputc('\n', j->out);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->out);
}

/* Called before every value and key: the comma and line break it needs. */
static void before_item(cli_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->out);
    j->first[j->depth] = false;
    if (j->depth > 0)
        indent(j);
}

static void open_level(cli_json *j, char c)
{
    before_item(j);
    fputc(c, j->out);
    if (j->depth + 1 < (int)(sizeof(j->first) / sizeof(j->first[0])))
        j->depth++;
    j->first[j->depth] = true;
}

static void close_level(cli_json *j, char c)
{
    bool empty = j->first[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (!empty)
        indent(j);
    fputc(c, j->out);
}

void json_begin_object(cli_json *j) { open_level(j, '{'); }
void json_end_object(cli_json *j) { close_level(j, '}'); }
void json_begin_array(cli_json *j) { open_level(j, '['); }
void json_end_array(cli_json *j) { close_level(j, ']'); }

static void write_string(FILE *out, const char *s)
{
    fputc('"', out);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
            p++;
        } else if (c == '\n') {
            fputs("\\n", out);
            p++;
        } else if (c == '\r') {
            fputs("\\r", out);
            p++;
        } else if (c == '\t') {
            fputs("\\t", out);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            p++;
        } else {
            size_t n = cli_utf8_len(p);
            if (n) {
                fwrite(p, 1, n, out);
                p += n;
            } else {
                /* Not UTF-8: the replacement character keeps the output
                 * valid while showing that a byte was lost. */
                fputs("\\ufffd", out);
                p++;
            }
        }
    }
    fputc('"', out);
}

void json_key(cli_json *j, const char *key)
{
    before_item(j);
    write_string(j->out, key);
    fputs(": ", j->out);
    j->after_key = true;
}

void json_string(cli_json *j, const char *s)
{
    before_item(j);
    if (s)
        write_string(j->out, s);
    else
        fputs("null", j->out);
}

void json_int(cli_json *j, int64_t v)
{
    before_item(j);
    fprintf(j->out, "%" PRId64, v);
}

void json_uint(cli_json *j, uint64_t v)
{
    before_item(j);
    fprintf(j->out, "%" PRIu64, v);
}

void json_hex(cli_json *j, uint64_t v)
{
    before_item(j);
    fprintf(j->out, "\"0x%" PRIx64 "\"", v);
}

void json_hex128(cli_json *j, cli_u128 v)
{
    before_item(j);
    if (v >> 64)
        fprintf(j->out, "\"0x%" PRIx64 "%016" PRIx64 "\"", (uint64_t)(v >> 64),
                (uint64_t)v);
    else
        fprintf(j->out, "\"0x%" PRIx64 "\"", (uint64_t)v);
}

void json_bool(cli_json *j, bool v)
{
    before_item(j);
    fputs(v ? "true" : "false", j->out);
}

void json_null(cli_json *j)
{
    before_item(j);
    fputs("null", j->out);
}

void json_finish(cli_json *j)
{
    fputc('\n', j->out);
}

void json_range(cli_json *j, const mt_range *r)
{
    json_begin_object(j);
    json_key(j, "start");
    json_hex(j, r->start);
    json_key(j, "last");
    json_hex(j, r->last);
    json_key(j, "size");
    json_hex128(j, (cli_u128)r->last - r->start + 1);
    json_key(j, "region");
    json_string(j, cli_name(r->region));
    json_key(j, "priority");
    json_int(j, mt_region_priority(r->region));
    json_key(j, "type");
    json_string(j, cli_range_type(r));
    json_key(j, "offset");
    json_hex(j, r->offset_in_region);
    json_key(j, "readonly");
    json_bool(j, r->readonly);
    json_key(j, "nonvolatile");
    json_bool(j, r->nonvolatile);
    json_end_object(j);
}
