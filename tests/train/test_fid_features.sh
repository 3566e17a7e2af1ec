#!/bin/sh
# FID's feature extractor on a real checkpoint: dlprep makes synthetic 28x28x1
# shards of 4 classes, dltrain trains ResNet-20 on them for 3 steps (data.mean
# and data.std as the Fashion-MNIST job's), dltrain predict writes its logits
# for every shard image, and fid_check compares the extractor's features with
# the classifier's own pooled activations, its fc layer with those logits, and
# FID(set, same set) with 0 (tests/train/fid_check.c).
. "$top_srcdir/tests/train/lib.sh"
CHECK=$top_builddir/tests/train/fid_check
[ -x "$CHECK" ] || fail "missing $CHECK (make tests/train/fid_check)"

"$DLPREP" synthetic --num 120 --size 28x28x1 --classes 4 --seed 5 --out data --quiet ||
    fail "dlprep synthetic"
cat >job.toml <<'JOB'
[model]
name = "c"
arch = "resnet20"
[data]
train = "data/train-*.h5"
batch_size = 16
mean = [0.2860]
std = [0.3530]
[optim]
name = "sgd"
lr = 0.05
momentum = 0.9
[train]
steps = 3
seed = 1
threads = 1
[checkpoint]
dir = "runs"
[log]
every_steps = 1000
JOB
run 1 job.toml --quiet || fail "training"
C=runs/c/$(ck 3)
[ -f "$C" ] || fail "no checkpoint $C"
"$DLTRAIN" predict "$C" --data "data/train-*.h5" --out pred.h5 --threads 1 >/dev/null ||
    fail "dltrain predict"
"$CHECK" "$C" data/train-00000-of-00001.h5 pred.h5 0.2860 0.3530 4 || fail "fid_check"
echo "ok: FID features of $C ($(($(date +%s) - t_start)) s)"
