# src/train: training loops per task, evaluation, build information
libdltrain_la_SOURCES += src/train/buildinfo.c src/train/classify_setup.c src/train/classify_run.c \
	src/train/report.c src/train/job_config.c
pkginclude_HEADERS += src/train/dlt_train.h
noinst_HEADERS += src/train/classify_impl.h src/train/report.h
# checkpoint side of the classification loop (save, resume, ZeRO-1 gather)
libdltrain_la_SOURCES += src/train/classify_ckpt.c
noinst_HEADERS += src/train/classify_run.h
# the run's timeline (log.trace)
libdltrain_la_SOURCES += src/train/report_trace.c
libdltrain_la_SOURCES += src/train/classify_check.c
