/* The NCCL backend (CUDA builds only): collectives on device buffers, on a
 * communication stream of their own, ordered after the compute stream by an
 * event and waited for by polling an event (so the watchdog's timeout works:
 * on expiry the NCCL communicator is aborted, then the job). The unique id
 * travels by MPI_Bcast. Barriers and metrics stay on MPI. */
#include "comm_impl.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdlib.h>

struct comm_nccl {
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t ready;
    cudaEvent_t done[COMM_MAX_REQ];
    int device, aborted;
};

static dlt_status cuda_err(cudaError_t e, const char *what)
{
    return dlt_seterr(DLT_ERR_COMM, "nccl backend: %s: %s", what, cudaGetErrorString(e));
}

dlt_status comm_nccl_init(dlt_comm *c, int device)
{
    struct comm_nccl *n = calloc(1, sizeof *n);
    ncclUniqueId id;
    cudaError_t e;
    if (!n)
        return dlt_seterr(DLT_ERR_NOMEM, "nccl backend: out of memory");
    c->nccl = n;
    n->device = device;
    if ((e = cudaSetDevice(device)) != cudaSuccess)
        return cuda_err(e, "cudaSetDevice");
    if (c->rank == 0 && ncclGetUniqueId(&id) != ncclSuccess)
        return dlt_seterr(DLT_ERR_COMM, "nccl backend: ncclGetUniqueId failed");
    if (MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, c->comm) != MPI_SUCCESS)
        return dlt_seterr(DLT_ERR_COMM, "nccl backend: MPI_Bcast of the unique id failed");
    ncclResult_t r = ncclCommInitRank(&n->comm, c->size, id, c->rank);
    if (r != ncclSuccess) {
        n->comm = NULL;
        return dlt_seterr(DLT_ERR_COMM, "nccl backend: ncclCommInitRank: %s",
                          ncclGetErrorString(r));
    }
    if ((e = cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking)) != cudaSuccess)
        return cuda_err(e, "cudaStreamCreate");
    if ((e = cudaEventCreateWithFlags(&n->ready, cudaEventDisableTiming)) != cudaSuccess)
        return cuda_err(e, "cudaEventCreate");
    for (int i = 0; i < COMM_MAX_REQ; i++)
        if ((e = cudaEventCreateWithFlags(&n->done[i], cudaEventDisableTiming)) != cudaSuccess)
            return cuda_err(e, "cudaEventCreate");
    return DLT_OK;
}

void comm_nccl_free(dlt_comm *c)
{
    struct comm_nccl *n = c->nccl;
    if (!n)
        return;
    if (n->comm)
        ncclCommDestroy(n->comm);
    for (int i = 0; i < COMM_MAX_REQ; i++)
        if (n->done[i])
            cudaEventDestroy(n->done[i]);
    if (n->ready)
        cudaEventDestroy(n->ready);
    if (n->stream)
        cudaStreamDestroy(n->stream);
    free(n);
    c->nccl = NULL;
}

static ncclRedOp_t nccl_op(int redop)
{
    switch (redop) {
    case DLT_COMM_AVG:
        return ncclAvg;
    case DLT_COMM_MAX:
        return ncclMax;
    case DLT_COMM_MIN:
        return ncclMin;
    default:
        return ncclSum;
    }
}

dlt_status comm_nccl_start(dlt_comm *c, comm_req *r, const void *send, void *recv, size_t count,
                           const int *counts, const int *displs, int type, int redop, int root)
{
    struct comm_nccl *n = c->nccl;
    ncclDataType_t dt = type == DLT_COMM_F64 ? ncclFloat64 : type == DLT_COMM_BF16 ? ncclBfloat16 : ncclFloat32;
    cudaStream_t compute = (cudaStream_t)c->stream;
    cudaError_t e;
    ncclResult_t res;
    /* the collective reads what compute wrote so far */
    if ((e = cudaEventRecord(n->ready, compute)) != cudaSuccess ||
        (e = cudaStreamWaitEvent(n->stream, n->ready, 0)) != cudaSuccess)
        return cuda_err(e, "ordering after the compute stream");
    size_t es = comm_type_size(type);
    switch (r->d.op) {
    case OP_ALLREDUCE:
        res = ncclAllReduce(recv, recv, count, dt, nccl_op(redop), n->comm, n->stream);
        break;
    case OP_BCAST:
        res = ncclBroadcast(recv, recv, count, dt, root, n->comm, n->stream);
        break;
    case OP_ALLGATHER:
        res = ncclAllGather(send ? send : (const char *)recv + (size_t)c->rank * count * es, recv,
                            count, dt, n->comm, n->stream);
        break;
    case OP_REDUCE_SCATTER:
        res = ncclReduceScatter(send, recv, count, dt, nccl_op(redop), n->comm, n->stream);
        break;
    case OP_REDUCE_SCATTERV: /* in place over recv: block k reduced into its place on rank k */
    case OP_ALLGATHERV:      /* in place over recv: block k from rank k */
        res = ncclGroupStart();
        for (int k = 0; k < c->size && res == ncclSuccess; k++) {
            void *blk = (char *)recv + (size_t)displs[k] * es;
            if (counts[k] == 0)
                continue;
            res = r->d.op == OP_ALLGATHERV
                      ? ncclBroadcast(blk, blk, (size_t)counts[k], dt, k, n->comm, n->stream)
                      : ncclReduce(blk, blk, (size_t)counts[k], dt, nccl_op(redop), k, n->comm, n->stream);
        }
        {
            ncclResult_t end = ncclGroupEnd();
            if (res == ncclSuccess)
                res = end;
        }
        break;
    default:
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "nccl backend: unsupported collective");
    }
    if (res != ncclSuccess)
        return dlt_seterr(DLT_ERR_COMM, "nccl backend: %s", ncclGetErrorString(res));
    cudaEvent_t done = n->done[r - c->req];
    if ((e = cudaEventRecord(done, n->stream)) != cudaSuccess)
        return cuda_err(e, "cudaEventRecord");
    return DLT_OK;
}

int comm_nccl_done(dlt_comm *c, comm_req *r)
{
    struct comm_nccl *n = c->nccl;
    cudaEvent_t done = n->done[r - c->req];
    cudaError_t e = cudaEventQuery(done);
    if (e == cudaSuccess) {
        /* compute waits for the result without blocking the host */
        if (cudaStreamWaitEvent((cudaStream_t)c->stream, done, 0) != cudaSuccess)
            return -1;
        return 1;
    }
    if (e != cudaErrorNotReady)
        return -1;
    ncclResult_t async = ncclSuccess;
    if (ncclCommGetAsyncError(n->comm, &async) != ncclSuccess || async != ncclSuccess)
        return -1;
    return 0;
}

void comm_nccl_abort(dlt_comm *c)
{
    struct comm_nccl *n = c->nccl;
    if (n && n->comm && !n->aborted) {
        ncclCommAbort(n->comm);
        n->aborted = 1;
        n->comm = NULL;
    }
}
