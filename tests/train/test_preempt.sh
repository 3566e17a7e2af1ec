#!/bin/sh
# Preemption through the real programs: a signal mid-run makes every rank
# finish the current step, save a checkpoint and exit with status 3 for
# SIGUSR1 (requeue me) or 4 for SIGTERM (stopped, do not requeue); then
# --resume auto completes the run, bitwise equal to an uninterrupted one.
#   1 rank:  SIGTERM to the process, repeated without pause until it exits:
#            the repeats are absorbed (never exit 143, death by SIGTERM)
#   2 ranks: SIGUSR1 to mpirun (Open MPI forwards it), and SIGTERM to one rank
#            only (the ranks agree on stopping at the same step), also repeated
# The stopping step depends on timing, so the run length is open-ended
# (train.steps large, constant schedule, which does not depend on it); the
# resumed run ends 30 steps after the stop, and an uninterrupted run of that
# many steps is the reference. keep_last = 2 pruning is observed on the way.
. "$top_srcdir/tests/train/lib.sh"
make_data
write_job
SETS="--set schedule.name=constant --set schedule.warmup_steps=0 --set checkpoint.every_steps=25
      --set checkpoint.keep_last=2"

# preempt NP HOW TAG: HOW is term (SIGTERM to the only process or to one rank of
# several, repeated until it exits) or usr1-mpirun
preempt() {
    np=$1 how=$2 tag=$3
    d=$tag/t
    if [ "$np" = 1 ]; then
        timeout 120 "$DLTRAIN" job.toml --quiet $SETS --set checkpoint.dir="$tag" --set train.steps=1000000 \
            >"$tag.out" 2>&1 &
    else
        timeout 120 $MPIRUN -np "$np" --oversubscribe --bind-to none "$DLTRAIN" job.toml --quiet $SETS \
            --set checkpoint.dir="$tag" --set train.steps=1000000 >"$tag.out" 2>&1 &
    fi
    pid=$!
    # the first checkpoint proves training is under way (and the handlers are in place)
    i=0
    while [ ! -L "$d/latest" ] && [ $i -lt 600 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    [ -L "$d/latest" ] || fail "$tag: no checkpoint after 30 s"
    # timeout(1) is the parent: the launcher or dltrain is its child
    target=$(pgrep -P "$pid")
    [ "$np" = 1 ] || [ "$how" = usr1-mpirun ] || target=$(pgrep -P "$target" | tail -n 1)
    case $how in
    usr1-mpirun) kill -USR1 "$target"; want_rc=3 sig=SIGUSR1 ;;
    term) # as Slurm does: the batch script relays a TERM that the tasks had
        # already; the stop's shutdown (MPI_Finalize included) must absorb them
        n=0
        while kill -TERM "$target" 2>/dev/null; do n=$((n + 1)); done
        echo "$tag: $n SIGTERMs sent"
        want_rc=4 sig=SIGTERM ;;
    esac
    wait "$pid"
    rc=$?
    [ $rc -eq $want_rc ] || { cat "$tag.out"; fail "$tag: exit status $rc after the signal, expected $want_rc"; }
    grep -q "stopped by $sig at step" "$tag.out" || { cat "$tag.out"; fail "$tag: no 'stopped by $sig' message"; }
    stop=$(readlink "$d/latest" | sed 's/ckpt-0*\([0-9][0-9]*\)\.h5/\1/')
    [ "$("$TOOL" get "$d/latest" /state/step)" = "$stop" ] || fail "$tag: latest is not the step it names"
    # keep_last = 2: the stop checkpoint and the last periodic one before it
    prev=$(((stop - 1) / 25 * 25))
    want="$(ck "$prev") $(ck "$stop")"
    [ "$(ls "$d" | grep '^ckpt-' | tr '\n' ' ')" = "$want " ] ||
        fail "$tag: checkpoints $(ls "$d" | tr '\n' ' '), expected $want"
    n=$((stop + 30))
    run "$np" job.toml $SETS --set checkpoint.dir="$tag" --set train.steps=$n --resume auto \
        >"$tag.resume" 2>&1 || { cat "$tag.resume"; fail "$tag: --resume auto failed"; }
    grep -q "resumed from $d/$(ck "$stop") at step $stop" "$tag.resume" || fail "$tag: did not resume at $stop"
    run "$np" job.toml --quiet $SETS --set checkpoint.dir="$tag-ref" --set train.steps=$n ||
        fail "$tag: the uninterrupted run failed"
    echo "$tag: $np rank(s), stopped at step $stop (status $rc), resumed to $n == uninterrupted $n steps:"
    same "$d/$(ck $n)" "$tag-ref/t/$(ck $n)"
}

preempt 1 term sigterm1
echo "1 rank: $(elapsed)"
need_mpi
preempt 2 usr1-mpirun usr1
preempt 2 term sigterm-rank
echo "done: $(elapsed)"
