#!/bin/sh
# One run per run directory, and checkpoints verified on load:
# - damaged checkpoints (a flipped parameter or optimizer value, /state/step
#   -5 or 2^62, world_size 0) are refused with one line naming file and
#   dataset, also by `dltrain export`; files without checksums still load;
# - --resume auto falls back past damaged files to the newest intact one
#   (bitwise the same result), keeps them as *.damaged, and refuses when every
#   checkpoint is damaged;
# - a finished run resumed says so, exits 0 and writes nothing; with another
#   job it is refused (naming old -> new) unless --resume-changed;
# - a second run into a busy run directory is refused (1 and 2 ranks), and a
#   SIGKILLed run's lock is taken over.
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job
SETS="--set model.dropout=0 --set checkpoint.every_steps=5"

# one line "dltrain: ..." matching the regex $2 in file $1
one_line() {
    [ "$(grep -c '^dltrain' "$1")" = 1 ] && grep -qE "$2" "$1" || { cat "$1"; fail "expected one line matching: $2"; }
}
# refused CKPT REGEX: --resume CKPT exits 2 with one line matching REGEX
refused() {
    run 1 job.toml --quiet $SETS --set checkpoint.dir=refused --resume "$1" >r.out 2>r.err
    rc=$?
    [ $rc -eq 2 ] || { cat r.out r.err; fail "$1: exit status $rc, expected 2"; }
    one_line r.err "$2"
    [ -e refused/t/ckpt-00000020.h5 ] && fail "$1: a refused resume wrote a checkpoint"
    echo "refused: $(cat r.err)"
}

run 1 job.toml --quiet $SETS || fail "the reference run"
ref=runs/t/$(ck 20)
cp "$ref" ref20.h5
cp runs/t/$(ck 10) c10.h5

# ---- damaged values, each refused naming the file and dataset
cp c10.h5 p.h5 && "$TOOL" flip p.h5 /params/fc1.weight 3 || fail flip
refused p.h5 '^dltrain: p.h5: /params/fc1.weight: checksum mismatch \(stored crc32 [0-9a-f]{8}, computed [0-9a-f]{8}\): the checkpoint is corrupt$'
"$DLTRAIN" export p.h5 --out p.safetensors >e.out 2>e.err && fail "export of a damaged checkpoint succeeded"
grep -q '^dltrain export: p.h5: /params/fc1.weight: checksum mismatch' e.err || { cat e.err; fail "export message"; }
[ -e p.safetensors ] && fail "export left a file"
cp c10.h5 o.h5 && "$TOOL" flip o.h5 /optim/fc1.weight/exp_avg_sq 0 || fail flip
refused o.h5 '^dltrain: o.h5: /optim/fc1.weight/exp_avg_sq: checksum mismatch .*corrupt$'
cp c10.h5 s.h5 && "$TOOL" set s.h5 /state/step -5 || fail set
refused s.h5 '^dltrain: s.h5: /state/step: checksum mismatch'
# the same values with matching checksums (a writer's bug): refused by range
cp c10.h5 s.h5 && "$TOOL" set s.h5 /state/step -5 --fix-crc || fail set
refused s.h5 '^dltrain: s.h5: /state/step is -5 \(expected 0 to 2\^53\): the checkpoint is corrupt$'
cp c10.h5 s.h5 && "$TOOL" set s.h5 /state/step 4611686018427387904 --fix-crc || fail set
refused s.h5 '^dltrain: s.h5: /state/step is 4611686018427387904 \(expected 0 to 2\^53\)'
cp c10.h5 w.h5 && "$TOOL" setattr w.h5 world_size 0 || fail setattr
refused w.h5 '^dltrain: w.h5: root attribute world_size is 0 \(expected 1 to 1048576\)'
# written before checksums existed: loads, and resumes exactly
cp c10.h5 old.h5 && "$TOOL" strip-crc old.h5 || fail strip-crc
h5dump -H old.h5 | grep -q crc32 && fail "strip-crc left checksums"
run 1 job.toml --quiet $SETS --set checkpoint.dir=old --resume old.h5 || fail "a checkpoint without checksums"
same ref20.h5 old/t/$(ck 20)

# ---- --resume auto falls back past damaged files (newest two), keeps them
"$TOOL" flip runs/t/$(ck 20) /params/head.weight 0 || fail flip
"$TOOL" set runs/t/$(ck 15) /state/step -5 --fix-crc || fail set
run 1 job.toml $SETS --set checkpoint.keep_last=2 --resume auto >fb.out 2>&1 || { cat fb.out; fail "fallback"; }
grep -q "skipping a damaged checkpoint: runs/t/$(ck 20): /params/head.weight: checksum mismatch" fb.out &&
    grep -q "skipping a damaged checkpoint: runs/t/$(ck 15): /state/step is -5" fb.out &&
    grep -q "falling back to runs/t/$(ck 10)" fb.out &&
    grep -q "resumed from runs/t/$(ck 10) at step 10" fb.out || { cat fb.out; fail "fallback messages"; }
same ref20.h5 runs/t/$(ck 20)
[ -f runs/t/$(ck 20).damaged ] && [ -f runs/t/$(ck 15).damaged ] || { ls runs/t; fail "damaged files not kept"; }
echo "fallback: past 2 damaged checkpoints to step 10, same step-20 result; kept: $(cd runs/t && ls *.damaged | tr '\n' ' ')"
# every checkpoint damaged: refused, nothing started
mkdir -p bad/t && cp p.h5 bad/t/$(ck 10)
run 1 job.toml --quiet $SETS --set checkpoint.dir=bad --resume auto >b.out 2>b.err
[ $? -eq 2 ] || { cat b.out b.err; fail "all damaged: expected status 2"; }
one_line b.err "^dltrain: bad/t: none of its 1 checkpoint can be resumed \(newest: bad/t/$(ck 10): /params/fc1.weight: checksum mismatch.*\); not starting from scratch"
[ "$(ls bad/t)" = "$(ck 10)" ] || { ls bad/t; fail "all damaged: the directory changed"; }

# ---- a finished run: says so, exit 0, writes nothing; another job refused
snap() { ls -l --time-style=+%s.%N runs/t; cksum runs/t/*; }
snap >before.txt
run 1 job.toml $SETS --resume auto >fin.out 2>&1 || { cat fin.out; fail "finished run: status $?"; }
grep -q "runs/t: the run had already finished at step 20 (runs/t/$(ck 20)); nothing to do" fin.out ||
    { cat fin.out; fail "finished run message"; }
grep -q "final train loss" fin.out && fail "finished run printed a final loss"
run 1 job.toml --quiet $SETS --set optim.lr=0.02 --resume auto >ch.out 2>ch.err
[ $? -eq 2 ] || { cat ch.out ch.err; fail "finished run, changed optim.lr: expected status 2"; }
one_line ch.err "^dltrain: runs/t/$(ck 20): the run finished at step 20 with another job \(optim.lr 0.01 -> 0.02\); not resuming it: pass --resume-changed"
run 1 job.toml $SETS --set optim.lr=0.02 --resume auto --resume-changed >ch2.out 2>&1 ||
    { cat ch2.out; fail "--resume-changed"; }
grep -q "already finished at step 20" ch2.out || fail "--resume-changed: no finished message"
snap >after.txt
cmp -s before.txt after.txt || { diff before.txt after.txt; fail "resuming a finished run changed the run directory"; }
echo "finished run: $(cat ch.err)"
# an unfinished run continues with the new job and lists the change
run 1 job.toml $SETS --set train.steps=25 --resume auto >more.out 2>&1 || { cat more.out; fail "train.steps 20 -> 25"; }
grep -q "resuming runs/t/$(ck 20) (step 20) with a changed job: train.steps 20 -> 25" more.out ||
    { cat more.out; fail "no changed-job warning"; }

# ---- two runs into one directory; then a SIGKILLed run's stale lock
"$DLTRAIN" job.toml --quiet $SETS --set checkpoint.dir=lk --set train.steps=100000000 \
    --set checkpoint.every_steps=0 >a.out 2>&1 &
apid=$!
i=0
until grep -q "^pid $apid " lk/t/.lock 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || { kill -9 $apid; cat a.out; fail "the first run did not take the lock"; }
    sleep 0.1
done
for np in 1 2; do
    [ $np = 2 ] && ! have_mpi && break
    run $np job.toml --quiet $SETS --set checkpoint.dir=lk >c.out 2>c.err
    rc=$?
    [ $rc -eq 2 ] || { cat c.out c.err; kill -9 $apid; fail "second run on $np rank(s): status $rc, expected 2"; }
    one_line c.err "^dltrain: lk/t: another run is using this run directory \(pid $apid on [^ ]+ since [0-9T:-]+Z\); one run per run directory"
done
echo "busy: $(cat c.err)"
kill -9 $apid
wait $apid 2>/dev/null
grep -q "^pid $apid " lk/t/.lock || fail "no stale lock left to take over"
run 1 job.toml $SETS --set checkpoint.dir=lk --set train.steps=5 >d.out 2>&1 || { cat d.out; fail "after a SIGKILLed run"; }
grep -q "lk/t/.lock: taking over a stale lock (pid $apid on " d.out || { cat d.out; fail "stale lock message"; }
[ -s lk/t/.lock ] && fail "the lock file still names a holder after the run"
echo "done: $(elapsed)"
