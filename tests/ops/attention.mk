# tests/ops/attention.mk: tests of the attention family (included by tests/ops/local.mk)
ATTN_TESTS = tests/ops/test_attention
check_PROGRAMS += $(ATTN_TESTS)
TESTS += $(ATTN_TESTS)
