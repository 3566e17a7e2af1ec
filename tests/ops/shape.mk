# tests/ops/shape.mk: tests of one op family (included by tests/ops/local.mk)
