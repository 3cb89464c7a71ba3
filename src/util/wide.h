/*
 * Exact 128-bit arithmetic for addresses: region ends reach 2^64 and bases
 * go negative while an alias is rendered (docs/rendering.md), so neither
 * fits in uint64_t. Used by the renderer and the dump importer alike.
 */
#ifndef MEMTREE_UTIL_WIDE_H
#define MEMTREE_UTIL_WIDE_H

typedef __int128 mt__i128;
typedef unsigned __int128 mt__u128;
#define MT__2_64 (((mt__i128)1) << 64)

#endif /* MEMTREE_UTIL_WIDE_H */
