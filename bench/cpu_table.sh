#!/bin/sh
# Issue 21's comparison table in one run: dltrain beside PyTorch on this
# machine, each row in the same environment (bench/isa_env.sh: by default
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for both; the same thread
# count), with the load average before and after each row, the torch version
# and the CPU ISA path dltrain runs (dltrain --version). Prints figures;
# asserts nothing.
#
#   resnet20  ResNet-20 Fashion-MNIST, global batch 128 (jobs/resnet20_fmnist.toml
#             against bench/reference/resnet20_fmnist_torch.py): images/s of
#             dltrain 1 rank x T threads and 2 ranks x T/2 threads (batch 64 each),
#             each beside PyTorch 1 process x T threads with batch 128
#   resnet50  ResNet-50 224x224, batch 32, 1 rank x T threads: images/s on
#             synthetic data (jobs/resnet50_imagenet.toml on dlprep synthetic
#             shards, fp32 on the CPU) against torchvision's resnet50 with the
#             same SGD on a random batch (bench/reference/resnet50_cpu_torch.py)
#   bert, gpt BERT-mini and GPT-mini tokens/s, dltrain 2 ranks and 1 rank
#             against PyTorch 1 process, via bench/lm_bench.sh
#   conv      bench/conv_bench: forward, input- and weight-gradient GFLOP/s of
#             ResNet-20's and ResNet-50's convolution shapes beside sgemm's on
#             the equivalent GEMM, and forward+backward together as % of sgemm
# Peak resident memory is measured per process (/usr/bin/time's %M, the
# kernel's ru_maxrss; under mpirun each rank is wrapped on its own) for both
# sides of every training row, with the ratio dltrain / PyTorch (for 2 ranks
# the largest rank against PyTorch's one process with the global batch).
# A summary table with every row and ratio ends the output.
#
#   bench/cpu_table.sh [--steps N] [--only ROWS] [--threads T] [--isa I] [--rounds K] [--quick]
#     --steps N    steps of the ResNet-20 and language-model runs (default 40;
#                  the first fifth is warm-up and not counted); ResNet-50 runs
#                  1 + max(N/10, 2) steps, the first one not counted
#     --only ROWS  comma-separated rows: resnet20,resnet50,bert,gpt,conv
#                  (default all: about 25 minutes on 2 idle cores)
#     --threads T  threads per run (default: all cores); 2 ranks get T/2 each
#     --isa I      native (default) or avx2: both sides held to AVX2+FMA code,
#                  as on an AVX2-only node (bench/isa_env.sh says how)
#     --rounds K   rounds of the language-model rows (lm_bench.sh --repeat:
#                  dltrain and PyTorch runs interleaved, medians; default 3,
#                  as single runs of either side moved by 10-15% here)
#     --quick      a few steps per row and short conv timings, 1 round: checks that
#                  the script works (figures are rough)
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .); needs data/fmnist (dlprep fashion-mnist --out data/fmnist),
# mpirun, and for bert/gpt Debian's linux-doc-6.1 (see bench/lm_bench.sh).
# DLT_TORCH_PYTHON names the Python with torch, torchvision and h5py (default
# /usr/bin/python3, Debian's python3-torch 1.13). The issue's figures use
# PyTorch from PyPI, in a virtual environment:
#   python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch torchvision h5py
#   DLT_TORCH_PYTHON=/work/venv-torch/bin/python3 DLT_BUILD=build bench/cpu_table.sh
# Wall-clock figures depend on what else runs: compare only ratios taken in one
# run, and read them with the load averages printed beside them.
steps=40
only=resnet20,resnet50,bert,gpt,conv
threads=$(nproc 2>/dev/null || echo 2)
quick=0
isa=native
rounds=3
while [ $# -gt 0 ]; do
    case $1 in
    --steps) steps=$2; shift ;;
    --only) only=$2; shift ;;
    --threads) threads=$2; shift ;;
    --quick) quick=1 ;;
    --isa) isa=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: $0 [--steps N] [--only resnet20,resnet50,bert,gpt,conv] [--threads T] [--isa native|avx2] [--rounds K] [--quick]" >&2; exit 2 ;;
    esac
    shift
done
for r in $(echo "$only" | tr , ' '); do
    case $r in resnet20|resnet50|bert|gpt|conv) ;;
    *) echo "--only: unknown row '$r' (expected resnet20, resnet50, bert, gpt, conv)" >&2; exit 2 ;; esac
done
case $steps in ''|*[!0-9]*) echo "--steps: expected a positive integer, got '$steps'" >&2; exit 2 ;; esac
[ "$steps" -ge 5 ] || { echo "--steps: expected at least 5, got $steps" >&2; exit 2; }
case $rounds in ''|*[!0-9]*|0) echo "--rounds: expected a positive integer, got '$rounds'" >&2; exit 2 ;; esac
if [ $quick = 1 ]; then
    steps=10 r50=3 lmsteps=5 conv_s=0.2 rounds=1
else
    r50=$((1 + (steps / 10 > 2 ? steps / 10 : 2))) lmsteps=$steps conv_s=1
fi
every=$((steps / 5))
half=$((threads / 2 > 0 ? threads / 2 : 1))
build=${DLT_BUILD:-.}
py=${DLT_TORCH_PYTHON:-/usr/bin/python3}
dltrain=$build/dltrain
[ -x "$dltrain" ] || { echo "no $dltrain (set DLT_BUILD to the build folder)" >&2; exit 2; }
"$py" -c 'import torch, torchvision, h5py' 2>/dev/null ||
    { echo "$py has no torch, torchvision or h5py (set DLT_TORCH_PYTHON; see the header)" >&2; exit 2; }
has() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }
if has resnet20; then
    ls data/fmnist/train-*.h5 >/dev/null 2>&1 ||
        { echo "no data/fmnist: dlprep fashion-mnist --out data/fmnist" >&2; exit 2; }
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_table.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# the same environment for both (bench/isa_env.sh: --isa)
DLT_BENCH_ISA=$isa
export DLT_BENCH_ISA
. "$(dirname "$0")/isa_env.sh"
run() { isa_env OMP_NUM_THREADS="$threads" "$@"; }
# timed FILE CMD...: "user sys wall peak-KiB" of CMD in FILE
timed() { f=$1; shift; run /usr/bin/time -f "%U %S %e %M" -o "$f" "$@"; }
# under mpirun: each rank's peak resident set in KiB, in FILE.RANK
perrank='exec /usr/bin/time -f %M -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"'
load() { cut -d' ' -f1-3 /proc/loadavg; }
mib() { tail -1 "$1" | awk '{ printf "%.0f", $NF / 1024 }'; }
# images/s of a run from metrics.jsonl, the first log interval left out
dlt_rate() {
    awk -F'"samples_per_s": ' 'NR > 1 && $2 != "" { split($2, a, ","); s += 1 / a[1]; n++ }
        END { if (n) printf "%.2f", n / s; else print "n/a" }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
# summary ROW DLT PT RSS-DLT RSS-PT LOAD-BEFORE LOAD-AFTER
summary() {
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4" "$5" \
        "$(ratio "$4" "$5")" "$6" "$7" >>"$tmp/summary"
}
fail() { echo "   FAILED: $1 (output follows)"; tail -20 "$2"; }

echo "== dltrain / PyTorch on $(uname -n), $(date -u '+%F %T') UTC: $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "   $(run "$dltrain" --version | head -1); $(run "$dltrain" --version | grep -i 'elementwise math')"
run "$dltrain" --version | grep 'BLAS' | sed 's/^ */   /'
echo "   $(isa_line); pytorch CPU capability $(run "$py" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')"
echo "   $("$py" -c 'import torch, torchvision; print("pytorch", torch.__version__, "torchvision", torchvision.__version__, "(%s)" % torch.__file__.rsplit("/", 2)[0])')"
echo "   $threads threads per run (2 ranks: $half each);" \
    "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}"
[ $quick = 1 ] && echo "   --quick: a few steps per row, figures are rough"
echo "   load average at start: $(load)"

if has resnet20; then
    l0=$(load)
    echo
    echo "== ResNet-20 Fashion-MNIST, global batch 128, $steps steps (log every $every, the first interval" \
        "not counted); load average $l0"
    job=jobs/resnet20_fmnist.toml
    set -- --quiet --set train.steps="$steps" --set log.every_steps="$every" --set data.val=
    timed "$tmp/t_r20a" "$dltrain" "$job" "$@" --set data.batch_size=128 --set train.threads="$threads" \
        --set checkpoint.dir="$tmp/r20a" >"$tmp/r20a.out" 2>&1 || fail "dltrain 1 rank" "$tmp/r20a.out"
    a=$(dlt_rate "$tmp"/r20a/resnet20_fmnist/metrics.jsonl 2>/dev/null)
    timed "$tmp/t_r20b" mpirun -np 2 --oversubscribe --bind-to none sh -c "$perrank" "$tmp/rss_r20b" \
        "$dltrain" "$job" "$@" --set data.batch_size=64 --set train.threads="$half" \
        --set checkpoint.dir="$tmp/r20b" >"$tmp/r20b.out" 2>&1 || fail "dltrain 2 ranks" "$tmp/r20b.out"
    b=$(dlt_rate "$tmp"/r20b/resnet20_fmnist/metrics.jsonl 2>/dev/null)
    timed "$tmp/t_r20p" "$py" bench/reference/resnet20_fmnist_torch.py --steps "$steps" --warmup "$every" \
        --batch 128 --threads "$threads" >"$tmp/r20p.out" 2>&1 || fail "pytorch" "$tmp/r20p.out"
    p=$(sed -n 's/.*: \([0-9.]*\) images\/s.*/\1/p' "$tmp/r20p.out")
    ra=$(mib "$tmp/t_r20a") rp=$(mib "$tmp/t_r20p")
    rb=$(cat "$tmp"/rss_r20b.* 2>/dev/null | awk '$1 > m { m = $1 } END { printf "%.0f", m / 1024 }')
    rbs=$(cat "$tmp"/rss_r20b.* 2>/dev/null | awk '{ printf "%s%.0f", (NR > 1 ? " / " : ""), $1 / 1024 }')
    l1=$(load)
    printf '   %-34s %10s %16s\n' "" "images/s" "peak RSS MiB"
    printf '   %-34s %10s %16s\n' "dltrain 1 rank x $threads threads, b128" "$a" "$ra"
    printf '   %-34s %10s %16s\n' "dltrain 2 ranks x $half thread(s), b64" "$b" "$rbs"
    printf '   %-34s %10s %16s\n' "pytorch 1 process x $threads threads, b128" "$p" "$rp"
    echo "   ratio dltrain / pytorch: images/s $(ratio "$a" "$p") (1 rank), $(ratio "$b" "$p") (2 ranks);" \
        "peak RSS $(ratio "$ra" "$rp") (1 rank), $(ratio "$rb" "$rp") (largest rank)"
    echo "   load average after: $l1"
    summary "ResNet-20 b128 images/s, 1x$threads" "$a" "$p" "$ra" "$rp" "$l0" "$l1"
    summary "ResNet-20 b128 images/s, 2x$half" "$b" "$p" "$rb" "$rp" "$l0" "$l1"
fi

if has resnet50; then
    l0=$(load)
    echo
    echo "== ResNet-50 224x224, batch 32, 1 rank x $threads threads, fp32: $r50 steps, the first not counted;" \
        "load average $l0"
    run "$build/dlprep" synthetic --num 64 --size 224x224x3 --classes 1000 --seed 1 --out "$tmp/syn" \
        >"$tmp/syn.out" 2>&1 || fail "dlprep synthetic" "$tmp/syn.out"
    timed "$tmp/t_r50" "$dltrain" jobs/resnet50_imagenet.toml --quiet --set data.train="$tmp/syn/train-*.h5" \
        --set data.val= --set data.batch_size=32 --set data.num_workers=1 --set train.device=cpu \
        --set train.precision=fp32 --set train.steps="$r50" --set schedule.warmup_steps=1 \
        --set log.every_steps=1 --set checkpoint.every_minutes=0 --set train.threads="$threads" \
        --set checkpoint.dir="$tmp/r50" >"$tmp/r50.out" 2>&1 || fail "dltrain" "$tmp/r50.out"
    a=$(dlt_rate "$tmp"/r50/resnet50_imagenet/metrics.jsonl 2>/dev/null)
    timed "$tmp/t_r50p" "$py" bench/reference/resnet50_cpu_torch.py --batch 32 --steps $((r50 - 1)) \
        --warmup 1 --threads "$threads" >"$tmp/r50p.out" 2>&1 || fail "pytorch" "$tmp/r50p.out"
    p=$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' "$tmp/r50p.out")
    ra=$(mib "$tmp/t_r50") rp=$(mib "$tmp/t_r50p")
    l1=$(load)
    printf '   %-34s %10s %16s\n' "" "images/s" "peak RSS MiB"
    printf '   %-34s %10s %16s\n' "dltrain 1 rank x $threads threads" "$a" "$ra"
    printf '   %-34s %10s %16s\n' "pytorch 1 process x $threads threads" "$p" "$rp"
    echo "   ratio dltrain / pytorch: images/s $(ratio "$a" "$p"); peak RSS $(ratio "$ra" "$rp")" \
        "(dltrain reads 64 synthetic images through its loader; pytorch reuses one random batch)"
    echo "   load average after: $l1"
    summary "ResNet-50 224 b32 images/s, 1x$threads" "$a" "$p" "$ra" "$rp" "$l0" "$l1"
fi

for m in bert gpt; do
    has $m || continue
    l0=$(load)
    echo
    echo "== $m via bench/lm_bench.sh --only $m --steps $lmsteps --threads $threads --repeat $rounds;" \
        "load average $l0"
    DLT_BUILD=$build DLT_TORCH_PYTHON=$py run sh bench/lm_bench.sh --only $m --steps "$lmsteps" \
        --threads "$threads" --ranks 2 --repeat "$rounds" >"$tmp/lm_$m.out" 2>&1 || fail "lm_bench.sh" "$tmp/lm_$m.out"
    sed -n '/^round\|^dltrain\|^pytorch\|^ratio\|^peak\|^validation\|^ *tokens\/s/p' "$tmp/lm_$m.out" | sed 's/^/   /'
    l1=$(load)
    echo "   load average after: $l1"
    tok() { sed -n "s/^$1 *\([0-9]*\) .*/\1/p" "$tmp/lm_$m.out" | head -1; }
    t2=$(tok "dltrain 2 ranks x [0-9]* thread(s)") t1=$(tok "dltrain 1 rank x [0-9]* threads")
    tp=$(tok "pytorch 1 process x [0-9]* threads")
    rl=$(sed -n 's|^peak resident MiB per rank: dltrain 2 ranks \([0-9 /]*\), 1 rank \([0-9]*\); pytorch \([0-9]*\);.*|\1:\2:\3|p' \
        "$tmp/lm_$m.out")
    r2=$(echo "$rl" | cut -d: -f1 | tr '/' '\n' | awk '$1 > m { m = $1 } END { print m }')
    r1=$(echo "$rl" | cut -d: -f2) rp=$(echo "$rl" | cut -d: -f3)
    M=$(echo $m | sed 's/bert/BERT-mini/; s/gpt/GPT-mini/')
    summary "$M tokens/s, 2x$half" "$t2" "$tp" "$r2" "$rp" "$l0" "$l1"
    summary "$M tokens/s, 1x$threads" "$t1" "$tp" "$r1" "$rp" "$l0" "$l1"
done

if has conv; then
    l0=$(load)
    echo
    echo "== convolutions: bench/conv_bench $threads $conv_s (GFLOP/s; fwd+bwd: the three passes' FLOPs over" \
        "their summed time); load average $l0"
    if [ -x "$build/bench/conv_bench" ] || (cd "$build" && make -s bench/conv_bench >/dev/null 2>&1); then
        run "$build/bench/conv_bench" "$threads" "$conv_s" >"$tmp/conv.out" 2>&1 || fail "conv_bench" "$tmp/conv.out"
        # the columns counted from the end of each shape line: ... sgemm
        # provider fwd fwd% bwd-in bwd-in% bwd-w bwd-w% fwd+bwd fwd+bwd%;
        # the summary takes fwd+bwd% of `auto`, the providers plans use by
        # default (src/ops/conv_provider.c)
        want=auto
        awk -v want="$want" '
            NF >= 12 && $NF ~ /%$/ && $(NF-8) == want {
                pct = $NF + 0
                if (!n || pct < lo) lo = pct
                s += pct; n++ }
            { print "   " $0 }
            END { if (n) printf "   fwd+bwd as %% of sgemm, %s: lowest %.0f%%, mean %.0f%% over %d shapes (goal: >= 60%%)\n", want, lo, s / n, n }' \
            "$tmp/conv.out" | tee "$tmp/conv.table"
    else
        echo "   no $build/bench/conv_bench (make bench)"
    fi
    l1=$(load)
    echo "   load average after: $l1"
    c=$(sed -n 's/.*lowest \([0-9]*\)%, mean \([0-9]*\)%.*/\1% \/ \2%/p' "$tmp/conv.table" 2>/dev/null)
    printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "conv fwd+bwd % of sgemm (low/mean)" "$c" "" "" "" "" "" \
        "$l0" "$l1" >>"$tmp/summary"
fi

echo
echo "== summary: dltrain / PyTorch ($("$py" -c 'import torch; print("pytorch", torch.__version__)'), ISA $isa)," \
    "$threads threads per run; goals: images/s >= 1.3 (ResNet-20), >= 1.1 (ResNet-50), tokens/s >= 1.5," \
    "peak RSS <= 0.7"
printf '%-38s %9s %9s %6s   %8s %8s %6s   %s\n' "row" "dltrain" "pytorch" "ratio" "RSS dlt" "RSS pt" \
    "ratio" "load before -> after"
[ -f "$tmp/summary" ] && while IFS='|' read -r n a p r ra rp rr l0 l1; do
    printf '%-38s %9s %9s %6s   %8s %8s %6s   %s -> %s\n' "$n" "$a" "$p" "$r" "$ra" "$rp" "$rr" "$l0" "$l1"
done <"$tmp/summary"
echo "RSS: peak resident MiB per process (2 ranks: the largest rank; pytorch: 1 process, global batch)"
echo "== finished $(date -u '+%F %T') UTC, load average $(load)"
