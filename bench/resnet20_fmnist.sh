#!/bin/sh
# ResNet-20 on Fashion-MNIST (jobs/resnet20_fmnist.toml): dltrain against the
# same model, optimizer, schedule and batch in PyTorch (bench/resnet20_fmnist_torch.py)
# on this machine with the same thread count, then the time per op kind
# (bench/step_bench). Prints figures; asserts nothing.
#
#   bench/resnet20_fmnist.sh [--steps N] [--threads T] [--full]
#     --steps N    training steps timed for the speed comparison (default 200;
#                  the first log interval, 10 steps, is warm-up and not counted)
#     --threads T  threads per process for both (default: all cores)
#     --full       also run the job's full 30-epoch schedule (2 ranks, as the
#                  job intends) and PyTorch's, and print both test accuracies
#                  (goal: >= 92% top-1); hours on 2 cores
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .): needs data/fmnist (dlprep fashion-mnist --out data/fmnist).
# Wall-clock images/s depend on what else runs: the load average is printed
# before and after, and the CPU seconds per step beside them.
steps=200
threads=$(nproc 2>/dev/null || echo 2)
full=0
while [ $# -gt 0 ]; do
    case $1 in
    --steps) steps=$2; shift ;;
    --threads) threads=$2; shift ;;
    --full) full=1 ;;
    *) echo "usage: $0 [--steps N] [--threads T] [--full]" >&2; exit 2 ;;
    esac
    shift
done
build=${DLT_BUILD:-.}
dltrain=$build/dltrain
job=jobs/resnet20_fmnist.toml
[ -x "$dltrain" ] || { echo "no $dltrain (set DLT_BUILD to the build folder)" >&2; exit 2; }
ls data/fmnist/train-*.h5 >/dev/null 2>&1 || { echo "no data/fmnist: dlprep fashion-mnist --out data/fmnist" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# mpirun refuses root unless told (containers, CI)
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# the same environment for both: no OpenBLAS core/cache overrides
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" "$@"; }
cpu_per_step() { awk -v n="$2" '{ printf "%.3f", ($1 + $2) / n }' "$1"; }

echo "== $(uname -n): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $threads threads; $steps steps of batch 64"

# dltrain: one rank; images/s from metrics.jsonl, the first interval left out
run /usr/bin/time -f "%U %S" -o "$tmp/t_dlt" "$dltrain" "$job" --quiet --set train.steps="$steps" \
    --set log.every_steps=10 --set data.val= --set train.threads="$threads" --set checkpoint.dir="$tmp" \
    >"$tmp/dlt.out" 2>&1 || { cat "$tmp/dlt.out"; exit 1; }
dlt=$(awk -F'"samples_per_s": ' 'NR > 1 { split($2, a, ","); s += 1 / a[1]; n++ }
      END { if (n) printf "%.1f", n / s; else print "n/a" }' "$tmp"/resnet20_fmnist/metrics.jsonl)
echo "dltrain  1 rank x $threads threads: $dlt images/s (per rank = per run), $(cpu_per_step "$tmp/t_dlt" "$steps") CPU s/step"

# PyTorch, the same steps
run /usr/bin/time -f "%U %S" -o "$tmp/t_pt" /usr/bin/python3 bench/resnet20_fmnist_torch.py --steps "$steps" \
    --warmup 10 --threads "$threads" >"$tmp/pt.out" 2>&1 || { cat "$tmp/pt.out"; exit 1; }
echo "$(cat "$tmp/pt.out"), $(cpu_per_step "$tmp/t_pt" "$steps") CPU s/step (includes loading the shards)"

# the job's own layout on this machine: 2 ranks sharing the cores
if command -v mpirun >/dev/null 2>&1 && [ "$threads" -ge 2 ]; then
    per=$((threads / 2))
    run mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" --quiet --set train.steps="$steps" \
        --set log.every_steps=10 --set data.val= --set train.threads="$per" --set checkpoint.dir="$tmp/np2" \
        >"$tmp/np2.out" 2>&1 || { cat "$tmp/np2.out"; exit 1; }
    awk -F'"samples_per_s": ' -v per="$per" 'NR > 1 { split($2, a, ","); s += 1 / a[1]; n++ }
        END { if (n) printf "dltrain  2 ranks x %d thread(s): %.1f images/s per run, %.1f per rank\n", per, n / s, n / s / 2 }' \
        "$tmp"/np2/resnet20_fmnist/metrics.jsonl
fi
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# where dltrain's step time goes
if [ -x "$build/bench/step_bench" ] || (cd "$build" && make -s bench/step_bench >/dev/null 2>&1); then
    run "$build/bench/step_bench" resnet20 64 10 1 28 28 "$threads"
fi

if [ $full = 1 ]; then
    echo "== full schedule (30 epochs, 2 ranks x $((threads / 2 > 0 ? threads / 2 : 1)) threads)"
    run mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" --quiet \
        --set train.threads=$((threads / 2 > 0 ? threads / 2 : 1)) --set checkpoint.dir="$tmp/full" 2>&1 | tail -3
    # PyTorch in one process with the job's global batch of 128
    run /usr/bin/python3 bench/resnet20_fmnist_torch.py --epochs 30 --batch 128 --threads "$threads"
fi
