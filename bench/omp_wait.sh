#!/bin/sh
# OpenMP wait policies on this machine: training-step throughput of ResNet-20
# (bench/step_bench, Fashion-MNIST shapes) and GPT-mini (bench/transformer_bench)
# with libgomp's default, OMP_WAIT_POLICY=passive, OMP_WAIT_POLICY=active and a
# short bounded spin (GOMP_SPINCOUNT=10000), the runs interleaved so that a
# change of load hits every policy alike. Prints each run and the median per
# policy (steps/s relative to the default, CPU seconds per step); asserts nothing.
#
#   bench/omp_wait.sh [--reps R] [--threads T] [--load N]
#     --reps R     rounds over the policies (default 3)
#     --threads T  OpenMP threads (default: all cores)
#     --load N     also keep N busy loops running (another job on the machine);
#                  they are stopped at the end
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .). OpenBLAS overrides are unset; the load average is printed
# before and after.
reps=3
threads=$(nproc 2>/dev/null || echo 2)
load=0
while [ $# -gt 0 ]; do
    case $1 in
    --reps) reps=$2; shift ;;
    --threads) threads=$2; shift ;;
    --load) load=$2; shift ;;
    *) echo "usage: $0 [--reps R] [--threads T] [--load N]" >&2; exit 2 ;;
    esac
    shift
done
build=${DLT_BUILD:-.}
for b in step_bench transformer_bench; do
    [ -x "$build/bench/$b" ] || (cd "$build" && make -s "bench/$b" >/dev/null 2>&1) ||
        { echo "no $build/bench/$b (make bench)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_ompwait.XXXXXX") || exit 1
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$load" ]; do
    sh -c 'while :; do :; done' &
    pids="$pids $!"
    i=$((i + 1))
done
[ "$load" -gt 0 ] && sleep 2

policies="default passive active spin10k"
penv() {
    case $1 in
    default) echo "" ;;
    passive) echo "OMP_WAIT_POLICY=passive" ;;
    active) echo "OMP_WAIT_POLICY=active" ;;
    spin10k) echo "GOMP_SPINCOUNT=10000" ;;
    esac
}
# one MODEL POLICY: "steps/s cpu-s/step" of one run
one() {
    case $1 in
    resnet20) set -- "$2" "$build/bench/step_bench" resnet20 64 6 1 28 28 "$threads"; n=6 ;;
    gpt) set -- "$2" "$build/bench/transformer_bench" gpt-mini 8 128 "$threads" 6 4096; n=6 ;;
    esac
    pol=$1
    shift
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT $(penv "$pol") \
        /usr/bin/time -f "%U %S" -o "$tmp/t" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; return 1; }
    r=$(sed -n 's/.*: \([0-9.]*\) s\/step.*/\1/p; s/^step \([0-9.]*\) ms.*/\1e-3/p' "$tmp/out" | head -1)
    # CPU seconds include the warm-up step and set-up: per step over n + 1
    awk -v r="$r" -v n="$n" '{ printf "%.3f %.3f\n", 1 / r, ($1 + $2) / (n + 1) }' "$tmp/t"
}

echo "== $(uname -n): $(nproc) cores, $threads threads, $reps rounds, $load busy loops;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
for m in resnet20 gpt; do
    : >"$tmp/res_$m"
    r=1
    while [ "$r" -le "$reps" ]; do
        for p in $policies; do
            x=$(one "$m" "$p") || exit 1
            echo "$p $x" >>"$tmp/res_$m"
            printf '   %-9s round %d %-8s %8s steps/s %8s CPU s/step\n' "$m" "$r" "$p" $x
        done
        r=$((r + 1))
    done
done
echo "== medians (steps/s relative to libgomp's default in the same rounds); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-8s %9s %9s %11s\n' model policy steps/s relative "CPU s/step"
for m in resnet20 gpt; do
    for p in $policies; do
        med() { grep "^$1 " "$tmp/res_$m" | awk -v c="$2" '{ print $c }' | sort -g |
            awk '{ a[NR] = $1 } END { print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
        s=$(med "$p" 2) d=$(med default 2) c=$(med "$p" 3)
        awk -v m="$m" -v p="$p" -v s="$s" -v d="$d" -v c="$c" \
            'BEGIN { printf "%-9s %-8s %9.3f %9.2f %11.3f\n", m, p, s, s / d, c }'
    done
done
