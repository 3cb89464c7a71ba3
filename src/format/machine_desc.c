/*
 * The intermediate machine description (machine_build.h): growing its
 * arrays, notes, sibling order, and freeing it. Readers fill it; the
 * builder in machine.c consumes it.
 */
#include "machine_build.h"

#include <stdlib.h>
#include <string.h>

const char *const mt__mkind_names[MT__MK_COUNT] = {
    [MT__MK_CONTAINER] = "container", [MT__MK_RAM] = "ram",
    [MT__MK_ROM] = "rom",             [MT__MK_ROMD] = "romd",
    [MT__MK_RAMD] = "ramd",           [MT__MK_IO] = "io",
    [MT__MK_IOMMU] = "iommu",         [MT__MK_RESERVATION] = "reservation",
    [MT__MK_ALIAS] = "alias",
};

struct mt__mrec *mt__desc_add_region(struct mt__mdesc *d)
{
    mt__grow(&d->r, &d->capr, d->nr + 1, sizeof(*d->r));
    struct mt__mrec *r = &d->r[d->nr];
    memset(r, 0, sizeof(*r));
    r->parent = r->target = r->owner = MT__NONE;
    r->rank = (int64_t)d->nr++;
    return r;
}

struct mt__mspace *mt__desc_add_space(struct mt__mdesc *d)
{
    mt__grow(&d->as, &d->capas, d->nas + 1, sizeof(*d->as));
    struct mt__mspace *a = &d->as[d->nas++];
    memset(a, 0, sizeof(*a));
    a->root = MT__NONE;
    return a;
}

size_t mt__desc_add_owner(struct mt__mdesc *d, char *label_owned)
{
    mt__grow(&d->owners, &d->capowners, d->nowners + 1, sizeof(*d->owners));
    d->owners[d->nowners] = label_owned;
    return d->nowners++;
}

static void vappend(char ***arr, size_t *n, size_t *cap, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    char *s = mt__xmalloc((size_t)(len < 0 ? 0 : len) + 1);
    vsnprintf(s, (size_t)(len < 0 ? 0 : len) + 1, fmt, again);
    va_end(again);
    mt__grow(arr, cap, *n + 1, sizeof(**arr));
    (*arr)[(*n)++] = s;
}

void mt__desc_note(struct mt__mdesc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(&d->notes, &d->nnotes, &d->capnotes, fmt, ap);
    va_end(ap);
}

void mt__desc_warn(struct mt__mdesc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(&d->warnings, &d->nwarnings, &d->capwarnings, fmt, ap);
    va_end(ap);
}

void mt__desc_free(struct mt__mdesc *d)
{
    for (size_t i = 0; i < d->nr; i++) {
        if (!d->label_pool)
            free(d->r[i].label);
        if (!d->name_pool)
            free(d->r[i].name);
        free(d->r[i].alt);
    }
    free(d->label_pool);
    free(d->name_pool);
    for (size_t i = 0; i < d->nas; i++)
        free(d->as[i].name);
    for (size_t i = 0; i < d->nowners; i++)
        free(d->owners[i]);
    for (size_t i = 0; i < d->nnotes; i++)
        free(d->notes[i]);
    for (size_t i = 0; i < d->nwarnings; i++)
        free(d->warnings[i]);
    free(d->warnings);
    free(d->r);
    free(d->as);
    free(d->owners);
    free(d->notes);
    memset(d, 0, sizeof(*d));
}

/* Copies *s to *at (advanced past it) and frees the original. */
static void pack_one(char **s, char **at)
{
    if (!*s)
        return;
    size_t n = strlen(*s) + 1;
    memcpy(*at, *s, n);
    free(*s);
    *s = *at;
    *at += n;
}

void mt__desc_pack_strings(struct mt__mdesc *d)
{
    assert(!d->label_pool && !d->name_pool);
    size_t nl = 1, nn = 1;
    for (size_t i = 0; i < d->nr; i++) {
        nl += d->r[i].label ? strlen(d->r[i].label) + 1 : 0;
        nn += d->r[i].name ? strlen(d->r[i].name) + 1 : 0;
    }
    char *l = d->label_pool = mt__xmalloc(nl);
    char *n = d->name_pool = mt__xmalloc(nn);
    for (size_t i = 0; i < d->nr; i++) {
        pack_one(&d->r[i].label, &l);
        pack_one(&d->r[i].name, &n);
    }
}

/* Render order among siblings: priority first (the library keeps it so),
 * then rank, then the record order. */
static int kid_cmp(const void *a, const void *b, void *arg)
{
    const struct mt__mdesc *d = arg;
    const struct mt__mrec *x = &d->r[*(const size_t *)a], *y = &d->r[*(const size_t *)b];
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return (x < y) ? -1 : (x > y);
}

/* Children bucketed by parent (a counting sort), then each family sorted:
 * a machine's every region passes through here, so the scratch is one
 * index per region rather than a sort key. */
void mt__desc_children(const struct mt__mdesc *d, size_t **first_out, size_t **kids_out)
{
    size_t *first = mt__xcalloc(d->nr + 1, sizeof(*first));
    size_t nk = 0;
    for (size_t i = 0; i < d->nr; i++) {
        if (d->r[i].parent == MT__NONE)
            continue;
        first[d->r[i].parent + 1]++;
        nk++;
    }
    for (size_t i = 0; i < d->nr; i++)
        first[i + 1] += first[i];
    size_t *kids = mt__xmalloc((nk ? nk : 1) * sizeof(*kids));
    /* first[p] is where p's next child goes, then it is put back */
    for (size_t i = 0; i < d->nr; i++)
        if (d->r[i].parent != MT__NONE)
            kids[first[d->r[i].parent]++] = i;
    for (size_t p = d->nr; p-- > 0;)
        first[p + 1] = first[p];
    first[0] = 0;
    for (size_t p = 0; p < d->nr; p++)
        if (first[p + 1] - first[p] > 1)
            qsort_r(&kids[first[p]], first[p + 1] - first[p], sizeof(*kids), kid_cmp,
                    (void *)d);
    *first_out = first;
    *kids_out = kids;
}

bool mt__desc_would_loop(const struct mt__mdesc *d, const size_t *first, const size_t *kids,
                         size_t alias, size_t target)
{
    /* An alias whose target contains it, through subregions and other
     * aliases, renders (docs/rendering.md, "Loops through aliases"); only
     * a chain of alias targets leading back to the alias cannot be built.
     * The children are not needed for that, and stay in the signature for
     * the callers that pass them. */
    (void)first;
    (void)kids;
    for (size_t r = target, n = 0; r != MT__NONE && n <= d->nr; n++) {
        if (r == alias)
            return true;
        if (d->r[r].kind != MT__MK_ALIAS)
            return false;
        r = d->r[r].target;
    }
    return false; /* a cycle further along the chain, not through this alias */
}
