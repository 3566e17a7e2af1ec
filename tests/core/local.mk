# tests/core: the engine (graph, autodiff, planner, executor)
check_PROGRAMS += tests/core/test_engine
TESTS += tests/core/test_engine
check_PROGRAMS += tests/core/test_summary
TESTS += tests/core/test_summary
