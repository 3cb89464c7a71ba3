/*
 * `memtree show [FILE]`: the region tree, as QEMU's `info mtree` prints it
 * (with -D and -o as in QEMU), in memtree's lossless map format, or as JSON
 * (every region reachable from an address space once, with its children in
 * render order, so that scripts need not parse the indentation).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: memtree show [FILE] [--format qemu|map] [-D] [-o] [--flat FLATFILE]\n"
    "                    [--json] [--inferred]\n"
    "\n"
    "Prints the region tree of every address space, then every alias target,\n"
    "like QEMU's `info mtree` (the default, --format qemu), or in memtree's map\n"
    "format (--format map), which keeps what QEMU's dump loses (region\n"
    "identities, container versus MMIO, read-only aliases, exact sizes) and\n"
    "reads back unchanged.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default: the bundled x86 pc machine\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine, used to\n"
    "                  settle what the tree dump cannot tell (default: a\n"
    "                  sibling NAME.flat.txt or flat.txt when there is one)\n"
    "  -D, --disabled  also print disabled regions (QEMU's -D)\n"
    "  -o, --owner     append owners (QEMU's -o)\n"
    "  --format FMT    qemu (default) or map\n"
    "  --json          every region once, with ids, kinds and children\n"
    "  --inferred      list the facts inferred from the flat dump instead\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP
    "\n"
    "Examples:\n"
    "  memtree show -o\n"
    "  memtree show -o -D firmware\n";

enum { OPT_FORMAT = 1000, OPT_INFERRED };

static const cli_option options[] = {
    {"format", 0, true, OPT_FORMAT},
    {"disabled", 'D', false, 'D'},
    {"owner", 'o', false, 'o'},
    CLI_OPTION_JSON,
    CLI_OPTION_FLAT,
    {"inferred", 0, false, OPT_INFERRED},
    {NULL, 0, false, 0},
};

/* Region identity -> index in the JSON "regions" array. */
struct id_index {
    uint64_t id;
    size_t index;
};

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = ((const struct id_index *)a)->id;
    uint64_t y = ((const struct id_index *)b)->id;
    return x < y ? -1 : x > y;
}

static void json_region_ref(cli_json *j, const struct id_index *map, size_t n,
                            const mt_region *r)
{
    if (!r) {
        json_null(j);
        return;
    }
    struct id_index key = {mt_region_id(r), 0};
    const struct id_index *hit = bsearch(&key, map, n, sizeof(*map), cmp_id);
    /* Everything a reachable region points at is reachable itself, except
     * the container of an alias target mapped outside every address space. */
    if (hit)
        json_uint(j, hit->index);
    else
        json_null(j);
}

static void print_inferred_json(cli_json *j, const cli_machine *cm)
{
    json_key(j, "inferred");
    json_begin_array(j);
    size_t n = mt_machine_inference_count(cm->m);
    for (size_t i = 0; i < n; i++)
        json_string(j, mt_machine_inference(cm->m, i));
    json_end_array(j);
}

static const char *format_name(mt_file_format f)
{
    switch (f) {
    case MT_FORMAT_MODEL:
        return "model";
    case MT_FORMAT_QEMU:
        return "qemu";
    case MT_FORMAT_MAP:
        return "map";
    case MT_FORMAT_AUTO:
        break;
    }
    return NULL;
}

static int show_json(const cli_machine *cm)
{
    const mt_region **regions;
    size_t n = cli_reachable_regions(cm->ctx, &regions);
    struct id_index *map = cli_alloc(n, sizeof(*map));
    for (size_t i = 0; i < n; i++)
        map[i] = (struct id_index){mt_region_id(regions[i]), i};
    qsort(map, n, sizeof(*map), cmp_id);

    cli_json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_field_string(&j, "file", cm->path);
    json_field_string(&j, "flat_file", cm->flat_path);
    json_field_string(&j, "format", format_name(mt_machine_format(cm->m)));

    json_key(&j, "address_spaces");
    json_begin_array(&j);
    for (mt_address_space *as = mt_context_first_address_space(cm->ctx); as;
         as = mt_address_space_next(as)) {
        json_begin_object(&j);
        json_field_string(&j, "name", mt_address_space_name(as));
        json_key(&j, "root");
        json_region_ref(&j, map, n, mt_address_space_root(as));
        const mt_view *v = mt_address_space_view(as);
        json_field_string(&j, "flat_root", mt_view_is_empty_view(v) ? NULL : mt_view_root_name(v));
        json_end_object(&j);
    }
    json_end_array(&j);

    json_key(&j, "regions");
    json_begin_array(&j);
    for (size_t i = 0; i < n; i++) {
        const mt_region *r = regions[i];
        json_begin_object(&j);
        json_field_uint(&j, "index", i);
        json_field_string(&j, "label", mt_machine_region_label(cm->m, r));
        json_field_string(&j, "name", mt_region_name(r));
        json_field_string(&j, "kind", cli_region_kind(r));
        json_field_string(&j, "type", mt_dump_region_type(r));
        json_field_hex(&j, "addr", mt_region_addr(r));
        json_field_hex128(&j, "size", cli_region_size(r));
        json_field_int(&j, "priority", mt_region_priority(r));
        json_field_bool(&j, "enabled", mt_region_enabled(r));
        json_field_bool(&j, "readonly", mt_region_readonly(r));
        json_field_bool(&j, "nonvolatile", mt_region_nonvolatile(r));
        if (mt_region_get_kind(r) == MT_KIND_ROM_DEVICE) {
            json_field_bool(&j, "romd", mt_region_romd(r));
        }
        json_key(&j, "container");
        json_region_ref(&j, map, n, mt_region_container(r));
        if (mt_region_get_kind(r) == MT_KIND_ALIAS) {
            json_key(&j, "alias_target");
            json_region_ref(&j, map, n, mt_region_alias_target(r));
            json_field_hex(&j, "alias_offset", mt_region_alias_offset(r));
        }
        const mt_owner *owner = mt_region_owner(r);
        json_field_string(&j, "owner", owner ? mt_owner_label(owner) : NULL);
        json_key(&j, "children");
        json_begin_array(&j);
        for (const mt_region *c = mt_region_first_subregion(r); c;
             c = mt_region_next_sibling(c))
            json_region_ref(&j, map, n, c);
        json_end_array(&j);
        json_end_object(&j);
    }
    json_end_array(&j);
    print_inferred_json(&j, cm);
    json_end_object(&j);
    json_finish(&j);
    free(map);
    free(regions);
    return CLI_OK;
}

static int show_inferred(const cli_machine *cm)
{
    size_t n = mt_machine_inference_count(cm->m);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", mt_machine_inference(cm->m, i));
    if (!n)
        fprintf(stderr, "memtree show: nothing was inferred from %s\n", cm->path);
    return CLI_OK;
}

int cmd_show(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 1, help);
    const char *value;
    unsigned flags = 0;
    bool map = false, inferred = false;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case 'D':
            flags |= MT_DUMP_DISABLED;
            break;
        case 'o':
            flags |= MT_DUMP_OWNER;
            break;
        case OPT_FORMAT:
            if (!strcmp(value, "map"))
                map = true;
            else if (!strcmp(value, "qemu"))
                map = false;
            else
                return cli_usage_error("unknown --format '%s' (qemu or map)", value);
            break;
        case OPT_INFERRED:
            inferred = true;
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    if (a.json && map)
        return cli_usage_error("--json and --format map exclude each other");

    cli_machine cm;
    int rc = cli_load(a.npos ? a.pos[0] : NULL, a.flat, &cm, NULL, 0, NULL);
    if (rc)
        return rc;
    if (inferred) {
        rc = show_inferred(&cm);
    } else if (a.json) {
        rc = show_json(&cm);
    } else {
        rc = cli_write_dump(&cm, flags, map);
    }
    cli_unload(&cm);
    return rc;
}
