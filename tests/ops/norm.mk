# tests/ops/norm.mk: tests of one op family (included by tests/ops/local.mk)
NORM_TESTS = tests/ops/test_norm tests/ops/test_norm_dropout tests/ops/test_loss tests/ops/test_norm_fused tests/ops/test_norm_act \
	tests/ops/test_norm_recompute
check_PROGRAMS += $(NORM_TESTS)
TESTS += $(NORM_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
EXTRA_DIST += tests/fixtures/norm_fixtures.h5 tests/fixtures/norm_make_fixtures.py
