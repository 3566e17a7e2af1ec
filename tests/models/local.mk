# tests/models: Check tests of src/models (included by tests/local.mk)
# transformers (BERT, GPT-2, encoder-decoder)
TF_TESTS = tests/models/test_transformer_torch
check_PROGRAMS += $(TF_TESTS)
TESTS += $(TF_TESTS)
tests_models_test_transformer_torch_CPPFLAGS = $(AM_CPPFLAGS) -DTF_SRCDIR='"$(abs_top_srcdir)"'
EXTRA_DIST += tests/fixtures/transformer_golden.h5 tests/fixtures/transformer_make_fixtures.py
