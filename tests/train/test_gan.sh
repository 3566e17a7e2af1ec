#!/bin/sh
# Phased training steps through the real programs: gan-mlp (small widths) on
# tiny synthetic shards, a few iterations each (src/train/trainer_phase.c,
# task_gan.c).
#   (a) 2 ranks x batch 8 against 1 rank x batch 16 (no generator batch
#       norm: per-rank statistics differ by design): parameters after 2
#       iterations of WGAN-GP (double backward, n_critic 5), unconditional and
#       conditional, within 1e-6
#   (b) exact resume, bitwise (every dataset of /params /buffers /optim
#       /state): 4 iterations in one run == 2, then resumed; == stopped
#       between phases (DLT_TEST_STOP_AFTER_UPDATES), then resumed; for
#       wasserstein-gp, a conditional bce GAN, and bce on the stand-in device
#   (c) a phase updates only its own parameters: the discriminator after
#       iteration 1's d update equals the discriminator after iteration 1
#       (the g update left it bitwise unchanged), and the generator after
#       iteration 2's d update equals the generator after iteration 1
#   (d) WGAN weight clipping: every critic weight within [-0.01, 0.01] and
#       some at the bound after one iteration; the generator not clipped
#       ZeRO-1 per phase on 2 ranks: bitwise as without, and across a stop
#       between phases
#   (e) bad [phase] keys: one line, exit 2; a phase's own schedule
#   (f) on the emulated CUDA kernels, the CPU's parameters (to rounding)
#   (g) log.trace: each phase's plan nodes (forward, backward), all-reduce
#       buckets and optimizer steps are in the trace beside steps and data
. "$top_srcdir/tests/train/lib.sh"
"$DLPREP" synthetic --num 96 --size 8x8x1 --classes 4 --seed 5 --out data --quiet || fail "dlprep synthetic"
cat >job.toml <<'JOB'
[model]
name = "g"
arch = "gan-mlp"
[gan]
z_dim = 8
g_width = 8
d_width = 8
[data]
train = "data/train-*.h5"
batch_size = 8
[train]
steps = 4
seed = 3
threads = 1
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 1000
JOB
# the stand-in program is dltrain plus the test hooks (and the device under
# DLT_TEST_STANDIN_DEVICE=1)
DLTRAIN=$STANDIN_DLTRAIN
GP="--set gan.loss=wasserstein-gp"

# (b) exact resume: at an iteration boundary and between phases
resume_case() {
    tag=$1
    shift
    run 1 job.toml --quiet "$@" --set checkpoint.dir="$tag-full" >"$tag.out" 2>&1 || { cat "$tag.out"; fail "$tag: full run"; }
    run 1 job.toml --quiet "$@" --set checkpoint.dir="$tag-cut" --set train.steps=2 >"$tag.out" 2>&1 ||
        { cat "$tag.out"; fail "$tag: first half"; }
    run 1 job.toml --quiet "$@" --set checkpoint.dir="$tag-cut" --resume auto >"$tag.out" 2>&1 ||
        { cat "$tag.out"; fail "$tag: resumed"; }
    same "$tag-full/g/$(ck 4)" "$tag-cut/g/$(ck 4)"
    # stopped after $2 phase updates (inside an iteration): exit 4 as for a SIGTERM
    export DLT_TEST_STOP_AFTER_UPDATES=$STOP
    run 1 job.toml --quiet "$@" --set checkpoint.dir="$tag-mid" >"$tag.out" 2>&1
    rc=$?
    unset DLT_TEST_STOP_AFTER_UPDATES
    [ $rc -eq 4 ] || { cat "$tag.out"; fail "$tag: a stop between phases exited $rc, expected 4"; }
    pos=$("$TOOL" get "$tag-mid/g/$(ck "$MIDSTEP")" /state/phase_position)
    [ "$pos" = "$MIDPOS" ] || fail "$tag: phase_position $pos, expected $MIDPOS"
    run 1 job.toml --quiet "$@" --set checkpoint.dir="$tag-mid" --resume auto >"$tag.out" 2>&1 ||
        { cat "$tag.out"; fail "$tag: resumed between phases"; }
    same "$tag-full/g/$(ck 4)" "$tag-mid/g/$(ck 4)"
    echo "$tag: 4 iterations == 2 + 2 == stopped after $STOP updates (step $MIDSTEP, position $MIDPOS) + resumed, bitwise"
}
# wasserstein-gp: 5 critic updates and 1 generator update per iteration; 8
# updates stop in iteration 2 after its 2nd critic update
STOP=8 MIDSTEP=1 MIDPOS=2
resume_case gp $GP
# bce: 1 + 1 updates per iteration, on the stand-in device; 3 updates stop
# between the phases of iteration 2
STOP=3 MIDSTEP=1 MIDPOS=1
export DLT_TEST_STANDIN_DEVICE=1
resume_case bce --set train.device=cuda
unset DLT_TEST_STANDIN_DEVICE
# conditional (labels into both networks; the g phase's classes hashed from
# the step key and global sample index): the same between phases
STOP=3 MIDSTEP=1 MIDPOS=1
resume_case cond --set gan.num_classes=4
# the device path computes the CPU's numbers
run 1 job.toml --quiet --set checkpoint.dir=bce-cpu >cpu.out 2>&1 || { cat cpu.out; fail "bce on the CPU"; }
same bce-full/g/$(ck 4) bce-cpu/g/$(ck 4)

# (c) each phase leaves the other's parameters bitwise unchanged (bce: d, g, d, g, ...)
run 1 job.toml --quiet --set checkpoint.dir=c1 --set train.steps=1 >c.out 2>&1 || { cat c.out; fail "(c) one iteration"; }
stop_after() { # N TAG: stopped after N phase updates, exit 4
    export DLT_TEST_STOP_AFTER_UPDATES=$1
    run 1 job.toml --quiet --set checkpoint.dir="$2" >c.out 2>&1
    rc=$?
    unset DLT_TEST_STOP_AFTER_UPDATES
    [ $rc -eq 4 ] || { cat c.out; fail "(c) stop after $1 updates: exit $rc"; }
}
stop_after 1 cd
stop_after 3 cg
"$TOOL" cmp cd/g/$(ck 0) c1/g/$(ck 1) /params --only discriminator. || fail "(c) the g update changed the discriminator"
"$TOOL" cmp cg/g/$(ck 1) c1/g/$(ck 1) /params --only generator. || fail "(c) the d update changed the generator"
# and each did change its own
"$TOOL" cmp cd/g/$(ck 0) c1/g/$(ck 1) /params --only generator. >/dev/null && fail "(c) the g update changed nothing"
"$TOOL" cmp cg/g/$(ck 1) c1/g/$(ck 1) /params --only discriminator. >/dev/null && fail "(c) the d update changed nothing"
echo "(c) the g update leaves D bitwise unchanged, the d update leaves G unchanged"

# (d) WGAN: the critic clamped to [-0.01, 0.01] after its update, the generator not
run 1 job.toml --quiet --set gan.loss=wasserstein --set checkpoint.dir=w --set train.steps=1 >w.out 2>&1 ||
    { cat w.out; fail "wasserstein"; }
dmax=$("$TOOL" maxabs w/g/$(ck 1) /params discriminator.) || fail "(d) maxabs"
gmax=$("$TOOL" maxabs w/g/$(ck 1) /params generator.) || fail "(d) maxabs"
[ "$dmax" = "0.00999999978" ] || fail "(d) largest |critic weight| $dmax, expected the f32 of 0.01 (some clamped)"
awk -v g="$gmax" 'BEGIN { exit !(g > 0.02) }' || fail "(d) largest |generator weight| $gmax: clamped too?"
echo "(d) wasserstein: critic weights within [-0.01, 0.01] (largest $dmax), generator's up to $gmax"
# the resolved job says what ran: the architecture's phase settings
for kv in 'loss = "wasserstein"' 'd_optim = "rmsprop"' 'd_lr = 5e-05' 'd_repeat = 5' 'd_clip_value = 0.01' \
    'g_repeat = 1' 'g_clip_value = 0.0'; do
    grep -qx "$kv" w/g/job.toml || fail "(d) the resolved job lacks '$kv'"
done

# (e) bad [phase] keys: one line, exit 2
bad_key() {
    "$PLAIN_DLTRAIN" job.toml --set "$1" >e.out 2>e.err
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <e.err)" -eq 1 ] && grep -q "$2" e.err ||
        { cat e.out e.err; fail "(e) --set $1: exit $rc, expected 2 and one line matching '$2'"; }
    echo "(e) --set $1: $(cat e.err)"
}
bad_key phase.critic_repeat=5 "phase.critic_repeat: unknown key"
bad_key phase.d_repeat=0 "phase.d_repeat"
bad_key phase.g_optim=nadam "phase.g_optim"
bad_key train.nonfinite=skip "train.nonfinite"
bad_key phase.g_schedule=bogus "phase.g_schedule"

# the resolved job is a fixed point: run again as a job file it resolves to itself
# (the architecture's values it records do not change what runs)
for sets in "" "--set gan.num_classes=4 --set gan.loss=wasserstein"; do
    "$PLAIN_DLTRAIN" job.toml $sets --print-config >r1.toml 2>r.err || { cat r.err; fail "--print-config"; }
    "$PLAIN_DLTRAIN" r1.toml --print-config >r2.toml 2>r.err || { cat r.err; fail "--print-config of the resolved job"; }
    cmp -s r1.toml r2.toml || { diff r1.toml r2.toml; fail "the resolved job ($sets) does not resolve to itself"; }
done
grep -qx "num_classes = 4" r1.toml && grep -qx "d_repeat = 5" r1.toml || fail "the resolved job lacks the recorded values"

# a phase's own schedule over its own lr (the progress lr is the first phase's):
# step decay by 0.5 every step from phase.d_lr = 1e-3
run 1 job.toml --quiet --set checkpoint.dir=sch --set train.steps=3 --set phase.d_schedule=step \
    --set schedule.step_size=1 --set schedule.gamma=0.5 --set phase.d_lr=0.001 --set log.every_steps=1 >s.out 2>&1 ||
    { cat s.out; fail "phase.d_schedule"; }
lrs=$(sed -n 's/.*"lr": \([0-9.e-]*\).*/\1/p' sch/g/metrics.jsonl | tr '\n' ' ')
[ "$lrs" = "0.001 0.0005 0.00025 " ] || fail "phase.d_schedule: lr $lrs, expected 0.001 0.0005 0.00025"
echo "phase.d_schedule = step: lr $lrs"

# --dry-run: each phase's parameters (the critic: 64x16 + 16, 16x8 + 8, 8 + 1 = 1185,
# its flat range padded to 1216), optimizer, repeat count and memory
"$PLAIN_DLTRAIN" job.toml --dry-run --set gan.loss=wasserstein >dry.out 2>&1 || { cat dry.out; fail "--dry-run"; }
grep -q "^phase d: 1185 parameters (6 tensors, flat \[0, 1216)), rmsprop lr 5e-05, x 5 per iteration.*clip_value 0.01.*optimizer state" dry.out &&
    grep -q "^phase g: .*rmsprop lr 5e-05, x 1 per iteration" dry.out || { cat dry.out; fail "--dry-run phases"; }
# TensorBoard scalars of both phases
run 1 job.toml --quiet --set checkpoint.dir=tb --set train.steps=1 --set log.tensorboard=true >tb.out 2>&1 ||
    { cat tb.out; fail "tensorboard"; }
for k in d_loss g_loss d_x d_g_z; do
    grep -aq "train/$k" tb/g/events.out.tfevents.* || fail "no train/$k in the TensorBoard events"
done

# (a) 2 ranks x 8 == 1 rank x 16 (the same global batches: no shuffling)
if have_mpi; then
    A="--quiet $GP --set data.shuffle=false --set gan.g_norm=none --set train.steps=2"
    run 1 job.toml $A --set data.batch_size=16 --set checkpoint.dir=one >a.out 2>&1 || { cat a.out; fail "(a) 1 rank"; }
    run 2 job.toml $A --set data.batch_size=8 --set checkpoint.dir=two >a.out 2>&1 || { cat a.out; fail "(a) 2 ranks"; }
    "$TOOL" cmp one/g/$(ck 2) two/g/$(ck 2) /params --tol 1e-6 || fail "(a) 2 ranks x 8 differ from 1 rank x 16"
    A="$A --set gan.num_classes=4"
    run 1 job.toml $A --set data.batch_size=16 --set checkpoint.dir=onec >a.out 2>&1 || { cat a.out; fail "(a) cond 1 rank"; }
    run 2 job.toml $A --set data.batch_size=8 --set checkpoint.dir=twoc >a.out 2>&1 || { cat a.out; fail "(a) cond 2 ranks"; }
    "$TOOL" cmp onec/g/$(ck 2) twoc/g/$(ck 2) /params --tol 1e-6 || fail "(a) conditional: 2 ranks x 8 != 1 rank x 16"
    # ZeRO-1 per phase (several buckets per phase): the same bits as without it,
    # also stopped between phases and resumed (the shards gathered and cut again)
    Z="--quiet $GP --set gan.g_norm=none --set dist.bucket_mb=0.005 --set data.batch_size=8"
    run 2 job.toml $Z --set checkpoint.dir=z0 >a.out 2>&1 || { cat a.out; fail "(a) 2 ranks"; }
    run 2 job.toml $Z --set dist.zero=1 --set checkpoint.dir=z1 >a.out 2>&1 || { cat a.out; fail "(a) ZeRO-1"; }
    "$TOOL" cmp z0/g/$(ck 4) z1/g/$(ck 4) /params /optim || fail "(a) ZeRO-1 changed the result"
    export DLT_TEST_STOP_AFTER_UPDATES=9
    run 2 job.toml $Z --set dist.zero=1 --set checkpoint.dir=zm >a.out 2>&1
    rc=$?
    unset DLT_TEST_STOP_AFTER_UPDATES
    [ $rc -eq 4 ] || { cat a.out; fail "(a) ZeRO-1 stopped between phases: exit $rc"; }
    run 2 job.toml $Z --set dist.zero=1 --set checkpoint.dir=zm --resume auto >a.out 2>&1 ||
        { cat a.out; fail "(a) ZeRO-1 resumed"; }
    same z1/g/$(ck 4) zm/g/$(ck 4)
    echo "(a) ZeRO-1 per phase: bitwise as without; stopped after 9 updates and resumed: bitwise"
else
    echo "(a) skipped: no mpirun"
fi
# (f) the emulated CUDA kernels (tests/gpu/emu_dltrain, when built): in-graph
# noise keyed by global sample, the critic's clamp and double backward on the
# device path give the CPU's parameters (to rounding; no generator batch norm,
# whose preceding biases get rounding-level gradients that Adam and RMSprop
# amplify to a step either way)
EMU=$top_builddir/tests/gpu/emu_dltrain
if [ -x "$EMU" ]; then
    for loss in wasserstein wasserstein-gp; do
        F="--quiet --set gan.loss=$loss --set gan.g_norm=none --set train.steps=2"
        DLTRAIN=$EMU
        export DLT_TEST_STANDIN_DEVICE=1
        run 1 job.toml $F --set train.device=cuda --set checkpoint.dir=emu-$loss >f.out 2>&1 ||
            { cat f.out; fail "(f) $loss on the emulated GPU"; }
        unset DLT_TEST_STANDIN_DEVICE
        DLTRAIN=$PLAIN_DLTRAIN
        run 1 job.toml $F --set checkpoint.dir=cpu-$loss >f.out 2>&1 || { cat f.out; fail "(f) $loss on the CPU"; }
        "$TOOL" cmp emu-$loss/g/$(ck 2) cpu-$loss/g/$(ck 2) /params --tol 1e-6 || fail "(f) $loss: emulated GPU != CPU"
    done
else
    echo "(f) skipped: tests/gpu/emu_dltrain not built"
fi
# (g) the trace of a phased run (tests/io/test_trace checks the JSON and the
# categories present)
JCHECK=$top_builddir/tests/io/test_trace
DLTRAIN=$PLAIN_DLTRAIN
run 1 job.toml --quiet --set train.steps=3 --set log.trace=true --set log.trace_warmup=1 --set log.trace_steps=2 \
    --set checkpoint.dir=tr >g.out 2>&1 || { cat g.out; fail "(g) traced run"; }
"$JCHECK" --check tr/g/trace-rank0.json forward backward data allreduce allreduce_wait optimizer step >g.txt ||
    { cat g.txt; fail "(g) the trace of a phased run lacks a category"; }
echo "(g) trace: $(cat g.txt)"
echo "PASS ($(($(date +%s) - t_start)) s)"
