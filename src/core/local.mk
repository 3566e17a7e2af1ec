# src/core: base types, tensors, graph, autodiff, planner, executor
libdltrain_la_SOURCES += src/core/error.c src/core/log.c src/core/dtype.c
pkginclude_HEADERS += src/core/dlt_base.h
