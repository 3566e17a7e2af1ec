# tests/ops/conv.mk: tests of one op family (included by tests/ops/local.mk)
CONV_TESTS = tests/ops/test_conv tests/ops/test_pool tests/ops/test_conv_upsample \
	tests/ops/test_conv_torch tests/ops/test_conv_dnnl tests/ops/test_conv_direct tests/ops/test_conv_rule
check_PROGRAMS += $(CONV_TESTS)
TESTS += $(CONV_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
EXTRA_DIST += tests/fixtures/conv_golden.h5 tests/fixtures/conv_make_fixtures.py
