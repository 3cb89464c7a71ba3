/*
 * The JSON writer behind every `--json` option, on json-c (Debian's
 * libjson-c-dev): the commands call it as a stream (begin, key, value,
 * end) and it builds the document as json-c objects, printed whole by
 * json_finish. Region names are arbitrary bytes from a dump: bytes that are
 * not UTF-8 become U+FFFD here, since json-c passes strings through as they
 * are and JSON must be valid UTF-8.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jsonc.h"

/* Out of memory is fatal in the tool (see cli_alloc). */
static json_object *checked(json_object *o)
{
    if (!o) {
        fputs("memtree: out of memory\n", stderr);
        exit(CLI_USAGE);
    }
    return o;
}

void json_init(cli_json *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Places a new value: the document itself, an array's next item, or the
 * value of the key just given. */
static void put(cli_json *j, json_object *v)
{
    if (j->depth == 0) {
        json_object_put(j->root);
        j->root = v;
        return;
    }
    json_object *parent = j->stack[j->depth - 1];
    if (json_object_is_type(parent, json_type_array)) {
        if (json_object_array_add(parent, v))
            checked(NULL);
    } else {
        if (json_object_object_add(parent, j->key ? j->key : "", v))
            checked(NULL);
        free(j->key);
        j->key = NULL;
    }
}

static void open_level(cli_json *j, json_object *v)
{
    put(j, v);
    /* Deeper than any command nests: the value is kept, its contents go to
     * the deepest level (as the old writer flattened them). */
    if (j->depth < (int)(sizeof(j->stack) / sizeof(j->stack[0])))
        j->stack[j->depth++] = v;
}

static void close_level(cli_json *j)
{
    if (j->depth > 0)
        j->depth--;
}

void json_begin_object(cli_json *j) { open_level(j, checked(json_object_new_object())); }
void json_end_object(cli_json *j) { close_level(j); }
void json_begin_array(cli_json *j) { open_level(j, checked(json_object_new_array())); }
void json_end_array(cli_json *j) { close_level(j); }

/* s with every byte that does not start a valid UTF-8 sequence replaced by
 * U+FFFD (caller frees). */
static char *valid_utf8(const char *s)
{
    size_t n = strlen(s);
    char *out = cli_alloc(3 * n + 1, 1);
    char *w = out;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t len = *p < 0x80 ? 1 : cli_utf8_len(p);
        if (len) {
            memcpy(w, p, len);
            w += len;
            p += len;
        } else {
            memcpy(w, "\xef\xbf\xbd", 3);
            w += 3;
            p++;
        }
    }
    *w = '\0';
    return out;
}

void json_key(cli_json *j, const char *key)
{
    free(j->key);
    j->key = valid_utf8(key);
}

void json_string(cli_json *j, const char *s)
{
    if (!s) {
        put(j, NULL);
        return;
    }
    char *v = valid_utf8(s);
    put(j, checked(json_object_new_string(v)));
    free(v);
}

void json_int(cli_json *j, int64_t v)
{
    put(j, checked(json_object_new_int64(v)));
}

void json_uint(cli_json *j, uint64_t v)
{
    put(j, checked(json_object_new_uint64(v)));
}

void json_hex(cli_json *j, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
    put(j, checked(json_object_new_string(buf)));
}

void json_hex128(cli_json *j, cli_u128 v)
{
    char buf[40];
    if (v >> 64)
        snprintf(buf, sizeof(buf), "0x%" PRIx64 "%016" PRIx64, (uint64_t)(v >> 64),
                 (uint64_t)v);
    else
        snprintf(buf, sizeof(buf), "0x%" PRIx64, (uint64_t)v);
    put(j, checked(json_object_new_string(buf)));
}

void json_bool(cli_json *j, bool v)
{
    put(j, checked(json_object_new_boolean(v)));
}

void json_null(cli_json *j)
{
    put(j, NULL);
}

void json_finish(cli_json *j)
{
    const char *text = json_object_to_json_string_ext(
        j->root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                     JSON_C_TO_STRING_NOSLASHESCAPE);
    fputs(text ? text : "null", j->out);
    fputc('\n', j->out);
    json_object_put(j->root);
    j->root = NULL;
    free(j->key);
    j->key = NULL;
    j->depth = 0;
}

void json_range(cli_json *j, const mt_range *r)
{
    json_begin_object(j);
    json_field_hex(j, "start", r->start);
    json_field_hex(j, "last", r->last);
    json_field_hex128(j, "size", (cli_u128)r->last - r->start + 1);
    json_field_string(j, "region", cli_name(r->region));
    json_field_int(j, "priority", mt_region_priority(r->region));
    json_field_string(j, "type", mt_dump_range_type(r));
    json_field_hex(j, "offset", r->offset_in_region);
    json_field_bool(j, "readonly", r->readonly);
    json_field_bool(j, "nonvolatile", r->nonvolatile);
    json_end_object(j);
}

/* json_field_KIND: the key, then json_KIND of the value. */
#define JSON_FIELD(kind, type)                                  \
    void json_field_##kind(cli_json *j, const char *key, type v) \
    {                                                           \
        json_key(j, key);                                       \
        json_##kind(j, v);                                      \
    }

JSON_FIELD(string, const char *)
JSON_FIELD(int, int64_t)
JSON_FIELD(uint, uint64_t)
JSON_FIELD(hex, uint64_t)
JSON_FIELD(hex128, cli_u128)
JSON_FIELD(bool, bool)
