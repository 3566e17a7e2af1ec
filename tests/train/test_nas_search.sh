#!/bin/sh
# The NAS search end to end (model.arch = "nas", src/train/nas_search.c) on
# tiny synthetic shards: the same seed samples the same children with one
# group of 2 ranks, two groups of 1 rank and a single rank; a search stopped
# after 2 rounds and resumed runs the 3rd round exactly as an uninterrupted
# search (same children, rewards, controller parameters and Adam state); a
# nas.ranks_per_child that does not divide the world is refused with one line.
. "$top_srcdir/tests/train/lib.sh"
need_mpi
make_data 256

cat >job.toml <<'JOB'
[model]
name = "s"
arch = "nas"
num_classes = 4
[nas]
rounds = 3
children = 4
child_steps = 3
val_fraction = 0.25
layers = 3
kernels = [1, 3]
filters = [4, 8]
strides = [1, 2]
hidden = 16
lr = 0.05
[data]
train = "data/train-*.h5"
batch_size = 8
[train]
seed = 3
threads = 1
[log]
every_steps = 1000
JOB

# the children of a run folder's search.jsonl: round, child, spec (and reward)
children() { sed 's/, "group": [0-9]*//; s/, "seconds": [0-9.]*//' "$1/s/search.jsonl"; }
specs() { children "$1" | sed 's/, "reward".*//'; }

run 2 job.toml -q --set checkpoint.dir=g2 --set nas.rounds=1 >out 2>&1 || { cat out; fail "2 groups"; }
run 2 job.toml -q --set checkpoint.dir=g1 --set nas.rounds=1 --set nas.ranks_per_child=2 >out 2>&1 ||
    { cat out; fail "1 group of 2"; }
run 1 job.toml -q --set checkpoint.dir=r1 --set nas.rounds=1 >out 2>&1 || { cat out; fail "1 rank"; }
[ "$(specs g2 | wc -l)" = 4 ] || fail "round 0: $(specs g2 | wc -l) children, expected 4"
specs g2 | cmp -s - "$(specs g1 >g1.txt && echo g1.txt)" || fail "2 groups and 1 group of 2 sampled different children"
specs g2 | cmp -s - "$(specs r1 >r1.txt && echo r1.txt)" || fail "2 groups and 1 rank sampled different children"
grep -q '"group": 1' g2/s/search.jsonl || fail "no child trained by group 1"
echo "same seed, same 4 children with 2 groups of 1, 1 group of 2 and 1 rank:"
specs g2 | cut -c1-140

# an interrupted search resumes exactly
run 1 job.toml -q --set checkpoint.dir=full >out 2>&1 || { cat out; fail "full search"; }
run 1 job.toml -q --set checkpoint.dir=part --set nas.rounds=2 >out 2>&1 || { cat out; fail "2 rounds"; }
run 1 job.toml -q --set checkpoint.dir=part --resume auto >out 2>&1 ||
    { cat out; fail "resume"; }
[ "$(children full | wc -l)" = 12 ] || fail "full: $(children full | wc -l) children, expected 12"
children full >full.txt
children part | cmp -s - full.txt || { children part | diff - full.txt; fail "the resumed search differs"; }
"$TOOL" cmp full/s/controller/$(ck 3) part/s/controller/$(ck 3) /params /optim ||
    fail "controller parameters or optimizer state differ after the resume"
for f in reward.png best-1.toml best-3.toml; do [ -s "part/s/$f" ] || fail "no $f"; done
grep -q 'arch = "spec"' part/s/best-1.toml || fail "best-1.toml is not a spec job"
! grep -q '^\[nas\]' part/s/best-1.toml || fail "best-1.toml carries the search's [nas] keys"
"$DLTRAIN" part/s/best-1.toml --print-config >/dev/null 2>out ||
    { cat out; fail "best-1.toml does not load as a job"; }
grep -q 'ignored' out && { cat out; fail "best-1.toml has keys that do not apply to a spec network"; }
echo "resume after round 2: round 3's children, rewards and controller equal to an uninterrupted search"
children part | tail -4 | sed 's/"spec": .*"reward"/.. "reward"/'

# random search in ENAS's space: the same budget, no controller step
run 1 job.toml -q --set checkpoint.dir=rnd --set nas.rounds=1 --set nas.random=true --set nas.space=enas \
    >out 2>&1 || { cat out; fail "random search"; }
[ "$(specs rnd | wc -l)" = 4 ] || fail "random search: $(specs rnd | wc -l) children, expected 4"
specs rnd | grep -q 'op = ' || fail "random ENAS children without ops"
echo "random search (enas): $(specs rnd | grep -o 'op = \\"[a-z]*\\"' | sort | uniq -c | tr -s ' ' | tr '\n' ',')"

# a setting the world cannot take: one line, exit 2
run 2 job.toml --set checkpoint.dir=bad --set nas.ranks_per_child=3 >out 2>err
rc=$?
[ "$rc" = 2 ] || { cat out err; fail "ranks_per_child 3 on 2 ranks: exit $rc, expected 2"; }
# (mpirun adds its own report of the exit status)
[ "$(grep -c '^dltrain:' err)" = 1 ] || { cat err; fail "expected one line from dltrain"; }
grep -q "nas.ranks_per_child = 3 does not divide the world's 2 ranks" err || { cat err; fail "message"; }
echo "refused: $(grep '^dltrain:' err)"
echo "PASS ($(($(date +%s) - t_start)) s)"
