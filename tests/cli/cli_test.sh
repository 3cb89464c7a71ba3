#!/usr/bin/env bash
# Tests of the `memtree` command-line tool, one group per ctest test:
#   cli_test.sh show|flat|at|diff|check|draw|usage|json|input
# Environment (set by tests/cli/CMakeLists.txt): MEMTREE (the tool),
# JSON_CHECK (tests/cli/json_check), DATA (tests/cli/data), MACHINES
# (examples/machines), CASES (the oracle corpus; groups skip what needs it
# when it is absent). Exit status 0 pass, 1 fail, 77 skipped.
set -u

group=${1:?usage: cli_test.sh GROUP}
: "${MEMTREE:?}" "${JSON_CHECK:?}" "${DATA:?}" "${MACHINES:?}"
CASES=${CASES:-}
source "${BASH_SOURCE%/*}/../support/cli_harness.sh"

out_has() {
    checks=$((checks + 1))
    grep -qF -- "$1" "$out" || fail "stdout lacks: $1"
}

out_lacks() {
    checks=$((checks + 1))
    ! grep -qF -- "$1" "$out" || fail "stdout has: $1"
}

err_has() {
    checks=$((checks + 1))
    grep -qF -- "$1" "$err" || { fail "stderr lacks: $1"; sed 's/^/  stderr: /' "$err" >&2; }
}

err_matches() {
    checks=$((checks + 1))
    grep -qE -- "$1" "$err" || { fail "stderr does not match: $1"; sed 's/^/  stderr: /' "$err" >&2; }
}

out_empty() {
    checks=$((checks + 1))
    [[ ! -s $out ]] || fail "stdout not empty"
}

# Validates $out as JSON, with Python's parser too when there is one.
json_ok() {
    checks=$((checks + 1))
    "$JSON_CHECK" "$out" || fail "invalid JSON from: $*"
    if command -v python3 >/dev/null; then
        python3 -m json.tool "$out" >/dev/null || fail "python3 rejects JSON from: $*"
    fi
}

# json_is PATH VALUE: the value at PATH in $out.
json_is() {
    checks=$((checks + 1))
    local got
    got=$("$JSON_CHECK" "$out" "$1") || { fail "no $1 in JSON"; return; }
    [[ $got == "$2" ]] || fail "JSON $1 is '$got', expected '$2'"
}

# json_any PATH VALUE: some value at PATH (with * segments) in $out.
json_any() {
    checks=$((checks + 1))
    "$JSON_CHECK" "$out" "$1" >"$work/values" || { fail "no $1 in JSON"; return; }
    grep -qxF -- "$2" "$work/values" || fail "no JSON $1 is '$2'"
}

bundled_flat=$MACHINES/x86-pc-seabios.flat.txt
before=$MACHINES/x86-pc-default.model.txt

# True when the tool reads QEMU dumps (then the bundled machine is one).
reads_dumps() {
    "$MEMTREE" show --json >"$work/probe" 2>/dev/null &&
        "$JSON_CHECK" "$work/probe" .file | grep -q '\.mtree\.txt$'
}

test_show() {
    run 0 show
    out_has "address-space: memory"
    out_has "address-space: I/O"
    out_has "memory-region: pc.ram"
    out_lacks "[disabled]"
    run 0 show -D
    out_has "[disabled]"
    out_has "alias pam-pci @pc.ram"
    run 0 show --json
    json_ok show --json
    json_any '.address_spaces.*.name' "I/O"
    json_any '.regions.*.name' pc.bios
    run 0 show "$DATA/clean.model.txt" --json
    json_is .regions.0.name system
    json_is .regions.0.kind container
    json_is .regions.0.size 0x10000000000000000
    json_is .regions.1.name uart # prio 1: first in render order
    json_is .regions.1.container 0
    json_is .regions.2.name ram
    json_is .regions.0.children.1 2
    run 2 show --format bogus
    err_has "unknown --format 'bogus'"
    run 2 show --json --format map
    if reads_dumps; then
        # The dump of what was read is what QEMU printed, block order aside.
        # memtree models owners, not QOM parents: a `parent:{...}` suffix
        # is dropped after an owner and reads as `orphan` without one.
        run 0 show -o -D
        sort "$out" >"$work/ours"
        tr -d '\r' <"$MACHINES/x86-pc-seabios.mtree.txt" |
            sed -e 's/\( owner:{[^}]*}\) parent:{[^}]*}$/\1/' \
                -e 's/ parent:{[^}]*}$/ orphan/' | sort >"$work/theirs"
        checks=$((checks + 1))
        cmp -s "$work/ours" "$work/theirs" || fail "show -o -D differs from the dump read"
        # The map format reads back to the same map and the same views.
        run 0 show --format map
        cp "$out" "$work/m.map"
        run 0 show "$work/m.map" --format map
        checks=$((checks + 1))
        cmp -s "$out" "$work/m.map" || fail "map does not read back unchanged"
        run 0 flat "$work/m.map"
        sort "$out" >"$work/a"
        run 0 flat
        sort "$out" >"$work/b"
        checks=$((checks + 1))
        cmp -s "$work/a" "$work/b" || fail "views differ after a map round trip"
        run 0 show --inferred
    fi
}

test_flat() {
    run 0 flat
    out_has "FlatView #0"
    out_has ' AS "memory", root: system'
    out_has "  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi"
    # The bundled machine's views are QEMU's, block order aside.
    sort "$out" >"$work/ours"
    sort "$bundled_flat" | tr -d '\r' >"$work/theirs"
    checks=$((checks + 1))
    cmp -s "$work/ours" "$work/theirs" || fail "flat differs from QEMU's flat.txt"
    run 0 flat --json
    json_ok flat --json
    json_any '.views.*.root' io
    json_any '.views.*.address_spaces.*.name' "I/O"
    json_any '.views.*.ranges.*.region' dma-chan
    json_any '.views.*.ranges.*.last' 0xfeefffff
    run 0 flat "$DATA/clean.model.txt"
    out_has "  00000000fe000000-00000000fe000fff (prio 1, i/o): uart"
    if reads_dumps; then
        # The sibling flat dump is found by name; --flat names it anywhere,
        # and CRLF line ends (QEMU's monitor) read the same.
        local dump=$MACHINES/x86-pc-seabios.mtree.txt
        run 0 flat
        cp "$out" "$work/auto"
        sed 's/$/\r/' "$dump" >"$work/crlf.txt"
        sed 's/$/\r/' "$bundled_flat" >"$work/crlf-flat.txt"
        run 0 flat "$work/crlf.txt" --flat "$work/crlf-flat.txt"
        checks=$((checks + 1))
        cmp -s "$out" "$work/auto" || fail "CRLF dumps or --flat read differently"
        run 0 show --json "$dump" --flat "$bundled_flat"
        json_is .flat_file "$bundled_flat"
        json_is .format qemu
        run 2 flat "$dump" --flat "$work/missing-flat.txt"
        err_has "cannot open '$work/missing-flat.txt'"
    fi
}

# Every range start of every view must answer with a path that ends at the
# view's region (the walk follows the renderer's rules).
paths_complete() {
    local file=$1 starts addr n=0
    "$MEMTREE" flat "$file" >"$work/flat" 2>/dev/null || { fail "flat $file"; return; }
    starts=$(sed -n 's/^  \([0-9a-f]\{16\}\)-.*/\1/p' "$work/flat" | sort -u)
    for addr in $starts; do
        "$MEMTREE" at "$file" "0x$addr" >"$work/at" 2>&1 || fail "at $file $addr"
        if grep -q "path: not found" "$work/at"; then
            fail "no path at $addr in $file"
        fi
        n=$((n + 1))
    done
    checks=$((checks + n))
}

test_at() {
    run 0 at 0xe5000 --as memory
    out_has "address-space: memory"
    out_lacks "address-space: I/O"
    out_has "answer: pc.ram (rom) at offset 0xe5000, read-only"
    out_has "(prio 1, alias): pam-rom -> pc.ram +0xe4000"
    out_has "(prio 0, ram): pc.ram  <- offset 0xe5000"
    run 0 at 0x3F8 --as I/O
    out_has "answer: serial (i/o) at offset 0x0"
    run 0 at 0xfee00010 --as cpu-smm-0
    out_has "answer: apic-msi (i/o) at offset 0x10"
    out_has "(prio 0, alias): memory -> system +0x0"
    run 0 at 0x100000000 --as memory
    out_has "0000000100000000: unassigned"
    out_has "below: 00000000fffc0000-00000000ffffffff pc.bios"
    run 0 at 0xfee00000
    out_has "address-space: PIIX3"
    out_has "unassigned (the view is empty: root is (none))"
    run 0 at "$DATA/clean.model.txt" 0x3fc
    out_has "answer: serial (i/o) at offset 0x4"
    run 0 at 0xe5000 --as memory --json
    json_ok at --json
    json_is .address 0xe5000
    json_is .answers.0.address_spaces.0 memory
    json_is .answers.0.region pc.ram
    json_is .answers.0.offset 0xe5000
    json_is .answers.0.range.readonly true
    json_is .answers.0.path.1.kind alias
    json_is .answers.0.path.1.alias_offset 0xe4000
    run 2 at
    err_has "missing ADDR"
    run 2 at zz
    err_has "bad address 'zz'"
    run 2 at 0x10000000000000000
    err_has "bad address '0x10000000000000000'"
    run 2 at 0xe5000 --as nosuch
    err_has "no address space is called 'nosuch'"
    run 2 at "$work/nosuch" 0xe5000
    err_has "cannot open '$work/nosuch'"
    paths_complete "$MACHINES/x86-pc-seabios.model.txt"
    paths_complete "$DATA/lint.model.txt"
    if [[ -n $CASES && -d $CASES ]]; then
        local c
        for c in x86-q35-rootports-seabios arm64-virt-pcie-qfw arm-mps2-an385 ppc-mac99; do
            [[ -d $CASES/$c ]] && paths_complete "$CASES/$c"
        done
    fi
}

test_diff() {
    # The x86 pc before and after SeaBIOS ran.
    run 1 diff --lines "$before" "$MACHINES/x86-pc-seabios.model.txt"
    out_has "--- $before"
    out_has "address-space: memory"
    out_has "added   00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram"
    out_has "was  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000"
    out_has "now  00000000000f0000-00000000000fffff (prio 0, rom): pc.ram @00000000000f0000"
    out_has "now  0000000000000600-0000000000000603 (prio 0, i/o): acpi-evt"
    out_has "was  00000000000a0000-00000000000bffff (prio 1, i/o): vga-lowmem"
    run 1 diff "$before" "$MACHINES/x86-pc-seabios.model.txt" --json
    json_ok diff --json
    json_is .address_spaces.1.names.1 memory
    json_is .address_spaces.1.added.0.region vga.vram
    json_is .address_spaces.1.changed.0.after.4.offset 0xf0000
    run 0 diff "$before" "$before"
    out_empty
    run 0 diff "$before" "$before" --json
    json_is .differences 0
    # Address spaces without a partner.
    run 1 diff "$DATA/clean.model.txt" "$DATA/lint.model.txt"
    out_has "address-space only in A: io"
    if [[ -n $CASES && -d $CASES/x86-pc-default ]]; then
        run 1 diff --lines "$CASES/x86-pc-default" "$CASES/x86-pc-default-seabios"
        out_has "added   00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram"
        run 1 diff "$CASES/x86-q35-rootports" "$CASES/x86-q35-rootports-seabios"
    fi
    if reads_dumps; then
        # The same comparison from QEMU's own dumps.
        run 1 diff --lines "$MACHINES/x86-pc-default.mtree.txt" "$MACHINES/x86-pc-seabios.mtree.txt"
        out_has "added   00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram"
        out_has "now  00000000000f0000-00000000000fffff (prio 0, rom): pc.ram @00000000000f0000"
    fi
    run 2 diff "$before"
    err_has "missing B"
    run 2 diff - -
}

test_check() {
    run 1 check "$DATA/lint.model.txt"
    out_has "overlap: in system: 'ram-a' (at 0000000000000000) and 'dev-b' (at 0000000000008000)"
    out_has "overlap at 0000000000008000-000000000000ffff"
    out_has "alias: alias system/long-alias shows 0x0+128 KiB of 'firmware', which is only 64 KiB long"
    out_has "overhang: system/small-box/overhanging-dev"
    out_has "overflow: system/wrapping-dev at fffffffffffff000"
    out_lacks "quiet-a" # overlaps only an empty container: harmless
    err_has "4 problem(s)"
    run 1 check "$DATA/lint.model.txt" --json
    json_ok check --json
    json_is .count 4
    json_is .problems.0.kind overlap
    json_is .problems.3.kind overflow
    json_is .problems.3.start 0xfffffffffffff000
    run 1 check "$DATA/self-alias.model.txt"
    out_has "loop: alias system/box/same-place shows its own container 'system' from 0x8000"
    out_lacks "shifted"
    out_lacks "readonly-same-place"
    err_has "1 problem(s)"
    # `at` follows the same loop rules as rendering (no endless descent)
    run 0 at "$DATA/self-alias.model.txt" 0x9000
    out_has "answer: under (ram) at offset 0x0"
    # ...and names the alias whose loop pass renders nothing as a loser
    out_has "same-place (alias, prio 0) at offset 0x1000"
    out_has "why: alias loop: it shows its own container 'system' again"
    run 1 check "$DATA/cycle.model.txt"
    out_has "cycle: "
    out_has "alias cycle"
    run 1 check "$DATA/cycle.model.txt" --json
    json_ok check cycle --json
    json_is .problems.0.kind cycle
    run 0 check "$DATA/clean.model.txt"
    out_empty
    run 0 check
    run 2 check "$DATA/garbage.txt"
    err_matches "garbage\.txt:[0-9]+: "
    if [[ -n $CASES && -d $CASES/ppc-mac99 ]]; then
        # NVRAM mapped over the firmware at equal priority (docs/import.md).
        run 1 check "$CASES/ppc-mac99"
        out_has "'macio-nvram'"
    fi
}

png_size() {
    # Width and height from the IHDR chunk.
    od -An -tu1 -j16 -N8 "$1" | awk '{ print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}

test_draw() {
    run 0 draw -O "$work/pc.svg"
    checks=$((checks + 1))
    grep -q "<svg" "$work/pc.svg" || fail "no <svg> in the output"
    grep -qF ">apic-msi<" "$work/pc.svg" || fail "apic-msi is not labelled"
    grep -qF "15.9 EiB unassigned" "$work/pc.svg" || fail "the top gap is not compressed"
    run 0 draw "$DATA/weird.model.txt" -O "$work/weird.svg"
    run 0 draw --as memory -O - "$DATA/clean.model.txt"
    out_has ">uart<"
    run 2 draw
    err_has "missing -O OUT.svg"
    run 2 draw -O "$work/no/such/dir/x.svg"
    err_has "cannot write"
    run 2 draw --as nosuch -O "$work/x.svg"
    checks=$((checks + 1))
    [[ ! -e $work/x.svg ]] || fail "a failed draw left its output behind"

    if ! command -v rsvg-convert >/dev/null; then
        echo "SKIP: rsvg-convert not installed (apt-get install librsvg2-bin)" >&2
        return 77
    fi
    local f
    for f in pc weird; do
        checks=$((checks + 1))
        if ! rsvg-convert "$work/$f.svg" -o "$work/$f.png" 2>"$err"; then
            fail "rsvg-convert rejects $f.svg"
            cat "$err" >&2
            continue
        fi
        read -r w h < <(png_size "$work/$f.png")
        local bytes
        bytes=$(stat -c %s "$work/$f.png")
        echo "$f.png: ${w}x${h}, $bytes bytes" >&2
        (( w >= 600 && h >= 200 && bytes > 5000 )) || fail "$f.png looks empty: ${w}x${h}, $bytes bytes"
    done
    if [[ -n ${MT_CLI_KEEP_PNG:-} ]]; then
        cp "$work/pc.png" "$MT_CLI_KEEP_PNG"
    fi
}

test_usage() {
    run 2
    err_has "usage: memtree COMMAND"
    run 0 --help
    out_has "usage: memtree COMMAND"
    run 0 --version
    out_has "memtree "
    run 2 bogus
    err_has "unknown command 'bogus'"
    run 2 --bogus
    local cmd
    for cmd in show flat at diff check draw; do
        run 0 "$cmd" --help
        out_has "usage: memtree $cmd"
        run 0 help "$cmd"
        out_has "usage: memtree $cmd"
        run 2 "$cmd" --no-such-option
        err_has "memtree $cmd: unknown option '--no-such-option'"
        err_has "Try 'memtree $cmd --help'."
        run 2 "$cmd" -Q
        err_has "unknown option '-Q'"
    done
    run 2 show "$work/missing.txt"
    err_has "memtree show: cannot open '$work/missing.txt': No such file or directory"
    run 2 flat "$DATA/garbage.txt"
    err_matches "^memtree flat: .*garbage\.txt:[0-9]+: "
    : >"$work/empty.txt"
    run 2 show "$work/empty.txt"
    run 2 show "$DATA" # a folder without a machine in it
    err_has "without a machine file"
    run 2 show a b
    err_has "unexpected argument 'b'"
    run 2 show --format
    err_has "option '--format' needs a value"
    run 2 show --json=yes
    err_has "option '--json' takes no value"
    run 0 flat - <"$DATA/clean.model.txt"
    out_has "uart"
    # The bundled machine is found relative to the source tree, and through
    # MEMTREE_MACHINES when moved.
    cp -r "$MACHINES" "$work/moved"
    MEMTREE_MACHINES=$work/moved run 0 flat --json
    checks=$((checks + 1))
    [[ $("$JSON_CHECK" "$out" .file) == "$work/moved/"* ]] ||
        fail "MEMTREE_MACHINES is not used for the bundled machine"
}

test_json() {
    local args
    while IFS= read -r args; do
        # shellcheck disable=SC2086
        "$MEMTREE" $args >"$out" 2>"$err"
        local rc=$?
        (( rc <= 1 )) || fail "memtree $args exited $rc"
        json_ok "$args"
    done <<EOF
show --json
flat --json
at 0xfee00000 --json
at 0 --json
at 0xffffffffffffffff --json
diff $before $MACHINES/x86-pc-seabios.model.txt --json
check --json
check $DATA/lint.model.txt --json
show $DATA/weird.model.txt --json
flat $DATA/weird.model.txt --json
at $DATA/weird.model.txt 0x1000 --json
EOF
    run 0 show "$DATA/weird.model.txt" --json
    json_is .regions.0.name 'sys <&> \"root\"'
    json_is .regions.1.name 'say \"hi\" \\ back\\slash'
    json_is .regions.2.name 'café ✓ ünïcode'
    json_is .regions.3.name 'bad�byte' # U+FFFD for the byte that is not UTF-8
}

# Input hygiene and the importer's warnings: endless and device inputs, the
# size limit, backwards ranges, and a flat dump that contradicts the tree.
test_input() {
    # a device never ends: refused before reading
    run 2 show /dev/zero
    err_has "memtree show: /dev/zero: a character device, not a file"
    run 2 flat - </dev/zero
    err_has "<stdin>: a character device"
    # an endless pipe stops at the limit, by option or environment
    checks=$((checks + 1))
    yes | timeout 60 "$MEMTREE" show --max-input 64K - >"$out" 2>"$err"
    [[ $? == 2 ]] || fail "endless stdin with --max-input 64K did not exit 2"
    err_has "<stdin>: larger than the input limit of 65536 bytes"
    checks=$((checks + 1))
    yes | MEMTREE_MAX_INPUT=1M timeout 60 "$MEMTREE" flat - >"$out" 2>"$err"
    [[ $? == 2 ]] || fail "endless stdin with MEMTREE_MAX_INPUT=1M did not exit 2"
    err_has "larger than the input limit of 1048576 bytes"
    # binary data on a pipe fails at once, naming the line
    checks=$((checks + 1))
    head -c 100000000 /dev/zero | timeout 60 "$MEMTREE" show - >"$out" 2>"$err"
    [[ $? == 2 ]] || fail "zeros on a pipe did not exit 2"
    err_has "<stdin>:1: binary data (byte 0x00)"
    # a file within the limit loads; one byte over does not
    local size
    size=$(wc -c <"$DATA/clean.model.txt")
    run 0 flat "$DATA/clean.model.txt" --max-input "$size"
    run 2 flat "$DATA/clean.model.txt" --max-input $((size - 1))
    err_has "clean.model.txt: larger than the input limit of $((size - 1)) bytes"
    MEMTREE_MAX_INPUT=$((size - 1)) run 2 flat "$DATA/clean.model.txt"
    run 2 show --max-input 0 "$DATA/clean.model.txt"
    err_has "bad --max-input '0'"
    run 2 show --max-input 12X "$DATA/clean.model.txt"
    MEMTREE_MAX_INPUT=lots run 2 show "$DATA/clean.model.txt"
    err_has "bad MEMTREE_MAX_INPUT 'lots'"
    # a backwards range is named as such, with file and line
    run 2 show "$DATA/backwards.mtree.txt"
    err_has "backwards.mtree.txt:3: backwards range 0000000000002000-0000000000001000"
    out_empty
    # the 2^64 IOMMU root renders as one range (its flat dump is beside it)
    run 0 flat "$DATA/iommu-root.mtree.txt"
    out_has " Root memory region: iommu-root"
    out_has "  0000000000000000-ffffffffffffffff (prio 0, i/o): iommu-root"
    checks=$((checks + 1))
    [[ ! -s $err ]] || fail "warnings although the flat dump agrees"
    # without a flat dump: the same answer, guessed, and each guess named
    cp "$DATA/iommu-root.mtree.txt" "$work/alone.txt"
    run 0 flat "$work/alone.txt"
    out_has " Root memory region: iommu-root"
    err_has "memtree flat: warning: $work/alone.txt:7: 'iommu-root' prints i/o: guessed MMIO"
    # a contradicting flat dump: a warning, and exit 1 with --strict
    run 0 flat "$DATA/iommu-root.mtree.txt" --flat "$DATA/contradicting.flat.txt"
    err_has "warning: $DATA/contradicting.flat.txt:4: address space 'memory' at 0000000000000000: the flat dump prints 'ram-elsewhere'"
    out_has "(prio 0, ram): ram"
    local cmd
    for cmd in show flat check "draw -O $work/x.svg"; do
        # shellcheck disable=SC2086
        run 1 $cmd "$DATA/iommu-root.mtree.txt" --flat "$DATA/contradicting.flat.txt" --strict
        err_has "contradicting.flat.txt disagrees with"
        out_empty
    done
    run 1 at "$DATA/iommu-root.mtree.txt" 0 --flat "$DATA/contradicting.flat.txt" --strict
    run 0 at "$DATA/iommu-root.mtree.txt" 0 --strict
}

run_group cli_test.sh show flat at diff check draw usage json input
