# tests/ops: Check tests of src/ops (included by tests/local.mk)
