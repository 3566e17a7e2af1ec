# src/optim: files of this module (included by Makefile.am)
libdltrain_la_SOURCES += src/optim/optim.c src/optim/optim_dev.c src/optim/kernels.c src/optim/schedule.c \
	src/optim/clip.c src/optim/scaler.c
pkginclude_HEADERS += src/optim/dlt_optim.h
noinst_HEADERS += src/optim/optim_impl.h src/optim/optim_elem.h
