#!/bin/sh
# Sample grids of a GAN (src/train/gan_sample.c) through the real programs:
# gan-mlp (small widths) on tiny synthetic 8x8 shards, 3 iterations.
#   (a) gan.sample_every = 2: the run writes samples/step-00000002.png and
#       step-00000003.png (the end) and nothing else; each decodes (libpng's
#       reader, png_check) to the hand-computed grid 8 x (8 + 2) + 2 = 82
#       pixels square, gray, not blank
#   (b) dltrain sample of each checkpoint (no --seed) reproduces the grid the
#       run wrote at that step pixel for pixel; --seed 4 draws other noise;
#       --n 10 gives 2 rows (82 x 22) holding the 64-grid's first 10 images
#       (evaluation mode: the generator's batch norm uses running statistics,
#       so an image does not depend on the batch it is drawn in)
#   (c) a run stopped after 2 iterations and resumed writes the same final
#       grid as the uninterrupted run
#   (d) log.tensorboard: the events file holds an image summary "samples"
#   (e) conditional (gan.num_classes = 4): the grid reproduces too, --label 3
#       works, --label 4 and --label on an unconditional model are refused in
#       one line (exit 2)
. "$top_srcdir/tests/train/lib.sh"
PNG=$top_builddir/tests/train/png_check
"$DLPREP" synthetic --num 96 --size 8x8x1 --classes 4 --seed 5 --out data --quiet || fail "dlprep synthetic"
cat >job.toml <<'JOB'
[model]
name = "g"
arch = "gan-mlp"
[gan]
z_dim = 8
g_width = 8
d_width = 8
sample_every = 2
[data]
train = "data/train-*.h5"
batch_size = 8
[train]
steps = 3
seed = 3
threads = 1
[checkpoint]
dir = "runs"
every_steps = 1
keep_last = 0
[log]
every_steps = 1000
JOB
grid() { printf 'step-%08d.png' "$1"; }

# (a) the run's grids
run 1 job.toml --quiet --set log.tensorboard=true >a.out 2>&1 || { cat a.out; fail "training run"; }
ls runs/g/samples >a.ls
[ "$(cat a.ls | tr '\n' ' ')" = "$(grid 2) $(grid 3) " ] ||
    fail "samples/ holds '$(cat a.ls | tr '\n' ' ')', expected $(grid 2) and $(grid 3)"
for s in 2 3; do
    out=$("$PNG" "runs/g/samples/$(grid "$s")") || fail "$(grid "$s") does not decode"
    set -- $out
    [ "$1 $2 $3" = "82 82 1" ] || fail "$(grid "$s") is $1x$2 with $3 channels, expected 82x82 gray"
    [ "$5" -gt "$4" ] || fail "$(grid "$s") is blank (all $4)"
done
echo "(a) grids at steps 2 and 3 (the end), 82x82 gray"

# (b) dltrain sample reproduces them from the checkpoints
for s in 2 3; do
    "$DLTRAIN" sample "runs/g/$(ck "$s")" --out "s$s.png" >b.out 2>&1 || { cat b.out; fail "dltrain sample (step $s)"; }
    grep -q "s$s.png: 64 images, 82x82 pixels" b.out || { cat b.out; fail "dltrain sample's line"; }
    "$PNG" "s$s.png" "runs/g/samples/$(grid "$s")" || fail "dltrain sample of step $s differs from the run's grid"
done
"$PNG" s2.png s3.png >/dev/null && fail "the grids of steps 2 and 3 are the same (no training?)"
"$DLTRAIN" sample "runs/g/$(ck 3)" --seed 4 --out seed4.png >b.out 2>&1 || { cat b.out; fail "--seed 4"; }
"$PNG" seed4.png s3.png >/dev/null && fail "--seed 4 drew the run's noise"
"$DLTRAIN" sample "runs/g/$(ck 3)" --n 10 --out n10.png >b.out 2>&1 || { cat b.out; fail "--n 10"; }
out=$("$PNG" n10.png) || fail "n10.png does not decode"
set -- $out
[ "$1 $2" = "82 22" ] || fail "--n 10: ${1}x$2, expected 82x22"
# evaluation mode: an image does not depend on the others drawn with it, so
# the 10 images are the 64-grid's first 10 (its first row, 82 x 12 pixels,
# and the first two images of the second, 22 x 22)
"$PNG" n10.png s3.png 82 12 && "$PNG" n10.png s3.png 22 22 ||
    fail "--n 10 drew other images than the first 10 of the 64 (batch statistics?)"
echo "(b) dltrain sample == the run's grids at steps 2 and 3; --seed 4 differs; --n 10: 82x22, the first 10 of the 64"

# (c) resumed: the same final grid
run 1 job.toml --quiet --set checkpoint.dir=cut --set train.steps=2 >c.out 2>&1 || { cat c.out; fail "first half"; }
run 1 job.toml --quiet --set checkpoint.dir=cut --resume auto >c.out 2>&1 || { cat c.out; fail "resumed"; }
"$PNG" "cut/g/samples/$(grid 3)" "runs/g/samples/$(grid 3)" || fail "the resumed run's final grid differs"
echo "(c) stopped after 2 iterations and resumed: the same final grid"

# (d) TensorBoard
grep -aq samples runs/g/events.out.tfevents.* || fail "no tag 'samples' in the TensorBoard events"
# two image summaries (steps 2 and 3), each holding a PNG file's header chunk
n=$(LC_ALL=C grep -ao IHDR runs/g/events.out.tfevents.* | wc -l)
[ "$n" -eq 2 ] || fail "$n PNG images in the TensorBoard events, expected 2"
echo "(d) TensorBoard image summary 'samples'"

# (e) conditional models and --label
"$DLTRAIN" sample "runs/g/$(ck 3)" --label 1 --out l.png >e.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <e.out)" -eq 1 ] && grep -q "unconditional" e.out ||
    { cat e.out; fail "--label on an unconditional model: exit $rc"; }
run 1 job.toml --quiet --set checkpoint.dir=cond --set gan.num_classes=4 >e.out 2>&1 || { cat e.out; fail "conditional run"; }
"$DLTRAIN" sample "cond/g/$(ck 3)" --out c3.png >e.out 2>&1 || { cat e.out; fail "conditional sample"; }
"$PNG" c3.png "cond/g/samples/$(grid 3)" || fail "conditional: dltrain sample differs from the run's grid"
"$DLTRAIN" sample "cond/g/$(ck 3)" --label 3 --out l3.png >e.out 2>&1 || { cat e.out; fail "--label 3"; }
"$PNG" l3.png c3.png >/dev/null && fail "--label 3 gave the cycling grid"
"$DLTRAIN" sample "cond/g/$(ck 3)" --label 4 --out l4.png >e.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <e.out)" -eq 1 ] && grep -q "0..3" e.out || { cat e.out; fail "--label 4 of 4 classes: exit $rc"; }
echo "(e) conditional: the grid reproduces, --label 3 differs, --label 4 and --label unconditional refused"
echo "PASS ($(($(date +%s) - t_start)) s)"
