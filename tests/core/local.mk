# tests/core: the engine (graph, autodiff, planner, executor)
check_PROGRAMS += tests/core/test_engine
TESTS += tests/core/test_engine
check_PROGRAMS += tests/core/test_summary
TESTS += tests/core/test_summary
check_PROGRAMS += tests/core/test_second_order_torch
TESTS += tests/core/test_second_order_torch
EXTRA_DIST += tests/fixtures/second_order.h5 tests/fixtures/second_order_make_fixtures.py
# the device-backend path of the core, on a host-memory stand-in for a GPU
check_PROGRAMS += tests/core/test_backend
TESTS += tests/core/test_backend
tests_core_test_backend_SOURCES = tests/core/test_backend.c tests/core/lazydev.c tests/core/lazydev.h
# the bf16 conversions (src/core/dlt_bf16.h) the bf16 gradient reduction uses
check_PROGRAMS += tests/core/test_bf16
TESTS += tests/core/test_bf16
# dlt_gemm on OpenBLAS and on oneDNN's sgemm, against double loops
check_PROGRAMS += tests/core/test_gemm
TESTS += tests/core/test_gemm
# kernels reuse the OpenMP thread pool (no thread created by later steps)
check_PROGRAMS += tests/core/test_thread_pool
TESTS += tests/core/test_thread_pool
# large host buffers on huge pages (src/core/hostmem.c)
check_PROGRAMS += tests/core/test_hostmem
TESTS += tests/core/test_hostmem
