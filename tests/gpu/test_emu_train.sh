#!/bin/sh
# The trainer's GPU path end to end on the emulated CUDA kernels
# (tests/gpu/emu_dltrain: the real command line, trainer, reducer, optimizer
# and kernel sources; device memory is host memory): an MLP with dropout,
# gradient accumulation and AdamW, and a ResNet-20 with batch norm and
# evaluation, train like the CPU (losses within rounding), resume exactly,
# give the same bits with CUDA graphs, with the batch overlap, with a static
# loss scale, and on 2 ranks (fp32 and bf16 gradient reduction, ZeRO-1).
# room for the emulated kernels under the sanitizers (about 20 times slower:
# a ResNet-20 run takes 2 minutes there)
RUN_TIMEOUT=900
. "$top_srcdir/tests/train/lib.sh"
DLTRAIN=$top_builddir/tests/gpu/emu_dltrain
make_data
write_job

# the last metrics.jsonl value of KEY in run directory DIR
last() { sed -n "s/.*\"$2\": \([^,}]*\).*/\1/p" "$1/t/metrics.jsonl" | tail -n 1; }
# within REL of each other
near() {
    awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
        exit !(a != "" && b != "" && d <= r * (m > 1 ? m : 1)) }'
}
dev() { DLT_TEST_STANDIN_DEVICE=1 run "$@" --set train.device=cuda; }

run 1 job.toml --quiet --set checkpoint.dir=cpu --set log.every_steps=5 || fail "CPU run"
dev 1 job.toml --quiet --set checkpoint.dir=emu --set log.every_steps=5 --set checkpoint.every_steps=10 ||
    fail "emulated GPU run"
near "$(last cpu loss)" "$(last emu loss)" 1e-4 ||
    fail "MLP: loss on the emulated GPU $(last emu loss), on the CPU $(last cpu loss)"
echo "mlp: loss after 20 steps: CPU $(last cpu loss), emulated GPU $(last emu loss)"
dev 1 job.toml --quiet --set checkpoint.dir=emu-10 --resume "emu/t/$(ck 10)" || fail "resume on the emulated GPU"
same "emu/t/$(ck 20)" "emu-10/t/$(ck 20)"
dev 1 job.toml --quiet --set checkpoint.dir=graph --set train.cuda_graphs=true || fail "CUDA graphs run"
same "emu/t/$(ck 20)" "graph/t/$(ck 20)"
dev 1 job.toml --quiet --set checkpoint.dir=scaled --set train.loss_scale=1024 || fail "loss-scaled run"
"$TOOL" cmp "emu/t/$(ck 20)" "scaled/t/$(ck 20)" /params /buffers /optim || fail "a static loss scale changed bits"

dev 1 job.toml --quiet --set checkpoint.dir=res --set model.arch=resnet20 --set optim.name=sgd \
    --set optim.momentum=0.9 --set train.steps=6 --set data.val="data/train-*.h5" --set eval.every_steps=3 \
    --set log.every_steps=3 || fail "ResNet-20 on the emulated GPU"
run 1 job.toml --quiet --set checkpoint.dir=rescpu --set model.arch=resnet20 --set optim.name=sgd \
    --set optim.momentum=0.9 --set train.steps=6 --set data.val="data/train-*.h5" --set eval.every_steps=3 \
    --set log.every_steps=3 || fail "ResNet-20 on the CPU"
near "$(last rescpu loss)" "$(last res loss)" 1e-3 ||
    fail "ResNet-20: loss on the emulated GPU $(last res loss), on the CPU $(last rescpu loss)"
dev 1 job.toml --quiet --set checkpoint.dir=resg --set model.arch=resnet20 --set optim.name=sgd \
    --set optim.momentum=0.9 --set train.steps=6 --set data.val="data/train-*.h5" --set eval.every_steps=3 \
    --set log.every_steps=3 --set train.cuda_graphs=true || fail "ResNet-20 with CUDA graphs"
same "res/t/$(ck 6)" "resg/t/$(ck 6)"
echo "resnet20: loss after 6 steps: CPU $(last rescpu loss), emulated GPU $(last res loss) (graphs: same bits)"

if have_mpi; then
    dev 2 job.toml --quiet --set checkpoint.dir=emu2 --set checkpoint.every_steps=10 || fail "2 ranks"
    dev 2 job.toml --quiet --set checkpoint.dir=emu2-10 --resume "emu2/t/$(ck 10)" || fail "2-rank resume"
    same "emu2/t/$(ck 20)" "emu2-10/t/$(ck 20)"
    run 2 job.toml --quiet --set checkpoint.dir=cpu2 || fail "2 ranks on the CPU"
    near "$(last cpu2 loss)" "$(last emu2 loss)" 1e-4 ||
        fail "2 ranks: loss on the emulated GPU $(last emu2 loss), on the CPU $(last cpu2 loss)"
    dev 2 job.toml --quiet --set checkpoint.dir=bf2 --set dist.reduce_dtype=bf16 || fail "bf16 reduction"
    near "$(last cpu2 loss)" "$(last bf2 loss)" 1e-2 ||
        fail "bf16 reduction: loss $(last bf2 loss), fp32 $(last cpu2 loss)"
    echo "2 ranks: loss CPU $(last cpu2 loss), emulated GPU $(last emu2 loss), bf16 reduction $(last bf2 loss)"
    # ZeRO-1 with the optimizer's shards in (emulated) device memory, stepped by
    # the real kernel per shard: 2 ranks add the same two values either way,
    # so the same bits as the plain run; and with the bf16 reduction
    dev 2 job.toml --quiet --set checkpoint.dir=zero2 --set dist.zero=1 --set dist.bucket_mb=0.001 ||
        fail "ZeRO-1 on the emulated GPU"
    same "emu2/t/$(ck 20)" "zero2/t/$(ck 20)"
    dev 2 job.toml --quiet --set checkpoint.dir=zbf2 --set dist.zero=1 --set dist.bucket_mb=0.001 \
        --set dist.reduce_dtype=bf16 || fail "ZeRO-1 with the bf16 reduction"
    near "$(last bf2 loss)" "$(last zbf2 loss)" 1e-2 ||
        fail "ZeRO-1 with bf16 reduction: loss $(last zbf2 loss), without ZeRO $(last bf2 loss)"
fi
echo "done: $(elapsed)"
