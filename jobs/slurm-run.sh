#!/bin/bash
# Runs dltrain inside a Slurm batch job and requeues it only when that is
# right. The jobs/*.sbatch scripts end with
#     exec bash "${DLT_SLURM_RUN:-jobs/slurm-run.sh}" JOB.toml [dltrain args...]
# (paths relative to the submit directory, $SLURM_SUBMIT_DIR).
#
#  - dltrain is $DLTRAIN, else `dltrain` on PATH; the job file, its data globs
#    and checkpoint.dir are relative to the submit directory.
#  - The warning signal (#SBATCH --signal=B:USR1@120) reaches this shell only
#    (B:); it is relayed to every rank through srun. dltrain saves a checkpoint
#    and exits 3: the job is requeued and resumes with --resume auto.
#  - A plain scancel sends SIGTERM (to the ranks and to this shell): dltrain saves
#    a checkpoint and exits 4, and the job is NOT requeued.
#  - Slurm's own preemption: with PreemptParameters=send_user_signal Slurm sends
#    the --signal (USR1) at preemption, which is the warning path above.
#    Without it a preempted job gets SIGTERM like a scancel; it is told apart by
#    the PreemptTime that Slurm sets on the job (scontrol show job), and then
#    requeued too (PreemptMode=REQUEUE partitions requeue it themselves).
#  - Refused, not requeued: a time limit that leaves less than $MIN_WORK_S
#    (default 60) seconds before the warning at $WARN_S (default 120, must
#    match --signal) seconds; and a piece that stopped at a step no later than
#    the previous piece's (no progress), so requeueing can never loop forever.
set -u
WARN_S=${WARN_S:-120}
MIN_WORK_S=${MIN_WORK_S:-60}
DLTRAIN=${DLTRAIN:-dltrain}
log() { echo "$(date -Is) slurm-run: $*"; }
[ $# -ge 1 ] || { log "usage: slurm-run.sh JOB.toml [dltrain args...]"; exit 2; }
job=$1
shift
id=${SLURM_JOB_ID:-}
[ -n "$id" ] || { log "not inside a Slurm job (submit the .sbatch script with sbatch)"; exit 2; }
command -v "$DLTRAIN" >/dev/null 2>&1 ||
    { log "cannot run '$DLTRAIN': put dltrain on PATH or set DLTRAIN=/path/to/dltrain"; exit 2; }
[ -r "$job" ] || { log "$job: no such job file (relative paths start in $PWD)"; exit 2; }

# [D-]HH:MM:SS, MM:SS or SS as seconds; nothing for UNLIMITED and the like
seconds() {
    echo "$1" | awk -F: '/^[0-9][-0-9:]*$/ {
        d = 0; if (split($1, a, "-") == 2) { d = a[1]; $1 = a[2] }
        s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i
        print d * 86400 + s }'
}
left=$(seconds "$(squeue -h -j "$id" -o %L 2>/dev/null)")
if [ -n "$left" ] && [ "$left" -lt $((WARN_S + MIN_WORK_S)) ]; then
    log "the time limit leaves ${left} s, but the warning signal comes ${WARN_S} s before the end" \
        "(--signal=B:USR1@${WARN_S}) and a piece needs ${MIN_WORK_S} s more to progress: ask for a longer --time;" \
        "not started, not requeued"
    exit 2
fi

# this piece's lines of the output file start after the earlier pieces' lines
out=$(scontrol show job "$id" 2>/dev/null | sed -n 's/^ *StdOut=//p')
first_line=$(($(cat "$out" 2>/dev/null | wc -l) + 1))

relay() { log "caught SIG$1: relaying it to the ranks"; kill -s "$1" "$srun_pid" 2>/dev/null; }
trap 'relay USR1' USR1
trap 'relay TERM' TERM

log "job $id (restart ${SLURM_RESTART_COUNT:-0}): $SLURM_NTASKS rank(s) on $SLURM_JOB_NUM_NODES node(s):" \
    "$DLTRAIN $job $*"
srun --mpi=pmix --kill-on-bad-exit=1 "$DLTRAIN" "$job" --resume auto "$@" &
srun_pid=$!
# a trapped signal interrupts wait; wait again until srun itself has ended
while :; do
    wait "$srun_pid"
    rc=$?
    kill -0 "$srun_pid" 2>/dev/null || break
done
log "dltrain exited with status $rc"
info=$(scontrol show job "$id" 2>/dev/null)
requeue=0
case $rc in
3) requeue=1 ;;
4) # Slurm's preemption sends SIGTERM like scancel; slurmstepd says which it was
   # in this piece's part of the output file, and a GraceTime preemption sets PreemptTime
   if tail -n +"$first_line" "$out" 2>/dev/null | grep -q 'CANCELLED AT .* DUE TO PREEMPTION' ||
       echo "$info" | grep -q 'PreemptTime=[0-9]'; then
       log "stopped by Slurm's preemption"
       requeue=1
   else
       log "stopped by SIGTERM (scancel): checkpoint saved, not requeueing"
   fi ;;
esac
if [ $requeue = 1 ]; then
    # every piece's rank 0 says where it stopped; the output file holds them all
    steps=$(grep -o 'stopped by SIG[A-Z0-9]* at step [0-9]*' "$out" 2>/dev/null | awk '{ print $NF }' | tail -n 2)
    set -- $steps
    if [ $# -eq 2 ] && [ "$2" -le "$1" ]; then
        log "no progress: stopped at step $2 again (previous piece: step $1); not requeueing"
        exit "$rc"
    fi
    log "checkpoint saved (step $(echo "$steps" | tail -n 1)): requeueing"
    scontrol requeue "$id" 2>/dev/null || log "scontrol requeue $id: not requeued now (already by Slurm?)"
fi
exit "$rc"
