# tests/optim: Check tests of src/optim (included by tests/local.mk)
