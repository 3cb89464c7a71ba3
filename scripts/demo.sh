#!/usr/bin/env bash
# The first thing to run: installs the dependencies, builds memtree and runs
# the `memtree` tool on its bundled real machine (QEMU 7.2's x86 `pc` after
# SeaBIOS ran, imported from its `info mtree -o -D` and `-f` dumps).
#
# With no arguments it prints the machine's flat views (QEMU's
# `info mtree -f`); any arguments go to the tool instead, for example
#   scripts/demo.sh at 0xe4000        scripts/demo.sh show -D
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMT_BUILD_TESTS=OFF -DMT_BUILD_BENCH=OFF >&2
cmake --build build/demo -j"${MT_JOBS:-2}" --target memtree_cli >&2
[[ $# -gt 0 ]] || set -- flat
exec build/demo/tools/memtree/memtree "$@"
