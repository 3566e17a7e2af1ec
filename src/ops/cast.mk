# src/ops/cast.mk: the cast family (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/cast.c
noinst_HEADERS += src/ops/cast_impl.h
