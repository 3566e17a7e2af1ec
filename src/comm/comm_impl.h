/* Private to src/comm: the communicator, its request slots, the watchdog and
 * the NCCL backend interface. */
#ifndef DLT_COMM_IMPL_H
#define DLT_COMM_IMPL_H

#include <mpi.h>

#include "dlt_comm.h"

#define COMM_MAX_REQ 256
#define COMM_TAG_REPORT 7101 /* watchdog reports, on the watch communicator */

typedef enum {
    OP_NONE = 0,
    OP_ALLREDUCE,
    OP_BCAST,
    OP_ALLGATHER,
    OP_REDUCE_SCATTER,
    OP_BARRIER,
    OP_ALLGATHERV,
    OP_REDUCE_SCATTERV,
    OP_FINGERPRINT,
    OP_NOPS
} comm_opcode;

/* What a collective is, for fingerprints and reports. */
typedef struct {
    int64_t seq, step;
    int op, type, root, tag; /* tag: gradient bucket, -1 none */
    int64_t count;
} comm_desc;

typedef struct {
    int in_use;
    comm_desc d;
    MPI_Request mreq;
    int on_device; /* started on the NCCL backend */
    /* post-processing on completion: divide by the number of ranks (MPI AVG) */
    void *avg_buf;
    size_t avg_n;
    int avg_type;
    /* A ring all-reduce (ring.c), run in start order, one at a time: */
    int ring;            /* 1: this request is one */
    int ring_step;       /* the step whose messages are posted next or pending, 0 .. 2 (P-1) */
    int ring_posted;     /* its messages are posted */
    int ring_done;       /* complete, waiting to be released by wait/test */
    void *ring_buf;      /* the caller's buffer, reduced in place */
    void *ring_tmp;      /* where the current reduce-scatter step receives (c->scratch) */
    MPI_Request rq[2];   /* send, receive of the current step */
    /* Fused post-scale: the reduced chunk this rank owns is multiplied by f
     * in the last reduce-scatter step: f = scale_const, or with scale_den set
     * f = *scale_num / *scale_den (0 when *scale_den <= 0), read once
     * scale_gate (the request that fills them; may be NULL) completed. */
    int scale;
    double scale_const;
    const double *scale_num, *scale_den;
    dlt_comm_req *scale_gate;
} comm_req;

struct comm_nccl;

struct dlt_comm {
    MPI_Comm comm, watch, dbg;
    int rank, size;
    dlt_comm_backend backend;
    int device; /* NCCL: the CUDA device (dlt_comm_config.device) */
    double timeout;
    int debug;
    int64_t seq, step;
    int nextfree;
    comm_req req[COMM_MAX_REQ];
    int64_t *fp; /* debug fingerprints, size * 8 */
    void *stream;
    struct comm_nccl *nccl;
    MPI_Op bf16_sum; /* user-defined SUM over bf16 (MPI_UINT16_T) elements */
    /* ring.c: its communicator (point-to-point messages apart from every
     * other), the FIFO of pending ring requests (slot indices; only the head
     * moves), and the reduce-scatter receive buffer, grow-only; when it grows
     * while the head's receive targets it, the old one is kept in `retired`
     * until that step is reduced. */
    MPI_Comm ring;
    long ring_min; /* dlt_comm_config.ring_min_bytes resolved; < 0: no ring */
    int ringq[COMM_MAX_REQ];
    int rq_head, rq_len;
    void *scratch, *retired, *scratch_busy;
    size_t scratch_bytes;
};

/* comm.c: start a collective with a bucket tag (the reducer's entry point). */
dlt_status comm_start(dlt_comm *c, int op, const void *send, void *recv, size_t count,
                      const int *counts, const int *displs, int type, int redop, int root, int tag,
                      dlt_comm_req *req);
/* A collective on host memory over MPI whatever the backend (req NULL: blocking). */
dlt_status comm_start_host(dlt_comm *c, int op, const void *send, void *recv, size_t count, int type,
                           int redop, int root, int tag, dlt_comm_req *req);
/* Blocking collective on host memory over MPI whatever the backend. */
dlt_status comm_host(dlt_comm *c, int op, const void *send, void *recv, size_t count, int type,
                     int redop, int root);
/* Sum all-reduce of f32 host memory over MPI (ring.c) whose result is
 * multiplied, fused into the reduction, by *num / *den (0 when *den <= 0) as
 * soon as `gate` (the request filling *num and *den, or NULL) completes: the
 * reducer's division by the global sample count. Needs 2 or more ranks. */
dlt_status comm_allreduce_scaled(dlt_comm *c, float *buf, size_t count, int tag, const double *num,
                                 const double *den, dlt_comm_req *gate, dlt_comm_req *req);
MPI_Datatype comm_mpi_type(int type);
size_t comm_type_size(int type);
const char *comm_type_name(int type); /* "f32", "f64", "bf16" */

/* watchdog.c */
double comm_now(void);
/* Polls until *mreq completes; on timeout or a peer's report stops the job. */
void comm_wait_mpi(dlt_comm *c, MPI_Request *mreq, const comm_desc *d);
/* Polls `done` (returns 1 when complete, -1 on a backend error) like above. */
void comm_wait_fn(dlt_comm *c, int (*done)(dlt_comm *, comm_req *), comm_req *r);
/* Checks, in debug mode, that every rank is about to run the same collective. */
void comm_fingerprint(dlt_comm *c, const comm_desc *d);
void comm_trip(dlt_comm *c, const comm_desc *d, int reason) __attribute__((noreturn));
void comm_describe(const comm_desc *d, char *buf, size_t len);
/* 1 when another rank has sent a report (cheap probe). */
int comm_peer_alert(dlt_comm *c);

/* ring.c: the all-reduce of host buffers of c->ring_min bytes or more
 * (SUM and AVG), bandwidth-optimal where MPI_Iallreduce in place is not. */
#define COMM_RING_MIN_BYTES (32 * 1024) /* the default of ring_min */
int comm_ring_eligible(const dlt_comm *c, int op, int type, int redop, size_t count);
/* Queues r (slot filled, d set) over buf; grows the scratch buffer. */
dlt_status comm_ring_start(dlt_comm *c, comm_req *r, void *buf, size_t count);
/* Drives the queue; 1 when r is complete, 0 pending, -1 on an MPI error. */
int comm_ring_done(dlt_comm *c, comm_req *r);
/* Drives the queue as far as it can go without waiting. */
void comm_ring_progress(dlt_comm *c);
void comm_ring_free(dlt_comm *c);

/* nccl.c (CUDA builds; the stubs in comm.c answer UNSUPPORTED otherwise) */
dlt_status comm_nccl_init(dlt_comm *c, int device);
void comm_nccl_free(dlt_comm *c);
/* The uneven collectives (counts/displs per rank) run in place as grouped
 * ncclReduce / ncclBroadcast calls, one per rank's block: a reduce-scatterv
 * leaves each rank's block at its own displacement (MPI's, first). */
dlt_status comm_nccl_start(dlt_comm *c, comm_req *r, const void *send, void *recv, size_t count,
                           const int *counts, const int *displs, int type, int redop, int root);
int comm_nccl_done(dlt_comm *c, comm_req *r); /* 1 done, 0 pending, -1 error */
void comm_nccl_abort(dlt_comm *c);

#endif
