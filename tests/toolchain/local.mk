# tests/toolchain: prove each dependency works as linked into libdltrain.
TOOLCHAIN_TESTS = tests/toolchain/test_blas tests/toolchain/test_hdf5 \
	tests/toolchain/test_mpi_allreduce tests/toolchain/test_cuda
check_PROGRAMS += $(TOOLCHAIN_TESTS)
TESTS += $(TOOLCHAIN_TESTS)
