#!/bin/sh
# The CycleGAN task (src/train/task_cyclegan.c) through the real programs, on
# one small image-pairs shard (28x28x1, 24 A and 20 B images, written by
# cyclegan_tool), n_blocks 1, widths 4, a 2-layer PatchGAN, batch 2, pool 3:
#   (a) the first iteration's losses (loss_g, its adversarial, cycle and
#       identity parts, loss_d) against float64 PyTorch values
#       (tests/fixtures/cyclegan_losses.h5), after checking that the run's
#       initial parameters and first batch are the fixture's inputs, bitwise
#   (b) exact resume with a full pool (3 images, swaps from iteration 3 on):
#       6 iterations == 3 + resumed 3 == stopped between phases g and d of
#       iteration 4 + resumed, bitwise over /params /buffers /optim /state
#       (the pools and the pending batch: /state/task_state); and on 2 ranks,
#       4 iterations == 2 + resumed 2
#   (c) the pool's rule is tests/train/test_image_pool (a C unit test)
#   (d) ordinary image shards refused in one line naming image-pairs, exit 2
#   (e) the translation grids at the end of the run: <run>/samples/
#       translate_a2b2a.png and translate_b2a2b.png, rows real, translated,
#       reconstructed of the last 8 samples phase g saw (28x28, padding 2):
#       after 1 iteration of batch 2, 2 columns (62x92); after 6, 8 (242x92)
#   (g) without pools (pool_size 0) 2 ranks x batch 1 train what 1 rank x
#       batch 2 trains: after 3 iterations every weight within 1e-5 (Adam steps
#       of 2e-4 scale the rounding of tiny gradients up), and the
#       biases not followed by instance norm (the output convolutions, the
#       discriminators' first); a bias that instance norm follows has a zero
#       true gradient, whose rounding noise Adam scales into full steps, so
#       those are not compared
#   (h) dltrain sample of a checkpoint: the first 8 images of each domain of
#       the job's shards translated, two grids of rows real, translated,
#       reconstructed (242x92); the real rows are the same for the checkpoints
#       of steps 3 and 6 and the rest is not (the generators come from the
#       checkpoint); --n 2 --data gives the first two columns of the 8-image
#       grids exactly (instance norm: an image's translation does not depend
#       on the others); image-classification shards and --label refused
#   (f) the resolved job records both phases' settings (the reference's Adam
#       2e-4, betas (0.5, 0.999)) and a [phase] override, which the run
#       applies (phase d's lr in its Adam state: bias-corrected first step
#       of size lr); repeats and accumulation refused in one line
# The fixture was made from this job with
#   cyclegan_tool export job.toml exp.h5
#   tests/fixtures/cyclegan_make_fixtures.py exp.h5 cyclegan_losses.h5 1 2 10 0.5
. "$top_srcdir/tests/train/lib.sh"
CGT=$top_builddir/tests/train/cyclegan_tool
FIX=$top_srcdir/tests/fixtures/cyclegan_losses.h5
"$CGT" shards pairs-00000-of-00001.h5 24 20 || fail "cyclegan_tool shards"
cat >job.toml <<'JOB'
[model]
name = "c"
arch = "cyclegan"
[cyclegan]
n_blocks = 1
g_width = 4
d_width = 4
d_layers = 2
pool_size = 3
[data]
train = "pairs-*.h5"
batch_size = 2
[train]
steps = 6
seed = 3
threads = 1
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 1
JOB

# (a) losses against PyTorch
"$CGT" export job.toml exp.h5 || fail "cyclegan_tool export"
for grp in /params /batch/a /batch/b; do
    h5diff -q exp.h5 "$FIX" "$grp" "$grp" || fail "(a) $grp differs from the fixture's inputs"
done
run 1 job.toml --quiet --set train.steps=1 --set checkpoint.dir=a >a.out 2>&1 || { cat a.out; fail "(a) run"; }
for key in loss_g gan_g cycle identity loss_d; do
    got=$(sed -n '1s/.*"'"$key"'": \([-0-9.e+]*\).*/\1/p' a/c/metrics.jsonl)
    want=$("$TOOL" get "$FIX" "/$key")
    awk -v g="$got" -v w="$want" -v k="$key" 'BEGIN {
        e = g - w; if (e < 0) e = -e; r = e / (w < 0 ? -w : w)
        printf "(a) %-8s dltrain %s  torch %.9g  rel err %.2g\n", k, g, w, r
        exit !(g != "" && r < 2e-5) }' || fail "(a) $key: $got vs $want"
done

# (e) the translation grids: grid_size RUN WIDTHxHEIGHT
grid_size() {
    for g in a2b2a b2a2b; do
        png=$1/c/samples/translate_$g.png
        [ -f "$png" ] || fail "(e) no $png"
        # IHDR: width and height, big-endian, at bytes 16..23
        wh=$(od -An -tu1 -j16 -N8 "$png" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }')
        [ "$wh" = "$2" ] || fail "(e) $png is $wh, expected $2"
    done
}
grid_size a 62x92

# (b) exact resume with a full pool: at an iteration boundary, between phases
DLTRAIN=$STANDIN_DLTRAIN
run 1 job.toml --quiet --set checkpoint.dir=full >b.out 2>&1 || { cat b.out; fail "(b) full run"; }
grid_size full 242x92
echo "(e) translation grids: 62x92 after 1 iteration (2 x 3 images), 242x92 after 6 (8 x 3)"
run 1 job.toml --quiet --set checkpoint.dir=cut --set train.steps=3 >b.out 2>&1 || { cat b.out; fail "(b) first half"; }
[ "$("$CGT" counts "cut/c/$(ck 3)" 0)" = "3 3" ] || fail "(b) pools not full at step 3: $("$CGT" counts "cut/c/$(ck 3)" 0)"
run 1 job.toml --quiet --set checkpoint.dir=cut --resume auto >b.out 2>&1 || { cat b.out; fail "(b) resumed"; }
same "full/c/$(ck 6)" "cut/c/$(ck 6)"
# 7 updates: iteration 4's g update done, its d update not
export DLT_TEST_STOP_AFTER_UPDATES=7
run 1 job.toml --quiet --set checkpoint.dir=mid >b.out 2>&1
rc=$?
unset DLT_TEST_STOP_AFTER_UPDATES
[ $rc -eq 4 ] || { cat b.out; fail "(b) a stop between phases exited $rc, expected 4"; }
pos=$("$TOOL" get "mid/c/$(ck 3)" /state/phase_position)
[ "$pos" = 1 ] || fail "(b) phase_position $pos, expected 1"
run 1 job.toml --quiet --set checkpoint.dir=mid --resume auto >b.out 2>&1 || { cat b.out; fail "(b) resumed between phases"; }
same "full/c/$(ck 6)" "mid/c/$(ck 6)"
echo "(b) 6 iterations == 3 + 3 == stopped between the phases of iteration 4 + resumed, bitwise (pools full)"
DLTRAIN=$PLAIN_DLTRAIN
if have_mpi; then
    run 2 job.toml --quiet --set checkpoint.dir=f2 --set train.steps=4 >b.out 2>&1 || { cat b.out; fail "(b) 2 ranks"; }
    run 2 job.toml --quiet --set checkpoint.dir=c2 --set train.steps=2 >b.out 2>&1 || { cat b.out; fail "(b) 2 ranks, first half"; }
    [ "$("$CGT" counts "c2/c/$(ck 2)" 1)" = "3 3" ] || fail "(b) rank 1's pools at step 2: $("$CGT" counts "c2/c/$(ck 2)" 1)"
    run 2 job.toml --quiet --set checkpoint.dir=c2 --set train.steps=4 --resume auto >b.out 2>&1 ||
        { cat b.out; fail "(b) 2 ranks, resumed"; }
    same "f2/c/$(ck 4)" "c2/c/$(ck 4)"
    echo "(b) 2 ranks: 4 iterations == 2 + 2, bitwise (each rank's pools in /state/task_state)"
fi

# (g) data parallelism without pools (the pools are per rank by design)
if have_mpi; then
    run 1 job.toml --quiet --set cyclegan.pool_size=0 --set train.steps=3 --set checkpoint.dir=g1 >g.out 2>&1 ||
        { cat g.out; fail "(g) 1 rank"; }
    run 2 job.toml --quiet --set cyclegan.pool_size=0 --set train.steps=3 --set data.batch_size=1 \
        --set checkpoint.dir=g2 >g.out 2>&1 || { cat g.out; fail "(g) 2 ranks"; }
    # n_blocks 1: the generators' output convolution is model.18, the
    # 2-layer PatchGAN's model.8
    n=0
    for p in $(h5ls -r "g1/c/$(ck 3)/params" | awk '{ sub("^/", "", $1); print $1 }'); do
        case $p in
        *.weight | G_AB.model.18.bias | G_BA.model.18.bias | D_?.model.0.bias | D_?.model.8.bias) ;;
        *) continue ;;
        esac
        "$TOOL" cmp "g1/c/$(ck 3)" "g2/c/$(ck 3)" /params --only "$p" --tol 1e-5 >g.out 2>&1 || { cat g.out; fail "(g) $p"; }
        n=$((n + 1))
    done
    echo "(g) 2 ranks x batch 1 == 1 rank x batch 2 without pools: $n tensors within 1e-5 (an Adam step is 2e-4)"
fi

# (h) dltrain sample: translation grids of a checkpoint
PNG=$top_builddir/tests/train/png_check
for s in 3 6; do
    c=full
    [ $s = 3 ] && c=cut # the first half of (b)'s resumed run
    "$DLTRAIN" sample "$c/c/$(ck $s)" --out "t$s.png" >h.out 2>&1 || { cat h.out; fail "(h) dltrain sample (step $s)"; }
    grep -q "^t${s}_a2b2a.png: A->B->A of 8 images, 242x92 pixels$" h.out &&
        grep -q "^t${s}_b2a2b.png: B->A->B of 8 images, 242x92 pixels$" h.out || { cat h.out; fail "(h) sample's lines"; }
done
for g in a2b2a b2a2b; do
    out=$("$PNG" "t6_$g.png") || fail "(h) t6_$g.png does not decode"
    set -- $out
    [ "$1 $2 $3" = "242 92 1" ] || fail "(h) t6_$g.png is $1x$2 with $3 channels, expected 242x92 gray"
    # the real row (and its padding): 242 x 32 pixels, the same at both steps
    "$PNG" "t3_$g.png" "t6_$g.png" 242 32 || fail "(h) $g: the real images differ between the checkpoints"
    "$PNG" "t3_$g.png" "t6_$g.png" >/dev/null && fail "(h) $g: steps 3 and 6 translate alike (parameters not loaded?)"
done
"$DLTRAIN" sample "full/c/$(ck 6)" --n 2 --data "pairs-*.h5" --out n2 >h.out 2>&1 || { cat h.out; fail "(h) --n 2"; }
for g in a2b2a b2a2b; do
    "$PNG" "n2_$g.png" "t6_$g.png" 62 92 || fail "(h) --n 2: $g is not the 8-image grid's first 2 columns"
done
"$DLPREP" synthetic --num 16 --size 28x28x1 --classes 2 --seed 5 --out cls --quiet || fail "dlprep synthetic"
"$DLTRAIN" sample "full/c/$(ck 6)" --data "cls/train-*.h5" --out x.png >h.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <h.out)" -eq 1 ] && grep -q "not image-pairs" h.out || { cat h.out; fail "(h) image shards: exit $rc"; }
"$DLTRAIN" sample "full/c/$(ck 6)" --label 1 --out x.png >h2.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <h2.out)" -eq 1 ] || { cat h2.out; fail "(h) --label: exit $rc"; }
echo "(h) dltrain sample: 242x92 grids A->B->A, B->A->B, real rows equal at steps 3 and 6, the rest not;"
echo "    --n 2 == the first 2 columns; refused: $(cat h.out); $(cat h2.out)"

# (d) image-classification shards are no image pairs
run 1 job.toml --quiet --set data.train='"cls/train-*.h5"' --set checkpoint.dir=d >d.out 2>&1
rc=$?
[ $rc -eq 2 ] || { cat d.out; fail "(d) image shards: exit $rc, expected 2"; }
[ "$(wc -l <d.out)" -eq 1 ] && grep -q "image-pairs" d.out || { cat d.out; fail "(d) expected one line naming image-pairs"; }
echo "(d) $(cat d.out)"
# (f) the resolved job's phases
"$DLTRAIN" job.toml --print-config --set phase.d_lr=1e-4 >f.out 2>&1 || { cat f.out; fail "(f) --print-config"; }
for want in 'g_optim = "adam"' 'g_lr = 0.0002' 'g_betas = [0.5, 0.999]' 'd_lr = 0.0001' 'd_betas = [0.5, 0.999]' 'g_repeat = 1'; do
    grep -qxF "$want" f.out || { cat f.out; fail "(f) no '$want' in the resolved job"; }
done
run 1 job.toml --quiet --set phase.d_lr=1e-3 --set train.steps=1 --set checkpoint.dir=f >f.out 2>&1 ||
    { cat f.out; fail "(f) d_lr run"; }
# after one Adam step every element moved by lr (|m_hat / sqrt(v_hat)| = 1, up
# to eps) from its initial value: the output bias of D_A (0 at the start)
# and of G_AB
awk -v d="$("$TOOL" maxabs "f/c/$(ck 1)" /params D_A.model.8.bias)" \
    -v g="$("$TOOL" maxabs "f/c/$(ck 1)" /params G_AB.model.18.bias)" \
    'BEGIN { printf "(f) after one update: |D_A.model.8.bias| %s (d_lr 1e-3), |G_AB.model.18.bias| %s (g_lr 2e-4)\n", d, g
             exit !(d > 0.99e-3 && d < 1.01e-3 && g > 1.98e-4 && g < 2.02e-4) }' || fail "(f) phase learning rates not applied"
run 1 job.toml --quiet --set phase.d_repeat=2 --set checkpoint.dir=f2 >f.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <f.out)" -eq 1 ] && grep -q "repeat must be 1" f.out || { cat f.out; fail "(f) d_repeat 2: exit $rc"; }
echo "(f) the resolved job records the phases (Adam 2e-4, (0.5, 0.999); d_lr overridden and applied); $(cat f.out)"
echo "PASS ($(($(date +%s) - t_start)) s)"
