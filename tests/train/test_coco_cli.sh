#!/bin/sh
# dltrain coco-eval: the 12 lines pycocotools' COCOeval.summarize() printed for
# fixture set 1 (tests/fixtures/coco_eval_summary1_{bbox,segm}.txt, made by
# coco_eval_make_fixtures.py), bbox by default; bad arguments and malformed
# files exit 2 with one line naming the file and the field.
bld=${top_builddir:-.}
src=${top_srcdir:-.}
dltrain=$bld/dltrain
fx=$src/tests/fixtures
[ -x "$dltrain" ] || { echo "missing $dltrain"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/dlt_coco.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

for iou in bbox segm; do
    if [ $iou = bbox ]; then set --; else set -- --iou segm; fi
    "$dltrain" coco-eval --gt "$fx/coco_eval_gt1.json" --dt "$fx/coco_eval_dt1.json" "$@" \
        >"$T/out" 2>"$T/err" || { bad "$iou: exit $?: $(cat "$T/err")"; continue; }
    if cmp -s "$T/out" "$fx/coco_eval_summary1_$iou.txt"; then
        ok "$iou: the lines pycocotools printed"
        sed -n 1p "$T/out"
    else
        bad "$iou: output differs from pycocotools'"
        diff "$T/out" "$fx/coco_eval_summary1_$iou.txt"
    fi
done

# expect CODE PATTERN ARGS...: exit CODE, one stderr line matching PATTERN
expect() {
    code=$1 pat=$2
    shift 2
    "$dltrain" coco-eval "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq "$code" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err" &&
        [ ! -s "$T/out" ]; then
        ok "exit $rc: $(cat "$T/err")"
    else
        bad "exit $rc (want $code), stderr: $(cat "$T/err")"
    fi
}
expect 2 "no --dt given" --gt "$fx/coco_eval_gt1.json"
expect 2 "--iou is bbox or segm" --gt "$fx/coco_eval_gt1.json" --dt "$fx/coco_eval_dt1.json" --iou keypoints
expect 2 "unexpected argument '--bogus'" --bogus
expect 2 "$T/missing.json" --gt "$T/missing.json" --dt "$fx/coco_eval_dt1.json"
sed 's/"iscrowd":0/"iscrowd":"no"/' "$fx/coco_eval_gt1.json" >"$T/gt.json"
expect 2 "$T/gt.json: annotations\[0\].iscrowd: expected 0 or 1" --gt "$T/gt.json" --dt "$fx/coco_eval_dt1.json"
head -c 300 "$fx/coco_eval_dt1.json" >"$T/dt.json"
expect 2 "$T/dt.json: not valid JSON (line 1" --gt "$fx/coco_eval_gt1.json" --dt "$T/dt.json"
exit $fail
