# tests/ops/unary.mk: tests of one op family (included by tests/ops/local.mk)
UNARY_TESTS = tests/ops/test_unary_golden tests/ops/test_unary_math tests/ops/test_unary_reduce
check_PROGRAMS += $(UNARY_TESTS)
TESTS += $(UNARY_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
tests_ops_test_unary_golden_CPPFLAGS = $(AM_CPPFLAGS) -DUNARY_SRCDIR='"$(abs_top_srcdir)"'
EXTRA_DIST += tests/fixtures/unary_make_fixtures.py tests/fixtures/unary_act.h5 \
	tests/fixtures/unary_softmax.h5
# the vectorised f32 math on every ISA path this CPU runs (src/ops/vmath.h)
check_PROGRAMS += tests/ops/test_vmath tests/ops/test_vmath_gemm
TESTS += tests/ops/test_vmath tests/ops/test_vmath_gemm
# the op tests above once per DLT_CPU_ISA path (needs dltrain for --version)
TESTS += tests/ops/test_vmath_paths.sh
EXTRA_DIST += tests/ops/test_vmath_paths.sh
