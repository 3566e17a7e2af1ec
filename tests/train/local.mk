# tests/train: Check tests of src/train (included by tests/local.mk)
