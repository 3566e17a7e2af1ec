#!/bin/sh
# The Mask R-CNN task end to end on a tiny synthetic detection set (dlprep
# detection-synth, 64 x 64 canvases) and a tiny ResNet-18-FPN:
#   (a) 2 ranks x batch 1 == 1 rank x batch 2 after 2 steps (parameters, and
#       the five losses of step 1): the samplers draw by global image index,
#       and with every per-image sample count fixed (32 anchors, 16 RoIs, 1
#       positive: each image has ground truth) the normalisers split exactly
#       over ranks, so only the order of float sums differs (tolerance 1e-5);
#   (b) exact resume: 4 steps == 2 + 2 resumed, bitwise;
#   (c) the progress lines name the five losses; maskrcnn.max_boxes below the
#       shards' M keeps the first M objects of each image.
. "${top_srcdir:?}/tests/train/lib.sh"

"$DLPREP" detection-synth --n 40 --canvas 64 --seed 3 --out data >prep.out 2>&1 || { cat prep.out; fail "dlprep detection-synth"; }
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
flip = false
anchor_sizes = [8.0, 16.0, 32.0, 64.0, 128.0]
rpn_pre_nms_top_n = 200
rpn_post_nms_top_n = 50
rpn_batch = 32
roi_batch = 16
roi_positive_fraction = 0.0625
rois = 16
mask_positives = 1
[data]
train = "data/train-*.h5"
batch_size = 2
shuffle = false
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

# (c) one step: the five losses in the progress line
run 1 job.toml --set checkpoint.dir=c --set train.steps=1 >c.out 2>&1 || { cat c.out; fail "(c) one step"; }
grep -q "step 1/1 .*loss .* rpn_obj .* rpn_box .* cls .* box .* mask " c.out || { cat c.out; fail "(c) progress line"; }
grep "step 1/1" c.out
# more objects than M (the synthetic images hold up to 6): the first M are kept
run 1 job.toml --set checkpoint.dir=m2 --set train.steps=1 --set maskrcnn.max_boxes=2 --dry-run >m2.out 2>&1 ||
    { cat m2.out; fail "(c) max_boxes = 2"; }
grep -q "up to 2 boxes" m2.out || { cat m2.out; fail "(c) max_boxes = 2 not in the model line"; }
run 1 job.toml --set checkpoint.dir=m2 --set train.steps=1 --set maskrcnn.max_boxes=2 >m2.out 2>&1 ||
    { cat m2.out; fail "(c) max_boxes = 2"; }
grep -q "step 1/1 .*loss [0-9]" m2.out || { cat m2.out; fail "(c) max_boxes = 2: no finite loss"; }

# (b) exact resume
run 1 job.toml --quiet --set train.steps=4 --set checkpoint.dir=full >b.out 2>&1 || { cat b.out; fail "(b) full run"; }
run 1 job.toml --quiet --set checkpoint.dir=cut >b.out 2>&1 || { cat b.out; fail "(b) first half"; }
run 1 job.toml --quiet --set train.steps=4 --set checkpoint.dir=cut --resume auto >b.out 2>&1 ||
    { cat b.out; fail "(b) resumed"; }
same "full/m/$(ck 4)" "cut/m/$(ck 4)"
echo "(b) 4 steps == 2 + 2 resumed, bitwise"

# (a) 2 ranks x 1 == 1 rank x 2
if have_mpi; then
    run 1 job.toml --set checkpoint.dir=one >one.out 2>&1 || { cat one.out; fail "(a) 1 rank"; }
    run 2 job.toml --set data.batch_size=1 --set checkpoint.dir=two >two.out 2>&1 || { cat two.out; fail "(a) 2 ranks"; }
    "$TOOL" cmp "one/m/$(ck 2)" "two/m/$(ck 2)" /params --tol 1e-5 || fail "(a) 2 ranks x 1 differ from 1 rank x 2"
    l1=$(grep "step 1/2" one.out | sed 's/.*\(loss .* mask [0-9.]*\).*/\1/')
    l2=$(grep "step 1/2" two.out | sed 's/.*\(loss .* mask [0-9.]*\).*/\1/')
    echo "1 rank x 2:  $l1"
    echo "2 ranks x 1: $l2"
    [ "$l1" = "$l2" ] || fail "(a) step 1's losses differ"
    echo "(a) 2 ranks x 1 == 1 rank x 2 (parameters within 1e-5, losses as printed)"
else
    echo "(a) skipped: no mpirun"
fi
echo "$(elapsed)"
