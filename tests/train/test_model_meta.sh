#!/bin/sh
# What a checkpoint and its export say about the model (issue 16, point 8):
#  - /model holds the resolved architecture as attributes (h5dump -A), and
#    `dltrain export` repeats them in the safetensors __metadata__;
#  - /state/best_metric names its metric and direction (top1 up for a
#    classifier, perplexity down for a causal LM);
#  - the start-up line, /model num_parameters and --dry-run count the true
#    parameters (hand-computed here from the architecture), not the padded
#    flat buffer;
#  - a GPT job's resolved job (--print-config, job.toml, the checkpoint's)
#    has no classifier keys; one set explicitly is warned about and ignored.
. "$top_srcdir/tests/train/lib.sh"
command -v h5dump >/dev/null || { echo "SKIP: no h5dump"; exit 77; }

# attr CKPT OBJECT NAME: the value of one attribute, as h5dump prints it
attr() { h5dump -a "$2/$3" "$1" 2>/dev/null | sed -n 's/^ *(0): //p' | tr -d '"'; }

# ---- a CIFAR ResNet-20 on 32x32x3 images of 10 classes
"$DLPREP" synthetic --num 32 --size 32x32x3 --classes 10 --seed 1 --out img --quiet || fail "dlprep synthetic"
cat >rn.toml <<'JOB'
[model]
name = "rn"
arch = "resnet20"
[data]
train = "img/train-*.h5"
val = "img/train-*.h5"
batch_size = 16
[train]
steps = 1
threads = 1
[checkpoint]
dir = "runs"
JOB
run 1 rn.toml >rn.out 2>&1 || { cat rn.out; fail "resnet20 run"; }
c=runs/rn/$(ck 1)
# ResNet-20, option A (no projection weights), by hand:
#   stem conv 3*16*9 + bn 2*16; stage s (width w, input width i) = 3 blocks of two
#   3x3 convs (the first takes i channels) and two BNs; fc 64*10 + 10
stage() { echo $(( $2 * $1 * 9 + 5 * $1 * $1 * 9 + 6 * 2 * $1 )); }
n20=$(( 3 * 16 * 9 + 2 * 16 + $(stage 16 16) + $(stage 32 16) + $(stage 64 32) + 64 * 10 + 10 ))
[ $n20 = 269722 ] || fail "hand count of ResNet-20: $n20"
grep -q "resnet20, $n20 parameters in " rn.out || { grep resnet20 rn.out; fail "start-up count is not $n20"; }
for kv in arch=resnet20 family=resnet-cifar depth=20 block=basic blocks=3,3,3 widths=16,32,64 shortcut=A \
    zero_init_residual=FALSE num_classes=10 in_channels=3 bn_eps=1e-05 bn_momentum=0.1 linear_layout=out_in \
    num_parameters=$n20; do
    got=$(attr "$c" /model "${kv%%=*}")
    [ "$got" = "${kv#*=}" ] || fail "/model ${kv%%=*} = '$got', expected '${kv#*=}'"
done
[ "$(attr "$c" /state/best_metric metric)" = top1 ] || fail "classifier best_metric is not top1"
[ "$(attr "$c" /state/best_metric higher_is_better)" = TRUE ] || fail "top1 is not higher_is_better"
run 1 rn.toml --dry-run >dry.out 2>&1 || { cat dry.out; fail "--dry-run"; }
grep -q "^Trainable params: 269,722$" dry.out || fail "--dry-run: trainable params"
grep -q "^  shortcut  *A$" dry.out || fail "--dry-run does not print the architecture"
"$DLTRAIN" export "$c" --out rn.safetensors >/dev/null || fail "export"
head -c 2000 rn.safetensors | tr -d '\0' >hdr.txt
grep -q '"step":"1","arch":"resnet20","family":"resnet-cifar",' hdr.txt || fail "export metadata: $(head -c 300 hdr.txt)"
grep -q '"shortcut":"A"' hdr.txt && grep -q '"zero_init_residual":"false"' hdr.txt || fail "export metadata keys"
echo "resnet20: $n20 parameters; /model, best_metric and export metadata ok"

# ---- gpt-tiny: 2 blocks, C = 128, FFN 512, 1024 positions, tied head
awk 'BEGIN { for (i = 0; i < 300; i++) print "the cat sat on the mat while a dog ran in the park " i }' >t.txt
"$DLPREP" text t.txt --target gpt --vocab-size 260 --out gpt --seed 1 --quiet ||
    fail "dlprep text"
cat >gpt.toml <<'JOB'
[model]
name = "g"
arch = "gpt-tiny"
num_classes = 7
[data]
train = "gpt/train-*.h5"
batch_size = 4
seq_len = 16
[train]
steps = 1
threads = 1
[checkpoint]
dir = "runs"
JOB
"$DLTRAIN" --print-config gpt.toml >p.toml 2>p.err || { cat p.err; fail "--print-config gpt"; }
"$DLTRAIN" gpt.toml --dry-run >dry.out 2>p.err || { cat p.err; fail "--dry-run gpt"; }
for k in num_classes shortcut zero_init_residual small_input hidden layers augment label_smoothing mean std; do
    ! grep -q "^$k = " p.toml || fail "--print-config of a gpt job has $k"
done
grep -qx 'seq_len = 16' p.toml || fail "--print-config lost data.seq_len"
grep -qx 'warning: gpt.toml:4: model.num_classes does not apply to model.arch = "gpt-tiny" (only to classifier); ignored' \
    p.err || { cat p.err; fail "no warning for model.num_classes in a gpt job"; }
grep -q "^# resolved job" dry.out && ! grep -q "^num_classes" dry.out || fail "--dry-run's resolved job has num_classes"
"$DLTRAIN" gpt.toml --set data.train=nothing >bad.out 2>bad.err
[ $? = 2 ] && [ "$(wc -l <bad.err)" = 1 ] || { cat bad.err; fail "a refused gpt job prints more than one line"; }
run 1 gpt.toml >g.out 2>&1 || { cat g.out; fail "gpt-tiny run"; }
c=runs/g/$(ck 1)
! grep -q "^shortcut" runs/g/job.toml || fail "job.toml of a gpt run has model.shortcut"
h5dump -a /job "$c" | grep -q 'shortcut' && fail "the checkpoint's job has model.shortcut"
V=$(attr "$c" /model vocab_size)
[ -n "$V" ] && [ "$V" -gt 0 ] || fail "/model vocab_size"
C=128
block=$(( 2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C ))
ngpt=$(( V * C + 1024 * C + 2 * block + 2 * C ))
grep -q "gpt-tiny, $ngpt parameters in " g.out || { grep gpt-tiny g.out; fail "start-up count is not $ngpt"; }
for kv in arch=gpt-tiny family=gpt max_positions=1024 layers=2 hidden_size=128 heads=2 intermediate_size=512 \
    activation=gelu_new norm=pre layer_norm_eps=1e-05 hidden_dropout=0.1 attention_dropout=0.1 init_std=0.02 \
    tied_lm_head=TRUE linear_layout=in_out num_parameters=$ngpt; do
    got=$(attr "$c" /model "${kv%%=*}")
    [ "$got" = "${kv#*=}" ] || fail "/model ${kv%%=*} = '$got', expected '${kv#*=}'"
done
[ "$(attr "$c" /state/best_metric metric)" = perplexity ] || fail "LM best_metric is not perplexity"
[ "$(attr "$c" /state/best_metric higher_is_better)" = FALSE ] || fail "perplexity is not lower-is-better"
"$DLTRAIN" export "$c" --out g.safetensors >/dev/null || fail "export gpt"
head -c 3000 g.safetensors | tr -d '\0' >hdr.txt
grep -q '"activation":"gelu_new"' hdr.txt && grep -q '"tied_lm_head":"true"' hdr.txt &&
    grep -q "\"vocab_size\":\"$V\"" hdr.txt || fail "gpt export metadata: $(head -c 600 hdr.txt)"
echo "gpt-tiny: $ngpt parameters (vocab $V); /model, best_metric, resolved job and export ok ($(elapsed))"
