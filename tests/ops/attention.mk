# tests/ops/attention.mk: tests of the attention family (included by tests/ops/local.mk)
ATTN_TESTS = tests/ops/test_attention tests/ops/test_attention_torch
check_PROGRAMS += $(ATTN_TESTS)
TESTS += $(ATTN_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
EXTRA_DIST += tests/fixtures/attention_golden.h5 tests/fixtures/attention_make_fixtures.py
