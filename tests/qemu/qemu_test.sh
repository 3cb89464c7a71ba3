#!/usr/bin/env bash
# Tests of `memtree capture` and `watch` against real QEMU (TCG), one group
# per ctest test:   qemu_test.sh capture|attach|errors|watch|examples
# Environment (set by tests/qemu/CMakeLists.txt): MEMTREE (the tool),
# IMPORT_RUNNER (tests/import's runner: renders a case folder's tree dump
# with the library and compares the views with QEMU's flat dump), FAKE_QMP
# (a socket that is not a working QMP). Every QEMU runs paused or briefly,
# with -display none, its QMP socket in a private temporary folder, under a
# timeout, and is killed by its own pid when the test ends.
# Exit status 0 pass, 1 fail.
set -u

group=${1:?usage: qemu_test.sh GROUP}
: "${MEMTREE:?}" "${IMPORT_RUNNER:?}" "${FAKE_QMP:?}"
RUN_TIMEOUT=60
SHOW_LINES=8
source "${BASH_SOURCE%/*}/../support/cli_harness.sh"
pids=()
harness_cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill -CONT "$p" 2>/dev/null
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}

for bin in qemu-system-x86_64 qemu-system-aarch64; do
    command -v "$bin" >/dev/null ||
        { echo "FAIL: $bin not found: install it with scripts/install-deps.sh" >&2; exit 1; }
done

# QEMU prints address spaces and flat views in no fixed order (it walks
# hash tables): compare blank-line-separated blocks as a sorted list, and
# the AS header lines inside a block as a set.
same_blocks() { # A B
    local f
    for f in "$1" "$2"; do
        awk 'BEGIN { RS = ""; FS = "\n" }
             { n = 0; body = ""
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^FlatView #/) continue     # numbered in that order
                   if ($i ~ /^(address-space: | AS ")/) h[++n] = $i
                   else body = body "\002" $i
               }
               for (i = 2; i <= n; i++)         # insertion sort of the headers
                   for (k = i; k > 1 && h[k - 1] > h[k]; k--) { t = h[k]; h[k] = h[k - 1]; h[k - 1] = t }
               line = ""
               for (i = 1; i <= n; i++) line = line h[i] "\001"
               print line body }' "$f" | sort >"$f.blocks"
    done
    checks=$((checks + 1))
    cmp -s "$1.blocks" "$2.blocks" ||
        { fail "$1 and $2 differ (block order aside)"; diff "$1.blocks" "$2.blocks" | tr '\001\002' '\n\n' | head -20 >&2; }
}

same_file() { # A B
    checks=$((checks + 1))
    cmp -s "$1" "$2" || { fail "$1 and $2 differ"; diff "$1" "$2" | head -10 >&2; }
}

# start_qemu NAME BINARY ARGS...: QEMU in the background with QMP on
# $work/NAME.sock; sets $qpid once the socket exists.
# Whether a unix socket accepts connections: QEMU creates the file (bind)
# a moment before it listens, and a client that connects in between, or a
# QEMU stopped there (the frozen case below), gets "connection refused".
# /proc/net/unix flags a listening socket 00010000.
listening() { # PATH
    [[ -S $1 ]] && awk -v p="$1" '$4 == "00010000" && $8 == p { found = 1 } END { exit !found }' /proc/net/unix
}

start_qemu() {
    local name=$1
    shift
    local sock=$work/$name.sock
    "$@" -display none -qmp "unix:$sock,server=on,wait=off" >"$work/$name.log" 2>&1 &
    qpid=$!
    pids+=("$qpid")
    # Its own timeout: a watchdog that kills this pid (and only it).
    (sleep 120; kill -KILL "$qpid" 2>/dev/null) >/dev/null 2>&1 &
    pids+=("$!")
    local i
    for ((i = 0; i < 500; i++)); do
        listening "$sock" && return 0
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.02
    done
    fail "QEMU ($*) did not open $sock"
    cat "$work/$name.log" >&2
    return 1
}

stop_qemu() { # PID
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# The machines: x86 pc and q35, Arm virt.
declare -A machines=(
    [x86-pc]="qemu-system-x86_64 -M pc -nodefaults -accel tcg"
    [x86-q35]="qemu-system-x86_64 -M q35 -nodefaults -accel tcg"
    [arm-virt]="qemu-system-aarch64 -M virt -cpu cortex-a57 -nodefaults -accel tcg"
)

# A captured folder loads, and the library renders the views QEMU printed.
views_match() { # DIR
    checks=$((checks + 1))
    "$IMPORT_RUNNER" -v "$1" >"$work/runner" 2>&1
    grep -q '^1 passed, 0 failed' "$work/runner" ||
        { fail "the library's views of $1 differ from QEMU's"; head -20 "$work/runner" >&2; }
}

test_capture() {
    local name
    for name in "${!machines[@]}"; do
        # shellcheck disable=SC2086
        run 0 capture -O "$work/$name" -- ${machines[$name]}
        has "$out" "with flat views"
        local f
        for f in mtree-oD.txt flat.txt flat-o.txt meta.json qom-tree.txt; do
            checks=$((checks + 1))
            [[ -s $work/$name/$f ]] || fail "$name: $f missing or empty"
        done
        has "$work/$name/meta.json" '"version": "QEMU emulator version'
        has "$work/$name/meta.json" '"status": "prelaunch"'
        has "$work/$name/mtree-oD.txt" "address-space: memory"
        has "$work/$name/flat-o.txt" "owner:"
        views_match "$work/$name"
        # The other commands read the folder.
        run 0 show "$work/$name"
        has "$out" "address-space: memory"
    done
    # --after-firmware lets SeaBIOS run: it maps the BARs, and diff names
    # each as a cause with its owner.
    local q35e=(qemu-system-x86_64 -M q35 -nodefaults -accel tcg -device e1000)
    run 0 capture -O "$work/q35-reset" -- "${q35e[@]}"
    run 0 capture -O "$work/q35-fw" --after-firmware 2 -- "${q35e[@]}"
    has "$work/q35-fw/meta.json" '"status": "running"'
    views_match "$work/q35-fw"
    run 1 diff "$work/q35-reset" "$work/q35-fw"
    has "$out" "added      e1000-mmio (io) at 0xfebc0000-0xfebdffff in pci, owner /machine/peripheral-anon/device[0]"
    has "$out" "moved      ich9-pm (container) from 0x0-0x7f in io to 0x600-0x67f in io"
}

test_attach() {
    local args=(qemu-system-x86_64 -M q35 -nodefaults -accel tcg)
    start_qemu q35 "${args[@]}" -S || return
    local pid=$qpid
    run 0 capture --qmp "$work/q35.sock" -O "$work/attached"
    has "$out" "captured in"
    # Under a second once QEMU is up (the dumps themselves, not the start).
    checks=$((checks + 1))
    local secs
    secs=$(sed -n 's/^captured in \([0-9.]*\) s$/\1/p' "$out")
    echo "capture of q35 after QEMU is up: ${secs:-?} s"
    awk -v s="${secs:-99}" 'BEGIN { exit !(s < 1.0) }' || fail "capture took ${secs:-?} s"
    stop_qemu "$pid"

    run 0 capture -O "$work/started" -- "${args[@]}"
    local f
    same_file "$work/attached/pci.txt" "$work/started/pci.txt"
    for f in mtree-oD.txt flat.txt flat-o.txt; do
        same_blocks "$work/attached/$f" "$work/started/$f"
    done
    # And the same views as the library renders them.
    run 0 flat "$work/attached"
    mv "$out" "$work/attached.flat"
    run 0 flat "$work/started"
    same_blocks "$work/attached.flat" "$out"
    run 0 diff "$work/attached" "$work/started"

    # A running guest is stopped for the capture and resumed after it.
    start_qemu run "${args[@]}" || return
    pid=$qpid
    run 0 capture --qmp "$work/run.sock" -O "$work/running1"
    has "$work/running1/meta.json" '"was_running": true'
    run 0 capture --qmp "$work/run.sock" -O "$work/running2"
    has "$work/running2/meta.json" '"status": "running"'
    views_match "$work/running2"
    stop_qemu "$pid"
}

# An error case must exit 2 with the message, quickly.
quick_error() { # SECONDS TEXT ARGS...
    local limit=$1 text=$2
    shift 2
    local t0=$SECONDS
    run 2 "$@"
    has "$err" "$text"
    checks=$((checks + 1))
    ((SECONDS - t0 <= limit)) || fail "memtree $* took $((SECONDS - t0)) s (limit $limit)"
}

test_errors() {
    # QEMU that dies at once (an unknown machine).
    quick_error 15 "QEMU exited" capture -O "$work/x" -- \
        qemu-system-x86_64 -M no-such-machine -nodefaults
    quick_error 15 "qemu: " capture -O "$work/x" -- \
        qemu-system-x86_64 -M no-such-machine -nodefaults
    quick_error 15 "cannot run" capture -O "$work/x" -- "$work/no-such-qemu"
    # A socket that is not QMP, one that never speaks, one that greets and
    # then never answers.
    local mode
    for mode in garbage silent mute; do
        "$FAKE_QMP" "$mode" "$work/$mode.sock" &
        pids+=("$!")
        local i
        for ((i = 0; i < 200; i++)); do listening "$work/$mode.sock" && break; sleep 0.02; done
    done
    quick_error 10 "does not greet like a QMP socket" capture --qmp "$work/garbage.sock" --timeout 2
    quick_error 10 "no answer within 2.0 s" capture --qmp "$work/silent.sock" --timeout 2
    quick_error 10 "qmp_capabilities failed: qmp_capabilities: no answer" \
        capture --qmp "$work/mute.sock" --timeout 2
    # A real QEMU that never answers (stopped by SIGSTOP), then one that died.
    start_qemu frozen qemu-system-x86_64 -M pc -nodefaults -accel tcg -S || return
    local pid=$qpid
    kill -STOP "$pid"
    quick_error 10 "no answer within 1.0 s" capture --qmp "$work/frozen.sock" \
        --timeout 1 -O "$work/x"
    kill -CONT "$pid"
    stop_qemu "$pid"
    quick_error 10 "cannot connect to" capture --qmp "$work/frozen.sock" --timeout 1 -O "$work/x"
    quick_error 10 "cannot connect to" capture --qmp "127.0.0.1:1" --timeout 1 -O "$work/x"
    # Usage.
    run 2 capture
    has "$err" "say where QEMU is"
    run 2 capture --qmp "$work/x.sock" -- qemu-system-x86_64
    run 2 capture --qmp "$work/x.sock" --after-firmware 1
    run 2 capture --after-firmware soon -- qemu-system-x86_64
}

test_watch() {
    # SeaBIOS (Debian's seabios) programs a q35 machine's BARs: watch from
    # reset, resuming the paused VM after its first sample.
    local bios=/usr/share/seabios/bios-256k.bin
    checks=$((checks + 1))
    [[ -f $bios ]] || { fail "$bios missing: install seabios (scripts/install-deps.sh)"; return; }
    start_qemu w qemu-system-x86_64 -M q35 -nodefaults -accel tcg -S -bios "$bios" \
        -device e1000 || return
    local pid=$qpid
    run 0 watch --qmp "$work/w.sock" --resume --interval 0.05 --duration 3
    has "$out" "prelaunch: "
    has "$out" "] resumed"
    has "$out" "] added      e1000-mmio (io) at 0xfebc0000-0xfebdffff in pci, owner /machine/peripheral-anon/device[0]"
    has "$out" "] moved      ich9-pm (container) from 0x0-0x7f in io to 0x600-0x67f in io"
    has "$out" "] disabled   pam-pci (alias -> pci +0xc0000)"
    has "$out" "summary: "
    # The VM runs on after the watch.
    run 0 capture --qmp "$work/w.sock" -O "$work/after-watch"
    has "$work/after-watch/meta.json" '"status": "running"'

    # Ctrl-C ends the watch with its summary, exit 0. The watch first
    # finishes the QMP exchange in progress (a sample stops the VM, so it
    # must also resume it), which may wait up to its --timeout (10 s) for
    # QEMU: it has 20 s. A watch still running then is a hang: its stacks
    # go to the log before it is killed (one run in about forty under ASan
    # was killed 5 s after Ctrl-C, cause not found yet).
    "$MEMTREE" watch --qmp "$work/w.sock" --interval 0.1 >"$out" 2>"$err" &
    local wpid=$! i
    sleep 1
    kill -INT "$wpid"
    for ((i = 0; i < 200; i++)); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$wpid" 2>/dev/null; then
        echo "watch still running 20 s after SIGINT; its threads:" >&2
        gdb -batch -p "$wpid" -ex "thread apply all bt" >&2 2>&1 || true
        kill -KILL "$wpid"
    fi
    wait "$wpid"
    local rc=$?
    checks=$((checks + 1))
    [[ $rc == 0 ]] || { fail "watch after SIGINT exited $rc"; cat "$err" >&2; }
    has "$out" "summary: "
    # QEMU going away ends a watch with exit 2.
    timeout -k 5 60 "$MEMTREE" watch --qmp "$work/w.sock" --interval 0.1 >"$out" 2>"$err" &
    wpid=$!
    sleep 0.5
    stop_qemu "$pid"
    wait "$wpid"
    rc=$?
    checks=$((checks + 1))
    [[ $rc == 2 ]] || fail "watch of a QEMU that died exited $rc, expected 2"
    has "$err" "(did QEMU exit?)"
    # Not QMP.
    "$FAKE_QMP" garbage "$work/g.sock" &
    pids+=("$!")
    local i
    for ((i = 0; i < 200; i++)); do listening "$work/g.sock" && break; sleep 0.02; done
    quick_error 10 "does not greet like a QMP socket" watch --qmp "$work/g.sock" --timeout 2
    run 2 watch
    has "$err" "say where QEMU is"
    run 2 watch --qmp x --count 0
}

# The examples in `capture --help` and `watch --help` run as written, with
# the fixed socket path of the text swapped for a private one (and watch
# given a --duration, where a user would press Ctrl-C).
test_examples() {
    start_qemu ex qemu-system-x86_64 -M q35 -nodefaults -accel tcg -S || return
    local pid=$qpid cmd line n=0
    for cmd in capture watch; do
        while IFS= read -r line; do
            line=${line//\/tmp\/qmp.sock/$work/ex.sock}
            [[ $cmd == watch ]] && line+=" --duration 1"
            n=$((n + 1))
            checks=$((checks + 1))
            # shellcheck disable=SC2086
            (cd "$work" && timeout -k 5 60 "$MEMTREE" ${line#memtree } >"$out" 2>"$err")
            local rc=$?
            ((rc == 0)) || { fail "help example '$line' exited $rc"; cat "$err" >&2; }
        done < <("$MEMTREE" "$cmd" --help | sed -n '/^Examples/,$s/^  \(memtree .*\)/\1/p')
    done
    checks=$((checks + 1))
    ((n == 5)) || fail "expected 5 examples, found $n"
    local d
    for d in reset firmware now; do
        checks=$((checks + 1))
        [[ -s $work/$d/mtree-oD.txt ]] || fail "the capture example wrote no $d/"
    done
    run 1 diff "$work/reset" "$work/firmware"
    has "$out" "moved      ich9-pm (container)"
    stop_qemu "$pid"
}

run_group qemu_test.sh capture attach errors watch examples
