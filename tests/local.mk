# tests: shared helpers, then one fragment per module.
noinst_LTLIBRARIES += tests/libdlttest.la
tests_libdlttest_la_SOURCES = tests/dlt_test.c tests/dlt_gradcheck.c tests/dlt_test.h \
	tests/standin.c tests/standin.h \
	tests/gpu/gpu_check.c tests/gpu/gpu_check.h
tests_libdlttest_la_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_libdlttest_la_LIBADD = $(CHECK_LIBS) $(HDF5_LIBS) -lm
EXTRA_DIST += tests/harness.sh tests/lsan.supp

include tests/toolchain/local.mk
include tests/core/local.mk
include tests/ops/local.mk
include tests/gpu/local.mk
include tests/comm/local.mk
include tests/data/local.mk
include tests/optim/local.mk
include tests/models/local.mk
include tests/train/local.mk
include tests/io/local.mk

# the module layering of DESIGN.md over src/'s #include lines (allowed-dependency
# table and the known violations in the script)
TESTS += tests/test_layering.sh
EXTRA_DIST += tests/test_layering.sh
# libdltrain.so exports the dlt_ API only (nm -D)
TESTS += tests/test_exports.sh
EXTRA_DIST += tests/test_exports.sh
