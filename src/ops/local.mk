# src/ops: one file per op family (shape rule, gradient rule, CPU kernel)
libdltrain_la_SOURCES += src/ops/op_table.c src/ops/broadcast.c src/ops/binary.c src/ops/reduce.c \
	src/ops/matmul.c src/ops/activation.c src/ops/shape.c
pkginclude_HEADERS += src/ops/dlt_ops.h
noinst_HEADERS += src/ops/ops_util.h src/ops/reduce_impl.h
include src/ops/unary.mk
include src/ops/conv.mk
include src/ops/norm.mk
include src/ops/shape.mk
EXTRA_DIST += src/ops/unary.mk src/ops/conv.mk src/ops/norm.mk src/ops/shape.mk
include src/ops/attention.mk
EXTRA_DIST += src/ops/attention.mk
include src/ops/random.mk
EXTRA_DIST += src/ops/random.mk
# rnn family: recurrent cells, categorical sampling
include src/ops/rnn.mk
EXTRA_DIST += src/ops/rnn.mk
# box family (detection boxes)
include src/ops/box.mk
EXTRA_DIST += src/ops/box.mk
# roi family
include src/ops/roi.mk
EXTRA_DIST += src/ops/roi.mk
# cast family (i32/f32 conversion with an affine map and a clamp)
include src/ops/cast.mk
EXTRA_DIST += src/ops/cast.mk
