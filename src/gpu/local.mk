# src/gpu: CUDA backend. Without CUDA, nogpu.c answers "no device".
# Kernel families (one table each, see gpu_impl.h); one line per family so
# kernel work in different families never touches the same line.
GPU_K_CORE = src/gpu/k_core.cu
GPU_K_ELEMENTWISE = src/gpu/k_unary.cu src/gpu/k_binary.cu
GPU_K_REDUCE = src/gpu/k_reduce.cu src/gpu/k_reduce_ext.cu src/gpu/k_loss.cu src/gpu/k_reduce.h
GPU_K_CONV = src/gpu/k_conv.cu src/gpu/k_pool.cu
GPU_K_SHAPE = src/gpu/k_shape.cu src/gpu/k_shape_gather.cu
GPU_K_NORM = src/gpu/k_norm.cu
GPU_K_ATTENTION = src/gpu/k_attention.cu src/gpu/k_attention_bwd.cu src/gpu/k_attention.h
GPU_KERNELS = $(GPU_K_CORE) $(GPU_K_ELEMENTWISE) $(GPU_K_REDUCE) $(GPU_K_CONV) $(GPU_K_SHAPE) \
	$(GPU_K_NORM) $(GPU_K_ATTENTION)
GPU_SOURCES = src/gpu/gpu.c src/gpu/backend.c src/gpu/selftest.cu src/gpu/k_optim.cu $(GPU_KERNELS)
pkginclude_HEADERS += src/gpu/dlt_gpu.h
libdltrain_la_SOURCES += src/gpu/gpu_flag.c
noinst_HEADERS += src/gpu/gpu_impl.h src/gpu/gpu_flag.h
if HAVE_CUDA
libdltrain_la_SOURCES += $(GPU_SOURCES)
else
libdltrain_la_SOURCES += src/gpu/nogpu.c
endif
EXTRA_DIST += $(GPU_SOURCES) src/gpu/nogpu.c
