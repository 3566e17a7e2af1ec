# tests/ops/box.mk: tests of the box family (included by tests/ops/local.mk)
BOX_TESTS = tests/ops/test_box
check_PROGRAMS += $(BOX_TESTS)
TESTS += $(BOX_TESTS)
EXTRA_DIST += tests/fixtures/box.h5 tests/fixtures/box_make_fixtures.py
