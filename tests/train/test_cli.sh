#!/bin/sh
# dltrain's command-line behaviour on tiny synthetic shards (dlprep synthetic):
#  - every malformed job or argument gives exactly one line on stderr, naming
#    the place and the problem, and exit status 2;
#  - --set precedence (later --set over earlier and over the file), checked
#    with --print-config; --print-config output re-parses to itself;
#  - --dry-run prints the resolved job, the summary and memory, and trains nothing;
#  - a run: one progress line per log interval (stderr is not a terminal here)
#    and a final summary line; metrics.jsonl lines are JSON objects with the
#    documented keys; TensorBoard events and per-rank traces when asked for.
# Takes a few seconds; needs no Python (JSON is checked by tests/io/test_trace).
bld=${top_builddir:-.}
dltrain=$bld/dltrain
dlprep=$bld/dlprep
jcheck=$bld/tests/io/test_trace
for p in "$dltrain" "$dlprep" "$jcheck"; do
    [ -x "$p" ] || { echo "missing $p"; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/dlt_cli.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

"$dlprep" synthetic --num 96 --size 6x6x1 --classes 3 --seed 1 --out d --prefix train --quiet &&
    "$dlprep" synthetic --num 24 --size 6x6x1 --classes 3 --seed 2 --out d --prefix val --quiet &&
    "$dlprep" synthetic --num 24 --size 5x5x1 --classes 3 --seed 3 --out d5 --prefix val --quiet ||
    { echo "FAIL: dlprep synthetic"; exit 1; }

cat >job.toml <<'EOF'
[model]
name = "cli"
arch = "mlp"
hidden = 8
layers = 1

[data]
train = "d/train-*.h5"
val = "d/val-*.h5"
batch_size = 8

[optim]
lr = 0.1

[train]
steps = 6
threads = 1

[log]
every_steps = 2

[checkpoint]
dir = "runs"
EOF

# expect_usage NAME PATTERN ARGS... : exit 2, one stderr line matching PATTERN, nothing trained
expect_usage() {
    name=$1 pat=$2
    shift 2
    rm -rf runs
    "$dltrain" "$@" >out.txt 2>err.txt
    rc=$?
    n=$(wc -l <err.txt)
    if [ "$rc" -ne 2 ]; then
        bad "$name: exit $rc, expected 2"
    elif [ "$n" -ne 1 ]; then
        bad "$name: $n lines on stderr, expected 1"
    elif ! grep -q -e "$pat" err.txt; then
        bad "$name: stderr does not match '$pat'"
    elif [ -e runs/cli/metrics.jsonl ]; then
        bad "$name: a run started"
    else
        ok "$name: $(cat err.txt)"
        return
    fi
    sed 's/^/   | /' err.txt | head -5
}

# job = the base job with line $1 replaced by $2 (sed script)
variant() { sed "$1" job.toml >"$2"; }

printf '[model\nname = "x"\n' >syntax.toml
expect_usage "syntax error" '^dltrain: syntax.toml:1:7: ' syntax.toml
printf '[data]\ntrain = "d/train-*.h5"\nbatch_size = 8 8\n' >syntax2.toml
expect_usage "syntax error in a value" '^dltrain: syntax2.toml:3:[0-9]*: ' syntax2.toml
variant 's/^lr = 0.1$/lr = 0.1\nmomentun = 0.9/' unknown.toml
expect_usage "unknown key" 'unknown.toml:14: unknown key optim.momentun (did you mean optim.momentum?)' unknown.toml
variant 's/^lr = 0.1$/lr = -0.1/' range.toml
expect_usage "out-of-range value" 'range.toml:13: optim.lr must be > 0 (got -0.1)' range.toml
variant 's/^lr = 0.1$/lr = "fast"/' type.toml
expect_usage "wrong type" 'type.toml:13: optim.lr must be a number' type.toml
variant 's/^batch_size = 8$/batch_size = 0/' batch.toml
expect_usage "integer out of range" 'batch.toml:[0-9]*: data.batch_size must be' batch.toml
variant 's/^arch = "mlp"$/arch = "resnet21"/' arch.toml
expect_usage "unknown architecture" "^dltrain: arch.toml:3: model.arch .*'resnet21'.*known: .*resnet20" arch.toml
variant '/^train = /d' notrain.toml
expect_usage "missing data.train" '^dltrain: data.train must name the training shards' notrain.toml
variant 's|^train = .*|train = "nothing/train-*.h5"|' glob.toml
expect_usage "glob matching nothing" "^dltrain: data.train: no shard matches 'nothing/train-\*.h5'" glob.toml
mkdir -p bad && head -c 2000 d/train-00000-of-00001.h5 >bad/train-0.h5
variant 's|^train = .*|train = "bad/train-*.h5"|' corrupt.toml
expect_usage "corrupt (truncated) shard" 'data.train: bad/train-0.h5' corrupt.toml
printf 'not an HDF5 file\n' >bad/text.h5
variant 's|^train = .*|train = "bad/text.h5"|' corrupt2.toml
expect_usage "a file that is not HDF5" 'data.train: bad/text.h5' corrupt2.toml
variant 's|^val = .*|val = "d5/val-*.h5"|' shape.toml
expect_usage "validation shards of another shape" 'data.val: ' shape.toml
variant 's/^layers = 1$/layers = 1\nnum_classes = 7/' classes.toml
expect_usage "num_classes against the shards" 'model.num_classes = 7' classes.toml
expect_usage "missing job file" 'nonexistent.toml' nonexistent.toml
expect_usage "unknown --set key" '^dltrain: --set optim.lrr: unknown key (did you mean optim.lr?)' job.toml --set optim.lrr=1
expect_usage "bad --set value" '^dltrain: --set optim.lr must be > 0' job.toml --set optim.lr=-1
expect_usage "--set without =" '^dltrain: --set' job.toml --set optim.lr
expect_usage "unknown option" "unknown option '--bogus'" job.toml --bogus
expect_usage "two job files" "unexpected argument" job.toml job.toml
expect_usage "--set without a value" '^dltrain: --set needs a value' job.toml --set
# a mistyped kernel-choice variable (src/core/env.c) is an error, not a silent fallback
DLT_GEMM=mkl expect_usage "unknown DLT_GEMM" '^dltrain: environment: DLT_GEMM=mkl is not openblas, dnnl or auto' job.toml
DLT_CONV=winograd expect_usage "unknown DLT_CONV" '^dltrain: environment: DLT_CONV=winograd is not im2col, dnnl, direct or auto' job.toml
DLT_CONV_LAYOUT=nhwc expect_usage "unknown DLT_CONV_LAYOUT" 'DLT_CONV_LAYOUT=nhwc is not plain, blocked or auto' job.toml
DLT_CPU_ISA=sse4 expect_usage "unknown DLT_CPU_ISA" 'DLT_CPU_ISA=sse4 is not libm, baseline, avx2 or avx512' job.toml
DLT_CONV_WSPLIT=0 expect_usage "unknown DLT_CONV_WSPLIT" 'DLT_CONV_WSPLIT=0 is not off or auto' job.toml
expect_usage "NCCL for CPU tensors" 'dist.backend = "nccl" needs train.device = "cuda"' job.toml --set dist.backend=nccl
expect_usage "loss scale beyond f32" 'train.loss_scale_init is beyond the f32 range' \
    job.toml --set train.precision=fp16 --set train.loss_scale_init=1e39
# integers beyond their C type or meaningful maximum, and paths that would
# escape checkpoint.dir or be cut to fit a buffer: one file:line error each
variant 's/^batch_size = 8$/batch_size = 4294967424/' big.toml
expect_usage "batch size beyond 32 bits" \
    'big.toml:10: data.batch_size must be >= 1 and <= 1048576 (got 4294967424)' big.toml
variant 's/^steps = 6$/steps = 0\nepochs = 9223372036854775807/' epochs.toml
expect_usage "epochs near 2^63" 'epochs.toml:17: train.epochs must be >= 0 and <= 1000000' epochs.toml
variant 's/^steps = 6$/steps = 9223372036854775808/' overflow.toml
expect_usage "integer beyond int64" 'overflow.toml:16:9: integer does not fit in 64 bits' overflow.toml
mkdir -p sub
esc=escaped-${dir##*/} # runs/../../$esc is next to this test's folder
variant "s|^name = \"cli\"\$|name = \"../../$esc\"|" sub/escape.toml
expect_usage "model.name escaping checkpoint.dir" \
    "sub/escape.toml:2: model.name must be a plain folder name inside checkpoint.dir" sub/escape.toml
[ ! -e "../$esc" ] || { rm -rf "../$esc"; bad "model.name = ../../$esc created a folder"; }
for n in "/tmp/dlt-abs" "/" "" "." ".."; do
    variant "s|^name = \"cli\"\$|name = \"$n\"|" name.toml
    expect_usage "model.name = \"$n\"" "name.toml:2: model.name must " name.toml
done
variant "s|^name = \"cli\"\$|name = \"$(printf 'n%.0s' $(seq 300))\"|" long.toml
expect_usage "model.name too long" "long.toml:2: model.name is 300 bytes long, at most 127" long.toml
variant 's|^dir = "runs"$|dir = ""|' root.toml
expect_usage "empty checkpoint.dir" 'root.toml:[0-9]*: checkpoint.dir must not be empty' root.toml
variant "s|^dir = \"runs\"\$|dir = \"runs/$(printf 'd%.0s' $(seq 1000))\"|" longdir.toml
expect_usage "run folder path too long" 'longdir.toml:[0-9]*: checkpoint.dir with model.name makes a run folder path of 1009 bytes' \
    longdir.toml
variant "s|^train = .*|train = \"d/$(printf 'g%.0s' $(seq 1100))*\"|" longglob.toml
expect_usage "data glob too long" 'longglob.toml:8: data.train is 1103 bytes long, at most 1023' longglob.toml
expect_usage "--resume path too long" '^dltrain: --resume: the path is 1100 bytes long' job.toml \
    --resume "$(printf 'r%.0s' $(seq 1100))"
# normalisation: finite, one value per channel of the shards (1 here), also for --dry-run
variant 's/^batch_size = 8$/batch_size = 8\nmean = [0.5, nan]/' nan.toml
expect_usage "NaN in data.mean" 'nan.toml:11: data.mean\[1\] must be finite (got nan)' nan.toml
variant 's/^batch_size = 8$/batch_size = 8\nstd = [inf]/' inf.toml
expect_usage "inf in data.std" 'inf.toml:11: data.std\[0\] must be > 0 (got inf)' inf.toml --dry-run
variant 's/^batch_size = 8$/batch_size = 8\nstd = [0.2, 0.2, 0.2]/' chan.toml
expect_usage "data.std of 3 channels for 1-channel shards" \
    'chan.toml:11: data.std holds 3 values, but d/train-00000-of-00001.h5 holds 6x6x1 images' chan.toml --dry-run
expect_usage "data.mean of 3 channels for 1-channel shards (--set)" \
    '^dltrain: --set: data.mean holds 3 values, but d/train-00000-of-00001.h5' job.toml --set 'data.mean=[0.1, 0.2, 0.3]'
# train.device = "cuda" where no GPU is visible: one line saying so (on a GPU
# node the same job trains there: covered by tests/gpu)
if "$dltrain" --version 2>&1 | grep -q 'no CUDA device\|CUDA *: not built'; then
    expect_usage "train.device = cuda without a GPU" 'train.device = "cuda": ' job.toml --set train.device=cuda
fi
"$dltrain" >/dev/null 2>&1
[ $? -eq 2 ] && ok "no arguments: exit 2" || bad "no arguments: exit $?"

# --set precedence, seen through --print-config
val() { grep -E "^$1 = " "$2" | head -1 | sed 's/^[^=]*= //'; }
"$dltrain" --print-config job.toml >p0.toml 2>err.txt || bad "--print-config failed"
[ "$(val lr p0.toml)" = "0.1" ] && ok "file value without --set" || bad "lr = $(val lr p0.toml), expected 0.1"
"$dltrain" --print-config job.toml --set optim.lr=0.5 --set optim.lr=0.25 --set model.hidden=5 >p1.toml 2>err.txt
[ "$(val lr p1.toml)" = "0.25" ] && ok "later --set wins" || bad "lr = $(val lr p1.toml), expected 0.25"
[ "$(val hidden p1.toml)" = "5" ] && ok "--set over the file" || bad "hidden = $(val hidden p1.toml), expected 5"
[ ! -s err.txt ] || bad "--print-config wrote to stderr"
# printed config re-parses to the same resolved job (also with --set applied)
for p in p0 p1; do
    if "$dltrain" --print-config $p.toml >$p.again.toml 2>err.txt && cmp -s $p.toml $p.again.toml; then
        ok "--print-config output re-parses to itself ($p)"
    else
        bad "--print-config output of $p does not re-parse to itself"
        diff $p.toml $p.again.toml | head -5
    fi
done
# every key is printed, defaults included
grep -q '^\[log\]' p0.toml && grep -q '^trace = false' p0.toml || bad "--print-config lacks [log] defaults"

# --dry-run
rm -rf runs
"$dltrain" job.toml --dry-run >dry.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ] && grep -q '^# resolved job' dry.txt && grep -q 'FLOPs per sample' dry.txt &&
    grep -qi 'memory\|arena' dry.txt && [ ! -e runs/cli/metrics.jsonl ] && ! ls runs/cli/ckpt-* >/dev/null 2>&1; then
    ok "--dry-run: summary and memory, exit 0, nothing trained"
else
    bad "--dry-run: exit $rc"
    head -5 err.txt
fi

# a run: progress lines, summary, metrics.jsonl, TensorBoard, trace
rm -rf runs
"$dltrain" job.toml --set log.tensorboard=true --set log.trace=true --set log.trace_warmup=1 \
    --set log.trace_steps=3 >out.txt 2>err.txt
rc=$?
[ $rc -eq 0 ] && ok "run: exit 0" || { bad "run: exit $rc"; sed 's/^/   | /' err.txt | tail -5; }
n=$(grep -c '^step [0-9]*/6 ' err.txt)
[ "$n" -eq 3 ] && ok "one progress line per log interval (3 for 6 steps, every 2)" ||
    bad "$n progress lines, expected 3"
grep -q '^step 6/6 ' err.txt || bad "no progress line for the last step"
tail -1 err.txt | grep -q '^done: 6 steps in ' && ok "final summary line: $(tail -1 err.txt)" ||
    bad "last line is not the summary: $(tail -1 err.txt)"
"$dltrain" --print-config job.toml --set log.tensorboard=true --set log.trace=true --set log.trace_warmup=1 \
    --set log.trace_steps=3 >p2.toml
cmp -s runs/cli/job.toml p2.toml && ok "runs/cli/job.toml is the resolved job" || bad "runs/cli/job.toml differs from --print-config"
if "$jcheck" --jsonl runs/cli/metrics.jsonl >keys.txt; then
    ok "metrics.jsonl: $(wc -l <keys.txt) lines of valid JSON"
else
    bad "metrics.jsonl is not valid JSON Lines"
fi
train_keys=" step epoch loss accuracy lr grad_norm samples_per_s wall_time"
eval_keys=" step epoch eval.loss eval.top1 eval.top5 eval.samples"
nt=$(grep -c -F ":$train_keys" keys.txt)
ne=$(grep -c -F ":$eval_keys" keys.txt)
[ "$nt" -eq 3 ] && ok "3 training records with keys:$train_keys" || bad "$nt training records with the documented keys"
[ "$ne" -eq 1 ] && grep -q 'wall_time' keys.txt && ok "1 evaluation record with keys:$eval_keys ..." ||
    bad "$ne evaluation records with the documented keys"
grep -q '"wall_time": 1[0-9]\{9\}\.[0-9]\{6\}' runs/cli/metrics.jsonl && ok "wall_time in seconds with microseconds" ||
    bad "wall_time is not seconds.microseconds"
ev=$(ls runs/cli/events.out.tfevents.*.* 2>/dev/null | head -1)
[ -n "$ev" ] && [ -s "$ev" ] && ok "TensorBoard events: $(basename "$ev"), $(wc -c <"$ev") bytes" ||
    bad "no TensorBoard event file"
if "$jcheck" --check runs/cli/trace-rank0.json forward backward data allreduce allreduce_wait optimizer step \
    >trace.txt; then
    ok "trace: $(cat trace.txt)"
else
    bad "trace-rank0.json: $(cat trace.txt)"
fi
grep -c '"cat": "step"' runs/cli/trace-rank0.json | grep -qx 3 && ok "trace holds log.trace_steps = 3 steps" ||
    bad "trace does not hold 3 steps"
if [ -n "$PYTHON3" ] || command -v python3 >/dev/null 2>&1; then
    ${PYTHON3:-python3} -m json.tool runs/cli/trace-rank0.json >/dev/null && ok "python3 -m json.tool accepts the trace" ||
        bad "python3 -m json.tool rejects the trace"
fi
# two ranks: one trace per rank, each gradient bucket on its own row
: "${MPIRUN:=mpirun}"
if command -v "$MPIRUN" >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
    rm -rf runs
    timeout 120 $MPIRUN -np 2 --oversubscribe --bind-to none "$dltrain" job.toml --set model.hidden=512 \
        --set model.layers=2 --set dist.bucket_mb=0.25 --set log.trace=true --set log.trace_warmup=1 \
        --set log.trace_steps=2 >out.txt 2>err.txt
    rc=$?
    [ $rc -eq 0 ] && ok "2 ranks: exit 0" || { bad "2 ranks: exit $rc"; tail -5 err.txt; }
    for r in 0 1; do
        f=runs/cli/trace-rank$r.json
        if "$jcheck" --check $f forward backward allreduce >trace.txt && grep -q "\"pid\": $r," $f &&
            grep -q '"cat": "allreduce", "ph": "X", "ts": [0-9.]*, "dur": [0-9.]*, "pid": [01], "tid": 101' $f; then
            ok "rank $r: $(cat trace.txt), buckets 0 and 1 on rows 100 and 101"
        else
            bad "rank $r trace: $(cat trace.txt)"
        fi
    done
else
    echo "no $MPIRUN or timeout(1): 2-rank trace not checked"
fi

# quiet: no progress, errors still reported
rm -rf runs
"$dltrain" job.toml --quiet >out.txt 2>err.txt
[ $? -eq 0 ] && [ ! -s err.txt ] && ok "--quiet: nothing on stderr" || bad "--quiet printed: $(head -2 err.txt)"
exit $fail
