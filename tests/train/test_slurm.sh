#!/bin/sh
# A real one-node Slurm on localhost (munge + slurmctld + slurmd, started here as
# root with their own key, socket, ports and spool in a temp dir; no cgroups,
# proctrack/linuxproc, select/cons_tres, cred_expire=5 so a requeued job starts
# again within seconds):
#  - srun --mpi=pmix -n 2 dltrain selftest;
#  - the shipped jobs/resnet20_fmnist_cpu.sbatch (through jobs/slurm-run.sh) on a
#    tiny MLP job, sent the warning signal (scancel --signal=USR1 --batch):
#    it checkpoints, exits 3, is requeued, resumes at the step it stopped at
#    and finishes equal to an uninterrupted run, bitwise;
#  - a plain scancel (SIGTERM): checkpoint saved, status 4, not requeued;
#  - preemption by a job in a higher-priority partition (PreemptMode=REQUEUE:
#    SIGTERM like scancel, told apart by the script): requeued once, resumed;
#  - a --time shorter than the warning time plus a minute: refused, not requeued.
# SKIP (77) only where the Slurm or munge programs are missing; daemons that
# do not start are a failure (their logs are printed). Every daemon started
# here is stopped on every exit path.
for p in munged slurmctld slurmd srun sbatch scontrol squeue scancel sinfo; do
    command -v $p >/dev/null 2>&1 || { echo "SKIP: no $p (Debian: slurmctld slurmd slurm-client munge)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the daemons need root"; exit 77; }
. "$top_srcdir/tests/train/lib.sh"
S=$T/slurm
mkdir -p "$S/state" "$S/spool"
pids=""
stop_all() {
    # jobs first (their steps are slurmd's detached slurmstepds), then the daemons
    if [ -n "${SLURM_CONF:-}" ] && squeue -h -o %i 2>/dev/null | grep -q .; then
        scancel --full --signal=KILL $(squeue -h -o %i) 2>/dev/null
        i=0
        while squeue -h -t running,completing -o %i 2>/dev/null | grep -q . && [ $i -lt 75 ]; do
            sleep 0.2
            i=$((i + 1))
        done
    fi
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$T"
}
trap stop_all EXIT
trap 'exit 1' INT TERM HUP PIPE
logs() { for f in "$S"/*.log; do echo "== $f"; tail -n 30 "$f"; done; }
die() { echo "FAIL: $*"; logs; exit 1; }

# munge with its own key and socket
dd if=/dev/urandom of="$S/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$S/munge.key"
munged --foreground --force --key-file="$S/munge.key" --socket="$S/munge.sock" --pid-file="$S/munged.pid" \
    --log-file="$S/munged.log" --seed-file="$S/munge.seed" >"$S/munged.out.log" 2>&1 &
pids="$pids $!"

# two free ports (make check may run tests in parallel)
free_port() {
    p=$1
    while ss -Hltn "sport = :$p" 2>/dev/null | grep -q . && [ "$p" -lt 65000 ]; do p=$((p + 1)); done
    echo "$p"
}
base=$((20000 + $$ % 20000))
cport=$(free_port $base)
dport=$(free_port $((cport + 1)))
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
mpi=none
for d in /usr/lib/x86_64-linux-gnu/slurm-wlm /usr/lib/slurm-wlm /usr/lib64/slurm /usr/lib/slurm; do
    [ -e "$d/mpi_pmix.so" ] && mpi=pmix
done
cat >"$S/slurm.conf" <<CONF
ClusterName=dlt$$
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$cport
SlurmdPort=$dport
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock,cred_expire=5
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=1
MpiDefault=$mpi
ReturnToService=2
KillWait=10
MinJobAge=600
JobRequeue=1
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
PartitionName=test Nodes=localhost Default=YES PriorityTier=1 MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=urgent Nodes=localhost PriorityTier=10 MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
export SLURM_CONF=$S/slurm.conf
slurmctld -D -i -f "$S/slurm.conf" >"$S/slurmctld.out.log" 2>&1 &
pids="$pids $!"
slurmd -D -N localhost -f "$S/slurm.conf" >"$S/slurmd.out.log" 2>&1 &
pids="$pids $!"
i=0
until sinfo -h -N -o %T 2>/dev/null | grep -q '^idle'; do
    [ $i -lt 150 ] || die "the node did not come up within 30 s: $(sinfo -N 2>&1)"
    sleep 0.2
    i=$((i + 1))
done
echo "slurm up on ports $cport/$dport, MpiDefault=$mpi: $(elapsed)"

# srun: the launcher's PMIx reaches Open MPI
[ $mpi = pmix ] || die "no mpi_pmix plugin"
timeout 60 srun --mpi=pmix -n 2 "$DLTRAIN" selftest 1000 >selftest.out 2>&1 || { cat selftest.out; die "srun selftest"; }
grep -q "across 2 ranks: max error 0: ok" selftest.out || { cat selftest.out; die "selftest output"; }
echo "srun --mpi=pmix -n 2 dltrain selftest: $(cat selftest.out)"

make_data
write_job
# about 5000 steps/s on 2 ranks: the first checkpoint comes early, the end is
# seconds away when the signal arrives
SETS="--set schedule.name=constant --set schedule.warmup_steps=0 --set checkpoint.every_steps=500
      --set checkpoint.keep_last=2"
N=40000
export DLTRAIN JOB=job.toml DLT_SLURM_RUN="$top_srcdir/jobs/slurm-run.sh"
SCRIPT=$top_srcdir/jobs/resnet20_fmnist_cpu.sbatch

# field NAME JOBID: a field of scontrol show job
field() { scontrol show job "$2" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# wait_state JOBID STATE SECONDS
wait_state() {
    i=0
    while [ "$(field JobState "$1")" != "$2" ]; do
        [ $i -lt $(($3 * 5)) ] || { cat slurm-*"$1".out 2>/dev/null; die "job $1 is $(field JobState "$1"), not $2 after $3 s"; }
        sleep 0.2
        i=$((i + 1))
    done
}
# wait_ckpt DIR: the first checkpoint shows training is under way
wait_ckpt() {
    i=0
    while [ ! -L "$1/latest" ]; do
        [ $i -lt 300 ] || die "no checkpoint in $1 after 60 s"
        sleep 0.2
        i=$((i + 1))
    done
}
submit() { # NAME ARGS...: sbatch, printing the job id
    name=$1
    shift
    sbatch --parsable -J "$name" "$@" || die "sbatch $name"
}

# 1. the warning signal: checkpoint, requeue, resume, finish
id=$(submit warn "$SCRIPT" $SETS --set checkpoint.dir=warn --set train.steps=$N)
out=slurm-warn-$id.out
wait_ckpt warn/t
scancel --signal=USR1 --batch "$id" || die "scancel --signal=USR1 --batch"
wait_state "$id" COMPLETED 90
cat "$out"
[ "$(field Restarts "$id")" = 1 ] || die "job $id restarted $(field Restarts "$id") times, expected 1"
[ "$(field ExitCode "$id")" = 0:0 ] || die "job $id exit code $(field ExitCode "$id")"
stop=$(sed -n 's/.*stopped by SIGUSR1 at step \([0-9]*\).*/\1/p' "$out")
[ -n "$stop" ] || die "no 'stopped by SIGUSR1' in $out"
grep -q "dltrain exited with status 3" "$out" || die "the first piece did not exit 3"
grep -q ': requeueing$' "$out" || die "no requeueing in $out"
grep -q "resumed from warn/t/$(ck "$stop") at step $stop" "$out" || die "did not resume at step $stop"
run 2 job.toml --quiet $SETS --set checkpoint.dir=ref --set train.steps=$N || die "the uninterrupted run failed"
echo "warning signal: stopped at step $stop (status 3), requeued, resumed, finished $N steps == uninterrupted:"
same "warn/t/$(ck $N)" "ref/t/$(ck $N)"
echo "$(elapsed)"

# 2. a plain scancel: checkpoint saved, not requeued
id=$(submit cancel "$SCRIPT" $SETS --set checkpoint.dir=cancel --set train.steps=1000000)
out=slurm-cancel-$id.out
wait_ckpt cancel/t
scancel "$id" || die "scancel"
wait_state "$id" CANCELLED 30
sleep 1 # let the step's last output and the script's log lines land
cat "$out"
stop=$(sed -n 's/.*stopped by SIGTERM at step \([0-9]*\).*/\1/p' "$out")
[ -n "$stop" ] || die "no 'stopped by SIGTERM' in $out"
[ "$(readlink cancel/t/latest)" = "$(ck "$stop")" ] || die "latest is $(readlink cancel/t/latest), not step $stop"
"$TOOL" get "cancel/t/$(ck "$stop")" /state/step | grep -qx "$stop" || die "checkpoint of step $stop unreadable"
! grep -q ': requeueing$' "$out" || die "a plain scancel was requeued"
[ "$(field Restarts "$id")" = 0 ] || die "a plain scancel was requeued ($(field Restarts "$id") restarts)"
sleep 2
[ "$(field JobState "$id")" = CANCELLED ] || die "after scancel the job is $(field JobState "$id")"
echo "scancel: stopped at step $stop with its checkpoint, not requeued: $(elapsed)"

# 3. Slurm's own preemption: requeued (by Slurm, once), resumed where it stopped
id=$(submit low "$SCRIPT" $SETS --set checkpoint.dir=low --set train.steps=1000000)
out=slurm-low-$id.out
wait_ckpt low/t
hid=$(submit urgent -p urgent -n "$cpus" --wrap true)
wait_state "$hid" COMPLETED 30
i=0
until grep -q "resumed from" "$out"; do
    [ $i -lt 150 ] || { cat "$out"; die "the preempted job did not resume within 30 s"; }
    sleep 0.2
    i=$((i + 1))
done
scancel "$id"
wait_state "$id" CANCELLED 30
sleep 1
grep -v 'checkpoint low\|] step ' "$out"
stop=$(sed -n 's/.*stopped by SIGTERM at step \([0-9]*\).*/\1/p' "$out" | head -n 1)
[ -n "$stop" ] || die "no 'stopped by SIGTERM' in $out"
grep -q "stopped by Slurm's preemption" "$out" || die "the preemption was not recognised"
grep -q "resumed from low/t/$(ck "$stop") at step $stop" "$out" || die "did not resume at step $stop"
[ "$(field Restarts "$id")" = 1 ] || die "preempted job restarted $(field Restarts "$id") times, expected 1"
echo "preemption: stopped at step $stop, requeued once, resumed there: $(elapsed)"

# 4. a time limit too short for any progress before the warning: refused
id=$(submit short --time=2 "$SCRIPT" $SETS --set checkpoint.dir=short)
out=slurm-short-$id.out
wait_state "$id" FAILED 30
cat "$out"
grep -q "ask for a longer --time" "$out" || die "no refusal of --time=2"
[ "$(field ExitCode "$id")" = 2:0 ] || die "short job exit code $(field ExitCode "$id"), expected 2:0"
[ "$(field Restarts "$id")" = 0 ] || die "the short job was requeued"
[ ! -e short ] || die "the short job trained"
echo "--time=2 refused: $(elapsed)"
