# bench: benchmarks, built by `make bench` only (not by `make` or `make check`).
EXTRA_PROGRAMS = bench/conv_bench bench/step_bench
bench_step_bench_SOURCES = bench/step_bench.c
bench_step_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_conv_bench_SOURCES = bench/conv_bench.c
bench_conv_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)
.PHONY: bench
bench: $(EXTRA_PROGRAMS)
EXTRA_DIST += bench/local.mk
