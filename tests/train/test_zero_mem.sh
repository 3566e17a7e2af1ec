#!/bin/sh
# ZeRO-1 holds optimizer state for each rank's shards only: the start-up line
# and --dry-run report the bytes per rank, which shrink with the world size
# (1, 2, 3 ranks) to exactly the closed form below; without ZeRO every rank
# holds the whole state.
. "$top_srcdir/tests/train/lib.sh"
need_mpi
make_data
write_job

# The MLP 64-16-16-4: its parameters, each padded to 16 floats in the flat
# buffer (64-byte alignment), all in one bucket (the first is 1 MiB).
N=0
for n in 1024 16 256 16 64 4; do N=$((N + (n + 15) / 16 * 16)); done
SLOTS=2 # AdamW: exp_avg, exp_avg_sq
full=$((SLOTS * N * 4))
# rank 0 holds the largest shard: ceil(N / P) rounded up to 16 floats
share() { per=$(((N + $1 - 1) / $1)); per=$(((per + 15) / 16 * 16)); [ "$per" -gt "$N" ] && per=$N; echo $((SLOTS * per * 4)); }

for p in 1 2 3; do
    want=$(share "$p")
    s=""
    [ "$p" -gt 1 ] && s=s
    line="($want bytes) per rank (ZeRO-1 over $p rank$s; "
    run "$p" job.toml --set checkpoint.dir="z$p" --set train.steps=1 --set dist.zero=1 >"z$p.out" 2>&1 ||
        { cat "z$p.out"; fail "$p ranks: the run failed"; }
    grep -F "optimizer state" "z$p.out" | grep -F "$line" | grep -qF "$full bytes unsharded" ||
        { cat "z$p.out"; fail "$p ranks: no line with '$line' and $full bytes unsharded"; }
    run "$p" job.toml --set dist.zero=1 --dry-run >"d$p.out" 2>&1 || { cat "d$p.out"; fail "$p ranks: --dry-run failed"; }
    grep -F "optimizer state" "d$p.out" | grep -qF "$line" || { cat "d$p.out"; fail "$p ranks: --dry-run without '$line'"; }
    echo "$p rank(s): $want bytes per rank ($full unsharded)"
done
[ "$(share 3)" -lt "$(share 2)" ] && [ "$(share 2)" -lt "$(share 1)" ] || fail "the shares do not shrink"
# without ZeRO: the whole state on every rank
run 2 job.toml --set checkpoint.dir=plain --set train.steps=1 >plain.out 2>&1 || { cat plain.out; fail "plain run"; }
grep -qF "optimizer state 0.01 MiB ($full bytes) per rank" plain.out || { cat plain.out; fail "no whole-state line"; }
echo "done: $(elapsed)"
