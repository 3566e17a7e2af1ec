# tests/ops/conv.mk: tests of one op family (included by tests/ops/local.mk)
CONV_TESTS = tests/ops/test_conv
check_PROGRAMS += $(CONV_TESTS)
TESTS += $(CONV_TESTS)
