#!/usr/bin/env bash
# Tests of what issue 15 added to the `memtree` tool, one group per ctest
# test:   cli_live_test.sh at_explain|diff_causes|interface
# Environment as for cli_test.sh (tests/cli/CMakeLists.txt): MEMTREE,
# JSON_CHECK, DATA, MACHINES, and SRC (the source tree, for the completion
# file and the man page generator). Exit status 0 pass, 1 fail.
set -u

group=${1:?usage: cli_live_test.sh GROUP}
: "${MEMTREE:?}" "${JSON_CHECK:?}" "${DATA:?}" "${MACHINES:?}" "${SRC:?}"
source "${BASH_SOURCE%/*}/../support/cli_harness.sh"

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

# Case folders named as in the help examples: the bundled x86 pc before
# and after SeaBIOS, laid out as `memtree capture` writes them.
example_folders() {
    mkdir -p "$work/reset" "$work/firmware"
    cp "$MACHINES/x86-pc-default.mtree.txt" "$work/reset/mtree-oD.txt"
    cp "$MACHINES/x86-pc-default.flat.txt" "$work/reset/flat.txt"
    cp "$MACHINES/x86-pc-seabios.mtree.txt" "$work/firmware/mtree-oD.txt"
    cp "$MACHINES/x86-pc-seabios.flat.txt" "$work/firmware/flat.txt"
}

test_interface() {
    # -o is owners in every command that prints regions.
    run 0 show -o
    has "$out" "owner:{dev path=/machine/i440fx}"
    run 0 flat -o
    has "$out" "owner:{"
    run 0 draw -O "$work/owners.svg" -o --as memory
    has "$work/owners.svg" "owner: /objects/pc.ram"
    run 0 draw -O "$work/plain.svg" --as memory
    lacks "$work/plain.svg" "owner: "
    # The old `draw -o OUT.svg` says what changed instead of reading the SVG.
    run 2 draw -o "$work/old.svg"
    has "$err" "-o means owners (as in show and flat); write the picture with -O $work/old.svg"

    # Numbers: 0x for hex, else decimal; hex digits without 0x are refused.
    run 0 at 4096 --as memory
    cp "$out" "$work/dec"
    run 0 at 0x1000 --as memory
    checks=$((checks + 1))
    cmp -s "$out" "$work/dec" || fail "at 4096 and at 0x1000 differ"
    has "$out" "answer: pc.ram (ram) at offset 0x1000"
    run 2 at fee00000
    has "$err" "bad address 'fee00000': hexadecimal digits without 0x (write 0x for hexadecimal)"
    run 2 at 0xfee0000g
    has "$err" "not a number"
    run 2 at 18446744073709551616
    has "$err" "more than 64 bits"
    run 0 at 18446744073709551615 --as memory
    run 2 watch --qmp x --count 0x
    has "$err" "bad --count '0x'"

    # Every example in every --help runs (capture and watch need QEMU: the
    # qemu tests run theirs).
    example_folders
    local cmd line n=0
    for cmd in show flat at diff draw; do
        while IFS= read -r line; do
            n=$((n + 1))
            checks=$((checks + 1))
            # shellcheck disable=SC2086
            (cd "$work" && "$MEMTREE" ${line#memtree } >/dev/null 2>"$err")
            local rc=$?
            ((rc <= 1)) || { fail "help example '$line' exited $rc"; cat "$err" >&2; }
        done < <("$MEMTREE" "$cmd" --help | sed -n '/^Examples/,$s/^  \(memtree .*\)/\1/p')
    done
    checks=$((checks + 1))
    ((n >= 10)) || fail "only $n help examples found"
    [[ -s $work/map.svg ]] || fail "the draw example wrote no map.svg"

    # Bash completion offers every option each --help lists.
    # shellcheck disable=SC1091
    source "$SRC/tools/memtree/memtree.bash-completion"
    for cmd in show flat at diff check draw capture watch; do
        local opt
        for opt in $("$MEMTREE" "$cmd" --help |
            sed -nE 's/^  (-[A-Za-z]), (--[a-z][a-z-]*).*/\1 \2/p; s/^  (--[a-z][a-z-]*).*/\1/p'); do
            COMP_WORDS=(memtree "$cmd" "$opt")
            COMP_CWORD=2
            COMPREPLY=()
            _memtree
            checks=$((checks + 1))
            [[ " ${COMPREPLY[*]} " == *" $opt "* ]] || fail "completion of '$cmd $opt' lacks $opt"
        done
    done
    COMP_WORDS=(memtree ca)
    COMP_CWORD=1
    _memtree
    checks=$((checks + 1))
    [[ ${COMPREPLY[*]} == capture ]] || fail "completion of 'ca' gives '${COMPREPLY[*]}'"

    # The manual page is the help texts: every command's usage is in it.
    bash "$SRC/tools/memtree/gen-man.sh" "$MEMTREE" >"$work/memtree.1" 2>"$err"
    checks=$((checks + 1))
    [[ -s $work/memtree.1 ]] || { fail "gen-man.sh wrote nothing"; cat "$err" >&2; }
    for cmd in show flat at diff check draw capture watch; do
        has "$work/memtree.1" ".SS $cmd"
        has "$work/memtree.1" "usage: memtree $cmd"
    done
    if command -v man >/dev/null; then
        man -l "$work/memtree.1" 2>"$err" | grep -q "memtree watch \-\-qmp" ||
            man -l "$work/memtree.1" 2>/dev/null | grep -q "memtree watch --qmp" ||
            fail "man cannot render memtree.1"
    fi
}

run_group cli_live_test.sh at_explain diff_causes interface
