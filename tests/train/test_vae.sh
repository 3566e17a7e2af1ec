#!/bin/sh
# The VAE task (src/train/task_vae.c) through the real programs: vae with
# small sizes (z 4, width 4, hidden 16) on tiny 8x8x1 synthetic shards.
#   (a) the first step against PyTorch (tests/fixtures/vae_step.h5, from
#       vae_make_fixtures.py, which runs it in float64 from the initial
#       parameters, batch and in-graph eps that tests/train/vae_export
#       reports for this very job): the progress line's loss, bce and kl
#       within 1e-5 relative, every parameter after one Adam step within 1e-5
#   (b) 2 ranks x batch 8 == 1 rank x batch 16 (eps keyed by global sample
#       index): parameters after 2 steps within 1e-6; 2 accumulated
#       micro-batches of 8 average their gradients (norms as batch 16's)
#   (c) exact resume, bitwise (/params /buffers /optim /state): 4 steps with
#       evaluations == 2 steps, then resumed
#   (d) the test-set ELBO (data.val: 100 images, a padded last batch; on 2
#       ranks the second rank's share of it is empty) reported as `elbo` =
#       -(bce + kl), equal on 1 and 2 ranks, the same at two evaluations of the
#       same parameters (fixed evaluation keys), kept as the checkpoint's best
#       metric; dltrain predict reproduces it; the reconstruction grid PNG of
#       the evaluation (not rewritten by predict)
#   (e) shards of sides not divisible by 4, validation images of another shape:
#       one line, exit 2
#   (f) the stand-in device: bitwise the CPU's run; the emulated CUDA kernels:
#       the CPU's parameters and ELBO within 1e-6
#   (g) the prior-sample grid beside the reconstruction grid: 64 decoder
#       means of z ~ N(0, I), 8 x 8 images of 8x8 (82 x 82, gray, not
#       blank); dltrain sample of the final checkpoint draws it again pixel
#       for pixel; --seed 7 twice is the same grid, --seed 8 another; --n 10
#       is its first 10 images; --label refused; the decoder's pixels match
#       vae_prior_check, which decodes the same z in a graph of its own and
#       maps sigmoid(logits) to bytes by hand
#   (h) gan.fid_classifier on a VAE: FID of prior samples at checkpoints, as
#       an eval record, equal to dltrain fid of the checkpoint (within 1e-6)
. "$top_srcdir/tests/train/lib.sh"
FIX=$top_srcdir/tests/fixtures
"$DLPREP" synthetic --num 96 --size 8x8x1 --classes 4 --seed 5 --out data --quiet || fail "dlprep synthetic"
"$DLPREP" synthetic --num 100 --size 8x8x1 --classes 4 --seed 9 --out val --quiet || fail "dlprep synthetic (val)"
# the job of vae_make_fixtures.py (keep the two equal)
cat >job.toml <<'JOB'
[model]
name = "v"
arch = "vae"
[vae]
z_dim = 4
width = 4
hidden = 16
[data]
train = "data/train-*.h5"
batch_size = 8
[optim]
name = "adam"
lr = 1e-3
[train]
steps = 1
seed = 3
threads = 1
[checkpoint]
dir = "runs"
[log]
every_steps = 1
JOB
# key K of the jsonl line LINE
jkey() { printf '%s\n' "$1" | sed -n "s/.*\"$2\": \([-0-9.e+]*\).*/\1/p"; }
# close A B TOL: |a - b| <= TOL (1 + |b|)
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && b != "" && d <= t * (1 + (b < 0 ? -b : b))) }'; }

# (a) one step against PyTorch
run 1 job.toml --quiet --set checkpoint.dir=a >a.out 2>&1 || { cat a.out; fail "(a) dltrain"; }
"$TOOL" cmp a/v/$(ck 1) "$FIX/vae_step.h5" /params --tol 1e-5 || fail "(a) parameters after one Adam step"
line=$(grep '"step": 1,' a/v/metrics.jsonl | grep -v '"eval"') || fail "(a) no metrics line"
for k in loss bce kl; do
    got=$(jkey "$line" $k)
    want=$("$TOOL" get "$FIX/vae_step.h5" /$k)
    close "$got" "$want" 1e-5 || fail "(a) $k $got, PyTorch $want"
    echo "(a) $k $got (PyTorch $want)"
done
echo "(a) every parameter after one Adam step within 1e-5 of PyTorch"

V="--quiet --set data.val=val/train-*.h5 --set train.steps=2"
# gradient accumulation: 2 micro-batches of 8 (the samples of a batch of 16;
# each micro-step draws its own eps, so the numbers are not the same) average,
# not sum, the micro-batches' gradients: every step's gradient norm within 10%
# of the batch of 16's (a sum would double it)
G="--quiet --set train.steps=3 --set log.every_steps=1"
run 1 job.toml $G --set data.batch_size=16 --set checkpoint.dir=acc1 >b.out 2>&1 || { cat b.out; fail "(b) batch 16"; }
run 1 job.toml $G --set data.batch_size=8 --set train.accumulate=2 --set checkpoint.dir=acc2 >b.out 2>&1 ||
    { cat b.out; fail "(b) accumulate 2"; }
gn() { sed -n 's/.*"grad_norm": \([-0-9.e+]*\).*/\1/p' "$1/v/metrics.jsonl" | tr '\n' ' '; }
g1=$(gn acc1) g2=$(gn acc2)
awk -v a="$g1" -v b="$g2" 'BEGIN { n = split(a, x, " "); m = split(b, y, " "); if (n != 3 || m != 3) exit 1;
    for (i = 1; i <= 3; i++) { r = y[i] / x[i]; if (r < 0.9 || r > 1.1) exit 1 } }' ||
    fail "(b) accumulate 2: gradient norms $g2, batch 16: $g1"
echo "(b) train.accumulate = 2 x batch 8: gradient norms $g2 (batch 16: $g1)"
# (b) and (d): 2 ranks x 8 == 1 rank x 16, and the same test-set ELBO
if have_mpi; then
    run 1 job.toml $V --set data.batch_size=16 --set checkpoint.dir=one >b.out 2>&1 || { cat b.out; fail "(b) 1 rank"; }
    run 2 job.toml $V --set data.batch_size=8 --set checkpoint.dir=two >b.out 2>&1 || { cat b.out; fail "(b) 2 ranks"; }
    "$TOOL" cmp one/v/$(ck 2) two/v/$(ck 2) /params --tol 1e-6 || fail "(b) 2 ranks x 8 differ from 1 rank x 16"
    echo "(b) 2 ranks x 8 == 1 rank x 16 after 2 steps (within 1e-6)"
    e1=$(jkey "$(grep '"eval"' one/v/metrics.jsonl | tail -1)" elbo)
    e2=$(jkey "$(grep '"eval"' two/v/metrics.jsonl | tail -1)" elbo)
    close "$e1" "$e2" 1e-6 || fail "(d) test-set ELBO $e1 on 1 rank, $e2 on 2 ranks"
    echo "(d) test-set ELBO $e1 (1 rank) == $e2 (2 ranks)"
else
    echo "(b) skipped: no mpirun"
    run 1 job.toml $V --set data.batch_size=16 --set checkpoint.dir=one >b.out 2>&1 || { cat b.out; fail "(d) 1 rank"; }
fi
# (d) the evaluation line: elbo = -(bce + kl) = -loss over all 100 images
ev=$(grep '"eval"' one/v/metrics.jsonl | tail -1)
[ "$(jkey "$ev" samples)" = 100 ] || fail "(d) evaluation over $(jkey "$ev" samples) samples, expected 100: $ev"
close "$(jkey "$ev" elbo)" "$(awk -v b="$(jkey "$ev" bce)" -v k="$(jkey "$ev" kl)" 'BEGIN { printf "%.9g", -(b + k) }')" 1e-6 ||
    fail "(d) elbo is not -(bce + kl): $ev"
close "$(jkey "$ev" elbo)" "$(awk -v l="$(jkey "$ev" loss)" 'BEGIN { printf "%.9g", -l }')" 1e-6 || fail "(d) elbo != -loss: $ev"
# the best metric is the ELBO (higher is better)
best=$("$TOOL" get one/v/$(ck 2) /state/best_metric) || fail "(d) no best_metric"
close "$best" "$(jkey "$ev" elbo)" 1e-6 || fail "(d) best_metric $best, last elbo $(jkey "$ev" elbo)"
# the reconstruction grid of the last evaluation: 8 images of 8x8 over their
# reconstructions, padding 2: an 82 x 22 PNG (IHDR width and height, big-endian)
png=one/v/samples/vae-recon.png
[ -f "$png" ] || fail "(d) no $png"
[ "$(od -An -tx1 -j16 -N8 "$png" | tr -d ' \n')" = 0000005200000016 ] ||
    fail "(d) $png is not 82 x 22: $(od -An -tx1 -j16 -N8 "$png")"
rm "$png"
# dltrain predict on the checkpoint (the job's data.val, its batch): the
# evaluation's numbers, and one row per image whose mean is the ELBO
"$DLTRAIN" predict one/v/$(ck 2) --out p.h5 >p.out 2>&1 || { cat p.out; fail "(d) predict"; }
pe=$(sed -n 's/.*, elbo \([-0-9.e+]*\).*/\1/p' p.out)
[ "$pe" = "$(jkey "$ev" elbo)" ] || fail "(d) predict: elbo $pe, the run's evaluation $(jkey "$ev" elbo): $(cat p.out)"
echo "(d) predict: $(cat p.out)"
[ ! -e "$png" ] || fail "(d) dltrain predict wrote $png into the run folder"
# the same parameters evaluated at three steps give the same ELBO (fixed
# evaluation keys): after the first step the lr is 1e-33 (step decay by 1e-30),
# which moves no parameter
run 1 job.toml $V --set train.steps=3 --set eval.every_steps=1 --set schedule.name=step --set schedule.step_size=1 \
    --set schedule.gamma=1e-30 --set checkpoint.dir=fixed >d.out 2>&1 || { cat d.out; fail "(d) lr 0"; }
n=$(grep '"eval"' fixed/v/metrics.jsonl | sed -n 's/.*"elbo": \([-0-9.e+]*\).*/\1/p' | sort -u | wc -l)
[ "$n" = 1 ] || { grep '"eval"' fixed/v/metrics.jsonl; fail "(d) the same parameters evaluated to $n different ELBOs"; }
echo "(d) elbo = -(bce + kl) = -loss over 100 images, the best metric; the same at 3 evaluations of the same parameters"

# (c) exact resume: 4 steps (evaluations every 2) == 2 + 2
R="--quiet --set data.val=val/train-*.h5 --set eval.every_steps=2 --set checkpoint.keep_last=0"
run 1 job.toml $R --set train.steps=4 --set checkpoint.dir=full >c.out 2>&1 || { cat c.out; fail "(c) full run"; }
run 1 job.toml $R --set train.steps=2 --set checkpoint.dir=cut >c.out 2>&1 || { cat c.out; fail "(c) first half"; }
run 1 job.toml $R --set train.steps=4 --set checkpoint.dir=cut --resume auto >c.out 2>&1 || { cat c.out; fail "(c) resumed"; }
same full/v/$(ck 4) cut/v/$(ck 4)
echo "(c) 4 steps == 2 + 2 resumed, bitwise"
# (f) the device path: the stand-in device (dltrain's device code over the CPU
# kernels) gives the CPU's bits; the emulated CUDA kernels (tests/gpu/emu_dltrain,
# when built: in-graph eps keyed by global sample, convolutions, the losses)
# the CPU's parameters and test-set ELBO to rounding
F="--quiet --set data.val=val/train-*.h5 --set train.steps=4 --set eval.every_steps=2"
run 1 job.toml $F --set checkpoint.dir=f-cpu >f.out 2>&1 || { cat f.out; fail "(f) CPU"; }
for prog in "$STANDIN_DLTRAIN" "$top_builddir/tests/gpu/emu_dltrain"; do
    [ -x "$prog" ] || { echo "(f) skipped: $prog not built"; continue; }
    tag=$(basename "$prog")
    DLTRAIN=$prog
    export DLT_TEST_STANDIN_DEVICE=1
    run 1 job.toml $F --set train.device=cuda --set checkpoint.dir="f-$tag" >f.out 2>&1 || { cat f.out; fail "(f) $tag"; }
    unset DLT_TEST_STANDIN_DEVICE
    DLTRAIN=$PLAIN_DLTRAIN
    if [ "$tag" = standin_dltrain ]; then
        same f-cpu/v/$(ck 4) "f-$tag/v/$(ck 4)"
    else
        "$TOOL" cmp f-cpu/v/$(ck 4) "f-$tag/v/$(ck 4)" /params /optim --tol 1e-6 || fail "(f) $tag != CPU"
    fi
    a=$(jkey "$(grep '"eval"' f-cpu/v/metrics.jsonl | tail -1)" elbo)
    b=$(jkey "$(grep '"eval"' "f-$tag/v/metrics.jsonl" | tail -1)" elbo)
    close "$b" "$a" 1e-6 || fail "(f) $tag: test-set ELBO $b, the CPU's $a"
    echo "(f) $tag: the CPU's parameters, test-set ELBO $b (CPU $a)"
done

# (g) the prior-sample grid (one/v: data.val, 2 steps, an evaluation at the end)
PNG=$top_builddir/tests/train/png_check
prior=one/v/samples/vae-prior.png
out=$("$PNG" "$prior") || fail "(g) no $prior or it does not decode"
set -- $out
[ "$1 $2 $3" = "82 82 1" ] || fail "(g) $prior is $1x$2 with $3 channels, expected 82x82 gray"
[ "$5" -gt "$4" ] || fail "(g) $prior is blank (all $4)"
"$DLTRAIN" sample one/v/$(ck 2) --out g.png >g.out 2>&1 || { cat g.out; fail "(g) dltrain sample"; }
grep -q "g.png: 64 images, 82x82 pixels" g.out || { cat g.out; fail "(g) dltrain sample's line"; }
"$PNG" g.png "$prior" || fail "(g) dltrain sample of the final checkpoint differs from the run's prior grid"
"$DLTRAIN" sample one/v/$(ck 2) --seed 7 --out s7.png >g.out 2>&1 || { cat g.out; fail "(g) --seed 7"; }
"$DLTRAIN" sample one/v/$(ck 2) --seed 7 --out s7b.png >g.out 2>&1 || { cat g.out; fail "(g) --seed 7 again"; }
"$DLTRAIN" sample one/v/$(ck 2) --seed 8 --out s8.png >g.out 2>&1 || { cat g.out; fail "(g) --seed 8"; }
"$PNG" s7.png s7b.png || fail "(g) --seed 7 twice: different grids"
"$PNG" s7.png s8.png >/dev/null && fail "(g) --seed 7 and --seed 8 drew the same grid"
"$PNG" s7.png g.png >/dev/null && fail "(g) --seed 7 drew the run's noise"
"$DLTRAIN" sample one/v/$(ck 2) --n 10 --out n10.png >g.out 2>&1 || { cat g.out; fail "(g) --n 10"; }
"$PNG" n10.png g.png 82 12 && "$PNG" n10.png g.png 22 22 || fail "(g) --n 10 is not the 64-grid's first 10 images"
"$DLTRAIN" sample one/v/$(ck 2) --label 1 --out l.png >g.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <g.out)" -eq 1 ] && grep -q "unconditional" g.out || { cat g.out; fail "(g) --label on a VAE: exit $rc"; }
"$top_builddir/tests/train/vae_prior_check" one/v/$(ck 2) "$prior" || fail "(g) vae_prior_check"
echo "(g) prior grid 82x82 == dltrain sample; --seed 7 reproducible, --seed 8 differs; --n 10 its first 10; --label refused"

# (h) FID of prior samples: a ResNet-20 on the 8x8 shards for 1 step is the classifier
cat >cls.toml <<'JOB'
[model]
name = "c"
arch = "resnet20"
[data]
train = "data/train-*.h5"
batch_size = 16
[train]
steps = 1
seed = 1
threads = 1
[checkpoint]
dir = "cls"
[log]
every_steps = 1000
JOB
run 1 cls.toml --quiet >h.out 2>&1 || { cat h.out; fail "(h) classifier"; }
run 1 job.toml --quiet --set data.val="val/train-*.h5" --set train.steps=2 --set checkpoint.every_steps=1 \
    --set checkpoint.dir=h --set gan.fid_classifier="cls/c/$(ck 1)" --set gan.fid_samples=150 >h.out 2>&1 ||
    { cat h.out; fail "(h) VAE with FID"; }
grep -q "does not apply" h.out && { cat h.out; fail "(h) gan.fid_classifier ignored for the VAE"; }
grep '"fid"' h/v/metrics.jsonl | sed 's/.*"fid": \([^,}]*\).*/\1/' >h.fid
[ "$(wc -l <h.fid)" -eq 2 ] || { cat h/v/metrics.jsonl; fail "(h) expected FID records at steps 1 and 2"; }
"$DLTRAIN" fid h/v/$(ck 2) "val/train-*.h5" --classifier "cls/c/$(ck 1)" --n 150 >h.out 2>&1 ||
    { cat h.out; fail "(h) dltrain fid of the VAE checkpoint"; }
grep -q "(150 vs 100 images)" h.out || { cat h.out; fail "(h) dltrain fid's line"; }
got=$(sed -n 's/^FID-FMNIST \([^ ]*\) .*/\1/p' h.out)
awk -v a="$got" -v b="$(tail -1 h.fid)" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= 1e-6 * b) }' ||
    fail "(h) dltrain fid $got, the run reported $(tail -1 h.fid)"
echo "(h) FID of prior samples $(tr '\n' ' ' <h.fid)at steps 1 and 2; dltrain fid of step 2: $got"

# (e) shards the VAE cannot take: one line naming the key, exit 2
"$DLPREP" synthetic --num 40 --size 6x6x1 --classes 2 --seed 1 --out d6 --quiet || fail "dlprep synthetic 6x6"
bad_data() {
    "$PLAIN_DLTRAIN" job.toml --set "$1" >e.out 2>e.err
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <e.err)" -eq 1 ] && grep -q "$2" e.err ||
        { cat e.out e.err; fail "(e) --set $1: exit $rc, expected 2 and one line matching '$2'"; }
    echo "(e) --set $1: $(cat e.err)"
}
bad_data 'data.train=d6/train-*.h5' "data.train: .* 6x6x1 images .* multiples of 4"
bad_data 'data.val=d6/train-*.h5' "data.val: the shards hold 6x6x1 images"
echo "PASS ($(elapsed))"
