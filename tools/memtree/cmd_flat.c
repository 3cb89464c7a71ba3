/*
 * `memtree flat [FILE]`: the flat views, as QEMU's `info mtree -f` prints
 * them (one block per distinct view, the address spaces sharing it listed
 * in the block), or the same blocks as JSON.
 */
#include "cli.h"

#include <stdlib.h>

static const char help[] =
    "usage: memtree flat [FILE] [-o] [--flat FLATFILE] [--json]\n"
    "\n"
    "Prints the flat views, the sorted non-overlapping ranges each address\n"
    "space resolves to, like QEMU's `info mtree -f`: one block per distinct\n"
    "view, listing every address space that shares it.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default: the bundled x86 pc machine\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine (default:\n"
    "                  a sibling NAME.flat.txt or flat.txt when there is one)\n"
    "  -o, --owner     append the owner of each range's region (QEMU's -o)\n"
    "  --json          the views as JSON\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP
    "\n"
    "Examples:\n"
    "  memtree flat -o\n"
    "  memtree flat firmware\n";


static const cli_option options[] = {
    {"owner", 'o', false, 'o'},
    CLI_OPTION_JSON,
    CLI_OPTION_FLAT,
    {NULL, 0, false, 0},
};

static void flat_json(const cli_machine *cm)
{
    cli_view_group *g;
    size_t ng = cli_view_groups(cm->ctx, &g);
    cli_json j;
    json_init(&j, stdout);
    json_begin_object(&j);
    json_field_string(&j, "file", cm->path);
    json_key(&j, "views");
    json_begin_array(&j);
    for (size_t i = 0; i < ng; i++) {
        json_begin_object(&j);
        json_field_uint(&j, "index", i);
        json_field_string(&j, "root", mt_view_is_empty_view(g[i].view)
                            ? NULL : mt_view_root_name(g[i].view));
        json_key(&j, "address_spaces");
        json_begin_array(&j);
        for (size_t k = 0; k < g[i].nspaces; k++) {
            json_begin_object(&j);
            json_field_string(&j, "name", mt_address_space_name(g[i].spaces[k]));
            json_field_string(&j, "root", cli_name(mt_address_space_root(g[i].spaces[k])));
            json_end_object(&j);
        }
        json_end_array(&j);
        json_key(&j, "ranges");
        json_begin_array(&j);
        mt_view_cursor c = MT_VIEW_CURSOR_INIT;
        for (const mt_range *r; (r = mt_view_next_range(g[i].view, &c)) != NULL;)
            json_range(&j, r);
        json_end_array(&j);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_end_object(&j);
    json_finish(&j);
    cli_view_groups_free(g, ng);
}

int cmd_flat(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 1, help);
    const char *value;
    unsigned flags = MT_DUMP_FLAT;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case 'o':
            flags |= MT_DUMP_OWNER;
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);

    cli_machine cm;
    int rc = cli_load(a.npos ? a.pos[0] : NULL, a.flat, &cm, NULL, 0, NULL);
    if (rc)
        return rc;
    if (a.json) {
        flat_json(&cm);
    } else {
        rc = cli_write_dump(&cm, flags, false);
    }
    cli_unload(&cm);
    return rc;
}
