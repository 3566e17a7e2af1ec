#!/bin/sh
# dltrain detect on a checkpoint of the Mask R-CNN task: a tiny training run
# (2 steps of test_maskrcnn.sh's tiny ResNet-18-FPN on a tiny detection-synth
# set, whose anchors 8..128 are not torchvision's) -> checkpoint -> dltrain
# detect reads the network from the checkpoint's stored job and /model
# (dlt_mrcnn_ckpt_spec) and writes a PNG of the image's size (not the
# network's input size) with every detection inside the image; a checkpoint of
# another task is refused with one line naming the file and its model.arch.
. "${top_srcdir:?}/tests/train/lib.sh"

"$DLPREP" detection-synth --n 8 --canvas 64 --seed 3 --out data >prep.out 2>&1 || { cat prep.out; fail "dlprep detection-synth"; }
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
anchor_ratios = [0.5, 1.0, 3.0]
rpn_pre_nms_top_n = 200
rpn_post_nms_top_n = 50
rpn_batch = 32
roi_batch = 16
rois = 16
mask_positives = 2
[data]
train = "data/train-*.h5"
batch_size = 2
[optim]
name = "sgd"
lr = 0.01
momentum = 0.9
[train]
steps = 2
seed = 1
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 1
JOB
run 1 job.toml >t.out 2>&1 || { cat t.out; fail "training"; }
ckpt=runs/m/$(ck 2)
[ -f "$ckpt" ] || { cat t.out; fail "no $ckpt"; }

# a 32 x 24 image (resized to 85 x 64 for the network, padded to 96 x 64)
img=$top_srcdir/tests/fixtures/coco/a.png
"$DLTRAIN" detect "$ckpt" "$img" --out pic.png --score 0 >d.out 2>d.err || { cat d.out d.err; fail "detect"; }
[ -s d.err ] && { cat d.err; fail "detect wrote to stderr"; }
tail -n 1 d.out
# IHDR: width and height, big-endian, at bytes 16..23
wh=$(od -An -tu1 -j16 -N8 pic.png | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }')
[ "$wh" = 32x24 ] || fail "pic.png is $wh, not the image's 32x24"
# every detection (score >= 0: all of them) printed, its box inside the image
tail -n 1 d.out | grep -q "^pic.png: \([0-9]*\) detections at score >= 0.00 (\1 in all)$" ||
    fail "the summary line: $(tail -n 1 d.out)"
n=$(tail -n 1 d.out | awk '{ print $2 }')
[ "$n" -gt 0 ] || fail "no detections at all (an untrained network scores every class)"
sed '$d' d.out | awk -v n="$n" '
    { k++; if (!($4 >= 0 && $5 >= 0 && $6 <= 32 && $7 <= 24 && $4 <= $6 && $5 <= $7 && $3 >= 0 && $3 <= 1)) bad++ }
    END { exit !(k == n && bad == 0) }' || { cat d.out; fail "a detection outside the image, or not $n lines"; }
echo "detect: $wh picture, $n detections inside the image"
# the same checkpoint and image give the same detections
"$DLTRAIN" detect "$ckpt" "$img" --out pic2.png --score 0 >d2.out 2>&1 || { cat d2.out; fail "detect again"; }
sed '$d' d.out >a.txt && sed '$d' d2.out >b.txt && cmp -s a.txt b.txt || fail "two runs differ"

# another task's checkpoint: one line naming the file and the arch, no picture
make_data 40
write_job
run 1 job.toml --set train.steps=1 --set checkpoint.dir=mlp --quiet >m.out 2>&1 || { cat m.out; fail "mlp training"; }
"$DLTRAIN" detect "mlp/t/$(ck 1)" "$img" --out no.png >n.out 2>n.err && fail "an mlp checkpoint was accepted"
[ "$(wc -l <n.err)" -eq 1 ] && grep -q "mlp/t/$(ck 1): model.arch = mlp is not a Mask R-CNN" n.err ||
    { cat n.err; fail "the refusal"; }
[ -e no.png ] && fail "a picture for a refused checkpoint"
echo "refused: $(cat n.err)"
echo "$(elapsed)"
