#!/bin/sh
# dltrain fid (src/train/fid_sets.c): FID-FMNIST between two image sets. A
# ResNet-20 trained for 3 steps on synthetic 28x28x1 shards (as
# test_fid_features.sh) is the classifier.
#   (a) two shard sets (other seeds, other images): the printed value equals
#       fid_sets_check's, which reads the shards with HDF5, builds its own
#       ResNet-20 (fid_ref.c) and does the statistics and the square-root
#       trace with its own Jacobi eigensolver, within 1e-6 relative; --n
#       takes the first N of each set, and without --n a set of fewer than
#       10,000 images gives all it holds
#   (b) a set against itself: 0 (to ~1e-9 of the features' scale)
#   (c) a GAN checkpoint as a set: the value the run reported as its fid at
#       that checkpoint (the same n, real shards and draws), within 1e-6
#   (d) no match, a classifier checkpoint as a set, 8x8 images, a missing
#       --classifier: one line, exit 2
. "$top_srcdir/tests/train/lib.sh"
CHECK=$top_builddir/tests/train/fid_sets_check
[ -x "$CHECK" ] || fail "missing $CHECK (make tests/train/fid_sets_check)"
"$DLPREP" synthetic --num 120 --size 28x28x1 --classes 4 --seed 5 --out data --quiet ||
    fail "dlprep synthetic"
"$DLPREP" synthetic --num 90 --size 28x28x1 --classes 4 --seed 8 --out other --quiet ||
    fail "dlprep synthetic (other)"
"$DLPREP" synthetic --num 20 --size 8x8x1 --classes 4 --seed 8 --out small --quiet ||
    fail "dlprep synthetic (8x8)"
cat >cls.toml <<'JOB'
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
run 1 cls.toml --quiet >cls.out 2>&1 || { cat cls.out; fail "classifier training"; }
C=runs/c/$(ck 3)
D1=data/train-00000-of-00001.h5
D2=other/train-00000-of-00001.h5
# fidv OUT: the value of dltrain fid's line
fidv() { sed -n 's/^FID-FMNIST \([^ ]*\) (.*/\1/p' "$1"; }

# (a) two shard sets
"$DLTRAIN" fid "data/train-*.h5" "other/train-*.h5" --classifier "$C" --n 70 --threads 1 >a.out 2>&1 ||
    { cat a.out; fail "dltrain fid --n 70"; }
grep -q "^FID-FMNIST [0-9.e+-]* (70 vs 70 images)$" a.out || { cat a.out; fail "the line of --n 70"; }
"$CHECK" "$C" 0.2860 0.3530 4 "$(fidv a.out)" $D1 70 $D2 70 || fail "fid_sets_check (--n 70)"
"$DLTRAIN" fid "data/train-*.h5" "other/train-*.h5" --classifier "$C" --threads 1 >a2.out 2>&1 ||
    { cat a2.out; fail "dltrain fid"; }
grep -q "^FID-FMNIST [0-9.e+-]* (120 vs 90 images)$" a2.out || { cat a2.out; fail "the line without --n"; }
"$CHECK" "$C" 0.2860 0.3530 4 "$(fidv a2.out)" $D1 120 $D2 90 || fail "fid_sets_check (all images)"
echo "(a) $(cat a.out); $(cat a2.out): as fid_sets_check"

# (b) a set against itself
"$DLTRAIN" fid "$D2" "other/*.h5" --classifier "$C" --threads 1 >b.out 2>&1 || { cat b.out; fail "itself"; }
awk -v v="$(fidv b.out)" 'BEGIN { exit !(v < 1e-9 && v > -1e-9) }' || { cat b.out; fail "FID of a set and itself"; }
echo "(b) $(cat b.out)"

# (c) a GAN checkpoint: the run's own fid
cat >gan.toml <<JOB
[model]
name = "g"
arch = "gan-mlp"
[gan]
z_dim = 8
g_width = 8
d_width = 8
fid_classifier = "$C"
fid_samples = 150
[data]
train = "data/train-*.h5"
val = "other/train-*.h5"
batch_size = 8
[train]
steps = 2
seed = 3
threads = 1
[checkpoint]
dir = "runs"
every_steps = 1
[log]
every_steps = 1000
JOB
run 1 gan.toml --quiet >c.out 2>&1 || { cat c.out; fail "GAN run"; }
want=$(grep '"eval"' runs/g/metrics.jsonl | tail -1 | sed 's/.*"fid": \([^,}]*\).*/\1/')
"$DLTRAIN" fid "runs/g/$(ck 2)" "other/train-*.h5" --classifier "$C" --n 150 --threads 1 >c.out 2>&1 ||
    { cat c.out; fail "dltrain fid of a GAN checkpoint"; }
grep -q "(150 vs 90 images)" c.out || { cat c.out; fail "the line of a GAN checkpoint"; }
awk -v a="$(fidv c.out)" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 1e-6 * b) }' ||
    { cat c.out; fail "the GAN checkpoint's FID $(fidv c.out), the run reported $want"; }
echo "(c) $(cat c.out): the run reported $want at step 2"

# (d) refused in one line
bad() { # WHAT PATTERN ARGS...
    what=$1 pat=$2
    shift 2
    "$DLTRAIN" fid "$@" >d.out 2>&1
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <d.out)" -eq 1 ] && grep -q "$pat" d.out || { cat d.out; fail "$what: exit $rc"; }
    echo "    $what: $(cat d.out)"
}
echo "(d) refused:"
bad "no match" "set 2 (nothing-\*.h5)" "$D1" "nothing-*.h5" --classifier "$C"
bad "a classifier as a set" "is not a GAN" "$C" "$D1" --classifier "$C"
bad "8x8 images" "8x8" "$D1" "small/train-*.h5" --classifier "$C"
bad "no --classifier" "no --classifier" "$D1" "$D2"
bad "a missing classifier" "missing.h5" "$D1" "$D2" --classifier missing.h5
echo "PASS ($(elapsed))"
