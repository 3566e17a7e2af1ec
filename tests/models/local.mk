# tests/models: Check tests of src/models (included by tests/local.mk)
check_PROGRAMS += tests/models/test_models
TESTS += tests/models/test_models
# The fixture path for runs outside `make check` (which sets top_srcdir).
tests_models_test_models_CPPFLAGS = $(AM_CPPFLAGS) -DMODELS_SRCDIR='"$(abs_top_srcdir)"'
EXTRA_DIST += tests/fixtures/models_golden.h5 tests/fixtures/models_make_fixtures.py
# transformers (BERT, GPT-2, encoder-decoder)
TF_TESTS = tests/models/test_transformer_torch
check_PROGRAMS += $(TF_TESTS)
TESTS += $(TF_TESTS)
EXTRA_DIST += tests/fixtures/transformer_golden.h5 tests/fixtures/transformer_make_fixtures.py
TESTS += tests/models/test_jobs.sh
EXTRA_DIST += tests/models/test_jobs.sh
check_PROGRAMS += tests/models/test_transformer
TESTS += tests/models/test_transformer
# generative models (GANs, CycleGAN, VAE) against PyTorch
check_PROGRAMS += tests/models/test_gen_models
TESTS += tests/models/test_gen_models
EXTRA_DIST += tests/fixtures/gen_models.h5 tests/fixtures/gen_make_fixtures.py
# Mask R-CNN's networks against torchvision
check_PROGRAMS += tests/models/test_maskrcnn
TESTS += tests/models/test_maskrcnn
EXTRA_DIST += tests/fixtures/maskrcnn_golden.h5 tests/fixtures/maskrcnn_make_fixtures.py
# child networks from a spec (model.arch = "spec"): reader, checks, counts, 50 children; against PyTorch
check_PROGRAMS += tests/models/test_spec tests/models/test_spec_torch
TESTS += tests/models/test_spec tests/models/test_spec_torch
EXTRA_DIST += tests/fixtures/nas_spec.h5 tests/fixtures/nas_spec_make_fixtures.py
