#!/bin/sh
# Keeps the shipped jobs from rotting: every jobs/*.toml must pass
# `dltrain --print-config`, and `dltrain --dry-run` (model built on the shard
# shape, summary, memory plan) on synthetic shards of its dataset's shape made
# by `dlprep synthetic` (ImageNet-sized jobs run with batch 2, so the plan stays
# small). Every jobs/*.sbatch must parse (sh -n), name an existing job and hand
# it to jobs/slurm-run.sh, which resumes automatically, requeues on exit status 3
# (SIGUSR1) and not on 4 (SIGTERM) nor after a piece without progress.
# tests/train/test_slurm.sh runs one on a real Slurm.
top=${top_srcdir:-.}
bin=${top_builddir:-.}
dltrain=$bin/dltrain
dlprep=$bin/dlprep
[ -x "$dltrain" ] && [ -x "$dlprep" ] || { echo "missing $dltrain or $dlprep"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dlt_jobs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
njobs=0

# synthetic shards for a dataset folder: prints "SIZE CLASSES EXTRA-SETS" or nothing
recipe() {
    case $1 in
    fmnist) echo "28x28x1 10" ;;
    cifar10) echo "32x32x3 10" ;;
    cifar100) echo "32x32x3 100" ;;
    imagenet) echo "224x224x3 1000 data.batch_size=2" ;;
    esac
}

for job in "$top"/jobs/*.toml; do
    name=$(basename "$job" .toml)
    njobs=$((njobs + 1))
    if ! "$dltrain" --print-config "$job" >"$tmp/out" 2>&1; then
        echo "FAIL: $name: --print-config"; sed 's/^/   | /' "$tmp/out"; fail=1; continue
    fi
    ds=$(sed -n 's|^train *= *"data/\([A-Za-z0-9_-]*\)/.*|\1|p' "$job" | head -1)
    set -- $(recipe "$ds")
    if [ $# -lt 2 ]; then
        echo "ok: $name: --print-config (no synthetic recipe for data/$ds: no dry run)"; continue
    fi
    size=$1 classes=$2
    shift 2
    sets=""
    for s in "$@"; do sets="$sets --set $s"; done
    d=$tmp/$ds
    if [ ! -d "$d" ]; then
        num=256
        [ "$ds" = imagenet ] && num=4
        "$dlprep" synthetic --num $num --size "$size" --classes "$classes" --seed 1 --out "$d" --quiet \
            >"$tmp/out" 2>&1 || { echo "FAIL: dlprep synthetic $size"; cat "$tmp/out"; fail=1; continue; }
    fi
    # shellcheck disable=SC2086
    if "$dltrain" "$job" --dry-run --set "data.train=$d/train-*.h5" --set "data.val=$d/train-*.h5" \
        --set "checkpoint.dir=$tmp/runs" $sets >"$tmp/out" 2>&1 &&
        grep -q '^Trainable params' "$tmp/out"; then
        echo "ok: $name: --print-config, --dry-run on $size ($(grep '^Trainable params' "$tmp/out"))"
    else
        echo "FAIL: $name: --dry-run on synthetic $size shards"; sed 's/^/   | /' "$tmp/out" | tail -20; fail=1
    fi
done
[ $njobs -gt 0 ] || { echo "FAIL: no jobs in $top/jobs"; fail=1; }

for sb in "$top"/jobs/*.sbatch; do
    [ -e "$sb" ] || continue
    name=$(basename "$sb")
    ok=1
    sh -n "$sb" || ok=0
    job=$(sed -n 's|^JOB=\${JOB:-\(jobs/[^}]*\)}.*|\1|p' "$sb")
    [ -n "$job" ] && [ -f "$top/$job" ] || { echo "FAIL: $name: JOB=\${JOB:-jobs/...} must name an existing job"; ok=0; }
    grep -q 'jobs/slurm-run.sh' "$sb" || { echo "FAIL: $name: does not run jobs/slurm-run.sh"; ok=0; }
    grep -q -- '--signal=B:USR1@' "$sb" || { echo "FAIL: $name: no #SBATCH --signal=B:USR1@..."; ok=0; }
    grep -q -- '--requeue' "$sb" || { echo "FAIL: $name: no #SBATCH --requeue"; ok=0; }
    ! grep -q -- '--job-name' "$sb" || { echo "FAIL: $name: a fixed --job-name names every output file"; ok=0; }
    # the stop paths with stand-ins for srun, squeue, scontrol and dltrain: the
    # signal to the script reaches the "ranks", which exit 3 (USR1) or 4 (TERM);
    # the script requeues on 3 only
    for sig in USR1 TERM; do
        [ $ok = 1 ] && command -v bash >/dev/null 2>&1 || break
        fake=$tmp/fake
        mkdir -p "$fake"
        printf '#!/bin/sh
trap "echo ranks got USR1; exit 3" USR1
trap "echo ranks got TERM; exit 4" TERM
echo "srun $*"
while :; do sleep 0.1; done
' \
            >"$fake/srun"
        printf '#!/bin/sh
echo "scontrol $*"
' >"$fake/scontrol"
        printf '#!/bin/sh
' >"$fake/squeue"
        printf '#!/bin/sh
exit 0
' >"$fake/dltrain"
        chmod +x "$fake/srun" "$fake/scontrol" "$fake/squeue" "$fake/dltrain"
        # exec: the signal must reach the script's own shell, not a subshell around it;
        # no stale output of the previous script may look like this one's "srun" line
        rm -f "$tmp/out"
        (cd "$top" && SLURM_JOB_ID=42 SLURM_JOB_NUM_NODES=1 SLURM_NTASKS=2 PATH="$fake:$PATH" DLTRAIN=dltrain \
            exec bash "$sb" --set train.steps=1 >"$tmp/out" 2>&1) &
        pid=$!
        i=0
        # up to 60 s for the script to reach srun (make check runs tests in parallel
        # on a loaded machine; signalling before the traps are set would kill it)
        while ! grep -q '^srun' "$tmp/out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        kill -$sig $pid
        wait $pid
        rc=$?
        grep -q -- '--mpi=pmix .*--resume auto .*--set train.steps=1' "$tmp/out" ||
            { echo "FAIL: $name: srun --mpi=pmix ... --resume auto ARGS not run"; ok=0; }
        if [ $sig = USR1 ] && { [ $rc -ne 3 ] || ! grep -q 'scontrol requeue 42' "$tmp/out"; }; then
            echo "FAIL: $name: SIGUSR1 did not end in exit 3 and a requeue (exit $rc)"; sed 's/^/   | /' "$tmp/out"; ok=0
        fi
        if [ $sig = TERM ] && { [ $rc -ne 4 ] || grep -q 'scontrol requeue' "$tmp/out"; }; then
            echo "FAIL: $name: SIGTERM did not end in exit 4 without a requeue (exit $rc)"; sed 's/^/   | /' "$tmp/out"; ok=0
        fi
    done
    # a piece that stopped where the previous one did made no progress: no requeue
    if [ $ok = 1 ] && [ "$name" = resnet20_fmnist_cpu.sbatch ]; then
        printf '#!/bin/sh\ntrap "echo stopped by SIGUSR1 at step 7; exit 3" USR1\necho "srun $*"\nwhile :; do sleep 0.1; done\n' \
            >"$fake/srun"
        printf '#!/bin/sh\necho "scontrol $*"\n[ "$1" != show ] || echo "   StdOut=%s"\n' "$tmp/out" >"$fake/scontrol"
        echo "[rank 0] warning: stopped by SIGUSR1 at step 7; checkpoint saved" >"$tmp/out"
        (cd "$top" && SLURM_JOB_ID=42 SLURM_JOB_NUM_NODES=1 SLURM_NTASKS=2 PATH="$fake:$PATH" DLTRAIN=dltrain \
            exec bash "$sb" >>"$tmp/out" 2>&1) &
        pid=$!
        i=0
        while ! grep -q '^srun' "$tmp/out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
        kill -USR1 $pid
        wait $pid
        if grep -q 'scontrol requeue' "$tmp/out" || ! grep -q 'no progress: stopped at step 7 again' "$tmp/out"; then
            echo "FAIL: $name: a piece without progress was requeued"; sed 's/^/   | /' "$tmp/out"; ok=0
        fi
    fi
    if [ $ok = 1 ]; then echo "ok: $name ($job; SIGUSR1 -> exit 3 -> requeue; SIGTERM -> exit 4, no requeue)"; else fail=1; fi
done
exit $fail
