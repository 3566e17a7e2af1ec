#!/bin/sh
# Exact resume through the real programs: N steps == k steps + checkpoint +
# --resume + (N-k) steps, bitwise (/params, /buffers, /optim, /state), on 1 and
# 2 ranks, for an MLP with dropout, accumulation, AdamW and augmentation, the
# same with ZeRO-1 (also resumed without ZeRO and on 3 ranks), and a ResNet-20 with batch norm and evaluation in between;
# and the device path of the trainer (stand-in device) against the CPU runs.
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job

# exact NP "K..." N TAG SETS...: resume from each checkpoint K of a full N-step
# run into a fresh directory and compare the final checkpoints
exact() {
    np=$1 ks=$2 n=$3 tag=$4
    shift 4
    run "$np" job.toml --quiet --set checkpoint.dir="$tag" --set train.steps="$n" "$@" ||
        fail "$tag: the full run failed"
    for k in $ks; do
        [ -f "$tag/t/$(ck "$k")" ] || fail "$tag: no checkpoint at step $k"
        run "$np" job.toml --quiet --set checkpoint.dir="$tag-$k" --set train.steps="$n" "$@" \
            --resume "$tag/t/$(ck "$k")" || fail "$tag: resuming from step $k failed"
        echo "$tag: $np rank(s), $n steps == $k + resume + $((n - k)):"
        same "$tag/t/$(ck "$n")" "$tag-$k/t/$(ck "$n")"
    done
}

# 1 rank: 16 steps per epoch; 6 is mid-epoch, 16 the end of the first epoch
exact 1 "6 16" 20 mlp1 --set checkpoint.every_steps=2
# every_steps through the CLI: 2, 4, ..., 20 and nothing else (keep_last = 0)
[ "$(ls mlp1/t | grep -c '^ckpt-')" = 10 ] || fail "checkpoint.every_steps=2 over 20 steps: $(ls mlp1/t)"
exact 1 3 6 resnet1 --set model.arch=resnet20 --set optim.name=sgd --set optim.momentum=0.9 \
    --set optim.nesterov=true --set checkpoint.every_steps=3 --set data.val="data/train-*.h5" \
    --set eval.every_steps=2
# the trainer's device path on the stand-in device (host memory, the CPU
# kernels; tests/core/test_backend): exact resume, and the same bits as the
# CPU runs above (parameters, buffers, optimizer state, counters); the
# tests' dltrain brings the stand-in (the library has no test hooks)
export DLT_TEST_STANDIN_DEVICE=1
DLTRAIN=$STANDIN_DLTRAIN
exact 1 6 20 dev1 --set train.device=cuda --set checkpoint.every_steps=2
same "mlp1/t/$(ck 20)" "dev1/t/$(ck 20)"
exact 1 3 6 devres1 --set train.device=cuda --set model.arch=resnet20 --set optim.name=sgd \
    --set optim.momentum=0.9 --set optim.nesterov=true --set checkpoint.every_steps=3 \
    --set data.val="data/train-*.h5" --set eval.every_steps=2
same "resnet1/t/$(ck 6)" "devres1/t/$(ck 6)"
unset DLT_TEST_STANDIN_DEVICE
DLTRAIN=$PLAIN_DLTRAIN
echo "1 rank: $(elapsed)"
if have_mpi; then
    # 2 ranks: 8 steps per epoch; 8 is an epoch boundary, 12 mid-epoch
    exact 2 "8 12" 20 mlp2 --set checkpoint.every_steps=4
    # ZeRO-1 over several buckets: each rank holds a shard of the optimizer state
    exact 2 6 12 zero2 --set checkpoint.every_steps=6 --set dist.zero=1 --set dist.bucket_mb=0.001
    # checkpoints hold the whole optimizer state: a ZeRO checkpoint resumes
    # without ZeRO (2 ranks: the same sums, so the same bits as the ZeRO run),
    # and on 3 ranks with ZeRO (other shards; not bitwise, it must run)
    run 2 job.toml --quiet --set checkpoint.dir=unzero2 --set train.steps=12 --set dist.bucket_mb=0.001 \
        --resume "zero2/t/$(ck 6)" || fail "resuming a ZeRO checkpoint without ZeRO failed"
    same "zero2/t/$(ck 12)" "unzero2/t/$(ck 12)"
    if run 3 job.toml --quiet --set checkpoint.dir=zero3 --set train.steps=12 --set dist.zero=1 \
        --set dist.bucket_mb=0.001 --resume "zero2/t/$(ck 6)" 2>zero3.err; then
        [ -f "zero3/t/$(ck 12)" ] || fail "zero3: no final checkpoint"
    else
        cat zero3.err
        fail "resuming a 2-rank ZeRO checkpoint on 3 ranks with ZeRO failed"
    fi
    # gradients reduced in bf16: resumes exactly, and trains differently from fp32
    exact 2 12 20 bf16red --set checkpoint.every_steps=4 --set dist.reduce_dtype=bf16
    "$TOOL" cmp "mlp2/t/$(ck 20)" "bf16red/t/$(ck 20)" /params >/dev/null 2>&1 &&
        fail "dist.reduce_dtype = bf16 gave the fp32 reduction's parameters"
    exact 2 3 6 resnet2 --set model.arch=resnet20 --set optim.name=sgd --set optim.momentum=0.9 \
        --set checkpoint.every_steps=3 --set data.val="data/train-*.h5" --set eval.every_steps=2
    # the device path with the gradient reducer (2 ranks, stand-in device)
    export DLT_TEST_STANDIN_DEVICE=1
    DLTRAIN=$STANDIN_DLTRAIN
    exact 2 12 20 dev2 --set train.device=cuda --set checkpoint.every_steps=4
    same "mlp2/t/$(ck 20)" "dev2/t/$(ck 20)"
    # ZeRO-1 on a device: the optimizer's shards in device memory, stepped by
    # the device kernel per shard; the same bits as the CPU's ZeRO run
    exact 2 6 12 devzero2 --set train.device=cuda --set checkpoint.every_steps=6 --set dist.zero=1 \
        --set dist.bucket_mb=0.001
    same "zero2/t/$(ck 12)" "devzero2/t/$(ck 12)"
    unset DLT_TEST_STANDIN_DEVICE
    DLTRAIN=$PLAIN_DLTRAIN
else
    echo "no mpirun: multi-rank cases skipped"
fi
echo "done: $(elapsed)"
