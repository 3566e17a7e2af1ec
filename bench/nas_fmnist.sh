#!/bin/sh
# NAS on Fashion-MNIST (jobs/nas_fmnist.toml): the controller's search against
# random search from the same space (nas.random = true) with the same budget
# (rounds x children x child steps) and the same seeds, on 2 ranks (2 groups):
# best and mean validation top-1 of each search's children (the validation
# split is held out from the training set). Then the controller's best child
# (best-1.toml) retrained from scratch, and ResNet-20 (jobs/resnet20_fmnist.toml)
# trained as long, each with its test top-1 (the test set is read only here).
# Prints figures; asserts nothing.
#
#   bench/nas_fmnist.sh [--rounds N] [--children C] [--child-steps S]
#                       [--val-fraction F] [--retrain-steps K] [--tiny]
#     --rounds N         search rounds (default 100: the job's hour on 2 cores)
#     --children C       children per round (default 4)
#     --child-steps S    training steps per child (default 150)
#     --val-fraction F   held-out fraction of the training set (default 0.1)
#     --retrain-steps K  steps of the two retrains (default 0: their jobs' epochs)
#     --tiny             2 rounds x 2 children x 5 steps, 1% validation, 20-step
#                        retrains: shows that everything runs (a minute), no result
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .): needs data/fmnist (dlprep fashion-mnist --out data/fmnist)
# and mpirun. Runs go to runs/nas_bench_*; the load average is printed before
# and after.
rounds=100 children=4 steps=150 valf=0.1 retrain=0
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift ;;
    --children) children=$2; shift ;;
    --child-steps) steps=$2; shift ;;
    --val-fraction) valf=$2; shift ;;
    --retrain-steps) retrain=$2; shift ;;
    --tiny) rounds=2 children=2 steps=5 valf=0.01 retrain=20 ;;
    *) echo "usage: $0 [--rounds N] [--children C] [--child-steps S] [--val-fraction F] [--retrain-steps K] [--tiny]" >&2
       exit 2 ;;
    esac
    shift
done
B=${DLT_BUILD:-.}
mkdir -p runs
DLTRAIN=$B/dltrain
[ -x "$DLTRAIN" ] || { echo "no $DLTRAIN (set DLT_BUILD)" >&2; exit 2; }
[ -e data/fmnist ] || { echo "no data/fmnist (dlprep fashion-mnist --out data/fmnist)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "budget per search: $rounds rounds x $children children x $steps steps (2 ranks, 2 groups), seed 1"

# best and mean reward of a search's children
summary() {
    sed 's/.*"reward": \([0-9.]*\).*/\1/' "$1" |
        awk '{ s += $1; if ($1 > b) b = $1 } END { printf "%d children, best %.4f, mean %.4f", NR, b, s / NR }'
}
# the last evaluation's top-1 of a run's output
top1() { sed -n 's/.*top-1 \([0-9.]*\).*/\1/p' "$1" | tail -1; }

for mode in controller random; do
    rnd=false
    [ $mode = random ] && rnd=true
    rm -rf runs/nas_bench_$mode
    t0=$(date +%s)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE mpirun --oversubscribe -np 2 --bind-to none \
        "$DLTRAIN" jobs/nas_fmnist.toml -q --set model.name=nas_bench_$mode --set nas.random=$rnd \
        --set nas.rounds="$rounds" --set nas.children="$children" --set nas.child_steps="$steps" \
        --set nas.val_fraction="$valf" >runs/nas_bench_log_$mode.log 2>&1 ||
        { tail -5 runs/nas_bench_log_$mode.log; echo "$mode search failed"; exit 1; }
    echo "$mode search: $(summary runs/nas_bench_$mode/search.jsonl) ($(($(date +%s) - t0)) s)"
done

sets=
[ "$retrain" -gt 0 ] && sets="--set train.steps=$retrain"
# shellcheck disable=SC2086
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE mpirun --oversubscribe -np 2 --bind-to none \
    "$DLTRAIN" runs/nas_bench_controller/best-1.toml --set model.name=nas_bench_best $sets \
    >runs/nas_bench_log_best.log 2>&1 || { tail -5 runs/nas_bench_log_best.log; echo "retrain failed"; exit 1; }
# shellcheck disable=SC2086
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE mpirun --oversubscribe -np 2 --bind-to none \
    "$DLTRAIN" jobs/resnet20_fmnist.toml --set model.name=nas_bench_resnet20 $sets \
    >runs/nas_bench_log_resnet20.log 2>&1 || { tail -5 runs/nas_bench_log_resnet20.log; echo "resnet20 failed"; exit 1; }
how="the jobs' epochs"
[ "$retrain" -gt 0 ] && how="$retrain steps"
echo "retrained from scratch ($how, 2 ranks): best NAS child test top-1 $(top1 runs/nas_bench_log_best.log)" \
    "($(head -1 runs/nas_bench_controller/best-1.toml | sed 's/^# //')); ResNet-20 test top-1 $(top1 runs/nas_bench_log_resnet20.log)"
rm -f runs/nas_bench_log_*.log
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
