#!/bin/sh
# Runs one test program for `make check`.
#   test_mpi_*  : under mpirun with 2 and then 3 ranks (uneven splits), Check in
#                 no-fork mode (forking after MPI_Init is unsafe); the reducer's
#                 ranges test on 1 rank first too (its one-rank shortcut: a mean
#                 gradient is neither weighted nor divided, only unscaled)
#   anything else: as is. A test exits 77 to report SKIP (e.g. no CUDA device).
prog=$1
name=$(basename "$prog")
case $name in
test_mpi_*)
    : "${MPIRUN:=mpirun}"
    export CK_FORK=no
    nps="2 3"
    [ "$name" = test_mpi_reducer_ranges ] && nps="1 2 3"
    for np in ${DLT_TEST_NP:-$nps}; do
        echo "== $MPIRUN -np $np $*"
        $MPIRUN -np "$np" --oversubscribe --bind-to none "$@"
        rc=$?
        [ $rc -eq 0 ] || exit $rc
    done
    exit 0
    ;;
*)
    exec "$@"
    ;;
esac
