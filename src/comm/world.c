/* MPI start-up, rank discovery (singleton trap, device, threads, rank table)
 * and the all-reduce self-check. */
#include "dlt_comm.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The task count a launcher announces in the environment, 0 when none. */
static long launcher_tasks(const char **which)
{
    static const char *const vars[] = {"SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS",
                                       "OMPI_COMM_WORLD_SIZE", "PMI_SIZE",     "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) {
            *which = vars[i];
            return n;
        }
    }
    return 0;
}

dlt_status dlt_world_check_launch(int mpi_size)
{
    const char *which = NULL, *allow = getenv("DLT_ALLOW_SINGLETON");
    long n = launcher_tasks(&which);
    if (mpi_size != 1 || n <= 1 || (allow && strcmp(allow, "1") == 0))
        return DLT_OK;
    return dlt_seterr(DLT_ERR_COMM,
                      "the launcher started %ld tasks (%s=%ld) but MPI reports a world of 1 rank: "
                      "the program was started without a working PMI/PMIx connection, so each "
                      "task would train alone (%ld independent runs). With Slurm use "
                      "`srun --mpi=pmix` (see `srun --mpi=list`) or mpirun inside the allocation; "
                      "check that the MPI library matches the launcher. Set DLT_ALLOW_SINGLETON=1 "
                      "to run a single rank anyway",
                      n, which, n, n);
}

int dlt_world_device(const dlt_world *w, int device_count)
{
    return device_count > 0 ? w->local_rank % device_count : -1;
}

int dlt_world_default_threads(const dlt_world *w)
{
    /* an explicit OMP_NUM_THREADS (set by the user or the batch system) wins */
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int per = (int)(cores / (w->local_size > 0 ? w->local_size : 1));
    return per >= 1 ? per : 1;
}

dlt_status dlt_world_log_table(const dlt_world *w, int device, int threads)
{
    enum { HOSTLEN = 64 };
    char mine[HOSTLEN + 2 * sizeof(int)], *all = NULL;
    memset(mine, 0, sizeof mine);
    memcpy(mine, w->host, strnlen(w->host, HOSTLEN - 1)); /* truncated, NUL-padded */
    memcpy(mine + HOSTLEN, &device, sizeof device);
    memcpy(mine + HOSTLEN + sizeof(int), &threads, sizeof threads);
    if (w->rank == 0 && !(all = malloc(sizeof mine * (size_t)w->size)))
        return dlt_seterr(DLT_ERR_NOMEM, "rank table: out of memory");
    if (MPI_Gather(mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0,
                   MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(all);
        return dlt_seterr(DLT_ERR_COMM, "rank table: MPI_Gather failed");
    }
    if (w->rank == 0) {
        dlt_log(DLT_LOG_INFO, "%d rank%s:", w->size, w->size == 1 ? "" : "s");
        for (int r = 0; r < w->size; r++) {
            const char *e = all + (size_t)r * sizeof mine;
            int dev, thr;
            memcpy(&dev, e + HOSTLEN, sizeof dev);
            memcpy(&thr, e + HOSTLEN + sizeof(int), sizeof thr);
            if (dev >= 0)
                dlt_log(DLT_LOG_INFO, "  rank %d -> %.*s -> cuda:%d", r, HOSTLEN, e, dev);
            else
                dlt_log(DLT_LOG_INFO, "  rank %d -> %.*s -> cpu, %d threads", r, HOSTLEN, e, thr);
        }
    }
    free(all);
    return DLT_OK;
}

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
    if (dlt_world_check_launch(w->size) != DLT_OK)
        return DLT_ERR_COMM;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &local) !=
        MPI_SUCCESS)
        return dlt_seterr(DLT_ERR_COMM, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed");
    MPI_Comm_rank(local, &w->local_rank);
    MPI_Comm_size(local, &w->local_size);
    MPI_Comm_free(&local);
    MPI_Get_processor_name(name, &len);
    snprintf(w->host, sizeof w->host, "%s", name);
    if (w->size > 1)
        dlt_log_set_rank(w->rank);
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

void dlt_world_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
}

dlt_status dlt_world_selftest(const dlt_world *w, size_t n, double *max_err)
{
    double *buf = malloc(n * sizeof *buf), err = 0;
    int p = w->size;
    if (!buf)
        return dlt_seterr(DLT_ERR_NOMEM, "selftest: cannot allocate %zu doubles", n);
    /* rank r contributes (r + 1) * (i + 1); the sum is (i + 1) * p (p + 1) / 2 */
    for (size_t i = 0; i < n; i++)
        buf[i] = (double)(w->rank + 1) * (double)(i + 1);
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS) {
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
