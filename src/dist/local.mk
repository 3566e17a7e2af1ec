# src/dist: data parallelism for a graph (layout in bucket order, readiness,
# replica, optimizer step) over src/comm's graph-free reducer
pkginclude_HEADERS += src/dist/dlt_dist.h
libdltrain_la_SOURCES += src/dist/dist.c src/dist/dist_optim.c src/dist/dist_replica.c
noinst_HEADERS += src/dist/dist_impl.h
