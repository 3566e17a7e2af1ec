# tests/ops/conv.mk: tests of one op family (included by tests/ops/local.mk)
CONV_TESTS = tests/ops/test_conv tests/ops/test_pool tests/ops/test_conv_upsample
check_PROGRAMS += $(CONV_TESTS)
TESTS += $(CONV_TESTS)
