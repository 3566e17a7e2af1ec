#!/bin/sh
# Checkpoints through the CLI: the documented structure (h5dump -H), a model
# mismatch refused with one line and status 2 leaving the run directory
# untouched, resuming on another world size (2 ranks -> 1) with its warning,
# and `dltrain export` to safetensors checked by an independent parser (and by
# PyTorch when /usr/bin/python3 has it).
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job
SETS="--set optim.lr=0.05 --set model.dropout=0 --set checkpoint.every_steps=20 --set train.steps=60
      --set log.every_steps=10"

"$DLTRAIN" --help | grep -q "3  stopped by SIGUSR1" || fail "dltrain --help does not document exit status 3"
"$DLTRAIN" --help | grep -q "4  stopped by SIGTERM" || fail "dltrain --help does not document exit status 4"

# ---- a 2-rank run (1 rank without mpirun) to work on
np=2
have_mpi || np=1
run $np job.toml $SETS >ref.out 2>&1 || { cat ref.out; fail "the $np-rank run failed"; }
c20=runs/t/$(ck 20)
c60=runs/t/$(ck 60)

# ---- structure
h5dump -H "$c60" >h5.txt || fail "h5dump -H $c60"
for want in 'GROUP "params"' 'GROUP "buffers"' 'GROUP "optim"' 'GROUP "state"' 'DATASET "fc1.weight"' \
    'DATASET "exp_avg_sq"' 'DATASET "data_cursors"' 'DATASET "samples_seen"' 'ATTRIBUTE "job"' \
    'ATTRIBUTE "format"' 'ATTRIBUTE "world_size"'; do
    grep -q "$want" h5.txt || fail "h5dump -H: no $want"
done
grep -A3 'DATASET "data_cursors"' h5.txt | grep -q "( $np, 2 )" || fail "data_cursors is not [world_size, 2]"
[ "$("$TOOL" get "$c60" /state/step)" = 60 ] || fail "/state/step"
echo "structure: ok ($(grep -c DATASET h5.txt) datasets)"

# ---- model mismatch: one line, status 2, nothing in the run directory changes
ls -l --time-style=+%s.%N runs/t >before.txt
cksum runs/t/* >>before.txt
for n in 1 $np; do
    run "$n" job.toml --quiet $SETS --set model.hidden=32 --resume auto >mm.out 2>mm.err
    rc=$?
    [ $rc -eq 2 ] || { cat mm.out mm.err; fail "mismatch on $n rank(s): exit status $rc, expected 2"; }
    msg="dltrain: runs/t/$(ck 60): parameter 'head.weight' has shape [4,16] in the checkpoint but [4,32] in the model"
    [ "$(grep -c '^dltrain:' mm.err)" = 1 ] || { cat mm.err; fail "mismatch on $n rank(s): not one message"; }
    grep -qxF "$msg" mm.err || { cat mm.err; fail "mismatch message"; }
done
ls -l --time-style=+%s.%N runs/t >after.txt
cksum runs/t/* >>after.txt
cmp -s before.txt after.txt || { diff before.txt after.txt; fail "a refused resume changed the run directory"; }
echo "mismatch: refused with status 2: $msg"

# ---- another optimizer: refused, also when the job's keeps no state (plain SGD)
run 1 job.toml --quiet $SETS --set checkpoint.dir=opt --set optim.name=sgd --set optim.momentum=0 \
    --resume "$c20" >opt.out 2>opt.err
rc=$?
msg="dltrain: $c20: optimizer state is for 'adamw', the job uses 'sgd'"
[ $rc -eq 2 ] && grep -qxF "$msg" opt.err || { cat opt.out opt.err; fail "AdamW state into plain SGD: status $rc"; }
echo "another optimizer: refused: $msg"

# ---- another world size: the 2-rank checkpoint of step 20 continues on 1 rank
if [ $np = 2 ]; then
    run 1 job.toml $SETS --set checkpoint.dir=ws --resume "$c20" >ws.out 2>&1 || { cat ws.out; fail "2 -> 1 ranks"; }
    grep -q "resuming a 2-rank checkpoint on 1 rank: .*not bitwise-identical" ws.out || fail "no world-size warning"
    [ "$("$TOOL" get ws/t/$(ck 60) /state/step)" = 60 ] || fail "2 -> 1 ranks: no step-60 checkpoint"
    loss() { sed -n 's/.*final train loss \([0-9.]*\);.*/\1/p' "$1"; }
    l2=$(loss ref.out) l1=$(loss ws.out)
    # the same data and schedule at half the global batch: near the 2-rank run, well below ln 4
    awk -v a="$l1" -v b="$l2" 'BEGIN { exit !(a < 1.35 && a - b < 0.1 && b - a < 0.1) }' ||
        fail "2 -> 1 ranks: final loss $l1 (2 ranks throughout: $l2)"
    echo "2 -> 1 ranks: completed, final train loss $l1 (uninterrupted 2 ranks: $l2)"
fi

# ---- export
"$DLTRAIN" export "$c60" >ex.out || fail "dltrain export"
st=runs/t/ckpt-00000060.safetensors
grep -q "^$st: 6 tensors of step 60" ex.out || { cat ex.out; fail "export summary"; }
"$TOOL" safetensors "$st" "$c60" || fail "safetensors file does not match the checkpoint"
run 1 job.toml --quiet --set model.arch=resnet20 --set train.steps=1 --set checkpoint.dir=rn || fail "resnet20 run"
"$DLTRAIN" export rn/t/$(ck 1) --format safetensors --out rn.safetensors >/dev/null || fail "export resnet20"
"$TOOL" safetensors rn.safetensors rn/t/$(ck 1) || fail "resnet20 export (with buffers)"
"$DLTRAIN" export rn/t/$(ck 1) --out rn-p.safetensors --no-buffers >/dev/null || fail "export --no-buffers"
"$TOOL" safetensors rn-p.safetensors rn/t/$(ck 1) --no-buffers || fail "resnet20 export (parameters only)"
"$DLTRAIN" export rn/t/$(ck 1) --format onnx 2>/dev/null
[ $? -eq 2 ] || fail "export --format onnx: expected status 2"
if /usr/bin/python3 -c 'import torch, h5py' 2>/dev/null; then
    /usr/bin/python3 - rn.safetensors rn/t/$(ck 1) <<'PY' || fail "PyTorch reading of the export"
import json, struct, sys
import h5py, torch
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
assert meta["format"] == "pt" and meta["step"] == "1", meta
ckpt = h5py.File(sys.argv[2], "r")
for name, e in header.items():
    b, c = e["data_offsets"]
    t = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + c]), dtype=torch.float32).reshape(e["shape"])
    ref = ckpt["params/" + name] if "params/" + name in ckpt else ckpt["buffers/" + name]
    assert torch.equal(t, torch.from_numpy(ref[...]).reshape(e["shape"])), name
# loadable as a state dict of the same shapes as torchvision-style names
sd = {k: v for k, v in header.items()}
assert "conv1.weight" in sd and sd["conv1.weight"]["shape"] == [16, 1, 3, 3]
print("PyTorch: %d tensors equal to the checkpoint" % len(header))
PY
else
    echo "PyTorch check skipped (no torch for /usr/bin/python3)"
fi
echo "done: $(elapsed)"
