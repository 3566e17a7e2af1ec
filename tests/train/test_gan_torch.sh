#!/bin/sh
# One phased GAN iteration of dltrain against PyTorch (tests/fixtures/
# gan_step_<case>.h5, from gan_step_make_fixtures.py, which runs the iteration
# in float64 from the initial parameters, real batches and in-graph noise that
# tests/train/gan_export reports for this very job):
#   bce:     gan-mlp with generator batch norm, Adam (0.5, 0.999): one d, one g update
#   wgan_gp: 5 critic updates with the gradient penalty (double backward), one g update
#   dcgan:   the 28x28 DCGAN networks (z 4, ngf = ndf = 8, batch 4), batch norm
#            in both (D's running statistics: D(x), D(G(z)), then D(G(z'))),
#            BCE, Adam 2e-4 (0.5, 0.999), all from model.arch = "dcgan"
#   dcgan_wgan_gp: the same networks from model.arch = "wgan-gp": layer-norm
#            critic, generator batch norm, penalty 10, Adam 1e-4 (0.0, 0.9), n_critic 5
#   dcgan_sgd: dcgan with plain SGD 0.1 in both phases: the parameters carry
#            0.1 x each gradient, so the gradients' sizes are checked too
# Every parameter and batch-norm buffer after the iteration within 1e-5
# (|a - b| <= 1e-5 (1 + |b|); the biases right before batch norm within one
# Adam step, see below), and the progress line's d_loss (mean of the d
# runs) and g_loss within 1e-5.
# Why 1e-5: dltrain runs in float32 against a float64 reference from the same
# float32 inputs; the forward values are O(1) with ~1e-7 relative rounding per
# op (the losses agree to ~1e-8, the parameters and running statistics to
# <= 2e-7 when the fixtures were made), and Adam's update lr g / (sqrt(v) + eps)
# is a ratio in which the gradients' relative rounding mostly cancels. Note
# that Adam's FIRST step is lr sign(g) but for |g| near eps: the one-update
# phases (bce, dcgan) check the gradients' signs, the 5 critic updates of the
# WGAN-GP cases their relative sizes, dcgan_sgd their values to 1e-4 absolute
# (1e-5 / lr), and the losses and running statistics the forward passes.
. "$top_srcdir/tests/train/lib.sh"
FIX=$top_srcdir/tests/fixtures
"$DLPREP" synthetic --num 96 --size 8x8x1 --classes 4 --seed 5 --out data --quiet || fail "dlprep synthetic"
cat >job.toml <<'JOB'
[model]
name = "fx"
arch = "gan-mlp"
[gan]
z_dim = 8
g_width = 8
d_width = 8
[data]
train = "data/train-*.h5"
batch_size = 8
[train]
steps = 1
seed = 3
threads = 1
[checkpoint]
dir = "runs"
[log]
every_steps = 1
JOB

# check CASE SETS...: the iteration of $job against gan_step_CASE.h5
job=job.toml
check() {
    c=$1
    shift
    run 1 "$job" --quiet --set checkpoint.dir="$c" "$@" >"$c.out" 2>&1 || { cat "$c.out"; fail "$c: dltrain"; }
    if [ "$c" = bce ]; then
        # the biases right before batch norm have a gradient that is 0 but for
        # rounding (the normalisation removes them), which Adam turns into a
        # step of up to lr either way: they are checked to within one step
        for p in discriminator. generator.fc0. generator.fc1.weight generator.fc2.weight generator.fc3. generator.bn; do
            "$TOOL" cmp "$c/fx/$(ck 1)" "$FIX/gan_step_$c.h5" /params --only $p --tol 1e-5 || fail "$c: $p*"
        done
        for p in generator.fc1.bias generator.fc2.bias; do
            "$TOOL" cmp "$c/fx/$(ck 1)" "$FIX/gan_step_$c.h5" /params --only $p --tol 2.1e-4 || fail "$c: $p"
        done
        "$TOOL" cmp "$c/fx/$(ck 1)" "$FIX/gan_step_$c.h5" /buffers --tol 1e-5 || fail "$c: buffers"
    else
        "$TOOL" cmp "$c/fx/$(ck 1)" "$FIX/gan_step_$c.h5" /params --tol 1e-5 || fail "$c: parameters"
        if [ "$c" != wgan_gp ]; then # batch norm's running statistics (wgan_gp: g_norm none)
            "$TOOL" cmp "$c/fx/$(ck 1)" "$FIX/gan_step_$c.h5" /buffers --tol 1e-5 || fail "$c: buffers"
        fi
    fi
    line=$(grep '"step": 1' "$c/fx/metrics.jsonl") || fail "$c: no metrics line"
    for k in d_loss g_loss; do
        got=$(printf '%s\n' "$line" | sed -n "s/.*\"$k\": \([-0-9.e+]*\).*/\1/p")
        want=$("$TOOL" get "$FIX/gan_step_$c.h5" /$k)
        awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * (1 + (b < 0 ? -b : b))) }' ||
            fail "$c: $k $got, PyTorch $want"
        echo "$c: $k $got (PyTorch $want)"
    done
}
check bce
check wgan_gp --set gan.loss=wasserstein-gp --set gan.g_norm=none

# the DCGAN networks at 28x28 (z 4, widths 8, batch 4): model.arch alone picks
# the loss, optimizer, betas, n_critic and the critic's normalisation
"$DLPREP" synthetic --num 64 --size 28x28x1 --classes 4 --seed 5 --out data28 --quiet || fail "dlprep synthetic 28x28"
sed -e 's|^z_dim = 8$|z_dim = 4|' -e 's|^batch_size = 8$|batch_size = 4|' -e 's|data/train|data28/train|' job.toml >job28.toml
job=job28.toml
check dcgan --set model.arch=dcgan
check dcgan_wgan_gp --set model.arch=wgan-gp
check dcgan_sgd --set model.arch=dcgan --set phase.d_optim=sgd --set phase.d_lr=0.1 \
    --set phase.g_optim=sgd --set phase.g_lr=0.1
echo "PASS ($(($(date +%s) - t_start)) s)"
