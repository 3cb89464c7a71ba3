# shellcheck shell=bash
# What the shell tests of the `memtree` tool share (tests/cli/*.sh,
# tests/qemu/qemu_test.sh source it): a private work folder removed at exit,
# the check counters, the checks themselves and the closing summary.
# Set before sourcing, if wanted: RUN_TIMEOUT (seconds: run puts the tool
# under timeout, so a hang fails as 124) and SHOW_LINES (how much of the
# output a failed run shows, 5 by default). A function harness_cleanup, if
# the script defines one, runs at exit before the work folder goes.

work=$(mktemp -d)
harness_exit() {
    if declare -F harness_cleanup >/dev/null; then
        harness_cleanup
    fi
    rm -rf "$work"
}
trap harness_exit EXIT
out=$work/out
err=$work/err
fails=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run RC ARGS...: runs the tool, keeps stdout/stderr in $out/$err and checks
# the exit status.
run() {
    local want=$1
    shift
    checks=$((checks + 1))
    if [[ -n ${RUN_TIMEOUT:-} ]]; then
        timeout -k 5 "$RUN_TIMEOUT" "$MEMTREE" "$@" >"$out" 2>"$err"
    else
        "$MEMTREE" "$@" >"$out" 2>"$err"
    fi
    local rc=$?
    if [[ $rc != "$want" ]]; then
        fail "memtree $* exited $rc, expected $want"
        sed 's/^/  stderr: /' "$err" | head -"${SHOW_LINES:-5}" >&2
        sed 's/^/  stdout: /' "$out" | head -"${SHOW_LINES:-5}" >&2
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

# run_group SCRIPT GROUPS...: runs test_$group when $group is one of GROUPS
# (exit 2 otherwise), prints the counts and exits 1 if a check failed, else
# with the group's status when that is 77 (skipped), else 0.
run_group() {
    local script=$1 g known=
    shift
    for g in "$@"; do
        [[ $g == "$group" ]] && known=1
    done
    if [[ -z $known ]]; then
        echo "$script: unknown group '$group'" >&2
        exit 2
    fi
    "test_$group"
    local status=$?
    echo "$group: $checks checks, $fails failed" >&2
    ((fails == 0)) || exit 1
    ((status == 77)) && exit 77
    exit 0
}
