# src/ops/conv.mk: op family files (included by src/ops/local.mk)
