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

# ~12 KB of sentences over a small vocabulary (as test_lm.sh), 4 files
awk 'BEGIN {
    split("the a cat dog bird mat park tree sat ran sang on in to and while green tall small old", w, " ")
    s = 7
    for (f = 0; f < 4; f++) {
        out = "text" f ".txt"
        for (p = 0; p < 14; p++) {
            line = ""
            for (k = 0; k < 5; k++) {
                s = (s * 1103515245 + 12345) % 2147483648
                i = int(s / 65536) % 12
                line = line toupper(substr(w[i + 1], 1, 1)) substr(w[i + 1], 2) " " w[i + 2] " " w[i + 3] " " \
                       w[i + 4] " " w[i + 5] " " w[i + 6] ". "
            }
            print line > out
            print "" > out
        }
    }
}' || fail "awk"
"$DLPREP" text text0.txt text1.txt text2.txt text3.txt --target gpt --vocab-size 300 --out gpt \
    --val-fraction 0.25 --seed 1 --quiet || fail "dlprep text --target gpt"
"$DLPREP" text text0.txt text1.txt text2.txt text3.txt --target bert --vocab-size 200 --seq-len 32 \
    --max-predictions 5 --dupe-factor 2 --docs blank --out bert --val-fraction 0.2 --seed 1 --quiet ||
    fail "dlprep text --target bert"
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
