# src/ops/shape.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/shape_util.c src/ops/shape_ops.c src/ops/shape_slice.c \
	src/ops/shape_gather.c
noinst_HEADERS += src/ops/shape_util.h src/ops/shape_impl.h
