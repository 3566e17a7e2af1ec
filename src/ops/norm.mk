# src/ops/norm.mk: op family files (included by src/ops/local.mk)
