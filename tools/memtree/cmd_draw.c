/*
 * `memtree draw FILE -O OUT.svg`: one SVG picture with a column per distinct
 * view. Each range is a band coloured by what answers there (ram, rom,
 * romd, ramd, i/o) and labelled with its region (and owner, with -o);
 * unassigned stretches are hatched. Heights grow with the logarithm of the
 * size and gaps get a fixed small height with their size written in, so a
 * 4 KiB device stays visible beside 4 GiB of RAM in a 2^64 space. Marks
 * beside each band show the regions hidden there (hidden.c says where and
 * why), and `--open` hands the picture to a browser.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char help[] =
    "usage: memtree draw [FILE] -O OUT.svg [-o] [--open] [--as NAME] [--flat FLATFILE]\n"
    "       memtree draw [FILE] --open [-o] [--as NAME] [--flat FLATFILE]\n"
    "\n"
    "Draws the flat views as an SVG picture: one column per distinct view\n"
    "(address spaces sharing a view share the column), ranges as bands\n"
    "coloured by kind and labelled with their region, unassigned stretches\n"
    "hatched. Heights follow the logarithm of the size and gaps are\n"
    "compressed, so small devices stay visible in a 64-bit space. Beside\n"
    "each band, marks show the regions hidden there: red where a region\n"
    "loses to a higher-priority or earlier one, grey where it cannot show\n"
    "(disabled, clipped to nothing, zero size, alias past its target); the\n"
    "mark's tooltip says which and why, as `memtree at` does.\n"
    "\n"
    "  FILE            a QEMU `info mtree [-o] [-D]` dump, a model.txt, a map,\n"
    "                  an oracle case folder, or - for standard input;\n"
    "                  default: the bundled x86 pc machine\n"
    "  -O, --output OUT  the SVG file to write (- for standard output)\n"
    "  -o, --owner     write each region's owner under its name where the band\n"
    "                  has room, and in its tooltip (QEMU's -o; -o means owners\n"
    "                  in every command)\n"
    "  --open          open the picture in a browser ($BROWSER, else xdg-open);\n"
    "                  without -O it goes to a temporary file; the path is\n"
    "                  printed, and said so if no browser can be started\n"
    "  --as NAME       only the views of the address spaces called NAME\n"
    "  --flat FLATFILE QEMU `info mtree -f` dump of the same machine\n"
    CLI_HELP_LOAD_OPTIONS
    CLI_HELP_HELP
    "\n"
    "Examples:\n"
    "  memtree draw -O map.svg -o --as memory\n";

enum { OPT_AS = 1000, OPT_OPEN };

static const cli_option options[] = {
    {"output", 'O', true, 'O'},
    {"owner", 'o', false, 'o'},
    {"as", 0, true, OPT_AS},
    CLI_OPTION_FLAT,
    {"open", 0, false, OPT_OPEN},
    {NULL, 0, false, 0},
};

/* Geometry, in SVG user units (pixels). */
enum {
    MARGIN = 20,
    ADDR_W = 118,     /* the start-address column */
    BAND_W = 230,
    LANE_W = 8,       /* each of the two hidden-region lanes beside the band */
    LANES_W = 2 * LANE_W + 6,
    SIZE_W = 74,      /* the size column, right of the lanes */
    NOTE_W = 230,     /* what is hidden there, right of the size: 40 characters */
    COL_GAP = 28,
    COL_W = ADDR_W + BAND_W + LANES_W + SIZE_W + NOTE_W,
    GAP_H = 18,       /* every unassigned stretch, whatever its size */
    MIN_H = 16,
    MAX_H = 96,
    LEGEND_H = 112,
    MIN_WIDTH = 700,
    MARK_MIN_H = 4,   /* a hidden 4 KiB BAR in 3 GiB of RAM stays visible */
    OWNER_MIN_H = 26, /* a band this tall has room for an owner line */
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

/* Which lane beside the band marks a hidden region: one for regions that
 * lose to another region (they would show without it), one for regions
 * that cannot show whatever else is mapped. */
enum lane { LANE_LOST, LANE_OFF, LANE_NONE };

static enum lane lane_of(cli_why why)
{
    switch (why) {
    case CLI_WHY_PRIORITY:
    case CLI_WHY_SIBLING:
        return LANE_LOST;
    case CLI_WHY_ZERO_SIZE:
    case CLI_WHY_ALIAS_BEYOND:
    case CLI_WHY_CLIPPED:
    case CLI_WHY_DISABLED:
    case CLI_WHY_LOOP:
        return LANE_OFF;
    case CLI_WHY_NONE:
    case CLI_WHY_SUBREGION:
        break;
    }
    /* A region's own backing under its subregions is the paler shade,
     * not something hidden. */
    return LANE_NONE;
}

/* A region hidden somewhere in a segment: where, and why at the first
 * address of that (the reason `memtree at` gives there). */
struct hidden_mark {
    const mt_region *r;
    uint64_t first, last;
    enum lane lane;
    cli_why why;
    char *why_text;
};

/* One stretch of a column: a range, or an unassigned gap (range NULL). */
struct segment {
    const mt_range *range;
    uint64_t first, last;
    int h;
    struct hidden_mark *marks;
    size_t nmarks;
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
            s[k++] = (struct segment){NULL, at, r[i].start - 1, GAP_H, NULL, 0};
        s[k++] = (struct segment){&r[i], r[i].start, r[i].last,
                                  band_height((cli_u128)r[i].last - r[i].start + 1),
                                  NULL, 0};
        if (r[i].last == UINT64_MAX)
            done = true;
        else
            at = r[i].last + 1;
    }
    if (!done)
        s[k++] = (struct segment){NULL, at, UINT64_MAX, GAP_H, NULL, 0};
    *out = s;
    return k;
}

static void free_segments(struct segment *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        for (size_t k = 0; k < s[i].nmarks; k++)
            free(s[i].marks[k].why_text);
        free(s[i].marks);
    }
    free(s);
}

/*
 * Attaches to each segment the regions hidden there. The stretches come
 * from one walk of the view's tree; the reason is asked once per region
 * and segment, at the first hidden address, so the cost grows with what
 * is hidden rather than with the size of the space.
 */
static void mark_hidden(const mt_view *v, const mt_region *as_root,
                        struct segment *s, size_t n)
{
    cli_hidden *h;
    size_t nh = cli_hidden_stretches(v, as_root, &h);
    cli_losers losers = {0};
    uint64_t losers_at = 0;
    bool have_losers = false;
    size_t from = 0; /* stretches before it end below the segment */
    for (size_t i = 0; i < n; i++) {
        struct segment *sg = &s[i];
        size_t cap = 0;
        for (size_t k = from; k < nh && h[k].first <= sg->last; k++) {
            if (h[k].last < sg->first)
                continue;
            uint64_t lo = h[k].first > sg->first ? h[k].first : sg->first;
            uint64_t hi = h[k].last < sg->last ? h[k].last : sg->last;
            /* A region reached twice (the BIOS through isa-bios and at the
             * top of 4 GiB) keeps one line per stretch, explained once. */
            size_t seen = sg->nmarks;
            for (size_t j = 0; j < sg->nmarks; j++)
                if (sg->marks[j].r == h[k].r)
                    seen = j;
            if (seen < sg->nmarks) {
                if (sg->nmarks == cap) {
                    cap *= 2;
                    sg->marks = cli_grow(sg->marks, cap, sizeof(*sg->marks));
                }
                struct hidden_mark copy = sg->marks[seen];
                copy.first = lo;
                copy.last = hi;
                copy.why_text = copy.why_text ? cli_strdup(copy.why_text) : NULL;
                sg->marks[sg->nmarks++] = copy;
                continue;
            }
            if (!have_losers || losers_at != lo) {
                cli_losers_free(&losers);
                cli_find_losers(v, as_root, sg->range ? sg->range->region : NULL, lo,
                                &losers);
                losers_at = lo;
                have_losers = true;
            }
            const cli_loser *l = NULL;
            for (size_t j = 0; j < losers.n && !l; j++)
                if (losers.l[j].r == h[k].r)
                    l = &losers.l[j];
            if (!l || lane_of(l->why) == LANE_NONE)
                continue;
            cli_reserve(&sg->marks, &cap, sg->nmarks + 1, sizeof(*sg->marks));
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            if (f) {
                cli_explain_loser(f, l);
                fclose(f);
            }
            sg->marks[sg->nmarks++] = (struct hidden_mark){
                h[k].r, lo, hi, lane_of(l->why), l->why, text};
        }
        /* Stretches are sorted by first address, not by last: only skip
         * ahead over the ones that end before every later segment. */
        while (from < nh && h[from].last < sg->last)
            from++;
    }
    cli_losers_free(&losers);
    free(h);
}

static int column_height(const struct segment *s, size_t n, size_t header_lines)
{
    int h = (int)header_lines * LINE_H + 10;
    for (size_t i = 0; i < n; i++)
        h += s[i].h;
    return h + LINE_H; /* the closing address */
}

/* The y of an address inside a segment drawn from y with height h: the
 * segment is linear inside even though the column is not. */
static double y_of(const struct segment *sg, int y, uint64_t addr, bool after)
{
    double span = (double)(sg->last - sg->first) + 1.0;
    double off = (double)(addr - sg->first) + (after ? 1.0 : 0.0);
    return y + sg->h * (off / span);
}

/* One lane's mark for a segment, with every hidden region of the lane in
 * its tooltip. Returns the mark's middle, or -1 if the lane is empty. */
static double draw_mark(FILE *out, int x, int y, const struct segment *sg,
                        enum lane lane, bool owners)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    size_t count = 0;
    for (size_t i = 0; i < sg->nmarks; i++) {
        if (sg->marks[i].lane != lane)
            continue;
        lo = sg->marks[i].first < lo ? sg->marks[i].first : lo;
        hi = sg->marks[i].last > hi ? sg->marks[i].last : hi;
        count++;
    }
    if (!count)
        return -1;
    double y0 = y_of(sg, y, lo, false), y1 = y_of(sg, y, hi, true);
    if (y1 - y0 < MARK_MIN_H) {
        double mid = (y0 + y1) / 2;
        y0 = mid - MARK_MIN_H / 2.0;
        if (y0 < y)
            y0 = y;
        if (y0 + MARK_MIN_H > y + sg->h)
            y0 = y + sg->h - MARK_MIN_H;
        y1 = y0 + MARK_MIN_H;
    }
    fprintf(out, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" class=\"%s\">"
            "<title>hidden here (%s):", x, y0, LANE_W, y1 - y0,
            lane == LANE_LOST ? "lost" : "off",
            lane == LANE_LOST ? "loses to another region" : "cannot show");
    for (size_t i = 0; i < sg->nmarks; i++) {
        const struct hidden_mark *m = &sg->marks[i];
        if (m->lane != lane)
            continue;
        fprintf(out, "\n%016" PRIx64 "-%016" PRIx64 " ", m->first, m->last);
        xml_text(out, cli_name(m->r), 80);
        fprintf(out, " (%s, prio %" PRId32 ")", cli_region_kind(m->r),
                mt_region_priority(m->r));
        if (owners && cli_owner(m->r)) {
            fputs(" owner ", out);
            xml_text(out, cli_owner(m->r), 120);
        }
        fputs(": ", out);
        xml_text(out, m->why_text ? m->why_text : cli_why_word(m->why), 200);
    }
    fputs("</title></rect>\n", out);
    return (y0 + y1) / 2;
}

/* "hidden: pc.bios (lower priority)" or "hidden: pc.rom and 2 more",
 * beside the size, when it does not run into the note above it. */
static void draw_note(FILE *out, int x, double mid, const struct segment *sg,
                      double *last_y)
{
    if (!sg->nmarks || mid < 0)
        return;
    double y = mid + 3.5;
    if (y < *last_y + 11)
        return;
    *last_y = y;
    const struct hidden_mark *first = &sg->marks[0];
    bool lost = false;
    size_t regions = 0; /* a region with two stretches counts once */
    for (size_t i = 0; i < sg->nmarks; i++) {
        lost |= sg->marks[i].lane == LANE_LOST;
        bool again = false;
        for (size_t j = 0; j < i && !again; j++)
            again = sg->marks[j].r == sg->marks[i].r;
        regions += !again;
    }
    fprintf(out, "<text x=\"%d\" y=\"%.1f\" class=\"%s\">hidden: ", x, y,
            lost ? "note-lost" : "note-off");
    xml_text(out, cli_name(first->r), 18);
    if (regions == 1)
        fprintf(out, " (%s)", first->why == CLI_WHY_ALIAS_BEYOND ? "past its target"
                                                              : cli_why_word(first->why));
    else
        fprintf(out, " and %zu more", regions - 1);
    fputs("</text>\n", out);
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
    int lanes_x = bx + BAND_W + 3;
    int size_x = bx + BAND_W + LANES_W + 5;
    int note_x = size_x + SIZE_W;
    double last_note = -100;
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
            const char *type = mt_dump_range_type(r);
            const char *owner = owners ? cli_owner(r->region) : NULL;
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
            if (owner) {
                fputs(" owner: ", out);
                xml_text(out, owner, 200);
            }
            fputs("</title></rect>\n", out);
            /* The owner goes under the name where the band has room for
             * a second line, and stays in the tooltip everywhere. */
            bool two_lines = owner && sg->h >= OWNER_MIN_H;
            int fs = sg->h < 20 ? 10 : 11;
            int name_y = two_lines ? y + sg->h / 2 - 1 : y + sg->h / 2 + fs / 2 - 1;
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"name\" font-size=\"%d\">",
                    bx + 5, name_y, fs);
            xml_text(out, cli_name(r->region), r->offset_in_region ? 22 : 36);
            if (r->offset_in_region)
                fprintf(out, " @%" PRIx64, r->offset_in_region);
            fputs("</text>\n", out);
            if (two_lines) {
                fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"owner\">", bx + 5,
                        name_y + 11);
                xml_text(out, owner, 44);
                fputs("</text>\n", out);
            }
            fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"size\">%s %s%s</text>\n",
                    size_x, y + sg->h / 2 + 4, size, r->nonvolatile ? "nv-" : "", type);
        }
        double lost = draw_mark(out, lanes_x, y, sg, LANE_LOST, owners);
        double off = draw_mark(out, lanes_x + LANE_W + 2, y, sg, LANE_OFF, owners);
        draw_note(out, note_x, lost >= 0 ? lost : off, sg, &last_note);
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
    y += 20;
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"14\" class=\"lost\"/>"
            "<text x=\"%d\" y=\"%d\" class=\"legend\">hidden: loses to a higher-priority "
            "or earlier region</text>\n", MARGIN + 7, y, LANE_W, MARGIN + 27, y + 11);
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"14\" class=\"off\"/>"
            "<text x=\"%d\" y=\"%d\" class=\"legend\">hidden: disabled, clipped, zero "
            "size</text>\n", MARGIN + 367, y, LANE_W, MARGIN + 387, y + 11);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"legend\">Paler shade: a region's "
            "own backing between its subregions.</text>\n", MARGIN, y + 32);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"legend\">Height grows with "
            "log2(size); unassigned stretches are not to scale.</text>\n",
            MARGIN, y + 46);
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"legend\">Hover a band for its "
            "flat-dump line, a mark for what it hides and why.</text>\n",
            MARGIN, y + 60);
}

static const char style[] =
    "<style>\n"
    "text { font-family: 'DejaVu Sans', Arial, sans-serif; fill: #222; }\n"
    ".title { font-size: 15px; font-weight: bold; }\n"
    ".as { font-size: 12px; font-weight: bold; }\n"
    ".root, .legend { font-size: 11px; }\n"
    ".addr { font-family: 'DejaVu Sans Mono', monospace; font-size: 10px; fill: #555; }\n"
    ".size { font-size: 10px; fill: #444; }\n"
    ".owner { font-size: 9px; fill: #444; }\n"
    ".gaplabel { font-size: 10px; fill: #666; text-anchor: middle; }\n"
    ".note-lost { font-size: 10px; fill: #a52520; }\n"
    ".note-off { font-size: 10px; fill: #666; }\n"
    ".band { stroke: #333; stroke-width: 0.6; }\n"
    ".nv { stroke-dasharray: 3 2; }\n"
    ".gap { fill: url(#hatch); stroke: #bbb; stroke-width: 0.6; }\n"
    ".lost { fill: url(#hatch-lost); stroke: #a52520; stroke-width: 0.8; }\n"
    ".off { fill: url(#hatch-off); stroke: #777; stroke-width: 0.8; "
    "stroke-dasharray: 2 1.5; }\n"
    "</style>\n"
    "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f4f4f4\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#d0d0d0\" stroke-width=\"2\"/>"
    "</pattern>\n"
    "<pattern id=\"hatch-lost\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#f6d4d2\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#c9302c\" stroke-width=\"1.6\"/>"
    "</pattern>\n"
    "<pattern id=\"hatch-off\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(-45)\"><rect width=\"4\" height=\"4\" fill=\"#ececec\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#8a8a8a\" stroke-width=\"1.2\"/>"
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
        mark_hidden(g[i].view, mt_address_space_root(g[i].spaces[0]), seg[i], nseg[i]);
        int h = column_height(seg[i], nseg[i], lines + 1);
        if (h > height)
            height = h;
        width += COL_W + COL_GAP;
        columns++;
    }
    int rc = CLI_OK;
    if (!columns) {
        cli_error("no address space is called '%s' in %s", as_name, cm->path);
        rc = CLI_USAGE;
        goto out;
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

out:
    for (size_t i = 0; i < ng; i++) {
        free(sel[i]);
        free_segments(seg[i], nseg[i]);
    }
    free(sel);
    free(seg);
    free(nseg);
    cli_view_groups_free(g, ng);
    return rc;
}

/* How long a browser command may take to say it failed before it is left
 * running (a browser started in the foreground never returns). */
#define BROWSER_WAIT_SECONDS 2.0

/*
 * Starts a browser on `path` and does not wait for it to close: $BROWSER
 * (the first of its colon-separated commands; %s stands for the file, else
 * the file is added at the end), else xdg-open when there is a display to
 * open a window on. The command runs through sh in its own session, with
 * no terminal, so it can neither read the user's keys nor stop the tool.
 * Returns true when it started and did not fail within a short wait; else
 * false with why in `why`.
 */
static bool open_in_browser(const char *path, char *how, size_t howlen, char *why,
                            size_t whylen)
{
    const char *browser = getenv("BROWSER");
    char *cmd;
    if (browser && *browser) {
        size_t len = strcspn(browser, ":");
        cmd = cli_alloc(len + 6, 1);
        memcpy(cmd, browser, len);
        snprintf(how, howlen, "BROWSER=%.*s", (int)len, browser);
    } else if ((getenv("DISPLAY") && *getenv("DISPLAY")) ||
               (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY"))) {
        cmd = cli_strdup("xdg-open");
        snprintf(how, howlen, "xdg-open");
    } else {
        snprintf(why, whylen, "no BROWSER set and no graphical display (DISPLAY, "
                 "WAYLAND_DISPLAY) for xdg-open");
        return false;
    }
    /* sh receives the file as $1, so its name is never parsed as shell. */
    size_t extra = 0;
    for (const char *p = cmd; (p = strstr(p, "%s")); p += 2)
        extra += 3;
    char *script = cli_alloc(strlen(cmd) + extra + 8, 1);
    char *w = script;
    bool placed = false;
    for (const char *p = cmd; *p;) {
        if (p[0] == '%' && p[1] == 's') {
            memcpy(w, "\"$1\"", 4);
            w += 4;
            p += 2;
            placed = true;
        } else {
            *w++ = *p++;
        }
    }
    if (!placed)
        strcpy(w, " \"$1\"");
    free(cmd);

    fflush(NULL); /* the child must not write our buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        free(script);
        return false;
    }
    if (pid == 0) {
        setsid();
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, 0);
            dup2(nul, 1);
            dup2(nul, 2);
        }
        execl("/bin/sh", "sh", "-c", script, "sh", path, (char *)NULL);
        _exit(127);
    }
    free(script);
    double until = cli_now() + BROWSER_WAIT_SECONDS;
    int status;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && cli_now() < until)
        usleep(20000);
    if (done != pid)
        return true; /* still running: a browser in the foreground */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        snprintf(why, whylen, "%s: command not found", how);
    else if (WIFEXITED(status))
        snprintf(why, whylen, "%s failed (exit status %d)", how, WEXITSTATUS(status));
    else
        snprintf(why, whylen, "%s was killed by signal %d", how, WTERMSIG(status));
    return false;
}

/* A file for `draw --open` without -O: it must outlive the tool, since
 * the browser reads it after we are gone. */
static FILE *temp_picture(char **path)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t len = strlen(dir) + 32;
    *path = cli_alloc(len, 1);
    snprintf(*path, len, "%s/memtree-draw-XXXXXX.svg", dir);
    int fd = mkstemps(*path, 4);
    if (fd < 0) {
        cli_error("cannot create a file in %s: %s", dir, strerror(errno));
        free(*path);
        *path = NULL;
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        remove(*path);
    }
    return f;
}

int cmd_draw(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, 1, help);
    const char *value, *as_name = NULL, *output = NULL;
    bool owners = false, open_it = false;
    int id;
    while ((id = cli_next_option(&a, options, &value)) > 0) {
        switch (id) {
        case 'O':
            output = value;
            break;
        case 'o':
            owners = true;
            break;
        case OPT_AS:
            as_name = value;
            break;
        case OPT_OPEN:
            open_it = true;
            break;
        }
    }
    if (id < 0)
        return cli_options_exit(id);
    if (!output && !open_it) {
        /* `draw -o pic.svg` was the output before -o meant owners here as
         * everywhere else: say so rather than read pic.svg as the machine. */
        size_t len = a.npos ? strlen(a.pos[0]) : 0;
        if (owners && len > 4 && !strcmp(a.pos[0] + len - 4, ".svg"))
            return cli_usage_error("-o means owners (as in show and flat); write "
                                   "the picture with -O %s", a.pos[0]);
        return cli_usage_error("missing -O OUT.svg (or --open)");
    }
    bool to_stdout = output && !strcmp(output, "-");
    if (to_stdout && open_it)
        return cli_usage_error("--open needs a file: -O FILE, or no -O for a "
                               "temporary one");

    cli_machine cm;
    int rc = cli_load(a.npos ? a.pos[0] : NULL, a.flat, &cm, NULL, 0, NULL);
    if (rc)
        return rc;
    char *temp = NULL;
    FILE *out;
    if (to_stdout)
        out = stdout;
    else if (output)
        out = fopen(output, "w");
    else
        out = temp_picture(&temp);
    if (!out) {
        if (output)
            cli_error("cannot write '%s': %s", output, strerror(errno));
        free(temp);
        cli_unload(&cm);
        return CLI_USAGE;
    }
    const char *path = output ? output : temp;
    rc = draw(out, &cm, as_name, owners);
    bool failed = ferror(out) != 0;
    if (!to_stdout && fclose(out) != 0)
        failed = true;
    if (failed && !rc) {
        cli_error("writing '%s' failed", path);
        rc = CLI_USAGE;
    }
    if (rc && !to_stdout)
        remove(path);
    if (!rc && open_it) {
        char how[256], why[512];
        printf("picture: %s\n", path);
        if (open_in_browser(path, how, sizeof(how), why, sizeof(why)))
            printf("opened with %s\n", how);
        else
            cli_error("not opened in a browser (%s); open %s yourself, or set "
                      "BROWSER", why, path);
    }
    free(temp);
    cli_unload(&cm);
    return rc;
}
