# src/ops/attention.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/attention.c src/ops/attention_kernels.c
noinst_HEADERS += src/ops/attention_impl.h
