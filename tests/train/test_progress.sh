#!/bin/sh
# What progress lines and metrics.jsonl tell, in the cases that went wrong:
#  - the first progress line has an ETA (it said "ETA ?" always);
#  - a rate under 1 sample/s is printed with its digits (it said "0 samples/s"),
#    and the printed rate is metrics.jsonl's samples_per_s;
#  - after a resume, progress lines stay on the log.every_steps grid;
#  - a metrics line that cannot be written (a full disk: metrics.jsonl is a link
#    to /dev/full) is reported, and the run itself goes on.
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job

# ETA on the first line: 40 steps, a line every 10
run 1 job.toml --set train.steps=40 --set log.every_steps=10 --set checkpoint.dir=eta >eta.out 2>&1 ||
    { cat eta.out; fail "eta: run failed"; }
first=$(grep '^step [0-9]*/40 ' eta.out | head -n 1)
echo "first line: $first"
echo "$first" | grep -q '^step 10/40 .* ETA [0-9]' || fail "the first progress line has no ETA: $first"

# Grid: 25 steps (lines at 10, 20, 25), then resumed to 60: lines at 30, 40, 50, 60
SETS="--set schedule.name=constant --set schedule.warmup_steps=0 --set log.every_steps=10 --set checkpoint.dir=grid"
run 1 job.toml $SETS --set train.steps=25 >grid1.out 2>&1 || { cat grid1.out; fail "grid: first run failed"; }
run 1 job.toml $SETS --set train.steps=60 --resume auto >grid2.out 2>&1 || { cat grid2.out; fail "grid: resume failed"; }
steps=$(sed -n 's|^step \([0-9]*\)/60 .*|\1|p' grid2.out | tr '\n' ' ')
echo "after resuming at 25: progress lines at steps $steps"
[ "$steps" = "30 40 50 60 " ] || fail "progress lines at $steps after a resume, expected 30 40 50 60"
jsteps=$(sed -n 's|^{"step": \([0-9]*\), "epoch": [0-9]*, "loss".*|\1|p' grid/t/metrics.jsonl | tr '\n' ' ')
[ "$jsteps" = "10 20 25 30 40 50 60 " ] || fail "metrics.jsonl training records at $jsteps"

# A rate under 1 sample/s: batch 1, a line every step, the process stopped for
# 3 s in between; then, two lines later, stopped for good (SIGKILL: the lines
# are flushed). The timeout is only a safety net: it must outlast the waits
# below (30 s for the first line, 3 s stopped, 30 s for two more lines), or
# it ends the run before the lines it waits for (a CI failure: a 60 s limit).
timeout 300 "$DLTRAIN" job.toml --set data.batch_size=1 --set train.accumulate=1 --set log.every_steps=1 \
    --set train.steps=1000000 --set schedule.name=constant --set schedule.warmup_steps=0 \
    --set model.hidden=512 --set checkpoint.dir=slow >slow.out 2>&1 &
pid=$!
i=0
while [ ! -s slow/t/metrics.jsonl ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
target=$(pgrep -P "$pid")
[ -n "$target" ] || fail "slow: dltrain is not running"
lines() { grep -c '^step [0-9]*/' slow.out; }
kill -STOP "$target"
sleep 3
n=$(lines)
kill -CONT "$target"
# The first line after the stop may have been timed before it (written while
# stopped half-way); the one after it is timed across the stop. Wait for both,
# however loaded the machine is.
i=0
while [ "$(lines)" -lt $((n + 2)) ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
got=$(lines)
kill -KILL "$target"
wait "$pid"
[ "$got" -ge $((n + 2)) ] ||
    { tail -5 slow.out; fail "slow: $((got - n)) progress lines in 30 s after SIGCONT, expected 2"; }
slow=$(sed -n 's|^step \([0-9]*\)/[0-9]* .*  \([0-9.e+-]*\) samples/s .*|\1 \2|p' slow.out |
    awk '$2 < 1 { print; exit }')
echo "slow step, rate: $slow"
[ -n "$slow" ] || { tail -5 slow.out; fail "no progress line under 1 sample/s (the process was stopped for 3 s)"; }
set -- $slow
[ "$2" != 0 ] || fail "a rate under 1 sample/s is printed as 0"
want=$(sed -n "s|^{\"step\": $1, .*\"samples_per_s\": \([0-9.e+-]*\),.*|\1|p" slow/t/metrics.jsonl)
[ "$(printf '%.3g' "$want")" = "$2" ] || fail "step $1 printed $2 samples/s, metrics.jsonl says $want"

# A full disk under metrics.jsonl
mkdir -p full/t
ln -s /dev/full full/t/metrics.jsonl
run 1 job.toml --set train.steps=20 --set log.every_steps=5 --set checkpoint.dir=full >full.out 2>&1 ||
    { cat full.out; fail "full: the run failed"; }
grep 'metrics.jsonl' full.out
grep -q 'full/t/metrics.jsonl: cannot write the step line of step 5: No space left on device' full.out ||
    fail "a lost metrics line is not reported"
[ "$(grep -c 'cannot write the' full.out)" = 1 ] || fail "the loss is reported more than once in a row"
grep -q 'full/t/metrics.jsonl: 4 lines could not be written' full.out ||
    fail "the summary does not count the 4 lost lines (steps 5, 10, 15, 20)"
echo "done: $(elapsed)"
