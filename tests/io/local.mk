# tests/io: Check tests of src/io (included by tests/local.mk)
# toml-decoder speaks the toml-test protocol; toml_conformance.sh runs the suite with it.
check_PROGRAMS += tests/toml-decoder
tests_toml_decoder_SOURCES = tests/toml-decoder.c
TESTS += tests/io/toml_conformance.sh
EXTRA_DIST += tests/io/toml_conformance.sh tests/fuzz/fuzz_toml.c tests/fuzz/README.md
check_PROGRAMS += tests/io/test_toml
TESTS += tests/io/test_toml
# checkpoints
check_PROGRAMS += tests/io/test_ckpt
TESTS += tests/io/test_ckpt
