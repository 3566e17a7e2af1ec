/* MPI start-up, rank discovery and the all-reduce self-check. */
#include "dlt_comm.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dlt_status dlt_world_init(int *argc, char ***argv, dlt_world *w)
{
    int inited = 0, provided = 0, len = 0;
    char name[MPI_MAX_PROCESSOR_NAME];
    MPI_Comm local;
    memset(w, 0, sizeof *w);
    MPI_Initialized(&inited);
    if (!inited) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return dlt_seterr(DLT_ERR_COMM, "MPI_Init_thread failed");
        w->initialized_mpi = 1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &local) !=
        MPI_SUCCESS)
        return dlt_seterr(DLT_ERR_COMM, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed");
    MPI_Comm_rank(local, &w->local_rank);
    MPI_Comm_size(local, &w->local_size);
    MPI_Comm_free(&local);
    MPI_Get_processor_name(name, &len);
    snprintf(w->host, sizeof w->host, "%s", name);
    return DLT_OK;
}

void dlt_world_finalize(dlt_world *w)
{
    int fin = 0;
    MPI_Finalized(&fin);
    if (w->initialized_mpi && !fin)
        MPI_Finalize();
    w->initialized_mpi = 0;
}

void dlt_world_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

dlt_status dlt_world_selftest(const dlt_world *w, size_t n, double *max_err)
{
    double *buf = malloc(n * sizeof *buf), err = 0;
    int p = w->size;
    if (!buf)
        return dlt_seterr(DLT_ERR_NOMEM, "selftest: cannot allocate %zu doubles", n);
    /* rank r contributes (r + 1) * (i + 1); the sum is (i + 1) * p (p + 1) / 2 */
    for (size_t i = 0; i < n; i++)
        buf[i] = (double)(w->rank + 1) * (double)(i + 1);
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(buf);
        return dlt_seterr(DLT_ERR_COMM, "selftest: MPI_Allreduce failed");
    }
    for (size_t i = 0; i < n; i++) {
        double want = (double)(i + 1) * p * (p + 1) / 2.0;
        double e = fabs(buf[i] - want);
        if (e > err)
            err = e;
    }
    free(buf);
    if (max_err)
        *max_err = err;
    if (err != 0)
        return dlt_seterr(DLT_ERR_COMM, "selftest: all-reduce off by %g", err);
    return DLT_OK;
}

void dlt_mpi_version(char *buf, size_t len)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(v, &n);
    /* keep the first line only: Open MPI appends repository details */
    v[strcspn(v, "\n,")] = '\0';
    snprintf(buf, len, "%s", v);
}
