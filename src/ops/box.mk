# src/ops/box.mk: the box family (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/box.c src/ops/box_kernels.c src/ops/box_loss.c
noinst_HEADERS += src/ops/box_impl.h
