# src/ops/vmath.mk: the vectorised elementwise math (src/ops/vmath.h), one
# convenience library per ISA level so that each gets its own flags; all
# without FP contraction (vmath_math.h writes its fused multiply-adds out) and
# without trapping math (selects of values computed anyway must if-convert).
libdltrain_la_SOURCES += src/ops/vmath.c
noinst_HEADERS += src/ops/vmath.h src/ops/vmath_math.h src/ops/vmath_kernels.h src/ops/vmath_draw.h src/ops/conv_direct_kernels.h src/ops/conv_direct_vec.h \
	src/ops/norm_block_kernels.h src/ops/vmath_gemm.h
EXTRA_DIST += src/ops/vmath_fit.py
VMATH_CFLAGS = $(AM_CFLAGS) -ffp-contract=off -fno-trapping-math
noinst_LTLIBRARIES += src/ops/libvmath_base.la
src_ops_libvmath_base_la_SOURCES = src/ops/vmath_base.c
src_ops_libvmath_base_la_CFLAGS = $(VMATH_CFLAGS)
libdltrain_la_LIBADD += src/ops/libvmath_base.la
if DLT_X86_ISA
noinst_LTLIBRARIES += src/ops/libvmath_avx2.la src/ops/libvmath_avx512.la
src_ops_libvmath_avx2_la_SOURCES = src/ops/vmath_avx2.c
src_ops_libvmath_avx2_la_CFLAGS = $(VMATH_CFLAGS) -mavx2 -mfma
src_ops_libvmath_avx512_la_SOURCES = src/ops/vmath_avx512.c
src_ops_libvmath_avx512_la_CFLAGS = $(VMATH_CFLAGS) -mavx2 -mfma -mavx512f -mavx512dq -mavx512bw -mavx512vl
libdltrain_la_LIBADD += src/ops/libvmath_avx2.la src/ops/libvmath_avx512.la
endif
