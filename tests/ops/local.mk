# tests/ops: Check tests of src/ops (included by tests/local.mk)
include tests/ops/unary.mk
include tests/ops/conv.mk
include tests/ops/norm.mk
include tests/ops/shape.mk
EXTRA_DIST += tests/ops/unary.mk tests/ops/conv.mk tests/ops/norm.mk tests/ops/shape.mk
include tests/ops/attention.mk
EXTRA_DIST += tests/ops/attention.mk
# fast paths of the elementwise/reduction kernels against naive loops
check_PROGRAMS += tests/ops/test_ew_fast
TESTS += tests/ops/test_ew_fast
include tests/ops/random.mk
EXTRA_DIST += tests/ops/random.mk
# rnn family: recurrent cells, layers, categorical sampling
include tests/ops/rnn.mk
EXTRA_DIST += tests/ops/rnn.mk
# box family (detection boxes)
include tests/ops/box.mk
EXTRA_DIST += tests/ops/box.mk
# roi family
include tests/ops/roi.mk
EXTRA_DIST += tests/ops/roi.mk
# cast family (i32/f32 conversion)
include tests/ops/cast.mk
EXTRA_DIST += tests/ops/cast.mk
