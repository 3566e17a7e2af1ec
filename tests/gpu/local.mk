# tests/gpu: Check tests of src/gpu (included by tests/local.mk)
