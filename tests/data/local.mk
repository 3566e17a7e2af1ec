# tests/data: Check tests of src/data (included by tests/local.mk)
DATA_TESTS = tests/data/test_shard
check_PROGRAMS += $(DATA_TESTS)
TESTS += $(DATA_TESTS)
tests_data_test_shard_SOURCES = tests/data/test_shard.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS2 = tests/data/test_convert
check_PROGRAMS += $(DATA_TESTS2)
TESTS += $(DATA_TESTS2)
tests_data_test_convert_SOURCES = tests/data/test_convert.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS3 = tests/data/test_loader
check_PROGRAMS += $(DATA_TESTS3)
TESTS += $(DATA_TESTS3)
tests_data_test_loader_SOURCES = tests/data/test_loader.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS4 = tests/data/test_text_tok
check_PROGRAMS += $(DATA_TESTS4)
TESTS += $(DATA_TESTS4)
tests_data_test_text_tok_SOURCES = tests/data/test_text_tok.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS5 = tests/data/test_text_prep
check_PROGRAMS += $(DATA_TESTS5)
TESTS += $(DATA_TESTS5)
tests_data_test_text_prep_SOURCES = tests/data/test_text_prep.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS6 = tests/data/test_pairs tests/data/test_fmnist_pair
check_PROGRAMS += $(DATA_TESTS6)
TESTS += $(DATA_TESTS6)
tests_data_test_pairs_SOURCES = tests/data/test_pairs.c tests/data/data_util.c tests/data/data_util.h
tests_data_test_fmnist_pair_SOURCES = tests/data/test_fmnist_pair.c tests/data/data_util.c \
	tests/data/data_util.h
DATA_TESTS7 = tests/data/test_det
check_PROGRAMS += $(DATA_TESTS7)
TESTS += $(DATA_TESTS7)
tests_data_test_det_SOURCES = tests/data/test_det.c tests/data/data_util.c tests/data/data_util.h
DATA_TESTS8 = tests/data/test_coco
check_PROGRAMS += $(DATA_TESTS8)
TESTS += $(DATA_TESTS8)
tests_data_test_coco_SOURCES = tests/data/test_coco.c tests/data/data_util.c tests/data/data_util.h
tests_data_test_coco_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
DATA_TESTS9 = tests/data/test_detsynth
check_PROGRAMS += $(DATA_TESTS9)
TESTS += $(DATA_TESTS9)
tests_data_test_detsynth_SOURCES = tests/data/test_detsynth.c tests/data/data_util.c \
	tests/data/data_util.h
