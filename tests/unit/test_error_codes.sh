#!/usr/bin/env bash
# Every negative errno code written in the library's or the tool's sources
# (`-EINVAL`, ...) has its own text in src/errors.h, the table mt_strerror
# reads: a new code without a text fails here. The C side (test_error_text.c)
# checks that the texts really come out of mt_strerror.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
used=$(grep -rhoE --include='*.c' --include='*.h' -e '-E[A-Z0-9]{2,}\b' "$root/src" "$root/tools" |
       sed 's/^-//' | sort -u)
missing=0
for code in $used; do
    if ! grep -qE "X\($code," "$root/src/errors.h"; then
        echo "error code $code is returned but has no text in src/errors.h" >&2
        missing=1
    fi
done
[[ -n $used ]] || { echo "no error codes found: is the source tree there?" >&2; exit 1; }
exit $missing
