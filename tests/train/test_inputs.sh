#!/bin/sh
# Inputs that used to block or to die inside MPI say so in one line, exit 2:
#  - a FIFO (or directory) given as the job file, matched by the data.train or
#    data.val glob, or given as --resume PATH, is refused instead of blocking
#    in open() (each run under `timeout`: a regression fails, it does not hang);
#  - ranks launched with different jobs or data (Open MPI's MPMD syntax
#    `mpirun -np 1 A : -np 1 B`) are stopped before the first broadcast, naming
#    the first difference: a job key, a parameter's shape, the step count.
. "$top_srcdir/tests/train/lib.sh"
RUN_TIMEOUT=30
make_data
write_job

# expect2 NAME PATTERN CMD...: exit status 2 (not 124: blocked) and PATTERN on
# the one line dltrain printed
expect2() {
    name=$1 pat=$2
    shift 2
    "$@" >out.txt 2>err.txt
    rc=$?
    n=$(grep -c '^dltrain: ' err.txt)
    if [ "$rc" -ne 2 ] || [ "$n" -ne 1 ] || ! grep -q -e "$pat" err.txt; then
        grep -v '^\[rank\|^---\|^ *$' err.txt | sed 's/^/   | /' | tail -8
        fail "$name: exit $rc (124: blocked or hung), $n dltrain lines, expected 2 and one line matching '$pat'"
    fi
    echo "ok: $name: $(grep '^dltrain: ' err.txt)"
}

mkfifo fifo.toml fifo.h5 || fail "mkfifo"
expect2 "FIFO as the job file" '^dltrain: fifo.toml: not a job file: is a FIFO' run 1 fifo.toml
mkfifo data/train-fifo.h5
expect2 "FIFO matched by data.train" 'data.train: data/train-fifo.h5: is a FIFO' run 1 job.toml
expect2 "FIFO matched by data.train (--dry-run)" 'data.train: data/train-fifo.h5: is a FIFO' run 1 job.toml --dry-run
rm data/train-fifo.h5
mkdir data/train-dir.h5
expect2 "directory matched by data.train" 'data.train: data/train-dir.h5: is a directory' run 1 job.toml
rmdir data/train-dir.h5
expect2 "FIFO as data.val" 'data.val: fifo.h5: is a FIFO' run 1 job.toml --set data.val=fifo.h5
rm -rf runs
expect2 "FIFO as --resume PATH" '^dltrain: fifo.h5: cannot open checkpoint: is a FIFO' run 1 job.toml --resume fifo.h5
[ ! -e runs/t/ckpt-00000020.h5 ] || fail "--resume FIFO: the run trained"

have_mpi || { echo "no mpirun: mismatched ranks not checked"; exit 0; }
# mpmd ARGS-A -- ARGS-B: rank 0 runs dltrain ARGS-A, rank 1 dltrain ARGS-B (in
# the folder $WDIR1, default here)
mpmd() {
    a=
    while [ "$1" != "--" ]; do a="$a $1"; shift; done
    shift
    # shellcheck disable=SC2086
    timeout "$RUN_TIMEOUT" $MPIRUN --oversubscribe --bind-to none -np 1 "$DLTRAIN" $a : \
        -np 1 -wdir "${WDIR1:-$T}" "$DLTRAIN" "$@"
}
expect2 "ranks with other batch sizes" \
    '^dltrain: rank 1 differs from rank 0: data.batch_size 16 vs 8 ' \
    mpmd job.toml --set data.batch_size=8 -- job.toml --set data.batch_size=16
expect2 "ranks with other step counts" '^dltrain: rank 1 differs from rank 0: train.steps 30 vs 20 ' \
    mpmd job.toml -- job.toml --set train.steps=30
# the same job in another folder whose shards hold 6x6 images: the first
# layer has other inputs on rank 1
mkdir other && cp job.toml other/ && (cd other && "$DLPREP" synthetic --num 250 --size 6x6x1 --classes 4 --seed 5 \
    --out data --quiet) || fail "dlprep synthetic"
WDIR1=$T/other expect2 "ranks with other data (parameter shapes)" \
    '^dltrain: rank 1 differs from rank 0: parameter fc1.weight \[16,36\] vs \[16,64\] ' mpmd job.toml -- job.toml
# the same shapes, 500 samples, not 250: 16 steps per epoch (of 2 x 8 samples,
# accumulated 2 at a time, the last batch padded), not 8
rm -rf other/data && (cd other && "$DLPREP" synthetic --num 500 --size 8x8x1 --classes 4 --seed 5 --out data --quiet) ||
    fail "dlprep synthetic"
WDIR1=$T/other expect2 "ranks with other data (steps per epoch)" \
    '^dltrain: rank 1 differs from rank 0: steps per epoch 16 vs 8 ' \
    mpmd job.toml --set train.steps=0 -- job.toml --set train.steps=0
# agreeing ranks still train
rm -rf runs
run 2 job.toml --quiet --set train.steps=4 >out.txt 2>err.txt || { cat err.txt; fail "2 agreeing ranks: exit $?"; }
[ -e runs/t/ckpt-00000004.h5 ] || fail "2 agreeing ranks: no checkpoint at step 4"
echo "ok: 2 agreeing ranks train ($(elapsed))"
