#!/usr/bin/env bash
# Writes memtree(1) on standard output from the tool's own help texts
# (`memtree --help` and `memtree CMD --help`), so the manual page and the
# help cannot disagree. Run by the build (tools/memtree/CMakeLists.txt).
# Usage: gen-man.sh PATH/TO/memtree
set -euo pipefail
memtree=${1:?usage: gen-man.sh MEMTREE}

# Help text as roff: kept as preformatted lines, with backslashes, leading
# dots and quotes, and hyphens made literal.
roff() {
    sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'
}

version=$("$memtree" --version)
commands=$("$memtree" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p')

cat <<HEAD
.TH MEMTREE 1 "" "${version}" "User Commands"
.SH NAME
memtree \\- explore, compare and capture QEMU memory maps
.SH SYNOPSIS
.B memtree
.I COMMAND
.RI [ ARGS ...]
.SH DESCRIPTION
.nf
HEAD
"$memtree" --help | roff
echo ".fi"
echo ".SH COMMANDS"
for c in $commands; do
    echo ".SS $c"
    echo ".nf"
    "$memtree" "$c" --help | roff
    echo ".fi"
done
cat <<'TAIL'
.SH FILES
.TP
.I PREFIX/share/memtree/machines
the bundled machines used when no FILE is given
.SH SEE ALSO
.BR qemu (1)
TAIL
