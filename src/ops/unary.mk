# src/ops/unary.mk: op family files (included by src/ops/local.mk)
