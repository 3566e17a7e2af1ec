# src/comm: MPI/NCCL world, collectives, gradient reducer
libdltrain_la_SOURCES += src/comm/world.c
pkginclude_HEADERS += src/comm/dlt_comm.h
libdltrain_la_SOURCES += src/comm/comm.c src/comm/watchdog.c src/comm/reducer.c \
	src/comm/replica.c src/comm/ring.c
noinst_HEADERS += src/comm/comm_impl.h
if HAVE_CUDA
libdltrain_la_SOURCES += src/comm/nccl.c
endif
EXTRA_DIST += src/comm/nccl.c
