# tests/optim: Check tests of src/optim (included by tests/local.mk)
OPTIM_TESTS = tests/optim/test_optim_traj tests/optim/test_optim_sched \
	tests/optim/test_optim_misc tests/optim/test_optim_shard tests/optim/test_optim_isa
check_PROGRAMS += $(OPTIM_TESTS)
TESTS += $(OPTIM_TESTS)
# The fixture path for runs outside `make check` (which sets top_srcdir).
OPTIM_TEST_CPPFLAGS = $(AM_CPPFLAGS) -DOPTIM_SRCDIR='"$(abs_top_srcdir)"'
OPTIM_TESTLIB = tests/optim/optim_testlib.c tests/optim/optim_testlib.h
tests_optim_test_optim_traj_SOURCES = tests/optim/test_optim_traj.c $(OPTIM_TESTLIB)
tests_optim_test_optim_traj_CPPFLAGS = $(OPTIM_TEST_CPPFLAGS)
tests_optim_test_optim_sched_SOURCES = tests/optim/test_optim_sched.c $(OPTIM_TESTLIB)
tests_optim_test_optim_sched_CPPFLAGS = $(OPTIM_TEST_CPPFLAGS)
tests_optim_test_optim_misc_SOURCES = tests/optim/test_optim_misc.c $(OPTIM_TESTLIB)
tests_optim_test_optim_misc_CPPFLAGS = $(OPTIM_TEST_CPPFLAGS)
tests_optim_test_optim_shard_SOURCES = tests/optim/test_optim_shard.c $(OPTIM_TESTLIB)
tests_optim_test_optim_shard_CPPFLAGS = $(OPTIM_TEST_CPPFLAGS)
EXTRA_DIST += tests/fixtures/optim.h5 tests/fixtures/optim_make_fixtures.py
