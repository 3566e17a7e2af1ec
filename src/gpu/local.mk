# src/gpu: CUDA backend. Without CUDA, nogpu.c answers "no device".
pkginclude_HEADERS += src/gpu/dlt_gpu.h
if HAVE_CUDA
libdltrain_la_SOURCES += src/gpu/gpu.c src/gpu/selftest.cu
else
libdltrain_la_SOURCES += src/gpu/nogpu.c
endif
EXTRA_DIST += src/gpu/gpu.c src/gpu/selftest.cu src/gpu/nogpu.c
