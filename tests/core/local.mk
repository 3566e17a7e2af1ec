# tests/core: Check tests of src/core (included by tests/local.mk)
