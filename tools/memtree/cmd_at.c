/*
 * `memtree at [FILE] ADDR`: what answers at an address in each address
 * space: the view's range, the terminal region and the offset inside it,
 * and the path of containers and aliases from the flat-root down to it.
 * The view says who answers; the path is rebuilt by walking the tree with
 * the renderer's rules (render order, first rendered wins, alias
 * arithmetic), and must end at the view's region. Then every other region
 * that covers the address and does not answer, with why and its owner
 * (the walks are in hidden.c, shared with `draw`).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: memtree at [FILE] ADDR [--as NAME] [--flat FLATFILE] [--json]\n"
    "\n"
    "Tells what answers at ADDR in each address space: the range of the view,\n"
    "the region that terminates it and the offset inside that region, and the\n"
    "path of containers and aliases that leads there from the view's root.\n"
    "Then every other region that covers ADDR and does not answer, with why:\n"
    "lower priority, earlier sibling (same priority, added later), disabled,\n"
    "clipped (outside a container's or alias's window), zero size, alias\n"
    "offset beyond target, covered by its subregion; with its owner, a\n"
    "read-only alias it is seen through, and the chain of aliases leading to\n"
    "it. Address spaces sharing a view are answered together.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default (ADDR alone): the bundled x86 pc machine\n"
    "  ADDR            0x for hexadecimal (0xfee00000), else decimal (4096);\n"
    "                  hex digits without 0x are an error\n"
    "  --as NAME       only the address spaces called NAME (names repeat: all\n"
    "                  of them)\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine\n"
    "  --json          the answers as JSON\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP
    "\n"
    "Examples:\n"
    "  memtree at 0xfee00000 --as memory\n"
    "  memtree at firmware 0xc0000 --as memory\n"
    "  memtree at 4096 --json\n"
    "(reset and firmware: case folders written by `memtree capture`)\n";

enum { OPT_AS = 1000 };

static const cli_option options[] = {
    {"as", 0, true, OPT_AS},
    CLI_OPTION_JSON,
    CLI_OPTION_FLAT,
    {NULL, 0, false, 0},
};

/* A region's extent in address-space coordinates, clipped to 64 bits. */
static void extent(const cli_step *s, uint64_t *first, uint64_t *last)
{
    cli_i128 lo = s->base;
    cli_i128 hi = s->base + (cli_i128)cli_region_size(s->r) - 1;
    cli_i128 top = (cli_i128)UINT64_MAX;
    if (hi < lo)
        hi = lo; /* size 0 prints S-S, as QEMU does */
    *first = lo < 0 ? 0 : lo > top ? UINT64_MAX : (uint64_t)lo;
    *last = hi < 0 ? 0 : hi > top ? UINT64_MAX : (uint64_t)hi;
}

struct answer {
    uint64_t addr;
    const mt_range *range;
    cli_path path;
    bool path_ok;       /* the walk ended at the range's region and offset */
    uint64_t offset;    /* inside the terminal region */
    cli_losers losers; /* what covers addr and does not answer */
};

static void answer_view(const mt_view *v, const mt_region *as_root, uint64_t addr,
                        struct answer *ans)
{
    memset(ans, 0, sizeof(*ans));
    ans->addr = addr;
    ans->range = mt_view_find_range(v, addr);
    /* Unassigned addresses have losers too: a disabled BAR, a device
     * outside its bridge's window. */
    cli_find_losers(v, as_root, ans->range ? ans->range->region : NULL, addr, &ans->losers);
    if (!ans->range)
        return;
    ans->offset = ans->range->offset_in_region + (addr - ans->range->start);
    const mt_region *root = mt_view_root(v);
    if (!root)
        return;
    const mt_region *hit = cli_resolve(root, 0, addr, &ans->path);
    if (hit == ans->range->region && ans->path.n) {
        const cli_step *last = &ans->path.s[ans->path.n - 1];
        ans->path_ok = (cli_i128)addr - last->base == (cli_i128)ans->offset;
    }
}


/* The aliases on a path, as "a +0x10 -> b +0x0 -> region". */
static void print_alias_chain(FILE *out, const cli_path *p, const char *indent)
{
    bool any = false;
    for (size_t i = 0; i < p->n; i++)
        any |= mt_region_get_kind(p->s[i].r) == MT_KIND_ALIAS;
    if (!any)
        return;
    fprintf(out, "%salias chain: ", indent);
    bool first = true;
    for (size_t i = 0; i < p->n; i++) {
        const mt_region *r = p->s[i].r;
        if (mt_region_get_kind(r) != MT_KIND_ALIAS)
            continue;
        fprintf(out, "%s%s @0x%" PRIx64 " -> %s +0x%" PRIx64, first ? "" : ", ",
                cli_name(r), mt_region_addr(r), cli_name(mt_region_alias_target(r)),
                mt_region_alias_offset(r));
        first = false;
    }
    fputc('\n', out);
}

/* A read-only alias on the way makes a writable region read-only here. */
static const mt_region *readonly_wrapper(const cli_path *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (mt_region_get_kind(p->s[i].r) == MT_KIND_ALIAS && mt_region_readonly(p->s[i].r))
            return p->s[i].r;
    return NULL;
}

static void print_losers(const cli_losers *ls, uint64_t addr)
{
    if (ls->cut)
        printf("  (the search below was cut short: aliases loop through their own "
               "container too often, or the tree is very deep)\n");
    if (!ls->n) {
        printf("  hidden here: nothing else covers this address\n");
        return;
    }
    printf("  hidden here (%zu):\n", ls->n);
    for (size_t i = 0; i < ls->n; i++) {
        const cli_loser *l = &ls->l[i];
        const char *owner = cli_owner(l->r);
        printf("    %s (%s, prio %" PRId32 ") at offset 0x%" PRIx64 "%s%s%s\n",
               cli_name(l->r), cli_region_kind(l->r), mt_region_priority(l->r),
               (uint64_t)((cli_i128)addr - l->base), owner ? ", owner " : "",
               owner ? owner : "", mt_region_enabled(l->r) ? "" : " [disabled]");
        printf("      why: ");
        cli_explain_loser(stdout, l);
        putchar('\n');
        const mt_region *ro = readonly_wrapper(&l->chain);
        if (ro)
            printf("      read-only wrapper: alias '%s'\n", cli_name(ro));
        print_alias_chain(stdout, &l->chain, "      ");
    }
}

/* Opens a region's object with its name (under `name_key`), kind and
 * priority, the fields every region in the answer starts with. */
static void json_region_head(cli_json *j, const char *name_key, const mt_region *r)
{
    json_begin_object(j);
    json_field_string(j, name_key, mt_region_name(r));
    json_field_string(j, "kind", cli_region_kind(r));
    json_field_int(j, "priority", mt_region_priority(r));
}

static void json_losers(cli_json *j, const cli_losers *ls, uint64_t addr)
{
    json_begin_array(j);
    for (size_t i = 0; i < ls->n; i++) {
        const cli_loser *l = &ls->l[i];
        json_region_head(j, "region", l->r);
        json_field_string(j, "owner", cli_owner(l->r));
        json_field_hex(j, "offset", (uint64_t)((cli_i128)addr - l->base));
        json_field_string(j, "why", cli_why_word(l->why));
        json_field_string(j, "by", l->by ? cli_name(l->by) : NULL);
        char buf[512];
        FILE *f = fmemopen(buf, sizeof(buf), "w");
        if (f) {
            cli_explain_loser(f, l);
            fputc('\0', f);
            fclose(f);
            buf[sizeof(buf) - 1] = '\0';
            json_field_string(j, "explanation", buf);
        }
        const mt_region *ro = readonly_wrapper(&l->chain);
        json_field_string(j, "readonly_wrapper", ro ? cli_name(ro) : NULL);
        json_key(j, "alias_chain");
        json_begin_array(j);
        for (size_t k = 0; k < l->chain.n; k++) {
            const mt_region *r = l->chain.s[k].r;
            if (mt_region_get_kind(r) != MT_KIND_ALIAS)
                continue;
            json_begin_object(j);
            json_field_string(j, "alias", cli_name(r));
            json_field_string(j, "target", cli_name(mt_region_alias_target(r)));
            json_field_hex(j, "offset", mt_region_alias_offset(r));
            json_end_object(j);
        }
        json_end_array(j);
        json_end_object(j);
    }
    json_end_array(j);
}

/* The ranges just below and above an unassigned address, for context. */
static void neighbours(const mt_view *v, uint64_t addr, const mt_range **below,
                       const mt_range **above)
{
    const mt_range *r = mt_view_ranges(v);
    size_t lo = cli_first_range_from(v, addr);
    *below = lo > 0 ? &r[lo - 1] : NULL;
    *above = lo < mt_view_range_count(v) ? &r[lo] : NULL;
}

static void print_step(const cli_step *s, size_t depth, bool last,
                       uint64_t offset)
{
    uint64_t first, end;
    extent(s, &first, &end);
    printf("    %*s%016" PRIx64 "-%016" PRIx64 " (prio %" PRId32 ", %s): ",
           (int)(2 * depth), "", first, end, mt_region_priority(s->r),
           cli_region_kind(s->r));
    if (mt_region_get_kind(s->r) == MT_KIND_ALIAS)
        printf("%s -> %s +0x%" PRIx64, cli_name(s->r),
               cli_name(mt_region_alias_target(s->r)), mt_region_alias_offset(s->r));
    else
        fputs(cli_name(s->r), stdout);
    if (mt_region_readonly(s->r) && mt_region_get_kind(s->r) != MT_KIND_RAM)
        fputs(" [readonly]", stdout);
    if (last)
        printf("  <- offset 0x%" PRIx64, offset);
    putchar('\n');
}

static void print_answer(const cli_view_group *g, const bool *selected,
                         uint64_t addr, const struct answer *ans)
{
    for (size_t k = 0; k < g->nspaces; k++)
        if (selected[k])
            printf("address-space: %s\n", mt_address_space_name(g->spaces[k]));
    if (!ans->range) {
        const mt_range *below, *above;
        neighbours(g->view, addr, &below, &above);
        printf("  %016" PRIx64 ": unassigned", addr);
        if (mt_view_is_empty_view(g->view))
            printf(" (the view is empty: root is (none))\n");
        else
            putchar('\n');
        if (below)
            printf("  below: %016" PRIx64 "-%016" PRIx64 " %s\n", below->start,
                   below->last, cli_name(below->region));
        if (above)
            printf("  above: %016" PRIx64 "-%016" PRIx64 " %s\n", above->start,
                   above->last, cli_name(above->region));
        if (ans->losers.n)
            print_losers(&ans->losers, addr);
        putchar('\n');
        return;
    }
    /* The path starts at the view's root; say so when the address space's
     * own root was skipped on the way there (docs/views.md, the flat-root). */
    const mt_region *root = mt_view_root(g->view);
    for (size_t k = 0; root && k < g->nspaces; k++) {
        if (selected[k] && mt_address_space_root(g->spaces[k]) != root) {
            printf("  view root: %s (the address space's root '%s' reduces to it)\n",
                   cli_name(root), cli_name(mt_address_space_root(g->spaces[k])));
            break;
        }
    }
    cli_print_range(stdout, "  ", ans->range);
    printf("  answer: %s (%s%s) at offset 0x%" PRIx64 "%s\n",
           cli_name(ans->range->region), ans->range->nonvolatile ? "nv-" : "",
           mt_dump_range_type(ans->range), ans->offset,
           ans->range->readonly ? ", read-only" : "");
    const char *owner = cli_owner(ans->range->region);
    if (owner)
        printf("  owner: %s\n", owner);
    if (ans->path_ok) {
        printf("  path:\n");
        for (size_t i = 0; i < ans->path.n; i++)
            print_step(&ans->path.s[i], i, i + 1 == ans->path.n, ans->offset);
        const mt_region *ro = readonly_wrapper(&ans->path);
        if (ro)
            printf("  read-only wrapper: alias '%s'\n", cli_name(ro));
    } else {
        printf("  path: not found (the tree does not render this range the way "
               "the view says)\n");
    }
    print_losers(&ans->losers, addr);
    putchar('\n');
}

static void json_answer(cli_json *j, const cli_view_group *g,
                        const bool *selected, const struct answer *ans)
{
    json_begin_object(j);
    json_key(j, "address_spaces");
    json_begin_array(j);
    for (size_t k = 0; k < g->nspaces; k++)
        if (selected[k])
            json_string(j, mt_address_space_name(g->spaces[k]));
    json_end_array(j);
    json_field_string(j, "flat_root", mt_view_is_empty_view(g->view) ? NULL : mt_view_root_name(g->view));
    json_field_bool(j, "assigned", ans->range != NULL);
    json_key(j, "hidden");
    json_losers(j, &ans->losers, ans->addr);
    if (ans->range) {
        json_key(j, "range");
        json_range(j, ans->range);
        json_field_string(j, "region", cli_name(ans->range->region));
        json_field_string(j, "kind", cli_region_kind(ans->range->region));
        json_field_hex(j, "offset", ans->offset);
        json_field_string(j, "owner", cli_owner(ans->range->region));
        json_key(j, "path");
        if (!ans->path_ok) {
            json_null(j);
        } else {
            json_begin_array(j);
            for (size_t i = 0; i < ans->path.n; i++) {
                const cli_step *s = &ans->path.s[i];
                uint64_t first, last;
                extent(s, &first, &last);
                json_region_head(j, "name", s->r);
                json_field_hex(j, "start", first);
                json_field_hex(j, "last", last);
                if (mt_region_get_kind(s->r) == MT_KIND_ALIAS) {
                    json_field_string(j, "alias_target", cli_name(mt_region_alias_target(s->r)));
                    json_field_hex(j, "alias_offset", mt_region_alias_offset(s->r));
                }
                json_end_object(j);
            }
            json_end_array(j);
        }
    }
    json_end_object(j);
}

int cmd_at(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 2, help);
    const char *value, *as_name = NULL;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case OPT_AS:
            as_name = value;
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    if (a.npos == 0)
        return cli_usage_error("missing ADDR");
    /* One argument is the address on the bundled machine. */
    const char *file = a.npos == 2 ? a.pos[0] : NULL;
    const char *addr_text = a.pos[a.npos - 1];
    uint64_t addr;
    const char *problem = cli_number_problem(addr_text, &addr);
    if (problem && a.npos == 1 && access(addr_text, F_OK) == 0)
        return cli_usage_error("missing ADDR after '%s'", addr_text);
    if (problem && a.npos == 2 && cli_parse_number(a.pos[0], &addr) &&
        access(addr_text, F_OK) == 0)
        return cli_usage_error("FILE comes before ADDR: memtree at %s %s",
                               addr_text, a.pos[0]);
    if (problem)
        return cli_usage_error("bad address '%s': %s; e.g. 0xfee00000 or 4096",
                               addr_text, problem);

    cli_machine cm;
    int rc = cli_load(file, a.flat, &cm, NULL, 0, NULL);
    if (rc)
        return rc;

    cli_view_group *g;
    size_t ng = cli_view_groups(cm.ctx, &g);
    if (as_name) {
        /* Checked before anything is printed, so that JSON stays whole. */
        size_t matched = 0;
        for (size_t i = 0; i < ng; i++)
            for (size_t k = 0; k < g[i].nspaces; k++)
                matched += !strcmp(as_name, mt_address_space_name(g[i].spaces[k]));
        if (!matched) {
            cli_error("no address space is called '%s' in %s", as_name, cm.path);
            cli_view_groups_free(g, ng);
            cli_unload(&cm);
            return CLI_USAGE;
        }
    }
    cli_json j;
    if (a.json) {
        json_init(&j, stdout);
        json_begin_object(&j);
        json_field_string(&j, "file", cm.path);
        json_field_hex(&j, "address", addr);
        json_key(&j, "answers");
        json_begin_array(&j);
    }
    for (size_t i = 0; i < ng; i++) {
        bool *selected = cli_alloc(g[i].nspaces, sizeof(bool));
        size_t nsel = 0;
        for (size_t k = 0; k < g[i].nspaces; k++) {
            selected[k] = !as_name ||
                          !strcmp(as_name, mt_address_space_name(g[i].spaces[k]));
            nsel += selected[k];
        }
        if (nsel) {
            struct answer ans;
            answer_view(g[i].view, mt_address_space_root(g[i].spaces[0]), addr, &ans);
            if (a.json)
                json_answer(&j, &g[i], selected, &ans);
            else
                print_answer(&g[i], selected, addr, &ans);
            free(ans.path.s);
            cli_losers_free(&ans.losers);
        }
        free(selected);
    }
    if (a.json) {
        json_end_array(&j);
        json_end_object(&j);
        json_finish(&j);
    }
    cli_view_groups_free(g, ng);
    cli_unload(&cm);
    return rc;
}
