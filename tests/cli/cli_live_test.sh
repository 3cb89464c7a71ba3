#!/usr/bin/env bash
# Tests of what issue 15 added to the `memtree` tool, one group per ctest
# test:   cli_live_test.sh at_explain|diff_causes|interface
# Environment as for cli_test.sh (tests/cli/CMakeLists.txt): MEMTREE,
# JSON_CHECK, DATA, MACHINES. Exit status 0 pass, 1 fail.
set -u

group=${1:?usage: cli_live_test.sh GROUP}
: "${MEMTREE:?}" "${JSON_CHECK:?}" "${DATA:?}" "${MACHINES:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out
err=$work/err
fails=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

run() { # RC ARGS...
    local want=$1
    shift
    checks=$((checks + 1))
    "$MEMTREE" "$@" >"$out" 2>"$err"
    local rc=$?
    if [[ $rc != "$want" ]]; then
        fail "memtree $* exited $rc, expected $want"
        sed 's/^/  stderr: /' "$err" | head -5 >&2
        sed 's/^/  stdout: /' "$out" | head -5 >&2
    fi
}

has() { # FILE TEXT
    checks=$((checks + 1))
    grep -qF -- "$2" "$1" || { fail "$(basename "$1") lacks: $2"; sed 's/^/  | /' "$1" | head -30 >&2; }
}

lacks() { # FILE TEXT
    checks=$((checks + 1))
    ! grep -qF -- "$2" "$1" || fail "$(basename "$1") has: $2"
}

json_ok() {
    checks=$((checks + 1))
    "$JSON_CHECK" "$out" >/dev/null || fail "invalid JSON from memtree $*"
}

test_at_explain() {
    local m=$DATA/hidden.model.txt
    run 0 at "$m" 0x1000
    has "$out" "answer: dev-high"
    has "$out" "hidden here (7):"
    # One line per reason, each naming what is at fault.
    has "$out" "why: zero size"
    has "$out" "why: alias offset beyond target: 'short-target' is only 0x100 bytes"
    has "$out" "why: clipped: outside the window of container 'small-box'"
    has "$out" "why: disabled"
    has "$out" "why: earlier sibling 'dev-high' answers first (same priority 2, added later)"
    has "$out" "why: lower priority: prio 0 < prio 2 of sibling 'dev-high'"
    has "$out" "why: lower priority: its container 'ro-alias' (prio 1) < prio 2 of sibling 'dev-high'"
    has "$out" "read-only wrapper: alias 'ro-alias'"
    has "$out" "alias chain: far-alias @0x1000 -> short-target +0x200"
    lacks "$out" "dev-high (io, prio 2) at offset"
    run 0 at "$m" 0x20000
    has "$out" "why: covered by its subregion 'window-dev'"
    # Nothing answers, and something is still there.
    run 0 at "$m" 0x1800 --as memory
    has "$out" "overhang (io, prio 0) at offset 0x1800"
    # JSON carries the same.
    run 0 at "$m" 0x1000 --json
    json_ok at --json
    has "$out" '"why": "alias offset beyond target"'
    has "$out" '"why": "clipped"'
    has "$out" '"by": "small-box"'
    has "$out" '"readonly_wrapper": "ro-alias"'
    has "$out" '"alias": "far-alias"'
    # A real machine: PAM in rom mode hides the PCI side's pc.rom, and owners
    # come from the dump.
    run 0 at 0xc0000 --as memory
    has "$out" "pc.rom (rom, prio 1) at offset 0x0"
    has "$out" "why: lower priority: its container 'pci' (prio -1) < prio 1 of sibling 'pam-rom'"
    run 0 at 0x1000 --as memory
    has "$out" "owner: /objects/pc.ram"
}

test_diff_causes() {
    local a=$DATA/causes-a.model.txt b=$DATA/causes-b.model.txt
    run 1 diff "$a" "$b"
    has "$out" "moved      mover (io) from 0x10000-0x10fff in system to 0x11000-0x11fff in system"
    has "$out" "resized    grower (io) from 4 KiB to 8 KiB"
    has "$out" "enabled    switch-on (io) at 0x30000-0x30fff in system"
    has "$out" "disabled   switch-off (io) at 0x40000-0x40fff in system"
    has "$out" "priority   climber (io) from 0 to 3"
    has "$out" "retargeted pointer (alias -> ram-b +0x0) from ram-a to ram-b"
    has "$out" "re-offset  shifter (alias -> ram-a +0x4000) from +0x0 to +0x4000"
    has "$out" "readonly   sealer (alias -> ram-a +0x0) became read-only"
    has "$out" "added      newcomer (io) at 0xa0000-0xa0fff in system"
    has "$out" "removed    goner (io) was at 0x90000-0x90fff in system"
    has "$out" "10 causes; 15 flat-view ranges changed in 1 view (--lines lists them)"
    lacks "$out" "keeps-b"
    run 1 diff "$a" "$b" --json
    json_ok diff --json
    has "$out" '"cause": "retargeted"'
    has "$out" '"address_after": "0x11000"'
    # --lines is the range-by-range output of before.
    run 1 diff "$a" "$b" --lines
    has "$out" "address-space: memory"
    lacks "$out" "causes;"
    run 0 diff "$a" "$a"
    checks=$((checks + 1))
    [[ ! -s $out ]] || fail "identical machines printed something"
    # QEMU's own dumps carry the owners: the x86 pc before and after SeaBIOS.
    run 1 diff "$MACHINES/x86-pc-default.mtree.txt" "$MACHINES/x86-pc-seabios.mtree.txt"
    has "$out" "moved      piix4-pm (container) from 0x0-0x3f in io to 0x600-0x63f in io, owner /machine/unattached/device[23]"
    has "$out" "readonly   pam-rom (alias -> pc.ram +0xc0000) became read-only, owner /machine/i440fx"
    has "$out" "disabled   pam-pci (alias -> pci +0xc0000) at 0xc0000-0xc3fff in system, owner /machine/i440fx"
}

case $group in
at_explain | diff_causes) "test_$group" ;;
*)
    echo "cli_live_test.sh: unknown group '$group'" >&2
    exit 2
    ;;
esac
echo "$group: $checks checks, $fails failed"
[[ $fails -eq 0 ]]
