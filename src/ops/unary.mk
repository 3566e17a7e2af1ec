# src/ops/unary.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/unary.c src/ops/softmax.c src/ops/reduce_ext.c
noinst_HEADERS += src/ops/unary_impl.h src/ops/unary_math.h src/ops/binary_impl.h src/ops/dropout_impl.h
# the vectorised f32 math the unary and softmax kernels dispatch to
include src/ops/vmath.mk
EXTRA_DIST += src/ops/vmath.mk
