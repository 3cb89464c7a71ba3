/*
 * `memtree draw FILE -O OUT.svg`: one SVG picture with a column per distinct
 * view. Each range is a band coloured by what answers there (ram, rom,
 * romd, ramd, i/o) and labelled with its region; unassigned stretches are
 * hatched. Heights grow with the logarithm of the size and gaps get a fixed
 * small height with their size written in, so a 4 KiB device stays visible
 * beside 4 GiB of RAM in a 2^64 space.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: memtree draw [FILE] -O OUT.svg [-o] [--as NAME] [--flat FLATFILE]\n"
    "\n"
    "Draws the flat views as an SVG picture: one column per distinct view\n"
    "(address spaces sharing a view share the column), ranges as bands\n"
    "coloured by kind and labelled with their region, unassigned stretches\n"
    "hatched. Heights follow the logarithm of the size and gaps are\n"
    "compressed, so small devices stay visible in a 64-bit space.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default: the bundled x86 pc machine\n"
    "  -O, --output OUT  the SVG file to write (- for standard output)\n"
    "  -o, --owner     put each region's owner in its tooltip (QEMU's -o; -o\n"
    "                  means owners in every command)\n"
    "  --as NAME       only the views of the address spaces called NAME\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine\n"
    "  --strict        exit 1 if the flat dump disagrees with the views\n"
    "  --max-input SIZE  read at most SIZE bytes of each input (512M, 2G;\n"
    "                  default: MEMTREE_MAX_INPUT, else 1G)\n"
    "  -h, --help      this help\n"
    "\n"
    "Examples:\n"
    "  memtree draw -O map.svg -o --as memory\n";

enum { OPT_AS = 1000, OPT_FLAT };

static const cli_option options[] = {
    {"output", 'O', true, 'O'},
    {"owner", 'o', false, 'o'},
    {"as", 0, true, OPT_AS},
    {"flat", 0, true, OPT_FLAT},
    {NULL, 0, false, 0},
};

/* Geometry, in SVG user units (pixels). */
enum {
    MARGIN = 20,
    ADDR_W = 118,     /* the start-address column */
    BAND_W = 230,
    SIZE_W = 74,      /* the size column, right of the band */
    COL_GAP = 28,
    COL_W = ADDR_W + BAND_W + SIZE_W,
    GAP_H = 18,       /* every unassigned stretch, whatever its size */
    MIN_H = 16,
    MAX_H = 96,
    LEGEND_H = 90,
    MIN_WIDTH = 620,
    LINE_H = 14,
};

/* Each kind has a paler shade for a region's own backing showing between
 * its subregions (the PC `io` region behind every port, `vga.mmio` around
 * its registers), so that the devices stand out from the background. */
static const struct {
    const char *type;
    const char *fill, *pale;
} colours[] = {
    {"ram", "#8cd18c", "#cdebcd"},
    {"rom", "#f2c45a", "#f9e3b0"},
    {"romd", "#e8955a", "#f5cfb3"},
    {"ramd", "#61c0bf", "#bfe5e4"},
    {"i/o", "#7eaee0", "#d3e3f5"},
};

static const char *fill_for(const char *type, bool background)
{
    for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++)
        if (!strcmp(colours[i].type, type))
            return background ? colours[i].pale : colours[i].fill;
    return "#cccccc";
}

/* Band height: a few pixels per doubling, so every size class is visible. */
static int band_height(cli_u128 size)
{
    int bits = 0;
    while (size > 1) {
        size >>= 1;
        bits++;
    }
    int h = MIN_H + (bits > 8 ? 3 * (bits - 8) : 0);
    return h > MAX_H ? MAX_H : h;
}

/* Text content for SVG, cut to max_chars characters with an ellipsis. */
static void xml_text(FILE *out, const char *s, size_t max_chars)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (++n > max_chars) {
            fputs("\xe2\x80\xa6", out); /* … */
            return;
        }
        size_t len = cli_utf8_len(p);
        switch (*p) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default:
            if (!len)
                fputs("\xef\xbf\xbd", out); /* U+FFFD for a byte that is not UTF-8 */
            else if (*p < 0x20)
                fputc('?', out); /* XML 1.0 forbids it even escaped */
            else
                fwrite(p, 1, len, out);
        }
        p += len ? len : 1;
    }
}

/* One stretch of a column: a range, or an unassigned gap (range NULL). */
struct segment {
    const mt_range *range;
    uint64_t first, last;
    int h;
};

static size_t segments(const mt_view *v, struct segment **out)
{
    const mt_range *r = mt_view_ranges(v);
    size_t n = mt_view_range_count(v);
    struct segment *s = cli_alloc(2 * n + 2, sizeof(*s));
    size_t k = 0;
    uint64_t at = 0;
    bool done = false; /* `at` has passed the top of the space */
    for (size_t i = 0; i < n; i++) {
        if (r[i].start > at)
            s[k++] = (struct segment){NULL, at, r[i].start - 1, GAP_H};
        s[k++] = (struct segment){&r[i], r[i].start, r[i].last,
                                  band_height((cli_u128)r[i].last - r[i].start + 1)};
        if (r[i].last == UINT64_MAX)
            done = true;
        else
            at = r[i].last + 1;
    }
    if (!done)
        s[k++] = (struct segment){NULL, at, UINT64_MAX, GAP_H};
    *out = s;
    return k;
}

static int column_height(const struct segment *s, size_t n, size_t header_lines)
{
    int h = (int)header_lines * LINE_H + 10;
    for (size_t i = 0; i < n; i++)
        h += s[i].h;
    return h + LINE_H; /* the closing address */
}

static void draw_column(FILE *out, int x, int y, const cli_view_group *g,
                        const bool *selected, const struct segment *s, size_t n,
                        bool owners)
{
    /* Header: the address spaces, then the root and the range count. */
    for (size_t k = 0; k < g->nspaces; k++) {
        if (!selected[k])
            continue;
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"as\">", x, y + 11);
        xml_text(out, mt_address_space_name(g->spaces[k]), 60);
        fputs("</text>\n", out);
        y += LINE_H;
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"root\">root: ", x, y + 11);
    xml_text(out, mt_view_is_empty_view(g->view) ? "(none)" : mt_view_root_name(g->view), 40);
    fprintf(out, ", %zu range%s</text>\n", mt_view_range_count(g->view),
            mt_view_range_count(g->view) == 1 ? "" : "s");
    y += LINE_H + 10;

    int bx = x + ADDR_W;
    for (size_t i = 0; i < n; i++) {
        const struct segment *sg = &s[i];
        char size[32];
        cli_human_size((cli_u128)sg->last - sg->first + 1, size, sizeof(size));
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"addr\">%016" PRIx64 "</text>\n",
                x, y + 9, sg->first);
        if (!sg->range) {
            fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                    "class=\"gap\"/>\n", bx, y, BAND_W, sg->h);
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"gaplabel\">"
                    "\xe2\x80\xa6 %s unassigned \xe2\x80\xa6</text>\n",
                    bx + BAND_W / 2, y + sg->h / 2 + 4, size);
        } else {
            const mt_range *r = sg->range;
            const char *type = cli_range_type(r);
            bool background = mt_region_first_subregion(r->region) != NULL;
            fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                    "fill=\"%s\" class=\"band%s\"><title>", bx, y, BAND_W, sg->h,
                    fill_for(type, background), r->nonvolatile ? " nv" : "");
            /* The tooltip is the flat-dump line. */
            fprintf(out, "%016" PRIx64 "-%016" PRIx64 " (%s%s): ", r->start,
                    r->last, r->nonvolatile ? "nv-" : "", type);
            xml_text(out, cli_name(r->region), 200);
            if (r->offset_in_region)
                fprintf(out, " @%016" PRIx64, r->offset_in_region);
            if (owners && cli_owner(r->region)) {
                fputs(" owner: ", out);
                xml_text(out, cli_owner(r->region), 200);
            }
            fputs("</title></rect>\n", out);
            int fs = sg->h < 20 ? 10 : 11;
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"name\" font-size=\"%d\">",
                    bx + 5, y + sg->h / 2 + fs / 2 - 1, fs);
            xml_text(out, cli_name(r->region), r->offset_in_region ? 22 : 36);
            if (r->offset_in_region)
                fprintf(out, " @%" PRIx64, r->offset_in_region);
            fputs("</text>\n", out);
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"size\">%s %s%s</text>\n",
                    bx + BAND_W + 5, y + sg->h / 2 + 4, size,
                    r->nonvolatile ? "nv-" : "", type);
        }
        y += sg->h;
    }
    uint64_t top = n ? s[n - 1].last : 0;
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"addr\">%016" PRIx64 "</text>\n",
            x, y + 10, top);
}

static void draw_legend(FILE *out, const char *title)
{
    const char *slash = strrchr(title, '/');
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"title\">memtree: ", MARGIN, MARGIN + 8);
    xml_text(out, slash ? slash + 1 : title, 120);
    fputs("</text>\n", out);
    int x = MARGIN, y = MARGIN + 22;
    for (size_t i = 0; i < sizeof(colours) / sizeof(colours[0]); i++) {
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"14\" fill=\"%s\" "
                "class=\"band\"/><text x=\"%d\" y=\"%d\" class=\"legend\">%s</text>\n",
                x, y, colours[i].fill, x + 27, y + 11, colours[i].type);
        x += 80;
    }
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"22\" height=\"14\" class=\"gap\"/>"
            "<text x=\"%d\" y=\"%d\" class=\"legend\">unassigned</text>\n",
            x, y, x + 27, y + 11);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"legend\">Paler shade: a region's "
            "own backing between its subregions.</text>\n", MARGIN, y + 32);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"legend\">Height grows with "
            "log2(size); unassigned stretches are not to scale.</text>\n",
            MARGIN, y + 46);
}

static const char style[] =
    "<style>\n"
    "text { font-family: 'DejaVu Sans', Arial, sans-serif; fill: #222; }\n"
    ".title { font-size: 15px; font-weight: bold; }\n"
    ".as { font-size: 12px; font-weight: bold; }\n"
    ".root, .legend { font-size: 11px; }\n"
    ".addr { font-family: 'DejaVu Sans Mono', monospace; font-size: 10px; fill: #555; }\n"
    ".size { font-size: 10px; fill: #444; }\n"
    ".gaplabel { font-size: 10px; fill: #666; text-anchor: middle; }\n"
    ".band { stroke: #333; stroke-width: 0.6; }\n"
    ".nv { stroke-dasharray: 3 2; }\n"
    ".gap { fill: url(#hatch); stroke: #bbb; stroke-width: 0.6; }\n"
    "</style>\n"
    "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f4f4f4\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d0d0d0\" stroke-width=\"2\"/>"
    "</pattern></defs>\n";

static int draw(FILE *out, const cli_machine *cm, const char *as_name, bool owners)
{
    cli_view_group *g;
    size_t ng = cli_view_groups(cm->ctx, &g);
    bool **sel = cli_alloc(ng, sizeof(*sel));
    struct segment **seg = cli_alloc(ng, sizeof(*seg));
    size_t *nseg = cli_alloc(ng, sizeof(*nseg));
    int width = MARGIN, height = 0, columns = 0;
    for (size_t i = 0; i < ng; i++) {
        sel[i] = cli_alloc(g[i].nspaces, sizeof(bool));
        size_t lines = 0;
        for (size_t k = 0; k < g[i].nspaces; k++) {
            sel[i][k] = !as_name || !strcmp(as_name, mt_address_space_name(g[i].spaces[k]));
            lines += sel[i][k];
        }
        if (!lines)
            continue;
        nseg[i] = segments(g[i].view, &seg[i]);
        int h = column_height(seg[i], nseg[i], lines + 1);
        if (h > height)
            height = h;
        width += COL_W + COL_GAP;
        columns++;
    }
    if (!columns) {
        cli_error("no address space is called '%s' in %s", as_name, cm->path);
        for (size_t i = 0; i < ng; i++)
            free(sel[i]);
        free(sel);
        free(seg);
        free(nseg);
        cli_view_groups_free(g, ng);
        return CLI_USAGE;
    }
    width += MARGIN - COL_GAP;
    if (width < MIN_WIDTH)
        width = MIN_WIDTH; /* room for the legend */
    height += 2 * MARGIN + LEGEND_H;

    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n", width, height, width, height);
    fputs(style, out);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height);
    draw_legend(out, cm->path);
    int x = MARGIN;
    for (size_t i = 0; i < ng; i++) {
        if (!seg[i])
            continue;
        fprintf(out, "<g>\n");
        draw_column(out, x, MARGIN + LEGEND_H, &g[i], sel[i], seg[i], nseg[i], owners);
        fprintf(out, "</g>\n");
        x += COL_W + COL_GAP;
    }
    fputs("</svg>\n", out);

    for (size_t i = 0; i < ng; i++) {
        free(sel[i]);
        free(seg[i]);
    }
    free(sel);
    free(seg);
    free(nseg);
    cli_view_groups_free(g, ng);
    return CLI_OK;
}

int cmd_draw(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 1);
    const char *value, *flat = NULL, *as_name = NULL, *output = NULL;
    bool owners = false;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case 'h':
            cli_print_help(help);
            return CLI_OK;
        case 'O':
            output = value;
            break;
        case 'o':
            owners = true;
            break;
        case OPT_AS:
            as_name = value;
            break;
        case OPT_FLAT:
            flat = value;
            break;
        }
    }
    if (id < 0)
        return CLI_USAGE;
    if (!output) {
        /* `draw -o pic.svg` was the output before -o meant owners here as
         * everywhere else: say so rather than read pic.svg as the machine. */
        size_t len = a.npos ? strlen(a.pos[0]) : 0;
        if (owners && len > 4 && !strcmp(a.pos[0] + len - 4, ".svg"))
            return cli_usage_error("-o means owners (as in show and flat); write "
                                   "the picture with -O %s", a.pos[0]);
        return cli_usage_error("missing -O OUT.svg");
    }

    cli_machine cm;
    int rc = cli_load(a.npos ? a.pos[0] : NULL, flat, &cm, NULL, 0, NULL);
    if (rc)
        return rc;
    bool to_stdout = !strcmp(output, "-");
    FILE *out = to_stdout ? stdout : fopen(output, "w");
    if (!out) {
        cli_error("cannot write '%s': %s", output, strerror(errno));
        cli_unload(&cm);
        return CLI_USAGE;
    }
    rc = draw(out, &cm, as_name, owners);
    bool failed = ferror(out) != 0;
    if (!to_stdout && fclose(out) != 0)
        failed = true;
    if (failed && !rc) {
        cli_error("writing '%s' failed", output);
        rc = CLI_USAGE;
    }
    if (rc && !to_stdout)
        remove(output);
    cli_unload(&cm);
    return rc;
}
