#!/usr/bin/env bash
# Installs a build into a temporary prefix and builds tests/install/hello.c
# against that installed copy only (header, shared and static library,
# pkg-config file), then runs both binaries, and a program that loads the
# shared library with dlopen (tests/install/dlopen.c).
#
# Usage: tests/install/check.sh [BUILD_DIR]    (default: build/plain)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/plain}
cc=${CC:-cc}

[[ -f $build/CMakeCache.txt ]] || { echo "install: $build is not a configured build" >&2; exit 2; }

prefix=$(mktemp -d "${TMPDIR:-/tmp}/memtree-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >&2

# The library directory depends on CMAKE_INSTALL_LIBDIR (lib, lib64,
# lib/x86_64-linux-gnu...): find the .pc instead of guessing.
pc=$(find "$prefix" -name memtree.pc -print -quit)
[[ -n $pc ]] || { echo "install: no memtree.pc under $prefix" >&2; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
# PKG_CONFIG_PATH comes before the system directories, but make sure no
# other memtree.pc answers (the system ones stay reachable for any
# Requires.private of ours).
found=$(pkg-config --variable=pcfiledir memtree)
[[ $found -ef $PKG_CONFIG_PATH ]] ||
    { echo "install: pkg-config found memtree.pc in $found, not $PKG_CONFIG_PATH" >&2; exit 1; }

pkgconf=(pkg-config)
# memtree.pc derives its prefix from its own location, so an install under
# another --prefix than the configured one must still point here.
pc_prefix=$(pkg-config --variable=prefix memtree)
[[ $pc_prefix -ef $prefix ]] ||
    { echo "install: memtree.pc says prefix=$pc_prefix, expected $prefix" >&2; exit 1; }

cflags=$("${pkgconf[@]}" --cflags memtree)
libs=$("${pkgconf[@]}" --libs memtree)
static_libs=$("${pkgconf[@]}" --static --libs memtree)
libdir=$("${pkgconf[@]}" --variable=libdir memtree)
includedir=$("${pkgconf[@]}" --variable=includedir memtree)

for f in "$includedir/memtree.h" "$includedir/memtree/format.h" "$includedir/memtree/private.h" \
         "$libdir/libmemtree.a" "$libdir/libmemtree.so"; do
    [[ -e $f ]] || { echo "install: missing $f" >&2; exit 1; }
done
# The tool comes with its manual page and bash completion.
for f in "$prefix/share/man/man1/memtree.1" "$prefix/share/bash-completion/completions/memtree"; do
    [[ -s $f ]] || { echo "install: missing $f" >&2; exit 1; }
done

out=$prefix/out
mkdir -p "$out"
warn=(-std=c11 -Wall -Wextra -Werror)

# Shared: plain -lmemtree picks the .so; run it with the installed libdir.
# shellcheck disable=SC2086  # pkg-config output is a list of words
$cc "${warn[@]}" $cflags "$here/hello.c" -o "$out/hello-shared" $libs
readelf -d "$out/hello-shared" | grep -q 'NEEDED.*libmemtree\.so' ||
    { echo "install: hello-shared does not link libmemtree.so" >&2; exit 1; }

# Static: the same flags, with -lmemtree pinned to the archive; the private
# dependencies come from `--static`. This is the command docs/building.md
# gives.
static_libs=$(printf '%s' "$static_libs" | sed 's/-lmemtree/-l:libmemtree.a/')
# shellcheck disable=SC2086
$cc "${warn[@]}" $cflags "$here/hello.c" -o "$out/hello-static" $static_libs
if readelf -d "$out/hello-static" | grep -q 'NEEDED.*libmemtree'; then
    echo "install: hello-static still needs a shared libmemtree" >&2
    exit 1
fi

# Loaded with dlopen, by a program that does not link memtree or liburcu:
# the library's thread-local state must not need the program's static TLS.
# shellcheck disable=SC2086
$cc "${warn[@]}" $cflags "$here/dlopen.c" -o "$out/dlopen" -ldl
# A build without tests must not need cmocka: configure one and check that
# nothing asked for it, then install it.
notests=$prefix/build-notests
cmake -S "$here/../.." -B "$notests" -DBUILD_TESTING=OFF -DMT_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=Release >&2
if grep -qi '^CMOCKA' "$notests/CMakeCache.txt"; then
    echo "install: a BUILD_TESTING=OFF configure still looked for cmocka" >&2
    exit 1
fi
cmake --build "$notests" -j"${MT_JOBS:-2}" >&2
cmake --install "$notests" --prefix "$prefix/notests" >&2
[[ -e $prefix/notests/include/memtree.h ]] ||
    { echo "install: the BUILD_TESTING=OFF install has no memtree.h" >&2; exit 1; }

echo "install: running hello-shared" >&2
LD_LIBRARY_PATH=$libdir "$out/hello-shared"
echo "install: running hello-static" >&2
"$out/hello-static"
echo "install: loading the shared library with dlopen" >&2
"$out/dlopen" "$libdir/libmemtree.so"
libdir=$(realpath "$libdir")
echo "install: OK (prefix $prefix, libdir ${libdir#"$prefix"/})"
