#!/usr/bin/env bash
# The first thing to run: installs the dependencies, builds memtree and
# prints the flat views of a bundled real machine (QEMU 7.2's x86 `pc`).
# Arguments go to the example program: [--tree] [MODEL.txt].
#
# For now the main job is examples/flatview_demo.c; the `memtree` command-line
# tool (show, flat, at, diff, check, draw) comes with issue 6.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMT_BUILD_TESTS=OFF -DMT_BUILD_BENCH=OFF >&2
cmake --build build/demo -j"${MT_JOBS:-2}" --target flatview_demo >&2
exec build/demo/examples/flatview_demo "$@"
