# tests/data: Check tests of src/data (included by tests/local.mk)
