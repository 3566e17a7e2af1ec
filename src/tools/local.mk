# src/tools: the dltrain and dlprep programs (thin: parse args, call the library)
bin_PROGRAMS += dltrain dlprep
dltrain_SOURCES = src/tools/dltrain.c
dltrain_LDADD = libdltrain.la
dlprep_SOURCES = src/tools/dlprep.c
dlprep_LDADD = libdltrain.la
