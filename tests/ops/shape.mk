# tests/ops/shape.mk: tests of one op family (included by tests/ops/local.mk)
check_PROGRAMS += tests/ops/test_shape tests/ops/test_shape_slice tests/ops/test_shape_gather
TESTS += tests/ops/test_shape tests/ops/test_shape_slice tests/ops/test_shape_gather
noinst_HEADERS += tests/ops/shape_test_util.h
