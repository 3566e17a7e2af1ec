#!/bin/sh
# Loss scaling (train.precision = "fp16" turns on the dynamic scaler; the CPU
# and the stand-in device compute in fp32, so the scaling itself is what is
# tested): with power-of-two scales and no overflow, scaling the loss by S and
# the reduced gradients by 1/S changes no bit of the training (parameters and
# optimizer state equal the unscaled run's, 1 and 2 ranks, CPU and the
# trainer's device path); the scale doubles every loss_scale_window clean
# steps; overflowing scales skip steps (the optimizer's step count shows it)
# and halve; exact resume restores the scaler; a run that diverges at scale 1
# still stops with the non-finite-gradient error.
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job

get() { "$TOOL" get "$1" "$2" || fail "no $2 in $1"; }
# the last metrics.jsonl value of KEY in run directory DIR
last() { sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1/t/metrics.jsonl" | tail -n 1; }

run 1 job.toml --quiet --set checkpoint.dir=f32 || fail "fp32 run"
run 1 job.toml --quiet --set checkpoint.dir=f16 --set train.precision=fp16 --set train.loss_scale_window=3 \
    --set checkpoint.every_steps=5 \
    --set log.every_steps=4 2>/dev/null || fail "fp16 run"
"$TOOL" cmp "f32/t/$(ck 20)" "f16/t/$(ck 20)" /params /buffers /optim ||
    fail "dynamic loss scaling changed the training"
# 20 clean steps, window 3: six doublings of 65536
s=$(get "f16/t/$(ck 20)" /state/loss_scale)
[ "$s" = 4194304 ] || fail "loss scale after 20 steps: $s, expected 65536 * 2^6 = 4194304"
[ "$(last f16 loss_scale)" = 4194304 ] && [ "$(last f16 skipped_steps)" = 0 ] ||
    fail "metrics.jsonl: loss_scale $(last f16 loss_scale), skipped_steps $(last f16 skipped_steps)"
echo "fp16 loss scaling, 1 rank: same bits as fp32; scale 65536 -> $s"

# a static scale (any precision) is as exact
run 1 job.toml --quiet --set checkpoint.dir=st --set train.loss_scale=1024 || fail "static scale run"
"$TOOL" cmp "f32/t/$(ck 20)" "st/t/$(ck 20)" /params /buffers /optim || fail "a static loss scale changed the training"
[ "$(get "st/t/$(ck 20)" /state/loss_scale)" = 0 ] || fail "a static scale is not the dynamic scaler's state"

# exact resume of the scaler mid-window (scale and clean-step count)
run 1 job.toml --quiet --set checkpoint.dir=f16r --set train.precision=fp16 --set train.loss_scale_window=3 \
    --resume "f16/t/$(ck 10)" 2>/dev/null || fail "fp16 resume"
same "f16/t/$(ck 20)" "f16r/t/$(ck 20)"

# overflow: 3e38 (2^127.8) times gradients of ~1 is beyond f32: steps are
# skipped and the scale halves until the gradients fit
run 1 job.toml --quiet --set checkpoint.dir=ovf --set train.precision=fp16 --set train.loss_scale_init=3e38 \
    2>/dev/null || fail "overflowing run"
skipped=$(last ovf skipped_steps)
steps=$(get "ovf/t/$(ck 20)" /state/optim_step)
case $skipped in '' | 0) fail "no step skipped at loss scale 3e38" ;; esac
[ "$steps" = $((20 - skipped)) ] || fail "optimizer steps $steps with $skipped skipped of 20"
echo "loss scale 3e38: $skipped steps skipped, scale $(last ovf loss_scale), optimizer steps $steps"

# diverging (lr 1e30): after halving to 1 the non-finite gradient stops the run
run 1 job.toml --quiet --set checkpoint.dir=div --set train.precision=fp16 --set optim.name=sgd \
    --set optim.lr=1e30 >div.txt 2>&1 && fail "a diverging fp16 run did not stop"
grep -q "non-finite gradient" div.txt || fail "diverging run: $(cat div.txt)"

# the trainer's device path (stand-in device): the scale travels as an input
DLT_TEST_STANDIN_DEVICE=1 DLTRAIN=$STANDIN_DLTRAIN run 1 job.toml --quiet --set checkpoint.dir=dev \
    --set train.device=cuda --set train.precision=fp16 --set train.loss_scale_window=3 2>/dev/null ||
    fail "stand-in fp16 run"
same "f16/t/$(ck 20)" "dev/t/$(ck 20)"
if have_mpi; then
    run 2 job.toml --quiet --set checkpoint.dir=f32x2 || fail "2-rank fp32 run"
    run 2 job.toml --quiet --set checkpoint.dir=f16x2 --set train.precision=fp16 2>/dev/null || fail "2-rank fp16 run"
    "$TOOL" cmp "f32x2/t/$(ck 20)" "f16x2/t/$(ck 20)" /params /buffers /optim ||
        fail "2 ranks: dynamic loss scaling changed the training"
    echo "2 ranks: same bits as fp32"
fi
echo "done: $(elapsed)"
