# src/gpu: CUDA backend. Without CUDA, nogpu.c answers "no device".
# Kernel files, k_<family>.cu for each op family of src/ops (one kernel list
# each, see gpu_impl.h), grouped as the tests/gpu suites are, with the
# k_<topic>.cuh headers that share device code between them; one line per
# group so kernel work in different groups rarely touches the same line.
GPU_K_CORE = src/gpu/k_accum.cu
GPU_K_ELEMENTWISE = src/gpu/k_unary.cu src/gpu/k_activation.cu src/gpu/k_binary.cu src/gpu/k_dropout.cu \
	src/gpu/k_map.cuh src/gpu/k_bcast.cuh
GPU_K_REDUCE = src/gpu/k_matmul.cu src/gpu/k_reduce.cu src/gpu/k_reduce_ext.cu src/gpu/k_softmax.cu \
	src/gpu/k_metric.cu src/gpu/k_loss.cu src/gpu/k_loss_pw.cu src/gpu/k_reduce.cuh
GPU_K_CONV = src/gpu/k_conv.cu src/gpu/k_pool.cu src/gpu/k_upsample.cu src/gpu/k_pool.cuh
GPU_K_SHAPE = src/gpu/k_shape.cu src/gpu/k_shape_ops.cu src/gpu/k_shape_slice.cu src/gpu/k_shape_gather.cu \
	src/gpu/k_shape.cuh
GPU_K_NORM = src/gpu/k_norm.cu
GPU_K_ATTENTION = src/gpu/k_attention.cu src/gpu/k_attention_bwd.cu src/gpu/k_attention.cuh
GPU_KERNELS = $(GPU_K_CORE) $(GPU_K_ELEMENTWISE) $(GPU_K_REDUCE) $(GPU_K_CONV) $(GPU_K_SHAPE) \
	$(GPU_K_NORM) $(GPU_K_ATTENTION)
GPU_K_RANDOM = src/gpu/k_random.cu
GPU_KERNELS += $(GPU_K_RANDOM)
# rnn family: recurrent cells, categorical sampling
GPU_K_RNN = src/gpu/k_rnn.cu
GPU_KERNELS += $(GPU_K_RNN)
# box family (detection boxes)
GPU_K_BOX = src/gpu/k_box.cu
GPU_KERNELS += $(GPU_K_BOX)
# roi family
GPU_K_ROI = src/gpu/k_roi.cu
GPU_KERNELS += $(GPU_K_ROI)
# cast family (i32/f32 conversion)
GPU_K_CAST = src/gpu/k_cast.cu
GPU_KERNELS += $(GPU_K_CAST)
GPU_SOURCES = src/gpu/gpu.c src/gpu/backend.c src/gpu/selftest.cu src/gpu/k_core.cu src/gpu/k_optim.cu $(GPU_KERNELS)
pkginclude_HEADERS += src/gpu/dlt_gpu.h
libdltrain_la_SOURCES += src/gpu/gpu_flag.c
noinst_HEADERS += src/gpu/gpu_impl.h src/gpu/gpu_flag.h
if HAVE_CUDA
libdltrain_la_SOURCES += $(GPU_SOURCES)
else
libdltrain_la_SOURCES += src/gpu/nogpu.c
endif
EXTRA_DIST += $(GPU_SOURCES) src/gpu/nogpu.c
