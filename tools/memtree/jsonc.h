/*
 * json-c for the tool's files that speak QMP. json-c calls a type
 * `json_bool`, the name of one of the tool's JSON writer functions (cli.h),
 * so the type is renamed while json-c's header is read.
 */
#ifndef MEMTREE_JSONC_H
#define MEMTREE_JSONC_H

#define json_bool mt_jsonc_bool
#include <json-c/json.h>
#undef json_bool

#endif /* MEMTREE_JSONC_H */
