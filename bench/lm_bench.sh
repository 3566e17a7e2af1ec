#!/bin/sh
# Language models: dltrain against the same model, batch, sequence length,
# optimizer and schedule in PyTorch (bench/reference/), on the same shards,
# machine and thread count. Prints figures; asserts nothing.
#
#   BERT: jobs/bert_mini.toml (bert-mini, MLM + NSP) on 2 ranks against
#         bench/reference/bert_mini_torch.py in one process with the global batch
#   GPT:  jobs/gpt_small.toml (gpt-mini, causal LM) against bench/reference/gpt_torch.py
# For each: the loss curve side by side (means over each log interval, from
# dltrain's metrics.jsonl and PyTorch's lines), tokens/s per run and per rank
# (the first interval is warm-up and not counted), CPU seconds per step, the
# ratio dltrain / PyTorch, the peak resident memory of each process (each
# dltrain rank on its own, /usr/bin/time's %M) and its ratio, and the
# validation loss (GPT: perplexity) after the last step.
#
#   bench/lm_bench.sh [--steps N] [--long] [--threads T] [--ranks R] [--only bert|gpt] [--repeat K]
#     --steps N    optimizer steps per run (default 20: a few minutes in all);
#                  the schedule spans them, warm-up N/10 (the jobs' 50 of 500)
#     --long       the jobs' own 500 steps and 50 warm-up steps (an hour or more)
#     --threads T  threads in all (default: all cores); dltrain's ranks get T/R each
#     --ranks R    dltrain ranks (default 2, as the jobs intend)
#     --only M     run one model
#     --repeat K   K rounds of the three runs (dltrain R ranks, dltrain 1 rank,
#                  PyTorch), interleaved so that a slow spell of the machine
#                  falls on all three alike; each round's tokens/s are printed
#                  and the table shows their medians (default 1). Single runs
#                  of either side moved by up to 10-15% between runs here.
#
# Run from the top of the source tree after building (DLT_BUILD names the build
# folder, default .). The corpus is Debian's linux-doc-6.1 (apt-get install
# linux-doc-6.1): Documentation/process and admin-guide are made into shards in
# a temporary folder with the jobs' own dlprep commands (seconds).
# DLT_BENCH_ISA=avx2 holds both to AVX2+FMA code (bench/isa_env.sh).
# DLT_TORCH_PYTHON names the Python with torch and h5py (default /usr/bin/python3,
# Debian's python3-torch). Wall-clock figures depend on what else runs: the load
# average is printed before and after, and CPU seconds per step beside them.
steps=20
long=0
threads=$(nproc 2>/dev/null || echo 2)
ranks=2
only=
repeat=1
while [ $# -gt 0 ]; do
    case $1 in
    --repeat) repeat=$2; shift ;;
    --steps) steps=$2; shift ;;
    --long) long=1 ;;
    --threads) threads=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --only) only=$2; shift ;;
    *) echo "usage: $0 [--steps N] [--long] [--threads T] [--ranks R] [--only bert|gpt] [--repeat K]" >&2; exit 2 ;;
    esac
    shift
done
if [ $long = 1 ]; then
    steps=500 warmup=50 every=10
else
    warmup=$((steps / 10 > 0 ? steps / 10 : 1))
    every=$((steps / 10 > 0 ? steps / 10 : 1))
fi
build=${DLT_BUILD:-.}
py=${DLT_TORCH_PYTHON:-/usr/bin/python3}
D=/usr/share/doc/linux-doc-6.1/Documentation
[ -x "$build/dltrain" ] && [ -x "$build/dlprep" ] ||
    { echo "no $build/dltrain or $build/dlprep (set DLT_BUILD to the build folder)" >&2; exit 2; }
[ -d "$D/process" ] || { echo "no $D: apt-get install linux-doc-6.1" >&2; exit 2; }
"$py" -c 'import torch, h5py' 2>/dev/null ||
    { echo "$py has no torch or h5py (apt-get install python3-torch python3-h5py, or set DLT_TORCH_PYTHON)" >&2; exit 2; }
case $repeat in ''|*[!0-9]*|0) echo "--repeat: expected a positive integer, got '$repeat'" >&2; exit 2 ;; esac
per=$((threads / ranks > 0 ? threads / ranks : 1))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_lmbench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# the same environment for both (bench/isa_env.sh: DLT_BENCH_ISA)
. "$(dirname "$0")/isa_env.sh"
run() { isa_env OMP_NUM_THREADS="$threads" "$@"; }
timed() { out=$1; shift; run /usr/bin/time -f "%U %S %e %M" -o "$out" "$@"; }
# under mpirun: each rank's peak resident set in KiB, in FILE.RANK
perrank='exec /usr/bin/time -f %M -o "$0.${OMPI_COMM_WORLD_RANK:-0}" "$@"'

echo "== $(uname -n): $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $steps steps (warm-up $warmup, log every $every); dltrain $ranks ranks x $per thread(s);" \
    "$("$py" -c 'import torch; print("pytorch", torch.__version__)') 1 process x $threads threads"
echo "   $(isa_line); $(run "$build/dltrain" --version | grep 'GEMM CPU' | sed 's/^ *//')"

# the shards, as the jobs' comments make them
run "$build/dlprep" text "$D/process" "$D/admin-guide" --target bert --vocab-size 8192 --seq-len 128 \
    --max-predictions 20 --dupe-factor 2 --val-fraction 0.02 --seed 1 --out "$tmp/bert" >"$tmp/prep.out" 2>&1 &&
run "$build/dlprep" text "$D/process" "$D/admin-guide" --target gpt --vocab-size 4096 \
    --val-fraction 0.02 --seed 1 --out "$tmp/gpt" >>"$tmp/prep.out" 2>&1 || { cat "$tmp/prep.out"; exit 1; }

# bench MODEL JOB SEQLEN TORCHSCRIPT TORCH-ARGS...: both runs, then the table
bench() {
    m=$1 job=$2 L=$3 script=$4
    shift 4
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$job" | head -1)
    b=$(sed -n 's/^batch_size *= *\([0-9]*\).*/\1/p' "$job" | head -1)
    gb=$((b * ranks))
    # PyTorch's optimizer and schedule: the job's, as dltrain resolves it
    opt=$("$build/dltrain" --print-config "$job" | /usr/bin/python3 -c '
import shlex, sys, tomllib
j = tomllib.loads(sys.stdin.read())
o, s = j["optim"], j["schedule"]
assert o["name"] == "adamw", "the PyTorch references use AdamW"
print(" ".join(shlex.quote(str(x)) for x in ["--lr", o["lr"], "--betas", *o["betas"], "--eps", o["eps"],
      "--weight-decay", o["weight_decay"], "--no-decay", o["no_decay"], "--schedule", s["name"],
      "--clip", j["train"]["grad_clip"], "--seed", j["train"]["seed"], "--arch", j["model"]["arch"]]))
') || return 1
    eval "set -- \"\$@\" $opt"
    echo "== $m: $job, $ranks x batch $b x $L tokens, $steps steps, $repeat round(s)"
    k=1
    while [ $k -le "$repeat" ]; do
        # round k: files with suffix .k
        timed "$tmp/t_dlt_$m.$k" mpirun -np "$ranks" --oversubscribe --bind-to none \
            sh -c "$perrank" "$tmp/rss_$m.$k" "$build/dltrain" "$job" --quiet \
            --set data.train="$tmp/$m/train-*.h5" --set data.val="$tmp/$m/val-*.h5" \
            --set train.steps="$steps" --set schedule.warmup_steps="$warmup" --set log.every_steps="$every" \
            --set eval.every_steps="$steps" --set checkpoint.every_steps="$steps" \
            --set train.threads="$per" --set checkpoint.dir="$tmp/runs.$k" >"$tmp/dlt_$m.out" 2>&1 ||
            { cat "$tmp/dlt_$m.out"; return 1; }
        # dltrain in PyTorch's layout: one rank with all the threads and the global batch
        timed "$tmp/t_one_$m.$k" "$build/dltrain" "$job" --quiet \
            --set data.train="$tmp/$m/train-*.h5" --set data.val= --set data.batch_size="$gb" \
            --set train.steps="$steps" --set schedule.warmup_steps="$warmup" --set log.every_steps="$every" \
            --set checkpoint.every_steps="$steps" --set train.threads="$threads" \
            --set checkpoint.dir="$tmp/one.$k" >"$tmp/one_$m.out" 2>&1 || { cat "$tmp/one_$m.out"; return 1; }
        timed "$tmp/t_pt_$m.$k" "$py" "$script" --train "$tmp/$m/train-*.h5" --val "$tmp/$m/val-*.h5" \
            --steps "$steps" --warmup "$warmup" --log-every "$every" --batch "$gb" --threads "$threads" \
            --metrics "$tmp/pt_$m.$k.jsonl" "$@" >"$tmp/pt_$m.$k.out" 2>&1 || { cat "$tmp/pt_$m.$k.out"; return 1; }
        k=$((k + 1))
    done
    /usr/bin/python3 - "$m" "$L" "$ranks" "$steps" "$tmp" "$name" "$threads" "$repeat" <<'EOF'
import json, math, statistics, sys
m, L, ranks, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tmp, name, T, K = sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
def lines(path):
    return [json.loads(s) for s in open(path)]
# round 1's runs give the loss curves, validation and memory (every round
# trains the same steps from the same seed); the speeds are each round's
dl = lines("%s/runs.1/%s/metrics.jsonl" % (tmp, name))
pt = lines("%s/pt_%s.1.jsonl" % (tmp, m))
tr = [d for d in dl if "loss" in d]
ev = [d["eval"] for d in dl if "eval" in d]
cols = ["loss", "mlm_loss", "nsp_loss", "mlm_accuracy"] if m == "bert" else ["loss"]
head = "%6s" % "step" + "".join("  %9s %9s" % ("dlt " + c[:5], "pt " + c[:5]) for c in cols)
print(head + ("  %9s %9s" % ("dlt ppl", "pt ppl") if m == "gpt" else ""))
ptd = {d["step"]: d for d in pt}
for d in tr:
    p = ptd.get(d["step"], {})
    row = "%6d" % d["step"] + "".join("  %9.4f %9.4f" % (d.get(c, math.nan), p.get(c, math.nan)) for c in cols)
    if m == "gpt":
        row += "  %9.2f %9.2f" % (math.exp(d["loss"]), math.exp(p.get("loss", math.nan)))
    print(row)
# tokens/s after the first interval: tokens over time, each interval's time from its rate
def rate(lines, key, per_token):
    t = n = 0.0
    prev = lines[0]["step"] if lines else 0
    for d in lines[1:]:
        k = d["step"] - prev
        t += k / (d[key] * per_token)
        n += k
        prev = d["step"]
    return n / t if t > 0 else math.nan
def cpu(path):
    u, s, e = map(float, open(path).read().split()[-4:-1])
    return (u + s) / steps, e
def rss(path):  # peak resident set in MiB (/usr/bin/time's %M, KiB)
    return float(open(path).read().split()[-1]) / 1024
def one_run(k):
    return [d for d in lines("%s/one.%d/%s/metrics.jsonl" % (tmp, k, name)) if "loss" in d]
speeds = []  # per round: dltrain R ranks, dltrain 1 rank, pytorch (tokens/s per run)
for k in range(1, K + 1):
    trk = [d for d in lines("%s/runs.%d/%s/metrics.jsonl" % (tmp, k, name)) if "loss" in d]
    speeds.append((rate(trk, "samples_per_s", 1.0) * L, rate(one_run(k), "samples_per_s", 1.0) * L,
                   rate(lines("%s/pt_%s.%d.jsonl" % (tmp, m, k)), "tokens_per_s", 1.0)))
if K > 1:
    for k, (a, b, c) in enumerate(speeds, 1):
        print("round %d tokens/s: dltrain %d ranks %.0f, 1 rank %.0f; pytorch %.0f; ratios %.2f, %.2f"
              % (k, ranks, a, b, c, a / c, b / c))
tl, t1, tp = (statistics.median(x[i] for x in speeds) for i in range(3))
cd, wd = cpu("%s/t_dlt_%s.1" % (tmp, m))
cp, wp = cpu("%s/t_pt_%s.1" % (tmp, m))
c1, w1 = cpu("%s/t_one_%s.1" % (tmp, m))
med = " (medians of %d rounds)" % K if K > 1 else ""
print("%-30s %13s %13s %11s %8s" % ("", "tokens/s/run", "tokens/s/rank", "CPU s/step", "wall s"))
print("%-30s %13.0f %13.0f %11.2f %8.0f" % ("dltrain %d ranks x %d thread(s)" % (ranks, max(T // ranks, 1)), tl, tl / ranks, cd, wd))
print("%-30s %13.0f %13.0f %11.2f %8.0f" % ("dltrain 1 rank x %d threads" % T, t1, t1, c1, w1))
print("%-30s %13.0f %13.0f %11.2f %8.0f" % ("pytorch 1 process x %d threads" % T, tp, tp, cp, wp))
print("ratio dltrain / pytorch, tokens/s per run%s: %.2f (%d ranks), %.2f (1 rank); CPU s/step and wall s: whole"
      " runs (round 1), start-up and validation included" % (med, tl / tp, ranks, t1 / tp))
rr = [rss("%s/rss_%s.1.%d" % (tmp, m, r)) for r in range(ranks)]
r1, rp = rss("%s/t_one_%s.1" % (tmp, m)), rss("%s/t_pt_%s.1" % (tmp, m))
print("peak resident MiB per rank: dltrain %d ranks %s, 1 rank %.0f; pytorch %.0f; ratio dltrain / pytorch"
      " %.2f (largest of %d ranks), %.2f (1 rank)" % (ranks, " / ".join("%.0f" % r for r in rr), r1, rp,
                                                     max(rr) / rp, ranks, r1 / rp))
pl = open("%s/pt_%s.1.out" % (tmp, m)).read().strip().splitlines()[-1]
val = pl.split(", val ", 1)[1] if ", val " in pl else "n/a"
if ev:
    e = ev[-1]
    if m == "gpt":
        print("validation after %d steps: dltrain loss %.4f, perplexity %.2f (%d windows); pytorch %s"
              % (steps, e["loss"], e["perplexity"], e["samples"], val))
    else:
        print("validation after %d steps: dltrain loss %.4f (mlm %.4f, nsp %.4f, mlm_acc %.4f); pytorch %s"
              % (steps, e["loss"], e["mlm_loss"], e["nsp_loss"], e["mlm_accuracy"], val))
EOF
}

status=0
if [ "$only" != gpt ]; then
    bench bert jobs/bert_mini.toml 128 bench/reference/bert_mini_torch.py || status=1
fi
if [ "$only" != bert ]; then
    bench gpt jobs/gpt_small.toml 128 bench/reference/gpt_torch.py --seq-len 128 || status=1
fi
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
