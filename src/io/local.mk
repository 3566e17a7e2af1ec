# src/io: files of this module (included by Makefile.am)
libdltrain_la_SOURCES += src/io/toml.c src/io/toml_scan.c src/io/toml_time.c src/io/toml_tree.c src/io/toml_write.c \
	src/io/toml_impl.h
pkginclude_HEADERS += src/io/dlt_toml.h
# checkpoints (format v1)
libdltrain_la_SOURCES += src/io/ckpt_h5.c src/io/ckpt_meta.c src/io/ckpt_write.c src/io/ckpt_read.c
pkginclude_HEADERS += src/io/dlt_ckpt.h
# a checkpoint's /model attributes on their own (for rebuilding its model elsewhere)
libdltrain_la_SOURCES += src/io/ckpt_model.c
pkginclude_HEADERS += src/io/dlt_ckpt_model.h
noinst_HEADERS += src/io/ckpt_h5.h
libdltrain_la_SOURCES += src/io/job.c src/io/job_schema.c src/io/job_diff.c src/io/run_lock.c
pkginclude_HEADERS += src/io/dlt_job.h
# run outputs: TensorBoard event files, Chrome-trace timelines
libdltrain_la_SOURCES += src/io/tfevents.c src/io/trace.c
pkginclude_HEADERS += src/io/dlt_logio.h
# run outputs: PNG files and sample grids (also TensorBoard image summaries)
libdltrain_la_SOURCES += src/io/png_write.c src/io/draw.c src/io/plot.c
pkginclude_HEADERS += src/io/dlt_png.h src/io/dlt_draw.h src/io/dlt_plot.h
# export to other frameworks (safetensors)
libdltrain_la_SOURCES += src/io/export_safetensors.c
pkginclude_HEADERS += src/io/dlt_export.h
# prediction files of dltrain predict
libdltrain_la_SOURCES += src/io/pred_h5.c
pkginclude_HEADERS += src/io/dlt_predfile.h
