/* Process world (MPI ranks, node-local ranks) and collectives over flat buffers. */
#ifndef DLT_COMM_H
#define DLT_COMM_H

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rank, size;             /* global */
    int local_rank, local_size; /* on this node (MPI_COMM_TYPE_SHARED) */
    int initialized_mpi;        /* 1 when dlt_world_init called MPI_Init itself */
    char host[256];
} dlt_world;

/* Initialise MPI (thread level FUNNELED) unless already initialised, and fill w. */
dlt_status dlt_world_init(int *argc, char ***argv, dlt_world *w);
/* Finalise MPI when dlt_world_init initialised it. */
void dlt_world_finalize(dlt_world *w);
/* Abort every rank with `code` (used when a rank fails, so no rank hangs). */
void dlt_world_abort(int code);

/* Self-check: every rank contributes known values to a sum all-reduce and
 * compares the result with the closed form. Returns DLT_ERR_COMM on mismatch. */
dlt_status dlt_world_selftest(const dlt_world *w, size_t n, double *max_err);

/* MPI library version string (valid before MPI_Init). */
void dlt_mpi_version(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
