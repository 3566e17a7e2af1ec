# src/ops/roi.mk: the roi family (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/roi.c
noinst_HEADERS += src/ops/roi_impl.h
