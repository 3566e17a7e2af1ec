# tests/ops/roi.mk: tests of the roi family and the FPN pooler (included by tests/ops/local.mk)
ROI_TESTS = tests/ops/test_roi
check_PROGRAMS += $(ROI_TESTS)
TESTS += $(ROI_TESTS)
EXTRA_DIST += tests/fixtures/roi_make_fixtures.py tests/fixtures/roi.h5
