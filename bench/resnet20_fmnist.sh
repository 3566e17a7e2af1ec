#!/bin/sh
# ResNet-20 on Fashion-MNIST (jobs/resnet20_fmnist.toml): dltrain against the
# same model, optimizer, schedule and batch in PyTorch
# (bench/reference/resnet20_fmnist_torch.py) on this machine with the same
# thread count: images/s per run and per rank, CPU seconds per step and the
# ratio dltrain / PyTorch; then the time per op kind (bench/step_bench).
# Prints figures; asserts nothing.
#
#   bench/resnet20_fmnist.sh [--steps N] [--threads T] [--full]
#     --steps N    training steps timed for the speed comparison (default 200;
#                  the first log interval, 10 steps, is warm-up and not counted)
#     --threads T  threads per process for both (default: all cores)
#     --full       also run the job's full 30-epoch schedule (2 ranks, as the
#                  job intends) and PyTorch's (one process, the global batch of
#                  128), and print both test accuracies side by side and their
#                  ratio (goal: >= 92% top-1); hours on 2 cores
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .; DLT_BENCH_KEEP=DIR keeps the full run's folder there):
# needs data/fmnist (dlprep fashion-mnist --out data/fmnist).
# DLT_TORCH_PYTHON names the Python with torch and h5py (default /usr/bin/python3,
# Debian's python3-torch); its torch version is printed.
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
py=${DLT_TORCH_PYTHON:-/usr/bin/python3}
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
echo "   $("$py" -c 'import torch; print("pytorch", torch.__version__)')"
row() { printf '%-34s %12s %13s %11s\n' "$@"; }
row "" "images/s/run" "images/s/rank" "CPU s/step"
# images/s of the run from metrics.jsonl, the first interval left out
dlt_rate() {
    awk -F'"samples_per_s": ' 'NR > 1 && $2 != "" { split($2, a, ","); s += 1 / a[1]; n++ }
        END { if (n) printf "%.1f", n / s; else print "n/a" }' "$1"
}

# dltrain: one rank
run /usr/bin/time -f "%U %S" -o "$tmp/t_dlt" "$dltrain" "$job" --quiet --set train.steps="$steps" \
    --set log.every_steps=10 --set data.val= --set train.threads="$threads" --set checkpoint.dir="$tmp" \
    >"$tmp/dlt.out" 2>&1 || { cat "$tmp/dlt.out"; exit 1; }
dlt=$(dlt_rate "$tmp"/resnet20_fmnist/metrics.jsonl)
row "dltrain 1 rank x $threads threads" "$dlt" "$dlt" "$(cpu_per_step "$tmp/t_dlt" "$steps")"

# the job's own layout on this machine: 2 ranks sharing the cores
dlt2=
if command -v mpirun >/dev/null 2>&1 && [ "$threads" -ge 2 ]; then
    per=$((threads / 2))
    run /usr/bin/time -f "%U %S" -o "$tmp/t_np2" mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" \
        --quiet --set train.steps="$steps" --set log.every_steps=10 --set data.val= --set train.threads="$per" \
        --set checkpoint.dir="$tmp/np2" >"$tmp/np2.out" 2>&1 || { cat "$tmp/np2.out"; exit 1; }
    dlt2=$(dlt_rate "$tmp"/np2/resnet20_fmnist/metrics.jsonl)
    row "dltrain 2 ranks x $per thread(s)" "$dlt2" "$(awk -v r="$dlt2" 'BEGIN { printf "%.1f", r / 2 }')" \
        "$(cpu_per_step "$tmp/t_np2" "$steps")"
fi

# PyTorch, the same steps in one process
run /usr/bin/time -f "%U %S" -o "$tmp/t_pt" "$py" bench/reference/resnet20_fmnist_torch.py --steps "$steps" \
    --warmup 10 --threads "$threads" >"$tmp/pt.out" 2>&1 || { cat "$tmp/pt.out"; exit 1; }
pt=$(sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' "$tmp/pt.out")
row "pytorch 1 process x $threads threads" "$pt" "$pt" "$(cpu_per_step "$tmp/t_pt" "$steps")*"
awk -v a="$dlt" -v b="$dlt2" -v p="$pt" 'BEGIN {
    printf "ratio dltrain / pytorch (images/s per run): %.2f (1 rank)", a / p
    if (b != "") printf ", %.2f (2 ranks)", b / p
    printf "\n* includes loading the shards\n" }'
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# where dltrain's step time goes
if [ -x "$build/bench/step_bench" ] || (cd "$build" && make -s bench/step_bench >/dev/null 2>&1); then
    run "$build/bench/step_bench" resnet20 64 10 1 28 28 "$threads"
fi

if [ $full = 1 ]; then
    per=$((threads / 2 > 0 ? threads / 2 : 1))
    echo "== full schedule: 30 epochs, dltrain 2 ranks x $per thread(s) x batch 64, pytorch 1 process x batch 128"
    echo "   started $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    s0=$(date +%s)
    run mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" --quiet \
        --set train.threads="$per" --set checkpoint.dir="$tmp/full" >"$tmp/full.out" 2>&1 || { cat "$tmp/full.out"; exit 1; }
    s1=$(date +%s)
    m="$tmp"/full/resnet20_fmnist/metrics.jsonl
    # test top-1 after every epoch, then the run's training images/s (per run and per rank)
    grep '"eval"' "$m" | sed -n 's/.*"epoch": \([0-9]*\), "eval": {[^}]*"top1": \([0-9.e+-]*\).*/\1 \2/p' |
        awk '{ printf "   dltrain epoch %2d: test top-1 %.4f\n", $1, $2 }'
    r=$(dlt_rate "$m")
    echo "   dltrain: $((s1 - s0)) s wall, $r images/s per run, $(awk -v r="$r" 'BEGIN { printf "%.1f", r / 2 }') per rank"
    [ -n "$DLT_BENCH_KEEP" ] && cp -r "$tmp/full/resnet20_fmnist" "$DLT_BENCH_KEEP" && echo "   run folder kept in $DLT_BENCH_KEEP"
    run "$py" bench/reference/resnet20_fmnist_torch.py --epochs 30 --batch 128 --threads "$threads" \
        >"$tmp/ptfull.out" 2>&1 || { cat "$tmp/ptfull.out"; exit 1; }
    s2=$(date +%s)
    echo "   $(cat "$tmp/ptfull.out") ($((s2 - s1)) s wall)"
    a=$(grep '"eval"' "$m" | tail -1 | sed -n 's/.*"top1": \([0-9.e+-]*\).*/\1/p')
    b=$(sed -n 's/.*test top-1 \([0-9.]*\).*/\1/p' "$tmp/ptfull.out")
    p=$(sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' "$tmp/ptfull.out")
    awk -v a="$a" -v b="$b" -v r="$r" -v p="$p" 'BEGIN {
        printf "test top-1: dltrain %.4f, pytorch %.4f, ratio dltrain / pytorch %.4f (goal: >= 0.92)\n", a, b, a / b
        printf "images/s over the full run: dltrain %.1f, pytorch %.1f, ratio %.2f\n", r, p, r / p }'
    echo "== finished $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
