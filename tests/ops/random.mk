# tests/ops/random.mk: tests of the random family (included by tests/ops/local.mk)
RANDOM_TESTS = tests/ops/test_random
check_PROGRAMS += $(RANDOM_TESTS)
TESTS += $(RANDOM_TESTS)
