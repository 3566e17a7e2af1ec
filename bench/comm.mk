# bench/comm.mk: data-parallel benchmarks (included from src/comm/local.mk).
# Built by `make check`, never run by it: mpirun -np 2 bench/comm_bench [MiB ...]
check_PROGRAMS += bench/comm_bench
bench_comm_bench_LDADD = libdltrain.la $(DLT_DEP_LIBS)
