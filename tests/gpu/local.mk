# tests/gpu: every GPU kernel against the CPU kernel (tests/gpu/gpu_check.h).
# They exit 77 (SKIP) without a CUDA device. One line per kernel family.
GPU_T_CORE = tests/gpu/test_gpu_core tests/gpu/test_gpu_models tests/gpu/test_gpu_coverage tests/gpu/test_gpu_graphs \
	tests/gpu/test_gpu_errors
GPU_T_ELEMENTWISE = tests/gpu/test_gpu_elementwise
GPU_T_REDUCE = tests/gpu/test_gpu_reduce
GPU_T_CONV = tests/gpu/test_gpu_conv
GPU_T_NORM = tests/gpu/test_gpu_norm
GPU_T_SHAPE = tests/gpu/test_gpu_shape
GPU_T_ATTENTION = tests/gpu/test_gpu_attention
GPU_T_RANDOM = tests/gpu/test_gpu_random
GPU_T_EMU = tests/gpu/emu_core tests/gpu/emu_elementwise tests/gpu/emu_reduce tests/gpu/emu_conv \
	tests/gpu/emu_norm tests/gpu/emu_shape tests/gpu/emu_attention tests/gpu/emu_models \
	tests/gpu/emu_graphs tests/gpu/emu_errors tests/gpu/emu_coverage tests/gpu/emu_random
GPU_TESTS = $(GPU_T_CORE) $(GPU_T_ELEMENTWISE) $(GPU_T_REDUCE) $(GPU_T_CONV) $(GPU_T_NORM) \
	$(GPU_T_SHAPE) $(GPU_T_ATTENTION) $(GPU_T_RANDOM) $(GPU_T_EMU)
check_PROGRAMS += $(GPU_TESTS)
TESTS += $(GPU_TESTS)

# ---------------------------------------------------------------- emulated
# tests/gpu/emu_<family>: the same cases (test_gpu_<family>.c) with the "GPU"
# side running the CUDA kernel sources of src/gpu on the CPU: cu2cc turns each
# .cu into C++ for the host compiler, tests/gpu/emu/cuda_emu.h stands in for
# CUDA, cuBLAS and cuDNN (no CUDA headers needed), emu_backend.cc is the device.
# Built with and without CUDA. cuDNN's convolutions are emulated by loops
# (emu_cudnn.cc) behind k_conv.cu's own descriptor and algorithm logic.
EMU_GEN = tests/gpu/emu/k_core.cc tests/gpu/emu/k_optim.cc tests/gpu/emu/k_accum.cc \
	tests/gpu/emu/k_unary.cc tests/gpu/emu/k_activation.cc tests/gpu/emu/k_binary.cc \
	tests/gpu/emu/k_dropout.cc tests/gpu/emu/k_matmul.cc tests/gpu/emu/k_reduce.cc \
	tests/gpu/emu/k_reduce_ext.cc tests/gpu/emu/k_softmax.cc tests/gpu/emu/k_metric.cc \
	tests/gpu/emu/k_loss.cc tests/gpu/emu/k_loss_pw.cc tests/gpu/emu/k_norm.cc tests/gpu/emu/k_shape.cc \
	tests/gpu/emu/k_shape_ops.cc tests/gpu/emu/k_shape_slice.cc tests/gpu/emu/k_shape_gather.cc \
	tests/gpu/emu/k_conv.cc tests/gpu/emu/k_pool.cc tests/gpu/emu/k_upsample.cc \
	tests/gpu/emu/k_attention.cc tests/gpu/emu/k_attention_bwd.cc tests/gpu/emu/k_random.cc
# The k_<topic>.cuh headers those include, converted alike (some launch
# kernels too); found beside the generated .cc before src/gpu's.
EMU_GEN_H = tests/gpu/emu/k_map.cuh tests/gpu/emu/k_bcast.cuh tests/gpu/emu/k_pool.cuh tests/gpu/emu/k_shape.cuh \
	tests/gpu/emu/k_reduce.cuh tests/gpu/emu/k_attention.cuh
EMU_CU2CC = $(AM_V_GEN)$(MKDIR_P) tests/gpu/emu && \
	{ printf '\043line 1 "%s"\n' $<; sed -f $(srcdir)/tests/gpu/emu/cu2cc.sed $< | \
	  $(AWK) -f $(srcdir)/tests/gpu/emu/cu2cc.awk; } > $@-t && mv $@-t $@
EMU_CU2CC_DEPS = $(srcdir)/tests/gpu/emu/cu2cc.sed $(srcdir)/tests/gpu/emu/cu2cc.awk
$(EMU_GEN): tests/gpu/emu/%.cc: $(top_srcdir)/src/gpu/%.cu $(EMU_CU2CC_DEPS)
	$(EMU_CU2CC)
$(EMU_GEN_H): tests/gpu/emu/%.cuh: $(top_srcdir)/src/gpu/%.cuh $(EMU_CU2CC_DEPS)
	$(EMU_CU2CC)
$(EMU_GEN): $(EMU_GEN_H)
noinst_LTLIBRARIES += tests/gpu/libcudaemu.la
tests_gpu_libcudaemu_la_SOURCES = tests/gpu/emu/emu_runtime.cc tests/gpu/emu/emu_backend.cc tests/gpu/emu/emu_cudnn.cc \
	tests/gpu/emu/cuda_emu.h tests/gpu/emu/emu_rename.h tests/gpu/emu/cuda_runtime.h \
	tests/gpu/emu/cublas_v2.h tests/gpu/emu/cublasLt.h tests/gpu/emu/cudnn.h
nodist_tests_gpu_libcudaemu_la_SOURCES = $(EMU_GEN)
# The stand-in CUDA headers first; the kernels' #pragma unroll means nothing to g++.
tests_gpu_libcudaemu_la_CPPFLAGS = -include $(top_srcdir)/tests/gpu/emu/emu_rename.h \
	-I$(top_srcdir)/tests/gpu/emu $(AM_CPPFLAGS) -I$(top_srcdir)/src/optim -I$(top_srcdir)/tests/gpu
tests_gpu_libcudaemu_la_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-unknown-pragmas -fvisibility=hidden $(SAN_CFLAGS)
CLEANFILES += $(EMU_GEN) $(EMU_GEN_H)
EXTRA_DIST += $(EMU_CU2CC_DEPS)
EMU_CPPFLAGS = $(AM_CPPFLAGS) -Dgc_init=emu_gc_init -Ddlt_gpu_open=emu_gpu_open -Ddlt_gpu_close=emu_gpu_close \
	-Ddlt_gpu_backend=emu_gpu_backend -Ddlt_gpu_set_precision=emu_gpu_set_precision
EMU_LDADD = tests/gpu/libcudaemu.la $(LDADD)
# Whole models and the device optimizer (k_optim.cu: SGD, AdamW, LAMB steps).
tests_gpu_emu_models_SOURCES = tests/gpu/test_gpu_models.c
tests_gpu_emu_models_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_models_LDADD = $(EMU_LDADD)
tests_gpu_emu_models_LINK = $(CXXLINK)
# the trainer end to end on the emulated kernels (dltrain's main renamed)
check_PROGRAMS += tests/gpu/emu_dltrain
tests_gpu_emu_dltrain_SOURCES = tests/gpu/emu_dltrain.c tests/gpu/emu_dltrain.h src/tools/dltrain.c
tests_gpu_emu_dltrain_CPPFLAGS = $(EMU_CPPFLAGS) -Dmain=dltrain_main -include $(srcdir)/tests/gpu/emu_dltrain.h
tests_gpu_emu_dltrain_LDADD = $(EMU_LDADD)
tests_gpu_emu_dltrain_LINK = $(CXXLINK)
TESTS += tests/gpu/test_emu_train.sh
EXTRA_DIST += tests/gpu/test_emu_train.sh
# the op table against the emulated kernel lists (the same lists as the CUDA build's)
tests_gpu_emu_coverage_SOURCES = tests/gpu/test_gpu_coverage.c
tests_gpu_emu_coverage_CPPFLAGS = $(EMU_CPPFLAGS) -Ddlt_gpu_has_kernel=emu_gpu_has_kernel -Ddlt_gpu_built=emu_gpu_built
tests_gpu_emu_coverage_LDADD = $(EMU_LDADD)
tests_gpu_emu_coverage_LINK = $(CXXLINK)
tests_gpu_emu_errors_SOURCES = tests/gpu/test_gpu_errors.c
tests_gpu_emu_errors_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_errors_LDADD = $(EMU_LDADD)
tests_gpu_emu_errors_LINK = $(CXXLINK)
tests_gpu_emu_graphs_SOURCES = tests/gpu/test_gpu_graphs.c
tests_gpu_emu_graphs_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_graphs_LDADD = $(EMU_LDADD)
tests_gpu_emu_graphs_LINK = $(CXXLINK)
tests_gpu_emu_core_SOURCES = tests/gpu/test_gpu_core.c
tests_gpu_emu_core_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_core_LDADD = $(EMU_LDADD)
tests_gpu_emu_core_LINK = $(CXXLINK)
tests_gpu_emu_elementwise_SOURCES = tests/gpu/test_gpu_elementwise.c
tests_gpu_emu_elementwise_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_elementwise_LDADD = $(EMU_LDADD)
tests_gpu_emu_elementwise_LINK = $(CXXLINK)
tests_gpu_emu_reduce_SOURCES = tests/gpu/test_gpu_reduce.c
tests_gpu_emu_reduce_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_reduce_LDADD = $(EMU_LDADD)
tests_gpu_emu_reduce_LINK = $(CXXLINK)
tests_gpu_emu_conv_SOURCES = tests/gpu/test_gpu_conv.c
tests_gpu_emu_conv_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_conv_LDADD = $(EMU_LDADD)
tests_gpu_emu_conv_LINK = $(CXXLINK)
tests_gpu_emu_norm_SOURCES = tests/gpu/test_gpu_norm.c
tests_gpu_emu_norm_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_norm_LDADD = $(EMU_LDADD)
tests_gpu_emu_norm_LINK = $(CXXLINK)
tests_gpu_emu_shape_SOURCES = tests/gpu/test_gpu_shape.c
tests_gpu_emu_shape_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_shape_LDADD = $(EMU_LDADD)
tests_gpu_emu_shape_LINK = $(CXXLINK)
tests_gpu_emu_attention_SOURCES = tests/gpu/test_gpu_attention.c
tests_gpu_emu_attention_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_attention_LDADD = $(EMU_LDADD)
tests_gpu_emu_attention_LINK = $(CXXLINK)
tests_gpu_emu_random_SOURCES = tests/gpu/test_gpu_random.c
tests_gpu_emu_random_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_random_LDADD = $(EMU_LDADD)
tests_gpu_emu_random_LINK = $(CXXLINK)
# rnn family: the cells, their backward ops and categorical_sample, on a CUDA
# device (test_gpu_rnn) and on the emulated kernels (emu_rnn)
EMU_GEN += tests/gpu/emu/k_rnn.cc
GPU_T_RNN = tests/gpu/test_gpu_rnn tests/gpu/emu_rnn
check_PROGRAMS += $(GPU_T_RNN)
TESTS += $(GPU_T_RNN)
tests_gpu_emu_rnn_SOURCES = tests/gpu/test_gpu_rnn.c
tests_gpu_emu_rnn_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_rnn_LDADD = $(EMU_LDADD)
tests_gpu_emu_rnn_LINK = $(CXXLINK)
# box family (detection boxes): GPU and emulated kernels against the CPU
GPU_T_BOX = tests/gpu/test_gpu_box tests/gpu/emu_box
check_PROGRAMS += $(GPU_T_BOX)
TESTS += $(GPU_T_BOX)
EMU_GEN += tests/gpu/emu/k_box.cc
tests_gpu_emu_box_SOURCES = tests/gpu/test_gpu_box.c
tests_gpu_emu_box_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_box_LDADD = $(EMU_LDADD)
tests_gpu_emu_box_LINK = $(CXXLINK)
# roi family: RoIAlign, its backward and the level mapper against the CPU
GPU_T_ROI = tests/gpu/test_gpu_roi tests/gpu/emu_roi
check_PROGRAMS += $(GPU_T_ROI)
TESTS += $(GPU_T_ROI)
EMU_GEN += tests/gpu/emu/k_roi.cc
# (both read tests/fixtures/roi.h5 from the source tree)
tests_gpu_test_gpu_roi_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_gpu_emu_roi_SOURCES = tests/gpu/test_gpu_roi.c
tests_gpu_emu_roi_CPPFLAGS = $(EMU_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_gpu_emu_roi_LDADD = $(EMU_LDADD)
tests_gpu_emu_roi_LINK = $(CXXLINK)
# cast family: i32/f32 conversion against the CPU (exact)
GPU_T_CAST = tests/gpu/test_gpu_cast tests/gpu/emu_cast
check_PROGRAMS += $(GPU_T_CAST)
TESTS += $(GPU_T_CAST)
EMU_GEN += tests/gpu/emu/k_cast.cc
tests_gpu_emu_cast_SOURCES = tests/gpu/test_gpu_cast.c
tests_gpu_emu_cast_CPPFLAGS = $(EMU_CPPFLAGS)
tests_gpu_emu_cast_LDADD = $(EMU_LDADD)
tests_gpu_emu_cast_LINK = $(CXXLINK)
