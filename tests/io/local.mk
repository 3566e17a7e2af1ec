# tests/io: Check tests of src/io (included by tests/local.mk)
# toml-decoder speaks the toml-test protocol; toml_conformance.sh runs the suite with it.
check_PROGRAMS += tests/toml-decoder
# Built from the parser's sources alone: 709 process starts stay quick and
# free of the MPI/BLAS libraries' start-up and exit-time allocations.
tests_toml_decoder_SOURCES = tests/toml-decoder.c src/io/toml.c src/io/toml_scan.c src/io/toml_time.c src/io/toml_tree.c \
	src/io/toml_write.c src/core/error.c
tests_toml_decoder_LDADD = -lm
tests_toml_decoder_CFLAGS = $(AM_CFLAGS)
TESTS += tests/io/toml_conformance.sh
EXTRA_DIST += tests/io/toml_conformance.sh tests/fuzz/fuzz_toml.c tests/fuzz/fuzz_job.c tests/fuzz/README.md
check_PROGRAMS += tests/io/test_toml
TESTS += tests/io/test_toml
# checkpoints
check_PROGRAMS += tests/io/test_ckpt
TESTS += tests/io/test_ckpt
check_PROGRAMS += tests/io/test_job
TESTS += tests/io/test_job
# run outputs: TensorBoard event files, Chrome-trace timelines
check_PROGRAMS += tests/io/test_tfevents tests/io/test_trace
TESTS += tests/io/test_tfevents tests/io/test_trace
EXTRA_DIST += tests/fixtures/tfevents_make_vectors.py
# sample grids, PNG files and TensorBoard image summaries
check_PROGRAMS += tests/io/test_png tests/io/test_draw tests/io/test_plot
TESTS += tests/io/test_png tests/io/test_draw tests/io/test_plot
EXTRA_DIST += tests/fixtures/grid.h5 tests/fixtures/grid_make_fixtures.py
