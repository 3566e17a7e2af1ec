# bench: benchmark programs. They are built by `make check` (so they keep
# compiling) and by `make bench`, and never run by either: each prints figures.
DLT_BENCHES = bench/conv_bench bench/step_bench bench/comm_bench bench/loader_bench
check_PROGRAMS += $(DLT_BENCHES)
bench_conv_bench_SOURCES = bench/conv_bench.c
bench_conv_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_step_bench_SOURCES = bench/step_bench.c
bench_step_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_comm_bench_SOURCES = bench/comm_bench.c
bench_comm_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_loader_bench_SOURCES = bench/loader_bench.c
bench_loader_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
.PHONY: bench
bench: $(DLT_BENCHES)
EXTRA_DIST += bench/local.mk
EXTRA_DIST += bench/resnet20_fmnist.sh bench/resnet20_fmnist_torch.py
