#!/bin/sh
# FID-FMNIST during GAN training (src/train/gan_fid.c): a ResNet-20
# classifier trained for 3 steps on synthetic 28x28 shards (as
# test_fid_features.sh) is gan.fid_classifier; gan-mlp (small, no batch norm
# in the generator so 2 ranks train what 1 rank does) trains 2 iterations
# on the same shards with gan.fid_samples = 250 (3 chunks of 100, the last
# one partial) and a checkpoint every step.
#   (a) 1 rank: an eval record with a finite fid > 0 at steps 1 and 2 in
#       metrics.jsonl, the eval line on stdout, eval/fid in TensorBoard
#   (b) 2 ranks x batch 4: the same fid values within 1e-6 relative (the
#       generated set and its statistics do not depend on the split), and
#       gan_fid_check recomputes the final one from the checkpoint on one
#       process (two-pass statistics of all rows, shard read directly)
#   (c) no real images (no data.val, no gan.fid_data) or a missing
#       classifier: one line, exit 2, before training
. "$top_srcdir/tests/train/lib.sh"
need_mpi
"$DLPREP" synthetic --num 120 --size 28x28x1 --classes 4 --seed 5 --out data --quiet ||
    fail "dlprep synthetic"
cat >cls.toml <<'JOB'
[model]
name = "c"
arch = "resnet20"
[data]
train = "data/train-*.h5"
batch_size = 16
mean = [0.2860]
std = [0.3530]
[optim]
name = "sgd"
lr = 0.05
momentum = 0.9
[train]
steps = 3
seed = 1
threads = 1
[checkpoint]
dir = "runs"
[log]
every_steps = 1000
JOB
run 1 cls.toml --quiet >cls.out 2>&1 || { cat cls.out; fail "classifier training"; }
cat >job.toml <<JOB
[model]
name = "g"
arch = "gan-mlp"
[gan]
z_dim = 8
g_width = 8
d_width = 8
g_norm = "none"
fid_classifier = "runs/c/$(ck 3)"
fid_samples = 250
[data]
train = "data/train-*.h5"
val = "data/train-*.h5"
batch_size = 8
[train]
steps = 2
seed = 3
threads = 1
[checkpoint]
dir = "one"
every_steps = 1
[log]
every_steps = 1000
tensorboard = true
JOB
fids() { grep '"eval"' "$1" | sed 's/.*"fid": \([^,]*\),.*/\1/'; }

# (a) one rank
run 1 job.toml >a.out 2>&1 || { cat a.out; fail "1 rank"; }
fids one/g/metrics.jsonl >a.fid
[ "$(wc -l <a.fid)" -eq 2 ] || { cat one/g/metrics.jsonl; fail "expected 2 FID records"; }
awk '{ if (!($1 > 0 && $1 < 1e30)) { print "FID " $1 " is not finite and positive"; exit 1 } }' a.fid || fail "FID value"
grep -q "eval step 2: fid " a.out || { cat a.out; fail "no eval line with fid"; }
grep -aq "eval/fid" one/g/events.out.tfevents.* || fail "no eval/fid in the TensorBoard events"
# the lower FID is the run's best metric, in the last checkpoint and the summary
best=$(h5dump -m %.17g -d /state/best_metric "one/g/$(ck 2)" | sed -n '/DATA {/,/}/s/^ *(0): //p' | head -1)
bname=$(h5dump -a /state/best_metric/metric "one/g/$(ck 2)" | sed -n 's/^ *(0): //p' | tr -d '"')
[ "$bname" = fid ] || fail "best_metric names '$bname', expected fid"
sort -g a.fid | head -1 | awk -v b="$best" '{ d = $1 - b; if (d < 0) d = -d; if (!(d <= 1e-7 * $1)) { print "best_metric " b ", lowest fid " $1; exit 1 } }' ||
    fail "best_metric is not the lowest FID"
grep -q "best fid " a.out || { cat a.out; fail "no best fid in the summary line"; }
echo "(a) 1 rank: fid $(tr '\n' ' ' <a.fid)at steps 1 and 2"

# (b) two ranks, half the batch each
run 2 job.toml --set checkpoint.dir=two --set data.batch_size=4 >b.out 2>&1 || { cat b.out; fail "2 ranks"; }
fids two/g/metrics.jsonl >b.fid
paste a.fid b.fid | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * $1) { print "1 rank " $1 ", 2 ranks " $2; exit 1 } }' ||
    fail "FID differs between 1 and 2 ranks"
echo "(b) 2 ranks: fid $(tr '\n' ' ' <b.fid)(within 1e-6 relative)"
# the 2-rank run's final FID recomputed from its checkpoint on one process
"$top_builddir/tests/train/gan_fid_check" "two/g/$(ck 2)" "runs/c/$(ck 3)" data/train-00000-of-00001.h5 250 \
    "$(tail -1 b.fid)" || fail "gan_fid_check"

# (c) nothing to compare with
run 1 job.toml --set checkpoint.dir=none --set data.val= --set train.steps=1 >c.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <c.out)" -eq 1 ] && grep -q "gan.fid_data nor data.val" c.out ||
    { cat c.out; fail "no real images: exit $rc"; }
run 1 job.toml --set checkpoint.dir=none --set gan.fid_classifier=missing.h5 >c.out 2>&1
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <c.out)" -eq 1 ] && grep -q "gan.fid_classifier: missing.h5" c.out ||
    { cat c.out; fail "a missing classifier: exit $rc"; }
[ -d none ] && fail "a refused job wrote none/"
echo "(c) no real images, a missing classifier: refused in one line before training"
echo "PASS ($(($(date +%s) - t_start)) s)"
