/* The NCCL backend on device buffers (CUDA builds): all-reduce sum/average,
 * broadcast, all-gather, reduce-scatter (f32, and bf16 sums: ncclBfloat16)
 * against hand-computed values, and the
 * reducer-facing ordering (results visible to the compute stream after wait).
 * SKIP (77, on every rank) unless each rank on a node has a GPU of its own. */
#include <cuda_runtime.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_bf16.h"
#include "dlt_comm.h"
#include "dlt_gpu.h"

static int fails;
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    dlt_world w;
    if (dlt_world_init(&argc, &argv, &w) != DLT_OK)
        return 1;
    int ndev = dlt_gpu_device_count(), skip = ndev < w.local_size;
    MPI_Allreduce(MPI_IN_PLACE, &skip, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (skip) {
        if (w.rank == 0)
            printf("SKIP: %d GPU(s) for %d rank(s) on this node\n", ndev, w.local_size);
        dlt_world_finalize(&w);
        return 77;
    }
    int p = w.size, r = w.rank, dev = dlt_world_device(&w, ndev);
    dlt_comm_config cfg = {.backend = DLT_COMM_NCCL, .device = dev, .timeout_s = 60};
    dlt_comm *c;
    if (dlt_comm_create(&w, &cfg, &c) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        dlt_world_abort(1);
    }
    enum { N = 1000 };
    float h[N * 4], *d, *d2;
    cudaStream_t s;
    cudaStreamCreate(&s);
    dlt_comm_set_stream(c, s);
    cudaMalloc((void **)&d, sizeof h);
    cudaMalloc((void **)&d2, sizeof h);
    for (int i = 0; i < N; i++)
        h[i] = (float)((r + 1) * (i % 5));
    cudaMemcpyAsync(d, h, N * sizeof *h, cudaMemcpyHostToDevice, s);
    dlt_comm_req q = {0};
    CHECK(dlt_comm_allreduce(c, d, N, DLT_COMM_F32, DLT_COMM_SUM, &q) == DLT_OK, "%s",
          dlt_errmsg());
    dlt_comm_wait(c, &q);
    cudaMemcpyAsync(h, d, N * sizeof *h, cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    for (int i = 0; i < N; i++)
        CHECK(h[i] == (float)((i % 5) * p * (p + 1) / 2), "allreduce[%d] = %g", i, h[i]);
    for (int i = 0; i < N; i++)
        h[i] = r == p - 1 ? (float)i : -1.0f;
    cudaMemcpyAsync(d, h, N * sizeof *h, cudaMemcpyHostToDevice, s);
    dlt_comm_bcast(c, d, N, DLT_COMM_F32, p - 1, NULL);
    cudaMemcpyAsync(h, d, N * sizeof *h, cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    for (int i = 0; i < N; i++)
        CHECK(h[i] == (float)i, "bcast[%d] = %g", i, h[i]);
    /* reduce-scatter then all-gather back: avg of (k+1)*j over ranks */
    for (int j = 0; j < N; j++)
        h[j] = (float)((r + 1) * j);
    size_t per = N / (size_t)p;
    cudaMemcpyAsync(d, h, N * sizeof *h, cudaMemcpyHostToDevice, s);
    dlt_comm_reduce_scatter(c, d, d2 + (size_t)r * per, per, DLT_COMM_F32, DLT_COMM_AVG, NULL);
    dlt_comm_allgather(c, NULL, d2, per, DLT_COMM_F32, NULL);
    cudaMemcpyAsync(h, d2, per * (size_t)p * sizeof *h, cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    for (size_t j = 0; j < per * (size_t)p; j++)
        CHECK(h[j] == (float)(j * (p + 1) / 2.0), "rs+ag[%zu] = %g", j, h[j]);
    /* bf16 sums of small integers times powers of two: exact whatever the
     * order NCCL adds in; reduce-scatter of bf16; MAX on bf16 refused */
    dlt_bf16 hb[N], *db = (dlt_bf16 *)d, *db2 = (dlt_bf16 *)d2;
    for (int i = 0; i < N; i++)
        hb[i] = dlt_f32_to_bf16((float)((r + 1) * (i % 5)) * (i % 3 ? 0.25f : 64.0f));
    cudaMemcpyAsync(db, hb, N * sizeof *hb, cudaMemcpyHostToDevice, s);
    CHECK(dlt_comm_allreduce(c, db, N, DLT_COMM_BF16, DLT_COMM_SUM, NULL) == DLT_OK, "%s", dlt_errmsg());
    cudaMemcpyAsync(hb, db, N * sizeof *hb, cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    for (int i = 0; i < N; i++)
        CHECK(dlt_bf16_to_f32(hb[i]) == (float)((i % 5) * p * (p + 1) / 2) * (i % 3 ? 0.25f : 64.0f),
              "bf16 allreduce[%d] = %g", i, dlt_bf16_to_f32(hb[i]));
    for (int j = 0; j < N; j++)
        hb[j] = dlt_f32_to_bf16((float)((r + 1) * (j % 7)));
    cudaMemcpyAsync(db, hb, N * sizeof *hb, cudaMemcpyHostToDevice, s);
    CHECK(dlt_comm_reduce_scatter(c, db, db2, per, DLT_COMM_BF16, DLT_COMM_SUM, NULL) == DLT_OK, "%s",
          dlt_errmsg());
    cudaMemcpyAsync(hb, db2, per * sizeof *hb, cudaMemcpyDeviceToHost, s);
    cudaStreamSynchronize(s);
    for (size_t j = 0; j < per; j++)
        CHECK(dlt_bf16_to_f32(hb[j]) == (float)(((size_t)r * per + j) % 7 * (size_t)(p * (p + 1) / 2)),
              "bf16 reduce-scatter[%zu] = %g", j, dlt_bf16_to_f32(hb[j]));
    CHECK(dlt_comm_allreduce(c, db, N, DLT_COMM_BF16, DLT_COMM_MAX, NULL) == DLT_ERR_UNSUPPORTED,
          "bf16 MAX was not refused");
    MPI_Allreduce(MPI_IN_PLACE, &fails, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (r == 0)
        printf("nccl backend, %d ranks: %s\n", p, fails ? "FAILED" : "ok");
    cudaFree(d);
    cudaFree(d2);
    dlt_comm_free(c);
    cudaStreamDestroy(s);
    dlt_world_finalize(&w);
    return fails ? 1 : 0;
}
