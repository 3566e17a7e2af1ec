#!/bin/sh
# Language-model tasks end to end, on tiny shards that `dlprep text` makes from
# text written here: a gpt-tiny causal LM and a bert-tiny MLM + NSP run
#  - learn: the training loss falls over 30 steps (and validation runs);
#  - GPT on 2 ranks x batch 4 follows 1 rank x batch 8 (same global batches,
#    SUM contract over target tokens: losses agree to float rounding); BERT on
#    2 ranks runs with a replica check every step;
#  - exact resume, bitwise (/params /optim /state), with dropout, accumulation,
#    AdamW and a warm-up schedule, for both tasks;
#  - dltrain generate prints text beginning with the prompt, the same for the
#    same seed;
#  - a wrong architecture/data combination, an encoder-decoder, a non-GPT
#    checkpoint or a prompt longer than the context: one line, exit status 2;
#  - jobs/gpt_small.toml, bert_mini.toml and bert.toml build (--dry-run).
. "$top_srcdir/tests/train/lib.sh"

make_text_shards

cat >gpt.toml <<'JOB'
[model]
name = "g"
arch = "gpt-tiny"
dropout = 0.0
[data]
train = "gpt/train-*.h5"
val = "gpt/val-*.h5"
batch_size = 8
seq_len = 16
[optim]
name = "adamw"
lr = 0.003
weight_decay = 0.01
no_decay = "*.bias,*ln_*"
[schedule]
name = "warmup_cosine"
warmup_steps = 3
[train]
steps = 30
seed = 1
threads = 1
[eval]
every_steps = 30
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 5
JOB
sed -e 's/gpt-tiny/bert-tiny/' -e 's|gpt/|bert/|g' -e '/^seq_len/d' -e 's/ln_\*/LayerNorm*/' gpt.toml >bert.toml

# losses TAG FILE: the training losses of a metrics.jsonl, one per line
losses() { sed -n 's/^{"step": [0-9]*, "epoch": [0-9]*, "loss": \([-0-9.e+]*\),.*/\1/p' "$1"; }
# learns TAG JOB: loss at the last log line below 0.8 x the first
learns() {
    run 1 "$2" --quiet --set checkpoint.dir="$1" || fail "$1: the run failed"
    first=$(losses "$1/g/metrics.jsonl" | head -1)
    last=$(losses "$1/g/metrics.jsonl" | tail -1)
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }' || fail "$1: loss $first -> $last"
    grep -q '"eval": {"loss": [0-9]' "$1/g/metrics.jsonl" || fail "$1: no evaluation record"
    echo "$1: training loss $first -> $last over 30 steps; eval: $(grep '"eval"' "$1/g/metrics.jsonl" |
        sed 's/.*"eval": {\([^}]*\)}.*/\1/')"
}
# before any learning (weights ~ N(0, 0.02^2): logits ~ 0) the per-token loss
# is about ln V (within 0.2: the logits' spread adds a little), the MLM loss ln V
# and the NSP loss ln 2 (within 0.02): the losses are means per target token /
# masked token / sequence, whatever the batch and padding
vocab() { "$DLPREP" info "$1"/train-*.h5 | sed -n 's/^ *vocab *\([0-9]*\):.*/\1/p' | head -1; }
run 1 gpt.toml --quiet --set checkpoint.dir=init --set train.steps=1 --set optim.lr=1e-12 || fail "gpt: 1 step"
run 1 bert.toml --quiet --set checkpoint.dir=init-bert --set train.steps=1 --set optim.lr=1e-12 --set data.val= ||
    fail "bert: 1 step"
l=$(losses init/g/metrics.jsonl)
m=$(sed -n 's/.*"mlm_loss": \([0-9.e+-]*\), "nsp_loss": \([0-9.e+-]*\),.*/\1 \2/p' init-bert/g/metrics.jsonl)
awk -v l="$l" -v V="$(vocab gpt)" -v m="$m" -v W="$(vocab bert)" 'BEGIN { split(m, b, " ")
    printf "initial losses: gpt %.4f (ln %d = %.4f), mlm %.4f (ln %d = %.4f), nsp %.4f (ln 2 = %.4f)\n",
        l, V, log(V), b[1], W, log(W), b[2], log(2)
    d1 = l - log(V); d2 = b[1] - log(W); d3 = b[2] - log(2)
    exit !(d1 * d1 < 0.04 && d2 * d2 < 0.04 && d3 * d3 < 0.0004) }' || fail "initial losses are not ln V / ln 2"
learns gpt gpt.toml
grep -q '"perplexity": [0-9]' gpt/g/metrics.jsonl && grep -q '"tokens_per_s": [0-9]' gpt/g/metrics.jsonl ||
    fail "gpt: no perplexity or tokens_per_s in metrics.jsonl"
learns bert bert.toml
grep -q '"eval": {"loss": [0-9.e+-]*, "mlm_loss": [0-9.e+-]*, "nsp_loss": [0-9.e+-]*, "mlm_accuracy": [0-9.e+-]*, "nsp_accuracy": ' \
    bert/g/metrics.jsonl || fail "bert: evaluation record lacks MLM/NSP metrics"
echo "learning: $(elapsed)"

# dltrain generate: deterministic for a seed, begins with the prompt
gen() { "$DLTRAIN" generate gpt/g/latest --prompt "The cat" --max-new-tokens 12 --threads 1 "$@"; }
gen --seed 5 >gen1.txt 2>err.txt || fail "generate: $(cat err.txt)"
gen --seed 5 >gen2.txt || fail "generate (again)"
gen --seed 5 --temperature 0 >greedy.txt || fail "generate --temperature 0"
gen --seed 6 --top-k 3 --temperature 0.8 >gen3.txt || fail "generate --top-k"
cmp -s gen1.txt gen2.txt || fail "generate: two runs with seed 5 differ"
for f in gen1.txt greedy.txt gen3.txt; do
    case $(cat $f) in "The cat"?*) ;; *) fail "generate: '$(cat $f)' does not begin with the prompt" ;; esac
done
echo "generate (seed 5): $(cat gen1.txt)"
echo "generate (greedy): $(cat greedy.txt)"

# one_line NAME PATTERN ARGS...: dltrain exits 2 with one stderr line matching PATTERN
one_line() {
    name=$1 pat=$2
    shift 2
    "$DLTRAIN" "$@" >out.txt 2>err.txt
    rc=$?
    [ $rc -eq 2 ] && [ "$(wc -l <err.txt)" -eq 1 ] && grep -q -e "$pat" err.txt ||
        { cat err.txt; fail "$name: exit $rc, expected 2 and one line matching '$pat'"; }
    echo "ok: $name: $(cat err.txt)"
}
# a damaged checkpoint: generate goes through the verifying reader
cp -L gpt/g/latest dmg.h5 && p=$(h5ls dmg.h5/params | awk 'NR == 1 { print $1 }') &&
    "$TOOL" flip dmg.h5 "/params/$p" 0 || fail "damaging a GPT checkpoint"
one_line "generate from a damaged checkpoint" "^dltrain generate: dmg.h5: /params/$p: checksum mismatch" \
    generate dmg.h5 --prompt "The cat"
"$DLPREP" synthetic --num 40 --size 4x4x1 --classes 2 --out img --quiet || fail "dlprep synthetic"
one_line "gpt on image shards" "data.train: .*image-classification.*model.arch = gpt-tiny" \
    gpt.toml --set data.train='img/train-*.h5' --set data.val=
one_line "gpt on BERT shards" "data.train: the shards hold BERT instances (model.arch = gpt-tiny" gpt.toml --set data.train='bert/train-*.h5' \
    --set data.val=
one_line "bert on GPT shards" "data.train: the shards hold GPT token streams" bert.toml --set data.train='gpt/train-*.h5' \
    --set data.val=
one_line "resnet on text shards" "data.train" gpt.toml --set model.arch=resnet20
one_line "encoder-decoder" "model.arch is an encoder-decoder transformer, which is not supported by a training task" \
    gpt.toml --set model.arch=transformer-tiny
one_line "unknown arch" "model.arch unknown model 'gpt3'.*transformers: .*gpt-tiny" gpt.toml --set model.arch=gpt3
one_line "seq_len beyond the positions" "data.seq_len = 4096 is longer than gpt-tiny's 1024 positions" gpt.toml \
    --set data.seq_len=4096
one_line "generate: a BERT checkpoint" "bert-tiny (bert-pretraining) is not a GPT model" generate bert/g/latest \
    --prompt "x"
one_line "generate: prompt beyond the context" "longer than the model's context of 16" generate gpt/g/latest \
    --prompt "the cat sat on the mat and the dog ran to the park while the bird sang in the tall tree"
one_line "generate: no shards" "no shard matches 'none/\*.h5'" generate gpt/g/latest --prompt x --data 'none/*.h5'
one_line "generate: no checkpoint" "nothing.h5" generate nothing.h5 --prompt x
echo "errors: $(elapsed)"

# the shipped LM jobs build their models on these shards (batch 2)
for j in gpt_small bert_mini bert; do
    case $j in gpt*) d=gpt ;; *) d=bert ;; esac
    "$DLTRAIN" "$top_srcdir/jobs/$j.toml" --dry-run --set data.train="$d/train-*.h5" --set data.val="$d/val-*.h5" \
        --set data.batch_size=2 --set data.seq_len=16 --set checkpoint.dir=dry >out.txt 2>err.txt &&
        grep -q '^Trainable params' out.txt || { cat err.txt; fail "jobs/$j.toml: --dry-run"; }
    echo "jobs/$j.toml: $(grep '^# model' out.txt | cut -c3-60)...; $(grep '^Trainable params' out.txt)"
done

# exact resume: dropout, accumulation, AdamW, warm-up (for each task)
for task in gpt bert; do
    sets="--set model.dropout=0.1 --set train.accumulate=2 --set train.steps=8 --set eval.every_steps=4"
    # shellcheck disable=SC2086
    run 1 $task.toml --quiet --set checkpoint.dir=r-$task --set checkpoint.every_steps=3 $sets ||
        fail "$task: full run"
    # shellcheck disable=SC2086
    run 1 $task.toml --quiet --set checkpoint.dir=r-$task-3 $sets --resume "r-$task/g/$(ck 3)" ||
        fail "$task: resume from step 3"
    same "r-$task/g/$(ck 8)" "r-$task-3/g/$(ck 8)"
    echo "$task: 8 steps == 3 + resume + 5, bitwise"
done
echo "resume: $(elapsed)"

if have_mpi; then
    # GPT: 2 ranks x 4 == 1 rank x 8 (the same windows each step; float rounding only)
    run 1 gpt.toml --quiet --set checkpoint.dir=one --set train.steps=10 --set log.every_steps=1 ||
        fail "gpt: 1 rank"
    run 2 gpt.toml --quiet --set checkpoint.dir=two --set train.steps=10 --set log.every_steps=1 \
        --set data.batch_size=4 || fail "gpt: 2 ranks"
    losses one/g/metrics.jsonl >l1.txt
    losses two/g/metrics.jsonl >l2.txt
    [ "$(wc -l <l1.txt)" -eq 10 ] || fail "gpt: $(wc -l <l1.txt) loss records, expected 10"
    paste l1.txt l2.txt | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-4 * $1) bad = 1; if (d > m) m = d }
        END { printf "gpt: 2 ranks x 4 vs 1 rank x 8: largest loss difference over 10 steps %.2g\n", m; exit bad }' ||
        fail "gpt: 2-rank losses differ from 1 rank: $(paste l1.txt l2.txt | tr '\n' ' ')"
    # BERT: 2 ranks, replicas compared every step
    run 2 bert.toml --quiet --set checkpoint.dir=two-bert --set train.steps=6 --set dist.check_every=1 \
        --set data.batch_size=4 || fail "bert: 2 ranks"
    grep -q '"eval"' two-bert/g/metrics.jsonl || fail "bert: 2 ranks: no evaluation"
    echo "bert: 2 ranks, replicas identical every step: $(losses two-bert/g/metrics.jsonl | tail -1)"
else
    echo "no mpirun: 2-rank cases skipped"
fi
# the resolved job records the dropout that runs (the architecture's 0.1 when unset)
"$DLTRAIN" --print-config "$top_srcdir/jobs/bert_mini.toml" | grep -qx 'dropout = 0.1' ||
    fail "bert_mini: --print-config does not record the architecture's dropout"
"$DLTRAIN" --print-config "$top_srcdir/jobs/bert_mini.toml" --set model.dropout=0.2 | grep -qx 'dropout = 0.2' ||
    fail "bert_mini: --set model.dropout is not recorded"
echo "resolved job records the transformer's dropout"
echo "done: $(elapsed)"
