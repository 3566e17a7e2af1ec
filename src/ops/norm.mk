# src/ops/norm.mk: op family files (included by src/ops/local.mk)
libdltrain_la_SOURCES += src/ops/norm.c src/ops/norm_grad.c src/ops/norm_kernels.c src/ops/dropout.c src/ops/loss.c \
	src/ops/loss_pw.c src/ops/metric.c
noinst_HEADERS += src/ops/norm_impl.h src/ops/loss_impl.h
