# tests/models: Check tests of src/models (included by tests/local.mk)
