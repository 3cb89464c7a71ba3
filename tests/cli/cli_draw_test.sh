#!/usr/bin/env bash
# Tests of what `memtree draw` marks and how it opens (issue 15), one group
# per ctest test:   cli_draw_test.sh draw_hidden|draw_open
# draw_hidden: the marks beside the bands name the regions hidden there
# with the reason `memtree at` gives, owners are written with -o, and the
# pictures still render with rsvg-convert. draw_open: --open hands the file
# to $BROWSER or xdg-open (fake ones that record their arguments), says so
# when there is none, and never waits for a browser that keeps running.
# Environment as for cli_test.sh (tests/cli/CMakeLists.txt). Exit status 0
# pass, 1 fail, 77 skipped (rsvg-convert missing).
set -u

group=${1:?usage: cli_draw_test.sh GROUP}
: "${MEMTREE:?}" "${DATA:?}" "${MACHINES:?}"
CASES=${CASES:-}
source "${BASH_SOURCE%/*}/../support/cli_harness.sh"

# The lines of the marks' tooltips: "FIRST-LAST NAME (KIND, prio P): WHY",
# with XML's escapes undone.
mark_lines() { # SVG
    sed -nE '/^[0-9a-f]{16}-[0-9a-f]{16} /p' "$1" |
        sed -E 's#</title></rect>$##; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g'
}

# Every mark of a picture drawn without -o says what `memtree at` says at
# the first address of the mark: the same region, hidden for the same
# reason.
marks_agree_with_at() { # FILE SVG
    local file=$1 svg=$2 line n=0
    while IFS= read -r line; do
        [[ $line =~ ^([0-9a-f]{16})-[0-9a-f]{16}\ (.*)\ \(([a-z/-]+),\ prio\ (-?[0-9]+)\):\ (.*)$ ]] ||
            { fail "unreadable mark line: $line"; continue; }
        local addr=0x${BASH_REMATCH[1]} name=${BASH_REMATCH[2]} kind=${BASH_REMATCH[3]}
        local prio=${BASH_REMATCH[4]} why=${BASH_REMATCH[5]}
        n=$((n + 1))
        checks=$((checks + 1))
        "$MEMTREE" at "$file" "$addr" >"$work/at" 2>"$err" || { fail "at $file $addr failed"; continue; }
        grep -A1 -F -- "    $name ($kind, prio $prio) at offset" "$work/at" |
            grep -qxF -- "      why: $why" ||
            fail "$(basename "$file"): the mark says '$name' at $addr: '$why'; at says otherwise"
    done < <(mark_lines "$svg")
    echo "$(basename "$file"): $n marks agree with at" >&2
    MARKS=$n
}

test_draw_hidden() {
    # tests/cli/data/hidden.model.txt has one region per reason.
    local hidden=$DATA/hidden.model.txt
    run 0 draw "$hidden" -O "$work/hidden.svg"
    local svg=$work/hidden.svg
    has "$svg" 'class="lost"><title>hidden here (loses to another region):'
    has "$svg" 'class="off"><title>hidden here (cannot show):'
    has "$svg" "0000000000001000-0000000000001fff dev-off (io, prio 5): disabled"
    has "$svg" "0000000000000800-0000000000001fff overhang (io, prio 0): clipped: outside the window of container 'small-box'"
    has "$svg" "0000000000001000-0000000000001000 empty-dev (io, prio 8): zero size"
    has "$svg" "0000000000001000-0000000000001fff far-alias (alias, prio 7): alias offset beyond target: 'short-target' is only 0x100 bytes"
    has "$svg" "0000000000000800-000000000000ffff dev-twin (io, prio 2): earlier sibling 'dev-high' answers first (same priority 2, added later)"
    has "$svg" "0000000000000800-000000000000ffff ram-low (ram, prio 0): lower priority: prio 0 &lt; prio 2 of sibling 'dev-high'"
    has "$svg" "0000000000000000-00000000000007ff dev-high (io, prio 2): lower priority: prio 2 &lt; prio 6 of sibling 'small-box'"
    # A region's own backing under its subregion is the paler shade, not
    # a hidden region; a region is not hidden where it answers.
    lacks "$svg" " backing (ram"
    lacks "$svg" "0000000000000800-000000000000ffff dev-high"
    # The notes beside the size name what is hidden.
    has "$svg" 'class="note-lost">hidden: dev-high and 3 more</text>'
    has "$svg" 'class="legend">hidden: disabled, clipped, zero size</text>'
    lacks "$svg" 'class="owner"'
    marks_agree_with_at "$hidden" "$svg"
    checks=$((checks + 1))
    ((MARKS == 12)) || fail "hidden.model.txt: $MARKS marks, expected 12"

    # The bundled pc after SeaBIOS: the BIOS under the PAM aliases, owners
    # under the names with -o, and in the marks' tooltips.
    run 0 draw -O "$work/pc.svg" --as memory
    marks_agree_with_at "$MACHINES/x86-pc-seabios.mtree.txt" "$work/pc.svg"
    has "$work/pc.svg" "00000000000f0000-00000000000fffff pc.bios (rom, prio 0): lower priority: its container 'pci' (prio -1) &lt; prio 1 of sibling 'pam-rom'"
    run 0 draw -o -O "$work/pc-owners.svg"
    has "$work/pc-owners.svg" 'class="owner">/objects/pc.ram</text>'
    has "$work/pc-owners.svg" 'class="owner">/machine/unattached/device[0]/lapic</text>'
    has "$work/pc-owners.svg" "pc.ram (ram, prio 0) owner /objects/pc.ram: lower priority"
    # The empty view of a bus-master address space hides all of memory:
    # its aliases are disabled.
    has "$work/pc-owners.svg" "0000000000000000-0000000007ffffff pc.ram (ram, prio 0) owner /objects/pc.ram: disabled: 'bus master' on the way is disabled"
    # A region reached by two routes keeps a line per stretch.
    has "$work/pc-owners.svg" "00000000000e0000-00000000000fffff pc.bios (rom, prio 0): disabled: 'bus master' on the way is disabled"
    has "$work/pc-owners.svg" "00000000fffc0000-00000000ffffffff pc.bios (rom, prio 0): disabled: 'bus master' on the way is disabled"

    # Every machine of the corpus draws, and its marks agree with at.
    local c
    if [[ -n $CASES && -d $CASES ]]; then
        for c in "$CASES"/*/; do
            checks=$((checks + 1))
            "$MEMTREE" draw "$c" -O "$work/case.svg" 2>"$err" || { fail "draw $c failed"; cat "$err" >&2; }
        done
        for c in x86-q35-default-seabios arm-mps2-an385 x86-pc-bridges-qfw arm-vexpress-a9; do
            [[ -d $CASES/$c ]] || continue
            "$MEMTREE" draw "$CASES/$c" -O "$work/$c.svg" 2>"$err" || { fail "draw $c failed"; continue; }
            marks_agree_with_at "$CASES/$c" "$work/$c.svg"
        done
    fi

    if ! command -v rsvg-convert >/dev/null; then
        echo "SKIP: rsvg-convert not installed (apt-get install librsvg2-bin)" >&2
        return 77
    fi
    local f
    for f in hidden pc-owners; do
        checks=$((checks + 1))
        if ! rsvg-convert "$work/$f.svg" -o "$work/$f.png" 2>"$err"; then
            fail "rsvg-convert rejects $f.svg"
            cat "$err" >&2
            continue
        fi
        local bytes
        bytes=$(stat -c %s "$work/$f.png")
        ((bytes > 5000)) || fail "$f.png looks empty: $bytes bytes"
    done
}

# A fake browser: records its arguments, then does what it is told.
fake_browser() { # PATH THEN
    printf '#!/bin/sh\necho "$@" > "%s"\n%s\n' "$work/opened" "$2" >"$1"
    chmod +x "$1"
}

opened_is() { # TEXT
    checks=$((checks + 1))
    local got
    got=$(cat "$work/opened" 2>/dev/null)
    [[ $got == "$1" ]] || fail "the browser got '$got', expected '$1'"
    rm -f "$work/opened"
}

test_draw_open() {
    export TMPDIR=$work/tmp
    mkdir -p "$TMPDIR"
    fake_browser "$work/browser" "exit 0"

    # Without -O, a temporary file that outlives the tool.
    BROWSER=$work/browser run 0 draw --open --as memory
    local path
    path=$(sed -n 's/^picture: //p' "$out")
    checks=$((checks + 1))
    [[ $path == "$TMPDIR"/memtree-draw-*.svg && -s $path ]] || fail "no picture at '$path'"
    has "$path" "<svg"
    has "$out" "opened with BROWSER=$work/browser"
    opened_is "$path"

    # With -O, that file; %s in BROWSER stands for it; only the first of a
    # colon-separated BROWSER is used.
    BROWSER="$work/browser --new-window %s:firefox" run 0 draw --open -O "$work/map.svg"
    opened_is "--new-window $work/map.svg"
    has "$work/map.svg" "<svg"

    # xdg-open when there is a display and no BROWSER.
    mkdir -p "$work/bin"
    fake_browser "$work/bin/xdg-open" "exit 0"
    checks=$((checks + 1))
    env -u BROWSER DISPLAY=:99 PATH="$work/bin:$PATH" "$MEMTREE" draw --open -O "$work/x.svg" \
        >"$out" 2>"$err" || fail "draw --open with xdg-open failed"
    has "$out" "opened with xdg-open"
    opened_is "$work/x.svg"

    # No browser: the path and a message, and success (the picture is there).
    checks=$((checks + 1))
    env -u BROWSER -u DISPLAY -u WAYLAND_DISPLAY "$MEMTREE" draw --open >"$out" 2>"$err" ||
        fail "draw --open without a browser failed"
    path=$(sed -n 's/^picture: //p' "$out")
    has "$err" "not opened in a browser (no BROWSER set and no graphical display"
    has "$err" "open $path yourself, or set BROWSER"
    checks=$((checks + 1))
    [[ -s $path ]] || fail "no picture without a browser"
    BROWSER=$work/no-such-browser run 0 draw --open -O "$work/y.svg"
    has "$err" "not opened in a browser (BROWSER=$work/no-such-browser: command not found)"
    fake_browser "$work/failing" "exit 3"
    BROWSER=$work/failing run 0 draw --open -O "$work/y.svg"
    has "$err" "BROWSER=$work/failing failed (exit status 3)"

    # A browser that stays in the foreground is left running, not waited for.
    fake_browser "$work/stays" "echo \$\$ > '$work/stays.pid'; exec sleep 60"
    local t0=$SECONDS
    BROWSER=$work/stays run 0 draw --open -O "$work/z.svg"
    checks=$((checks + 1))
    ((SECONDS - t0 < 10)) || fail "draw --open waited $((SECONDS - t0)) s for the browser"
    has "$out" "opened with BROWSER=$work/stays"
    opened_is "$work/z.svg"
    [[ -s $work/stays.pid ]] && kill "$(cat "$work/stays.pid")" 2>/dev/null

    # Standard output cannot be opened.
    run 2 draw --open -O -
    has "$err" "--open needs a file"
    run 2 draw
    has "$err" "missing -O OUT.svg (or --open)"
}

run_group cli_draw_test.sh draw_hidden draw_open
