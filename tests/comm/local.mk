# tests/comm: Check tests of src/comm (included by tests/local.mk)
