#!/bin/sh
# Failure handling end to end (tests/comm/comm_fault.c does the wrong things):
#  - a rank stopped by SIGSTOP before a collective (timeout_s = 3): the others
#    report it as missing and the job exits with status 5 (DLT_EXIT_WATCHDOG,
#    never 3, which batch scripts requeue) within timeout + 10 s; the same in
#    a ring all-reduce (large host buffers, point-to-point messages);
#  - a rank failing with a library error (I/O) ends the whole job with status 1
#    and its message;
#  - mismatched collectives under debug_collectives are reported with both
#    sides, status 6;
#  - the same with rank 0 stopped: the ranks agree on who is missing and who
#    reports, and rank 0, continued by the abort, does not carry on as if its
#    collective had succeeded (status 5 too);
#  - the singleton trap (launcher says 2 tasks, MPI sees 1) is a clear error.
# Every mpirun is wrapped in `timeout 60`, so this never hangs `make check`.
: "${MPIRUN:=mpirun}"
command -v "$MPIRUN" >/dev/null 2>&1 || { echo "no $MPIRUN: SKIP"; exit 77; }
command -v timeout >/dev/null 2>&1 || { echo "no timeout(1): SKIP"; exit 77; }
prog=${top_builddir:-.}/tests/comm/comm_fault
[ -x "$prog" ] || { echo "missing $prog"; exit 1; }
out=${TMPDIR:-/tmp}/dlt_faults.$$
trap 'rm -f "$out"' EXIT
fail=0
now() { date +%s.%N; }

run() { # mode np
    t0=$(now)
    timeout 60 $MPIRUN -np "$2" --oversubscribe --bind-to none "$prog" "$1" >"$out" 2>&1
    rc=$?
    elapsed=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    echo "== $1 (np $2): exit $rc after ${elapsed} s"
    sed 's/^/   | /' "$out" | grep -v -e '^   | *$' -e 'help message' -e 'orte_base_help' | head -20
}
expect() { # description grep-pattern
    if grep -q -e "$2" "$out"; then echo "ok: $1"; else echo "FAIL: $1 (no '$2')"; fail=1; fi
}

# the statuses are dltrain's table (README "Exit status", dlt_exit_status)
status() { # what expected
    [ "$rc" -eq "$2" ] || { echo "FAIL: $1: exit $rc, expected $2"; fail=1; }
}

run stop 3
status "stopped rank (watchdog)" 5
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
lt "$elapsed" 13 || { echo "FAIL: took ${elapsed} s (limit 13)"; fail=1; }
expect "timeout names the collective and step" "all-reduce #1 .* at step 42 did not complete within 3 s"
expect "the stopped rank is missing" "missing ([^)]*): 1;"
expect "the waiting ranks are listed" "waiting in it: 0 2"

run stopbig 3
status "stopped rank in a ring all-reduce (watchdog)" 5
lt "$elapsed" 13 || { echo "FAIL: took ${elapsed} s (limit 13)"; fail=1; }
expect "timeout names the ring all-reduce and step" "all-reduce #1 (f32 x 65536, .* at step 42 did not complete within 3 s"
expect "the stopped rank is missing (ring)" "missing ([^)]*): 1;"
expect "the waiting ranks are listed (ring)" "waiting in it: 0 2"

run stop0 3
status "stopped rank 0" 5
expect "stopped rank 0 is missing" "missing ([^)]*): 0;"
printer=$(sed -n 's/.*\[rank \([0-9]\)\] error: collective timed out.*/\1/p' "$out" | head -n 1)
if [ -z "$printer" ]; then
    echo "FAIL: stopped rank 0: no summary"; fail=1
elif grep "watchdog:" "$out" | grep -v "rank $printer reports the details" | grep -q .; then
    echo "FAIL: stopped rank 0: the ranks name different reporters"; fail=1
else
    echo "ok: every rank names rank $printer as the reporter"
fi
if grep -q "finished without an error" "$out"; then
    echo "FAIL: stopped rank 0 carried on after the others gave up on it"; fail=1
else
    echo "ok: stopped rank 0 does not carry on"
fi

run error 3
status "failed rank" 1
lt "$elapsed" 20 || { echo "FAIL: took ${elapsed} s"; fail=1; }
expect "the failed rank's message" "rank 1 failed: I/O error: cannot read shard .*truncated file"

run mismatch 2
status "collective mismatch" 6
expect "mismatch names both sides" "rank 0 calls all-reduce #1 (f32 x 64.*rank 1 calls broadcast #1 (f32 x 16"

SLURM_NTASKS=2 timeout 60 "$prog" launch >"$out" 2>&1
rc=$?
echo "== launch, SLURM_NTASKS=2 without a launcher: exit $rc"
sed 's/^/   | /' "$out"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "FAIL: singleton trap: exit $rc"; fail=1; }
expect "singleton trap explained" "without a working PMI/PMIx.*--mpi=pmix"

exit $fail
