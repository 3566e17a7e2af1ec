# tests/comm: Check tests of src/comm (included by tests/local.mk).
# test_mpi_* programs run under mpirun -np 2 and 3 (tests/harness.sh);
# test_mpi_faults.sh calls $MPIRUN itself around comm_fault (timeout 60).
check_PROGRAMS += tests/comm/test_mpi_comm tests/comm/test_mpi_reducer tests/comm/comm_fault
TESTS += tests/comm/test_mpi_comm tests/comm/test_mpi_reducer tests/comm/test_mpi_faults.sh
# the graph-free reducer over a subset of a buffer's ranges
check_PROGRAMS += tests/comm/test_mpi_reducer_ranges
TESTS += tests/comm/test_mpi_reducer_ranges
# bf16 gradient reduction and bf16 collectives (host and stand-in device)
check_PROGRAMS += tests/comm/test_mpi_bf16
TESTS += tests/comm/test_mpi_bf16
EXTRA_DIST += tests/comm/test_mpi_faults.sh
if HAVE_CUDA
check_PROGRAMS += tests/comm/test_mpi_nccl
TESTS += tests/comm/test_mpi_nccl
endif
EXTRA_DIST += tests/comm/test_mpi_nccl.c
