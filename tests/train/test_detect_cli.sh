#!/bin/sh
# dltrain detect: missing arguments and a bad --score exit 2 with one line; a
# checkpoint that does not exist exits 2 with one line
# naming the file and writes no picture. (The detections themselves are
# test_maskrcnn_infer's: dlt_mrcnn_detect against torchvision.)
bld=${top_builddir:-.}
src=${top_srcdir:-.}
dltrain=$bld/dltrain
img=$src/tests/fixtures/coco/a.png
[ -x "$dltrain" ] || { echo "missing $dltrain"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dlt_detect.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0
# expect CODE PATTERN ARGS...: exit CODE, one stderr line matching PATTERN, no picture
expect() {
    code=$1 pat=$2
    shift 2
    "$dltrain" detect "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq "$code" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" &&
        [ ! -e "$T/pic.png" ]; then
        echo "ok: exit $rc: $(cat "$T/err")"
    else
        echo "FAIL: exit $rc (want $code), stderr: $(cat "$T/err")"
        fail=1
    fi
}
expect 2 "no checkpoint given" --out "$T/pic.png"
expect 2 "no image given" "$T/none.h5" --out "$T/pic.png"
expect 2 "score" "$T/none.h5" "$img" --score x --out "$T/pic.png"
expect 2 "unexpected argument '--bogus'" "$T/none.h5" "$img" --bogus
expect 2 "$T/none.h5" "$T/none.h5" "$img" --out "$T/pic.png"
exit $fail
