#!/bin/sh
# What a checkpoint gives back besides training (issue 16, point 8), on tiny
# shards dlprep makes here and models trained for a few steps:
#  - dltrain generate --ids prints the token ids: the prompt's are the
#    tokenizer's encoding (--max-new-tokens 0), and the ids decoded
#    (--prompt-ids) give the text generate prints for the same seed;
#  - dltrain export writes the tokenizer beside the safetensors file as Hugging
#    Face's files; an independent GPT-2 BPE (hf_tok_check: its own JSON reader,
#    bytes_to_unicode, pre-tokenizer and merge loop) encodes sentences from
#    vocab.json + merges.txt to the ids dltrain's tokenizer gives; BERT gets
#    vocab.txt; a bad --data: one line, exit 2, nothing written;
#  - dltrain predict (below).
. "$top_srcdir/tests/train/lib.sh"
HFTOK=$top_builddir/tests/train/hf_tok_check
[ -x "$HFTOK" ] || fail "missing $HFTOK (make tests/train/hf_tok_check)"

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
[train]
steps = 8
seed = 1
threads = 1
[eval]
every_steps = 8
[checkpoint]
dir = "runs"
keep_last = 0
[log]
every_steps = 4
JOB
sed -e 's/gpt-tiny/bert-tiny/' -e 's|gpt/|bert/|g' -e '/^seq_len/d' -e 's/"g"/"b"/' gpt.toml >bert.toml
run 1 gpt.toml --quiet || fail "gpt: training"
run 1 bert.toml --quiet || fail "bert: training"
G=runs/g/$(ck 8)

# ---- generate --ids
gen() { "$DLTRAIN" generate "$G" --threads 1 "$@"; }
gen --prompt "The cat" --max-new-tokens 12 --seed 5 >text.txt 2>err.txt || fail "generate: $(cat err.txt)"
gen --prompt "The cat" --max-new-tokens 12 --seed 5 --ids >ids.txt 2>err.txt || fail "generate --ids: $(cat err.txt)"
grep -Eqx '[0-9]+( [0-9]+)*' ids.txt || fail "generate --ids: '$(cat ids.txt)' is not one line of ids"
gen --prompt "The cat" --max-new-tokens 0 --ids >prompt.txt || fail "generate --max-new-tokens 0 --ids"
case $(cat ids.txt) in "$(cat prompt.txt) "*) ;; *) fail "generate --ids: '$(cat ids.txt)' does not start with the prompt's ids '$(cat prompt.txt)'" ;; esac
gen --prompt-ids "$(cat ids.txt)" --max-new-tokens 0 >decoded.txt || fail "generate --prompt-ids"
cmp -s text.txt decoded.txt || fail "generate: the ids decode to '$(cat decoded.txt)', the text is '$(cat text.txt)'"
# a continuation from ids equals the one from the text that encodes to them
gen --prompt-ids "$(cat prompt.txt)" --max-new-tokens 12 --seed 5 --ids >ids2.txt || fail "generate --prompt-ids (sampling)"
cmp -s ids.txt ids2.txt || fail "generate: from --prompt-ids '$(cat ids2.txt)', from --prompt '$(cat ids.txt)'"
echo "generate --ids (seed 5): $(cat ids.txt) = '$(cat text.txt)'; prompt 'The cat' = $(cat prompt.txt)"
one_line "generate: --prompt-ids outside the vocabulary" "token 2 is id 300, outside the vocabulary 0..299" \
    generate "$G" --prompt-ids "5 300"
one_line "generate: --prompt-ids not ids" "needs token ids" generate "$G" --prompt-ids "5 x"
one_line "generate: --prompt and --prompt-ids" "exclude each other" generate "$G" --prompt-ids "5" --prompt x

# ---- export: the tokenizer beside the weights
mkdir ex exb
"$DLTRAIN" export "$G" --out ex/model.safetensors >out.txt 2>err.txt || fail "export: $(cat err.txt)"
[ -s err.txt ] && fail "export: $(cat err.txt)"
for f in model.safetensors vocab.json merges.txt tokenizer_config.json special_tokens_map.json; do
    [ -s "ex/$f" ] || fail "export: no ex/$f"
done
grep -q '"tokenizer_class": "GPT2Tokenizer"' ex/tokenizer_config.json || fail "export: tokenizer_config.json"
grep -q '"eos_token": "<|endoftext|>"' ex/tokenizer_config.json || fail "export: no eos_token"
for s in "The cat sat on the mat." "A dog ran   to the park, while 42 birds sang!  Isn't it old?" \
    "café:  tall  tree's {green} 3.14"; do
    a=$("$HFTOK" ex "$s" 2>err.txt) || fail "hf_tok_check: $(cat err.txt)"
    b=$("$DLTRAIN" generate "$G" --prompt "$s" --max-new-tokens 0 --ids) || fail "generate --ids '$s'"
    [ "$a" = "$b" ] || fail "'$s': vocab.json + merges.txt give $a, dltrain $b"
    echo "'$s' -> $a (vocab.json + merges.txt == dltrain)"
done
echo "$(cat err.txt)"
"$DLTRAIN" export runs/b/$(ck 8) --out exb/model.safetensors >out.txt 2>err.txt || fail "export bert: $(cat err.txt)"
[ -s exb/vocab.txt ] && grep -q '"tokenizer_class": "BertTokenizer"' exb/tokenizer_config.json ||
    fail "export bert: no vocab.txt or tokenizer_config.json"
"$DLPREP" info bert/train-*.h5 | grep -q "vocab *$(wc -l <exb/vocab.txt):" ||
    fail "export bert: vocab.txt has $(wc -l <exb/vocab.txt) lines, not the shards' vocabulary"
[ "$(sed -n 1,5p exb/vocab.txt | tr '\n' ' ')" = "[PAD] [UNK] [CLS] [SEP] [MASK] " ] || fail "export bert: vocab.txt order"
echo "export: $(cat out.txt | tr '\n' ' ')"
mkdir ex2
one_line "export: --data matches nothing" "no shard matches 'none/\*.h5'" export "$G" --out ex2/m.safetensors \
    --data 'none/*.h5'
[ -z "$(ls ex2)" ] || fail "export: a bad --data left $(ls ex2)"
"$DLTRAIN" export "$G" --out ex2/m.safetensors --data 'img/*.h5' --no-tokenizer >/dev/null ||
    fail "export --no-tokenizer"
[ -e ex2/vocab.json ] && fail "export --no-tokenizer wrote vocab.json"
echo "generate/export: $(elapsed)"

# ---- predict
PC=$top_builddir/tests/train/pred_check
[ -x "$PC" ] || fail "missing $PC (make tests/train/pred_check)"
# last_eval RUN KEY: KEY of the run's last evaluation record
last_eval() { grep '"eval"' "$1/metrics.jsonl" | tail -1 | sed -n "s/.*\"$2\": \([-0-9.e+]*\).*/\1/p"; }
# summary KEY: KEY of predict's summary line in out.txt
summary() { sed -n "s/.*, $1 \([-0-9.e+a-z]*\).*/\1/p" out.txt; }
# a one-layer classifier (logits = W x + b) stopped early (top-1 well below 1):
# 21 validation images, batch 8, so the last batch is padded with 3
"$DLPREP" synthetic --num 60 --size 4x4x1 --classes 3 --seed 2 --val-fraction 0.35 --out img --quiet ||
    fail "dlprep synthetic"
cat >mlp.toml <<'JOB'
[model]
name = "m"
arch = "mlp"
layers = 0
[data]
train = "img/train-*.h5"
val = "img/val-*.h5"
batch_size = 8
mean = [0.5]
std = [0.25]
[optim]
lr = 0.002
[train]
steps = 2
threads = 1
[checkpoint]
dir = "runs"
JOB
run 1 mlp.toml --quiet || fail "mlp: training"
M=runs/m/$(ck 2)
"$DLTRAIN" predict "$M" --data 'img/val-*.h5' --out m.h5 >out.txt 2>err.txt || fail "predict: $(cat err.txt)"
echo "predict: $(cat out.txt)"
[ "$(wc -l <out.txt)" -eq 1 ] && [ ! -s err.txt ] || fail "predict: more than one line: $(cat out.txt err.txt)"
grep -q '^m.h5: 21 samples, step 2, loss ' out.txt || fail "predict: summary '$(cat out.txt)'"
for k in loss top1 top5; do
    [ "$(summary $k)" = "$(last_eval runs/m $k)" ] ||
        fail "predict: $k $(summary $k), the run's evaluation of the same checkpoint $(last_eval runs/m $k)"
done
awk -v a="$(summary top1)" 'BEGIN { exit !(a > 0.2 && a < 0.95) }' || fail "mlp: top-1 $(summary top1) is trivial"
"$PC" linear m.h5 "$M" img/val-00000-of-00001.h5 0.5 0.25 >chk.txt || fail "predict: $(cat chk.txt)"
echo "independent: $(cat chk.txt)"
grep -q "top1 $(summary top1)\$" chk.txt || fail "predict: top1 $(summary top1), by hand: $(cat chk.txt)"
h5dump -a step -a format -a data m.h5 | grep -q 'img/val-\*.h5' || fail "predict: attributes"
# other batch sizes (21 = 3 x 7; 5 pads 4): the same predictions, each sample once
for b in 7 5 32; do
    "$DLTRAIN" predict "$M" --data 'img/val-*.h5' --out m$b.h5 --batch $b >out.txt || fail "predict --batch $b"
    "$PC" linear m$b.h5 "$M" img/val-00000-of-00001.h5 0.5 0.25 >chk.txt || fail "predict --batch $b: $(cat chk.txt)"
    [ "$(summary top1)" = "$(last_eval runs/m top1)" ] || fail "predict --batch $b: top1 $(summary top1)"
done
echo "predict --batch 7, 5, 32: the same logits, 21 samples each"

# GPT: the evaluation's loss and perplexity; per-window losses average to it
"$DLTRAIN" predict "$G" --data 'gpt/val-*.h5' --out g.h5 --logits >out.txt 2>err.txt || fail "predict gpt: $(cat err.txt)"
echo "predict: $(cat out.txt)"
for k in loss perplexity; do
    [ "$(summary $k)" = "$(last_eval runs/g $k)" ] ||
        fail "predict gpt: $k $(summary $k), the run's evaluation $(last_eval runs/g $k)"
done
n=$(last_eval runs/g samples)
grep -q "^g.h5: $n samples" out.txt || fail "predict gpt: not the $n windows evaluation saw"
awk -v a="$("$PC" mean g.h5 loss)" -v b="$(summary loss)" 'BEGIN { d = a - b; exit !(d * d < 1e-10 * b * b) }' ||
    fail "predict gpt: per-window losses average to $("$PC" mean g.h5 loss), not $(summary loss)"
h5ls g.h5 | grep -q "^logits *Dataset {$n/Inf, 16, 300}" || fail "predict gpt --logits: $(h5ls g.h5)"
# BERT: MLM and NSP accuracies, from the file as from the summary
"$DLTRAIN" predict runs/b/$(ck 8) --data 'bert/val-*.h5' --out b.h5 >out.txt 2>err.txt ||
    fail "predict bert: $(cat err.txt)"
echo "predict: $(cat out.txt)"
for k in loss mlm_accuracy nsp_accuracy; do
    [ "$(summary $k)" = "$(last_eval runs/b $k)" ] ||
        fail "predict bert: $k $(summary $k), the run's evaluation $(last_eval runs/b $k)"
done
for k in mlm nsp; do
    awk -v a="$("$PC" top1 b.h5 ${k}_pred ${k}_label)" -v b="$(summary ${k}_accuracy)" \
        'BEGIN { d = a - b; exit !(d * d < 1e-14) }' || fail "predict bert: ${k}_pred/${k}_label give another accuracy"
done
h5ls b.h5 | grep -q mlm_logits && fail "predict bert: MLM logits without --logits"

# bad input: one line, exit 2, no file
one_line "predict: gpt on image shards" "image-classification" predict "$G" --data 'img/val-*.h5' --out bad.h5
one_line "predict: classifier on text shards" "data" predict "$M" --data 'gpt/val-*.h5' --out bad.h5
one_line "predict: bert on GPT shards" "the shards hold GPT token streams" predict runs/b/$(ck 8) \
    --data 'gpt/val-*.h5' --out bad.h5
one_line "predict: no shards" "no shard matches 'none/\*.h5'" predict "$M" --data 'none/*.h5' --out bad.h5
one_line "predict: no checkpoint" "nothing.h5" predict nothing.h5 --data 'img/val-*.h5' --out bad.h5
"$DLPREP" synthetic --num 20 --size 4x4x1 --classes 5 --seed 2 --out img5 --quiet || fail "dlprep synthetic"
one_line "predict: another class count" "head" predict "$M" --data 'img5/*.h5' --out bad.h5
one_line "predict: batch 0" "batch needs a number >= 1" predict "$M" --batch 0
ls bad.h5* >/dev/null 2>&1 && fail "predict: a failed run left $(ls bad.h5*)"
echo "done: $(elapsed)"
