# src/ops/shape.mk: op family files (included by src/ops/local.mk)
