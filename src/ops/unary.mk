# src/ops/unary.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/unary.c src/ops/softmax.c src/ops/reduce_ext.c
noinst_HEADERS += src/ops/unary_impl.h src/ops/unary_math.h src/ops/binary_impl.h src/ops/dropout_impl.h
