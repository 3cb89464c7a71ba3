#!/usr/bin/env bash
# Installs the Debian 12 packages memtree needs to build and test. This is the
# one list of build dependencies: .ci/run, scripts/demo.sh and the README all
# go through this script, so a new dependency is added here and nowhere else.
set -euo pipefail

packages=(
    build-essential     # gcc, make, libc headers
    cmake               # the build system (3.20 or newer)
    pkg-config          # finds cmocka, and checks the installed memtree.pc
    libcmocka-dev       # unit-test framework
    liburcu-dev         # userspace RCU for lock-free readers
    clang               # ThreadSanitizer build, libFuzzer targets
    libclang-rt-14-dev  # clang's sanitizer runtimes
    librsvg2-bin        # rsvg-convert: checks the SVG maps the CLI draws
    libunicorn-dev      # Unicorn 2: the peer that bench/run measures against
    libjson-c-dev       # json-c: the CLI's QMP client (capture, watch)
    qemu-system-x86     # real QEMU for the tests labelled qemu (x86 pc, q35)
    qemu-system-arm     # real QEMU for the tests labelled qemu (Arm virt)
    seabios             # the firmware whose PCI enumeration `watch` is tested on
    gdb                 # the stacks of a `watch` that hangs in the qemu tests
)

# Skip apt when everything is there already: re-running the test command on a
# prepared machine should not need the network. MT_FORCE_DEPS=1 forces it.
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 && ${MT_FORCE_DEPS:-0} != 1 ]]; then
    echo "install-deps: all ${#packages[@]} packages already installed" >&2
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]:-${packages[*]}}" >&2
"${sudo[@]}" apt-get update >&2
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}" >&2
