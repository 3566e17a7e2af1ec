#!/bin/sh
# A tiny ResNet memorises 256 images on 2 ranks: random 8x8 pixels with random
# labels (4 classes, drawn independently of the pixels, so nothing generalises
# and only memorising fits them). ResNet-8 trained through the real dltrain
# under mpirun -np 2, then evaluated on the same 256 images: top-1 must be 1
# and the confusion matrix diagonal. A linear classifier (mlp, 0 hidden layers)
# trained as long stays below 100%: the labels are not a linear function of the
# pixels, so the ResNet's 100% is memorisation, not an easy task.
. "$top_srcdir/tests/train/lib.sh"
need_mpi

# IDX files (dlprep idx) from a 32-bit LCG in exact double arithmetic, so every
# awk makes the same bytes; the top bits give pixels 0..255 and labels 0..3.
# Bytes go through printf's octal escapes, as awk cannot portably write NUL.
awk 'BEGIN {
    n = 256; s = 12345
    printf "\\000\\000\\010\\003\\000\\000\\001\\000\\000\\000\\000\\010\\000\\000\\000\\010" >"images.txt"
    printf "\\000\\000\\010\\001\\000\\000\\001\\000" >"labels.txt"
    for (i = 0; i < n * 64; i++) {
        s = (s * 69069 + 1) % 4294967296
        printf "\\%03o", int(s / 16777216) >"images.txt"
    }
    for (i = 0; i < n; i++) {
        s = (s * 69069 + 1) % 4294967296
        printf "\\%03o", int(s / 1073741824) >"labels.txt"
    }
}' || fail "awk"
printf "$(cat images.txt)" >images.idx && printf "$(cat labels.txt)" >labels.idx || fail "printf"
"$DLPREP" idx images.idx labels.idx --out data --quiet || fail "dlprep idx"
echo "data: 256 images, labels $(od -An -v -tu1 -j8 labels.idx | tr -s ' ' '\n' | grep . |
    sort | uniq -c | awk '{ printf "%s%d: %d", (NR > 1 ? ", " : ""), $2, $1 }') (label: count)"

# SGD with momentum, no augmentation, evaluated once, after the last step, on
# the training images. 50 epochs of 4 steps; 100% is reached by about step 100.
cat >job.toml <<'JOB'
[model]
name = "ov"
arch = "resnet8"
num_classes = 4
[data]
train = "data/train-*.h5"
val = "data/train-*.h5"
batch_size = 32
mean = [0.5]
std = [0.29]
[optim]
name = "sgd"
lr = 0.1
momentum = 0.9
[train]
steps = 200
seed = 1
threads = 1
[eval]
every_steps = 100   # two evaluations: the second must not count the first
[checkpoint]
dir = "runs"
keep_last = 1
[log]
every_steps = 50
JOB

# eval_field FILE KEY: KEY of the last evaluation record of a metrics.jsonl
eval_field() {
    grep '"eval": {' "$1" | tail -1 | sed -n "s/.*\"$2\": \([-0-9.e+]*\)[,}].*/\1/p"
}

run 2 job.toml --quiet >out.txt 2>&1 || { cat out.txt; fail "resnet8 on 2 ranks"; }
t_resnet=$(elapsed)
m=runs/ov/metrics.jsonl
top1=$(eval_field $m top1) samples=$(eval_field $m samples)
echo "resnet8, 2 ranks x batch 32, 200 steps: train accuracy $(grep -v '"eval"' $m | tail -1 |
    sed -n 's/.*"accuracy": \([-0-9.e+]*\),.*/\1/p'), eval on the 256 training images: top-1 $top1," \
    "loss $(eval_field $m loss) ($t_resnet)"
[ "$samples" = 256 ] || fail "evaluated $samples samples, expected 256"
[ "$top1" = 1 ] || fail "top-1 on the training images is $top1, expected 1"
# 100% top-1: every sample on the diagonal (row sums = label counts, total 256)
conf=$(grep '"eval": {' $m | tail -1 | sed -n 's/.*"confusion": \[\(.*\)\]\].*/\1]/p')
echo "$conf" | awk -F'], \\[' '{
    tot = 0
    for (i = 1; i <= NF; i++) {
        gsub(/[][]/, "", $i); k = split($i, c, ", ")
        for (j = 1; j <= k; j++) { tot += c[j]; if (j != i && c[j] != 0) bad = 1 }
    }
    exit !(NF == 4 && tot == 256 && !bad)
}' || fail "confusion matrix [$conf] is not diagonal over 256 samples"

# control: a linear classifier with the same optimizer and steps
run 1 job.toml --quiet --set model.name=lin --set model.arch=mlp --set model.layers=0 \
    --set data.batch_size=64 >out.txt 2>&1 || { cat out.txt; fail "linear control"; }
lin=$(eval_field runs/lin/metrics.jsonl top1)
echo "control: a linear classifier reaches top-1 $lin"
[ -n "$lin" ] && awk -v a="$lin" 'BEGIN { exit !(a < 0.95) }' ||
    fail "a linear classifier fits the labels (top-1 $lin): the data is too easy"
echo "done: $(elapsed)"
