# src/comm: MPI/NCCL world, collectives, gradient reducer
libdltrain_la_SOURCES += src/comm/world.c
pkginclude_HEADERS += src/comm/dlt_comm.h
