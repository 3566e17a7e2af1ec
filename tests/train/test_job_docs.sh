#!/bin/sh
# docs/jobs.md is the job reference exactly as `dltrain --print-job-reference`
# prints it from the key table the parser checks jobs against, so the
# documented keys, types, defaults and ranges are the ones a run accepts.
# After changing a key: dltrain --print-job-reference > docs/jobs.md
bld=${top_builddir:-.}
src=${top_srcdir:-.}
dltrain=$bld/dltrain
doc=$src/docs/jobs.md
[ -x "$dltrain" ] || { echo "missing $dltrain"; exit 1; }
[ -r "$doc" ] || { echo "missing $doc"; exit 1; }
out=$(mktemp "${TMPDIR:-/tmp}/dlt_jobref.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
"$dltrain" --print-job-reference >"$out" || { echo "FAIL: dltrain --print-job-reference exited $?"; exit 1; }
keys=$(grep -c '^| `' "$out")
if [ "$keys" -lt 100 ]; then
    echo "FAIL: the reference lists $keys keys (expected over 100)"
    exit 1
fi
if ! diff -u "$doc" "$out" >"$out.diff"; then
    echo "FAIL: $doc differs from dltrain --print-job-reference (regenerate it):"
    head -40 "$out.diff"
    rm -f "$out.diff"
    exit 1
fi
rm -f "$out.diff"
echo "ok: $doc is the printed reference ($keys keys)"
