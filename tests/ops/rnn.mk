# tests/ops/rnn.mk: tests of the rnn family and the recurrent layers (included by tests/ops/local.mk)
RNN_TESTS = tests/ops/test_rnn tests/ops/test_rnn_torch
check_PROGRAMS += $(RNN_TESTS)
TESTS += $(RNN_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
EXTRA_DIST += tests/fixtures/rnn.h5 tests/fixtures/rnn_make_fixtures.py
