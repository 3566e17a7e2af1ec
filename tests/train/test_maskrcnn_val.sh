#!/bin/sh
# The Mask R-CNN task's evaluation (maskrcnn_val.c) on a tiny detection-synth
# set with 6 validation images and test_maskrcnn.sh's tiny network:
#   (a) eval.every_steps = 2, 3 steps: evaluations after steps 2 and 3 (the
#       last) print the 12 COCO metrics (box_ap .. mask_apl) of all 6 images,
#       and write val_results-<step>.json and samples/val-<step>.png (8-digit
#       steps; the first
#       batch: 2 images of 64 x 64 with 2-pixel borders, 134 x 68);
#   (b) dltrain coco-eval of the results JSON gives the numbers of the
#       evaluation line (bbox: all six; segm: AP, AP50, AP75, since the file's
#       areas are the boxes', see dlt_maskrcnn_eval.h);
#   (c) maskrcnn.eval_images = 3: 3 images evaluated, the results JSON holds
#       detections of 3 images only;
#   (d) 2 ranks: rank 0 evaluates while rank 1 waits (heartbeats per batch);
#       the same checks as (b) on its results.
. "${top_srcdir:?}/tests/train/lib.sh"

"$DLPREP" detection-synth --n 24 --val-fraction 0.25 --canvas 64 --seed 3 --out data >prep.out 2>&1 ||
    { cat prep.out; fail "dlprep detection-synth"; }
cat >job.toml <<'JOB'
[model]
name = "m"
arch = "maskrcnn"
[maskrcnn]
depth = 18
norm = "group"
trainable_layers = 5
fpn_channels = 16
representation = 32
mask_channels = 16
min_size = 64
max_size = 64
anchor_sizes = [8.0, 16.0, 32.0, 64.0, 128.0]
rpn_pre_nms_top_n = 200
rpn_post_nms_top_n = 50
rpn_batch = 32
roi_batch = 16
rois = 16
mask_positives = 2
[data]
train = "data/train-*.h5"
val = "data/val-*.h5"
batch_size = 2
[optim]
name = "sgd"
lr = 0.01
momentum = 0.9
[train]
steps = 3
seed = 1
grad_clip = 10.0
[eval]
every_steps = 2
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 1
JOB
nval=$(grep -o '"file_name"' data/instances_val.json | wc -l)
[ "$nval" -eq 6 ] || fail "expected 6 validation images, the ground truth lists $nval"

keys="box_ap box_ap50 box_ap75 box_aps box_apm box_apl mask_ap mask_ap50 mask_ap75 mask_aps mask_apm mask_apl"
# jeval FILE STEP KEY: KEY of the evaluation at STEP in metrics.jsonl
jeval() {
    grep "\"step\": $2, .*\"eval\"" "$1" | sed "s/.*\"$3\": \([-0-9.e]*\).*/\1/"
}
# coco_check RUN STEP: coco-eval of RUN/val_results-STEP.json against the
# evaluation's numbers, to coco-eval's three decimals
coco_check() {
    for iou in bbox segm; do
        "$DLTRAIN" coco-eval --gt data/instances_val.json --dt "$1/val_results-$(printf %08d "$2").json" --iou $iou \
            >ce.out 2>&1 || { cat ce.out; fail "coco-eval $iou of $1"; }
        [ "$iou" = bbox ] && set -- "$1" "$2" box_ap box_ap50 box_ap75 box_aps box_apm box_apl ||
            set -- "$1" "$2" mask_ap mask_ap50 mask_ap75
        run_dir=$1 step=$2
        shift 2
        i=0
        for k in "$@"; do
            i=$((i + 1))
            got=$(sed -n "${i}p" ce.out | sed 's/.*= *//')
            want=$(jeval "$run_dir/metrics.jsonl" "$step" "$k")
            [ -n "$want" ] || fail "no $k in the evaluation at step $step"
            awk -v g="$got" -v w="$want" 'BEGIN { exit !(sprintf("%.3f", w) == sprintf("%.3f", g)) }' ||
                fail "$run_dir step $step: $k $want, coco-eval $got"
            printf "  %-10s eval %-8s coco-eval %s\n" "$k" "$want" "$got"
        done
        set -- "$run_dir" "$step"
    done
}
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'; }

# (a) the evaluations
run 1 job.toml >a.out 2>&1 || { cat a.out; fail "(a) training"; }
for s in 2 3; do
    line=$(grep "^eval step $s: " a.out) || { cat a.out; fail "(a) no evaluation after step $s"; }
    for k in $keys; do
        echo "$line" | grep -q " $k -\{0,1\}[0-9]" || fail "(a) step $s: no $k in '$line'"
    done
    echo "$line" | grep -q "(6 samples)" || fail "(a) step $s: not 6 images: $line"
    p=$(printf %08d $s)
    [ -f runs/m/val_results-$p.json ] || fail "(a) no val_results-$p.json"
    [ "$(png_size runs/m/samples/val-$p.png)" = 134x68 ] ||
        fail "(a) samples/val-$p.png is $(png_size runs/m/samples/val-$p.png), not 134x68"
done
grep "^eval step 3" a.out
# the best box AP of the two evaluations is the run's best metric (higher is better)
best=$(h5dump -m %.17g -d /state/best_metric "runs/m/$(ck 3)" | sed -n '/DATA {/,/}/s/^ *(0): //p' | head -1)
bname=$(h5dump -a /state/best_metric/metric "runs/m/$(ck 3)" | sed -n 's/^ *(0): //p' | tr -d '"')
[ "$bname" = box_ap ] || fail "(a) best_metric names '$bname', expected box_ap"
printf '%s\n%s\n' "$(jeval runs/m/metrics.jsonl 2 box_ap)" "$(jeval runs/m/metrics.jsonl 3 box_ap)" | sort -g | tail -1 |
    awk -v b="$best" '{ d = $1 - b; if (d < 0) d = -d; if (!(d <= 1e-7 * ($1 > 0 ? $1 : 1))) { print "best " b ", highest box_ap " $1; exit 1 } }' ||
    fail "(a) best_metric is not the highest box AP"
echo "(a) evaluations after steps 2 and 3: 12 metrics of 6 images, results JSON, a 134x68 grid"

# (b) the results JSON through coco-eval
coco_check runs/m 3
echo "(b) coco-eval of val_results-3.json gives the evaluation's numbers"

# (c) a capped evaluation
run 1 job.toml --set train.steps=1 --set maskrcnn.eval_images=3 --set checkpoint.dir=c >c.out 2>&1 ||
    { cat c.out; fail "(c) training"; }
grep -q "^eval step 1: .*(3 samples)" c.out || { cat c.out; fail "(c) not 3 images evaluated"; }
nimg=$(grep -o '"image_id":[0-9]*' c/m/val_results-00000001.json | sort -u | wc -l)
[ "$nimg" -ge 1 ] && [ "$nimg" -le 3 ] || fail "(c) detections of $nimg images, not at most 3"
echo "(c) maskrcnn.eval_images = 3: 3 images evaluated, detections of $nimg of them"

# (d) 2 ranks
if have_mpi; then
    run 2 job.toml --set data.batch_size=1 --set checkpoint.dir=two >two.out 2>&1 || { cat two.out; fail "(d) 2 ranks"; }
    grep -q "eval step 2: .*(6 samples)" two.out && grep -q "eval step 3: .*(6 samples)" two.out ||
        { cat two.out; fail "(d) 2 ranks: evaluation lines"; }
    [ "$(grep -c 'eval step' two.out)" -eq 2 ] || { cat two.out; fail "(d) evaluation lines from rank 1"; }
    coco_check two/m 3
    echo "(d) 2 ranks: rank 0 evaluated all 6 images; coco-eval agrees"
else
    echo "(d) skipped: no mpirun"
fi
echo "$(elapsed)"
