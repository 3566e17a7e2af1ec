# tests/io: Check tests of src/io (included by tests/local.mk)
