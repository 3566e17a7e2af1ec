# tests/gpu: every GPU kernel against the CPU kernel (tests/gpu/gpu_check.h).
# They exit 77 (SKIP) without a CUDA device. One line per kernel family.
GPU_T_CORE = tests/gpu/test_gpu_core tests/gpu/test_gpu_models tests/gpu/test_gpu_coverage
GPU_T_ELEMENTWISE = tests/gpu/test_gpu_elementwise
GPU_T_REDUCE = tests/gpu/test_gpu_reduce
GPU_T_CONV = tests/gpu/test_gpu_conv
GPU_T_NORM = tests/gpu/test_gpu_norm
GPU_T_SHAPE = tests/gpu/test_gpu_shape
GPU_T_ATTENTION = tests/gpu/test_gpu_attention
GPU_TESTS = $(GPU_T_CORE) $(GPU_T_ELEMENTWISE) $(GPU_T_REDUCE) $(GPU_T_CONV) $(GPU_T_NORM) \
	$(GPU_T_SHAPE) $(GPU_T_ATTENTION)
check_PROGRAMS += $(GPU_TESTS)
TESTS += $(GPU_TESTS)
