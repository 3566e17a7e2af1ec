# tests/ops/cast.mk: tests of the cast family (included by tests/ops/local.mk)
CAST_TESTS = tests/ops/test_cast
check_PROGRAMS += $(CAST_TESTS)
TESTS += $(CAST_TESTS)
