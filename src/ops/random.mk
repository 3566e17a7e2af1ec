# src/ops/random.mk: the random family (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/random.c
noinst_HEADERS += src/ops/random_impl.h
