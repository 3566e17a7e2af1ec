#!/bin/sh
# DCGAN on Fashion-MNIST (jobs/dcgan_fmnist.toml): dltrain on 2 ranks (the job's
# layout, 2 x 64 = the global batch of 128) against the same model, init, loss,
# optimizer and global batch in PyTorch (bench/reference/dcgan_fmnist.py: ONE
# process with the batch of 128 and as many threads as both ranks together,
# so both do the same arithmetic per iteration on the same cores) for a fixed
# number of iterations: real images/s (the discriminator's batch per
# iteration), seconds per iteration, and the ratio dltrain / PyTorch. Then,
# when --fid CKPT names the FID-FMNIST classifier checkpoint (docs/metrics.md),
# both FID-FMNIST curves: dltrain trains --fid-iters iterations with a
# checkpoint every --fid-every, the PyTorch reference the same iterations,
# writing --fid-n generated images as a shard set at the same iterations, and
# `dltrain fid` scores each against the first --fid-n Fashion-MNIST test
# images (dltrain's checkpoints: --fid-n images drawn as its training-time FID
# draws them). Prints figures; asserts nothing.
#
#   bench/gan_fmnist.sh [--iters N] [--threads T] [--fid CKPT] [--fid-iters N]
#                       [--fid-every K] [--fid-n N]
#     --iters N      iterations timed for the speed comparison (default 100; the
#                    first log interval, 10 iterations, is warm-up and not counted;
#                    0: no speed comparison, only the FID curves)
#     --threads T    threads in all, split between the 2 ranks (default: all cores)
#     --fid CKPT     the ResNet-20 checkpoint FID-FMNIST's features come from
#     --fid-iters N  iterations of the FID runs (default 2000)
#     --fid-every K  FID every K iterations (default 500)
#     --fid-n N      images per FID set (default 10000, docs/metrics.md; fewer
#                    bias the values upwards, so compare equal N only)
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .): needs data/fmnist (dlprep fashion-mnist --out data/fmnist)
# and mpirun. DLT_TORCH_PYTHON names the Python with torch and h5py (default
# /usr/bin/python3). Both run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE. Wall
# clock figures depend on what else runs: the load average is printed before
# and after.
iters=100
threads=$(nproc 2>/dev/null || echo 2)
fid=
fid_iters=2000
fid_every=500
fid_n=10000
while [ $# -gt 0 ]; do
    case $1 in
    --iters) iters=$2; shift ;;
    --threads) threads=$2; shift ;;
    --fid) fid=$2; shift ;;
    --fid-iters) fid_iters=$2; shift ;;
    --fid-every) fid_every=$2; shift ;;
    --fid-n) fid_n=$2; shift ;;
    *) echo "usage: $0 [--iters N] [--threads T] [--fid CKPT] [--fid-iters N] [--fid-every K] [--fid-n N]" >&2; exit 2 ;;
    esac
    shift
done
build=${DLT_BUILD:-.}
py=${DLT_TORCH_PYTHON:-/usr/bin/python3}
dltrain=$build/dltrain
job=jobs/dcgan_fmnist.toml
[ -x "$dltrain" ] || { echo "no $dltrain (set DLT_BUILD to the build folder)" >&2; exit 2; }
ls data/fmnist/train-*.h5 >/dev/null 2>&1 || { echo "no data/fmnist: dlprep fashion-mnist --out data/fmnist" >&2; exit 2; }
command -v mpirun >/dev/null 2>&1 || { echo "no mpirun: the job runs on 2 ranks" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# the same environment for both: no OpenBLAS core/cache overrides
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" "$@"; }
per=$((threads / 2 > 0 ? threads / 2 : 1))
dlt2() {
    run mpirun -np 2 --oversubscribe --bind-to none "$dltrain" "$job" --quiet --set train.threads="$per" "$@"
}

if [ "$iters" -gt 0 ]; then
    echo "== $(uname -n): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $iters iterations of global batch 128"
    echo "   $("$py" -c 'import torch; print("pytorch", torch.__version__)')"
    row() { printf '%-36s %10s %12s %9s %9s\n' "$@"; }
    row "" "images/s" "s/iteration" "d_loss" "g_loss"

    # dltrain: 2 ranks x per threads; images/s from metrics.jsonl's samples_per_s
    # (real images of the whole run), the first interval left out
    s0=$(date +%s.%N)
    dlt2 --set train.steps="$iters" --set log.every_steps=10 --set checkpoint.dir="$tmp" \
        >"$tmp/dlt.out" 2>&1 || { cat "$tmp/dlt.out"; exit 1; }
    s1=$(date +%s.%N)
    m=$tmp/dcgan_fmnist/metrics.jsonl
    val() { tail -1 "$m" | sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" | awk '{ printf "%.4f", $1 }'; }
    dlt=$(awk -F'"samples_per_s": ' 'NR > 1 && $2 != "" { split($2, a, ","); s += 1 / a[1]; n++ }
        END { if (n) printf "%.1f", n / s; else print "n/a" }' "$m")
    row "dltrain 2 ranks x $per thread(s)" "$dlt" "$(awk -v r="$dlt" 'BEGIN { printf "%.3f", 128 / r }')" \
        "$(val d_loss)" "$(val g_loss)"
    echo "   (wall $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", b - a }') s with start-up)"

    # PyTorch: one process, the global batch, all threads
    run "$py" bench/reference/dcgan_fmnist.py --iters "$iters" --warmup 10 --batch 128 --threads "$threads" \
        >"$tmp/pt.out" 2>&1 || { cat "$tmp/pt.out"; exit 1; }
    pt=$(sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' "$tmp/pt.out")
    row "pytorch 1 process x $threads threads" "$pt" "$(sed -n 's/.*(\([0-9.]*\) s\/iteration.*/\1/p' "$tmp/pt.out")" \
        "$(sed -n 's/.*d_loss \([-0-9.]*\).*/\1/p' "$tmp/pt.out")" "$(sed -n 's/.*g_loss \([-0-9.]*\).*/\1/p' "$tmp/pt.out")"
    awk -v a="$dlt" -v p="$pt" 'BEGIN { printf "ratio dltrain / pytorch (images/s): %.2f\n", a / p }'
    echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
else
    echo "== $(uname -n): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); no speed comparison (--iters 0)"
fi

# FID-FMNIST over iterations, both generators scored by dltrain fid
if [ -z "$fid" ] || [ ! -f "$fid" ]; then
    echo "FID: skipped (--fid CKPT: the FID-FMNIST ResNet-20 checkpoint, docs/metrics.md)"
    exit 0
fi
echo "== FID-FMNIST over $fid_iters iterations (every $fid_every; $fid_n generated vs $fid_n test images;"
echo "   classifier $fid)"
dlt2 --set train.steps="$fid_iters" --set log.every_steps="$fid_every" --set checkpoint.dir="$tmp/fid" \
    --set checkpoint.every_steps="$fid_every" --set checkpoint.keep_last=0 --set gan.sample_every=0 \
    >"$tmp/fid.out" 2>&1 || { cat "$tmp/fid.out"; exit 1; }
run "$py" bench/reference/dcgan_fmnist.py --iters "$fid_iters" --batch 128 --threads "$threads" \
    --fid-every "$fid_every" --fid-n "$fid_n" --fid-out "$tmp/ptfid" >"$tmp/ptfid.out" 2>&1 ||
    { cat "$tmp/ptfid.out"; exit 1; }
score() { # SET: the value dltrain fid prints for SET against the test images
    "$dltrain" fid "$1" 'data/fmnist/test-*.h5' --classifier "$fid" --n "$fid_n" --threads "$threads" \
        >"$tmp/score.out" 2>&1 || { cat "$tmp/score.out" >&2; echo n/a; return; }
    sed -n 's/^FID-FMNIST \([^ ]*\) .*/\1/p' "$tmp/score.out" | awk '{ printf "%.3f", $1 }'
}
printf '%10s %14s %14s\n' iteration "FID dltrain" "FID PyTorch"
it=$fid_every
while [ "$it" -le "$fid_iters" ]; do
    printf '%10d %14s %14s\n' "$it" "$(score "$(printf '%s/fid/dcgan_fmnist/ckpt-%08d.h5' "$tmp" "$it")")" \
        "$(score "$(printf '%s/ptfid/iter-%08d/train-*.h5' "$tmp" "$it")")"
    it=$((it + fid_every))
done
# the final sample grid (fixed noise, evaluation mode) next to the figures
last=$(ls "$tmp/fid/dcgan_fmnist/samples/"step-*.png | tail -1)
mkdir -p bench/results && cp "$last" bench/results/dcgan_fmnist_samples.png &&
    echo "final sample grid of dltrain: bench/results/dcgan_fmnist_samples.png"
