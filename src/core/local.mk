# src/core: base types, tensors, graph, autodiff, planner, executor
libdltrain_la_SOURCES += src/core/error.c src/core/log.c src/core/dtype.c \
	src/core/shape.c src/core/graph.c src/core/params.c src/core/init.c \
	src/core/topo.c src/core/gemm.c src/core/accum.c src/core/autodiff.c src/core/plan.c src/core/exec.c src/core/cpu_backend.c \
	src/core/exec_run.c \
	src/core/device.c src/core/crc32.c src/core/env.c src/core/hostmem.c src/core/cpu_isa.c
pkginclude_HEADERS += src/core/dlt_base.h src/core/dlt_core.h
noinst_HEADERS += src/core/dlt_cpu_isa.h src/core/dlt_opdef.h src/core/dlt_op_list.h src/core/dlt_backend.h src/core/dlt_bf16.h src/core/graph_impl.h src/core/plan_impl.h src/core/topo.h
libdltrain_la_SOURCES += src/core/summary.c src/core/kv.c
