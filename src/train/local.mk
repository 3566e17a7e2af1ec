# src/train: training loops per task, evaluation, build information
libdltrain_la_SOURCES += src/train/buildinfo.c
pkginclude_HEADERS += src/train/dlt_train.h
