# src/optim: files of this module (included by Makefile.am)
libdltrain_la_SOURCES += src/optim/optim.c src/optim/optim_dev.c src/optim/kernels.c src/optim/schedule.c \
	src/optim/clip.c src/optim/scaler.c
pkginclude_HEADERS += src/optim/dlt_optim.h
noinst_HEADERS += src/optim/optim_impl.h src/optim/optim_elem.h
# the update loops (optim_loops.h), one convenience library per ISA level for
# its flags: no FP contraction (the same bits on every level), sqrt without
# errno and loop-invariant branches hoisted (so that `omp simd` vectorises)
noinst_HEADERS += src/optim/optim_loops.h
OPTIM_LOOP_CFLAGS = $(AM_CFLAGS) -ffp-contract=off -fno-math-errno -fno-trapping-math -funswitch-loops
noinst_LTLIBRARIES += src/optim/liboptim_loops_base.la
src_optim_liboptim_loops_base_la_SOURCES = src/optim/optim_loops_base.c
src_optim_liboptim_loops_base_la_CFLAGS = $(OPTIM_LOOP_CFLAGS)
libdltrain_la_LIBADD += src/optim/liboptim_loops_base.la
if DLT_X86_ISA
noinst_LTLIBRARIES += src/optim/liboptim_loops_avx2.la
src_optim_liboptim_loops_avx2_la_SOURCES = src/optim/optim_loops_avx2.c
src_optim_liboptim_loops_avx2_la_CFLAGS = $(OPTIM_LOOP_CFLAGS) -mavx2 -mfma
libdltrain_la_LIBADD += src/optim/liboptim_loops_avx2.la
endif
