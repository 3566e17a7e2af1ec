# bench: benchmark programs. They are built by `make check` (so they keep
# compiling) and by `make bench`, and never run by either: each prints figures.
DLT_BENCHES = bench/conv_bench bench/step_bench bench/comm_bench bench/loader_bench bench/gpu_bench
check_PROGRAMS += $(DLT_BENCHES)
bench_conv_bench_SOURCES = bench/conv_bench.c
bench_conv_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_step_bench_SOURCES = bench/step_bench.c bench/bench_ops.c bench/bench_ops.h
bench_step_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_comm_bench_SOURCES = bench/comm_bench.c
bench_comm_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_gpu_bench_SOURCES = bench/gpu_bench.c bench/bench_ops.c bench/bench_ops.h
bench_gpu_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench_loader_bench_SOURCES = bench/loader_bench.c
bench_loader_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
.PHONY: bench
bench: $(DLT_BENCHES)
EXTRA_DIST += bench/local.mk
EXTRA_DIST += bench/resnet20_fmnist.sh bench/reference/resnet20_fmnist_torch.py bench/reference/resnet_gpu_torch.py
# transformer training-step throughput (moved from tests/models)
check_PROGRAMS += bench/transformer_bench
bench_transformer_bench_SOURCES = bench/transformer_bench.c
bench_transformer_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench: bench/transformer_bench
# language models against PyTorch
EXTRA_DIST += bench/lm_bench.sh bench/reference/lm_common.py
EXTRA_DIST += bench/reference/bert_mini_torch.py bench/reference/gpt_torch.py
EXTRA_DIST += bench/results
# NAS children: build, plan, one step and free of random specs (time per child, RSS)
check_PROGRAMS += bench/nas_children
bench_nas_children_SOURCES = bench/nas_children.c
bench_nas_children_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench: bench/nas_children
# the vectorised elementwise math per ISA path against the libm path
check_PROGRAMS += bench/vmath_bench
bench_vmath_bench_SOURCES = bench/vmath_bench.c
bench_vmath_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench: bench/vmath_bench
# NAS: controller against random search, the best child retrained (a script)
EXTRA_DIST += bench/nas_fmnist.sh
# Mask R-CNN on detection-synth beside torchvision (runs once the maskrcnn task is merged)
EXTRA_DIST += bench/maskrcnn_synth.sh bench/reference/maskrcnn_synth.py
# issue 21's table in one run (dltrain beside PyTorch, peak RSS, conv vs sgemm) and the OpenMP wait policies
EXTRA_DIST += bench/cpu_table.sh bench/isa_env.sh bench/omp_wait.sh bench/reference/resnet50_cpu_torch.py
# GEMM libraries side by side on one thread (OpenBLAS's core vs oneDNN's sgemm)
check_PROGRAMS += bench/gemm_bench
bench_gemm_bench_SOURCES = bench/gemm_bench.c
bench_gemm_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
bench: bench/gemm_bench
