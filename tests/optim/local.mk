# tests/optim: Check tests of src/optim (included by tests/local.mk)
OPTIM_TEST_CPPFLAGS = $(AM_CPPFLAGS) -DOPTIM_SRCDIR='"$(abs_top_srcdir)"'
OPTIM_TESTS = tests/optim/test_optim_traj
check_PROGRAMS += $(OPTIM_TESTS)
TESTS += $(OPTIM_TESTS)
tests_optim_test_optim_traj_SOURCES = tests/optim/test_optim_traj.c \
	tests/optim/optim_testlib.c tests/optim/optim_testlib.h
tests_optim_test_optim_traj_CPPFLAGS = $(OPTIM_TEST_CPPFLAGS)
EXTRA_DIST += tests/fixtures/optim.h5 tests/fixtures/optim_make_fixtures.py
