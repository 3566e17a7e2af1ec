/* Helper for test_mpi_faults.sh: a small job that goes wrong on purpose.
 *   comm_fault stop      rank 1 stops itself (SIGSTOP) before an all-reduce;
 *                        the others must report it and the job must end (timeout 3 s)
 *   comm_fault stop0     the same with rank 0 stopped (the lowest rank reports, and
 *                        every rank names the same rank as the missing one)
 *   comm_fault stopbig   like stop, the all-reduce large enough for the ring
 *                        (point-to-point messages, src/comm/ring.c)
 *   comm_fault error     rank 1 fails with a library error while the others wait
 *   comm_fault mismatch  debug_collectives: rank 0 all-reduces, the others broadcast
 *   comm_fault launch    dlt_world_init only (the singleton-trap check)
 * Every mode but `launch` must end with a non-zero exit via MPI_Abort. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_comm.h"

int main(int argc, char **argv)
{
    dlt_world w;
    const char *mode = argc > 1 ? argv[1] : "";
    if (dlt_world_init(&argc, &argv, &w) != DLT_OK) {
        fprintf(stderr, "error: %s\n", dlt_errmsg());
        dlt_world_finalize(&w);
        return 1;
    }
    if (strcmp(mode, "launch") == 0) {
        printf("launch ok: %d rank(s)\n", w.size);
        dlt_world_finalize(&w);
        return 0;
    }
    dlt_comm_config cfg = {.timeout_s = strncmp(mode, "stop", 4) == 0 ? 3 : 60,
                           .debug_collectives = strcmp(mode, "mismatch") == 0};
    dlt_comm *c;
    if (dlt_comm_create(&w, &cfg, &c) != DLT_OK) {
        fprintf(stderr, "error: %s\n", dlt_errmsg());
        return 1;
    }
    enum { BIG = 65536 };
    float buf[64] = {0}, *big = calloc(BIG, sizeof *big);
    dlt_comm_set_step(c, 41);
    dlt_comm_allreduce(c, buf, 64, DLT_COMM_F32, DLT_COMM_SUM, NULL); /* all arrive */
    dlt_comm_set_step(c, 42);
    if (((strcmp(mode, "stop") == 0 || strcmp(mode, "stopbig") == 0) && w.rank == 1) ||
        (strcmp(mode, "stop0") == 0 && w.rank == 0))
        raise(SIGSTOP);
    if (strcmp(mode, "error") == 0 && w.rank == 1) {
        dlt_comm_fail(c,
                      dlt_seterr(DLT_ERR_IO, "cannot read shard 'train-0003.h5': truncated file"));
    }
    if (strcmp(mode, "mismatch") == 0 && w.rank != 0)
        dlt_comm_bcast(c, buf, 16, DLT_COMM_F32, 0, NULL);
    else if (strcmp(mode, "stopbig") == 0)
        dlt_comm_allreduce(c, big, BIG, DLT_COMM_F32, DLT_COMM_SUM, NULL);
    else
        dlt_comm_allreduce(c, buf, 64, DLT_COMM_F32, DLT_COMM_SUM, NULL);
    printf("rank %d: finished without an error (unexpected)\n", w.rank);
    free(big);
    dlt_comm_free(c);
    dlt_world_finalize(&w);
    return 0;
}
