# src/ops/conv.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/conv.c src/ops/conv_kernels.c src/ops/conv_dnnl.c src/ops/conv_provider.c src/ops/conv_direct.c src/ops/pool.c src/ops/upsample.c
noinst_HEADERS += src/ops/conv_impl.h
