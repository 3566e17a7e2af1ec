/* dltrain: the training command. */
#include <stdio.h>
#include <string.h>

#include "dltrain.h"


static void usage(FILE *out)
{
    fprintf(out,
            "usage: dltrain [--version] [--help] COMMAND\n"
            "\n"
            "Commands:\n"
            "  selftest [N]   all-reduce N doubles (default 1048576) across the MPI ranks\n"
            "                 and check the sums; run as: mpirun -np 2 dltrain selftest\n"
            "\n"
            "Options:\n"
            "  --version      print the version of dltrain and of every enabled part\n"
            "                 (BLAS, MPI, HDF5, CUDA runtime and driver, cuDNN, NCCL)\n"
            "  --help         print this message\n");
}

static int selftest(int argc, char **argv, int n_arg)
{
    dlt_world w;
    double err = 0;
    size_t n = 1u << 20;
    if (n_arg < argc && sscanf(argv[n_arg], "%zu", &n) != 1) {
        fprintf(stderr, "dltrain selftest: N must be a positive integer (got '%s')\n", argv[n_arg]);
        return 2;
    }
    if (dlt_world_init(&argc, &argv, &w) != DLT_OK) {
        fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        return 1;
    }
    dlt_status st = dlt_world_selftest(&w, n, &err);
    if (w.rank == 0) {
        if (st == DLT_OK)
            printf("selftest: all-reduce of %zu doubles across %d rank%s: max error %g: ok\n", n,
                   w.size, w.size > 1 ? "s" : "", err);
        else
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
    }
    dlt_world_finalize(&w);
    return st == DLT_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        dlt_print_build_info(stdout, "dltrain");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "selftest") == 0)
        return selftest(argc, argv, 2);
    fprintf(stderr, "dltrain: unknown command '%s' (see dltrain --help)\n", argv[1]);
    return 2;
}
