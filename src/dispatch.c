/*
 * The lookup index of a view (QEMU's AddressSpaceDispatch): built once when
 * the view is built, read by any number of readers without locks.
 *
 * For now the index is the sorted range array itself, searched by
 * mt_view_find_range; the access path replaces this with a faster index.
 */
#include "internal.h"

void mt__dispatch_build(mt_view *v)
{
    v->dispatch = NULL;
}

void mt__dispatch_free(mt_view *v)
{
    v->dispatch = NULL;
}
