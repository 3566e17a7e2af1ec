# src/ops/rnn.mk: the rnn family (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/rnn.c
noinst_HEADERS += src/ops/rnn_impl.h
