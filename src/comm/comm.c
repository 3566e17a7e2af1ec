/* The communicator: collectives over flat f32/f64/bf16 buffers, blocking or with
 * request handles, on MPI (host memory) or NCCL (device memory). Requests live
 * in a fixed table so the step loop never allocates. */
#include "comm_impl.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dlt_bf16.h"

/* bf16 travels as MPI_UINT16_T (MPI has no bfloat16 before 4.1 and Open MPI
 * none at all); only the user-defined bf16_sum ever reduces it. */
MPI_Datatype comm_mpi_type(int type)
{
    return type == DLT_COMM_F64 ? MPI_DOUBLE : type == DLT_COMM_BF16 ? MPI_UINT16_T : MPI_FLOAT;
}
size_t comm_type_size(int type)
{
    return type == DLT_COMM_F64 ? sizeof(double) : type == DLT_COMM_BF16 ? sizeof(dlt_bf16) : sizeof(float);
}
const char *comm_type_name(int type)
{
    return type == DLT_COMM_F64 ? "f64" : type == DLT_COMM_BF16 ? "bf16" : "f32";
}

/* inout[i] = in[i] + inout[i]: the addition in f32 (exact for two bf16 values
 * of similar magnitude), rounded to bf16 once per pair, which is what NCCL's
 * bf16 sum does at each step of its ring or tree. */
static void bf16_sum(void *in, void *inout, int *len, MPI_Datatype *dt)
{
    const dlt_bf16 *a = in;
    dlt_bf16 *b = inout;
    (void)dt;
    for (int i = 0; i < *len; i++)
        b[i] = dlt_f32_to_bf16(dlt_bf16_to_f32(a[i]) + dlt_bf16_to_f32(b[i]));
}

static MPI_Op mpi_op(const dlt_comm *c, int type, int redop)
{
    if (type == DLT_COMM_BF16)
        return c->bf16_sum; /* comm_start refused every other op */
    switch (redop) {
    case DLT_COMM_MAX:
        return MPI_MAX;
    case DLT_COMM_MIN:
        return MPI_MIN;
    default:
        return MPI_SUM; /* AVG: sum, then divide on completion */
    }
}

#ifndef DLT_HAVE_CUDA
dlt_status comm_nccl_init(dlt_comm *c, int device)
{
    (void)c, (void)device;
    return dlt_seterr(DLT_ERR_UNSUPPORTED,
                      "the NCCL backend needs a CUDA build (configure --with-cuda)");
}
void comm_nccl_free(dlt_comm *c)
{
    (void)c;
}
dlt_status comm_nccl_start(dlt_comm *c, comm_req *r, const void *send, void *recv, size_t count,
                           const int *counts, const int *displs, int type, int redop, int root)
{
    (void)c, (void)r, (void)send, (void)recv, (void)count, (void)type, (void)redop, (void)root;
    (void)counts, (void)displs;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "the NCCL backend needs a CUDA build");
}
int comm_nccl_done(dlt_comm *c, comm_req *r)
{
    (void)c, (void)r;
    return -1;
}
void comm_nccl_abort(dlt_comm *c)
{
    (void)c;
}
#endif

/* A communicator over the ranks of `base` (world or group), holding its own
 * duplicates of it: collectives, the watchdog's reports, debug fingerprints
 * and the ring's point-to-point messages never mix with another's. */
static dlt_status comm_new(MPI_Comm base, const dlt_comm_config *cfg, dlt_comm **out)
{
    *out = NULL;
    dlt_comm *c = calloc(1, sizeof *c);
    if (!c)
        return dlt_seterr(DLT_ERR_NOMEM, "comm: out of memory");
    c->bf16_sum = MPI_OP_NULL;
    MPI_Comm_rank(base, &c->rank);
    MPI_Comm_size(base, &c->size);
    c->backend = cfg->backend;
    c->device = cfg->device;
    c->timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 600;
    c->debug = cfg->debug_collectives;
    c->ring_min = cfg->ring_min_bytes < 0 ? -1 : cfg->ring_min_bytes > 0 ? cfg->ring_min_bytes : COMM_RING_MIN_BYTES;
    if (MPI_Comm_dup(base, &c->comm) != MPI_SUCCESS || MPI_Comm_dup(base, &c->watch) != MPI_SUCCESS ||
        MPI_Comm_dup(base, &c->dbg) != MPI_SUCCESS || MPI_Comm_dup(base, &c->ring) != MPI_SUCCESS) {
        dlt_comm_free(c);
        return dlt_seterr(DLT_ERR_COMM, "comm: MPI_Comm_dup failed");
    }
    c->fp = calloc((size_t)c->size * 8, sizeof *c->fp);
    if (!c->fp) {
        dlt_comm_free(c);
        return dlt_seterr(DLT_ERR_NOMEM, "comm: out of memory");
    }
    if (MPI_Op_create(bf16_sum, 1, &c->bf16_sum) != MPI_SUCCESS) {
        c->bf16_sum = MPI_OP_NULL;
        dlt_comm_free(c);
        return dlt_seterr(DLT_ERR_COMM, "comm: MPI_Op_create (bf16 sum) failed");
    }
    if (c->backend == DLT_COMM_NCCL) {
        dlt_status st = comm_nccl_init(c, cfg->device);
        if (st != DLT_OK) {
            dlt_comm_free(c);
            return st;
        }
    }
    *out = c;
    return DLT_OK;
}

dlt_status dlt_comm_create(const dlt_world *w, const dlt_comm_config *cfg, dlt_comm **out)
{
    dlt_comm_config def = {0};
    (void)w; /* its rank and size are MPI_COMM_WORLD's */
    return comm_new(MPI_COMM_WORLD, cfg ? cfg : &def, out);
}

dlt_status dlt_comm_split(dlt_comm *c, int color, int key, dlt_comm **out)
{
    *out = NULL;
    /* every rank's (color, key) under the watchdog first: a rank that never
     * comes is reported and stops the job instead of hanging MPI_Comm_split,
     * and a bad color fails on every rank alike */
    double mine[2] = {color, key}, *all = malloc((size_t)c->size * 2 * sizeof *all);
    if (!all)
        return dlt_seterr(DLT_ERR_NOMEM, "comm split: out of memory");
    dlt_status st = comm_host(c, OP_ALLGATHER, mine, all, 2, DLT_COMM_F64, DLT_COMM_SUM, 0);
    int bad = -1;
    for (int r = 0; st == DLT_OK && r < c->size && bad < 0; r++)
        if (all[2 * r] < 0)
            bad = r;
    if (st == DLT_OK && bad >= 0)
        st = dlt_seterr(DLT_ERR_INVALID, "comm split: rank %d's group %.0f must be >= 0", bad, all[2 * bad]);
    free(all);
    if (st != DLT_OK)
        return st;
    MPI_Comm base;
    if (MPI_Comm_split(c->comm, color, key, &base) != MPI_SUCCESS)
        return dlt_seterr(DLT_ERR_COMM, "comm split: MPI_Comm_split failed");
    dlt_comm_config cfg = {.backend = c->backend,
                           .device = c->device,
                           .timeout_s = c->timeout,
                           .debug_collectives = c->debug,
                           .ring_min_bytes = c->ring_min};
    st = comm_new(base, &cfg, out);
    MPI_Comm_free(&base);
    return st;
}

void dlt_comm_free(dlt_comm *c)
{
    if (!c)
        return;
    for (int i = 0; i < COMM_MAX_REQ; i++)
        if (c->req[i].in_use) {
            dlt_comm_req q = {i + 1};
            dlt_comm_wait(c, &q);
        }
    comm_nccl_free(c);
    comm_ring_free(c);
    if (c->ring)
        MPI_Comm_free(&c->ring);
    if (c->comm)
        MPI_Comm_free(&c->comm);
    if (c->watch)
        MPI_Comm_free(&c->watch);
    if (c->dbg)
        MPI_Comm_free(&c->dbg);
    if (c->bf16_sum != MPI_OP_NULL)
        MPI_Op_free(&c->bf16_sum);
    free(c->fp);
    free(c);
}

int dlt_comm_rank(const dlt_comm *c)
{
    return c->rank;
}
int dlt_comm_size(const dlt_comm *c)
{
    return c->size;
}
dlt_comm_backend dlt_comm_get_backend(const dlt_comm *c)
{
    return c->backend;
}
void dlt_comm_set_step(dlt_comm *c, int64_t step)
{
    c->step = step;
}
void dlt_comm_set_timeout(dlt_comm *c, double t)
{
    c->timeout = t > 0 ? t : 600;
}
void dlt_comm_set_stream(dlt_comm *c, void *stream)
{
    c->stream = stream;
}
int64_t dlt_comm_seq(const dlt_comm *c)
{
    return c->seq;
}

size_t dlt_comm_shard(size_t total, int size, int rank, size_t align, size_t *lo, size_t *hi)
{
    size_t per = size > 0 ? (total + (size_t)size - 1) / (size_t)size : total;
    if (align > 1)
        per = (per + align - 1) / align * align;
    size_t a = (size_t)rank * per, b = a + per;
    *lo = a < total ? a : total;
    *hi = b < total ? b : total;
    return per;
}

static comm_req *slot_alloc(dlt_comm *c)
{
    for (int k = 0; k < COMM_MAX_REQ; k++) {
        int i = (c->nextfree + k) % COMM_MAX_REQ;
        if (!c->req[i].in_use) {
            c->nextfree = (i + 1) % COMM_MAX_REQ;
            memset(&c->req[i], 0, sizeof c->req[i]);
            c->req[i].in_use = 1;
            c->req[i].mreq = MPI_REQUEST_NULL;
            return &c->req[i];
        }
    }
    return NULL;
}

static int fits_int(size_t n)
{
    return n <= (size_t)0x7fffffff;
}

static int mpi_start(dlt_comm *c, comm_req *r, const void *send, void *recv, size_t count,
                     const int *counts, const int *displs, int type, int redop, int root)
{
    MPI_Datatype dt = comm_mpi_type(type);
    int n = (int)count;
    switch (r->d.op) {
    case OP_ALLREDUCE:
        return MPI_Iallreduce(MPI_IN_PLACE, recv, n, dt, mpi_op(c, type, redop), c->comm, &r->mreq);
    case OP_BCAST:
        return MPI_Ibcast(recv, n, dt, root, c->comm, &r->mreq);
    case OP_ALLGATHER:
        return MPI_Iallgather(send ? send : MPI_IN_PLACE, send ? n : 0, dt, recv, n, dt, c->comm,
                              &r->mreq);
    case OP_REDUCE_SCATTER:
        return MPI_Ireduce_scatter_block(send, recv, n, dt, mpi_op(c, type, redop), c->comm, &r->mreq);
    case OP_BARRIER:
        return MPI_Ibarrier(c->comm, &r->mreq);
    case OP_ALLGATHERV: /* in place over recv */
        return MPI_Iallgatherv(MPI_IN_PLACE, 0, dt, recv, counts, displs, dt, c->comm, &r->mreq);
    case OP_REDUCE_SCATTERV: /* in place: recv holds all, this rank's block lands first */
        return MPI_Ireduce_scatter(MPI_IN_PLACE, recv, counts, dt, mpi_op(c, type, redop), c->comm,
                                   &r->mreq);
    default:
        return MPI_ERR_OP;
    }
}

/* A slot for a new collective, described (and fingerprinted in debug mode). */
static comm_req *new_req(dlt_comm *c, int op, int type, int root, int tag, size_t count)
{
    comm_req *r = slot_alloc(c);
    if (!r)
        return NULL;
    r->d = (comm_desc){.seq = c->seq++,
                       .step = c->step,
                       .op = op,
                       .type = type,
                       .root = root,
                       .tag = tag,
                       .count = (int64_t)count};
    if (c->debug)
        comm_fingerprint(c, &r->d);
    return r;
}

static dlt_status ring_or_mpi(dlt_comm *c, comm_req *r, const void *send, void *recv, size_t count,
                              const int *counts, const int *displs, int type, int redop, int root)
{
    if (comm_ring_eligible(c, r->d.op, type, redop, count)) {
        if (redop == DLT_COMM_AVG) /* fused: the chunk this rank reduces last */
            r->scale = 1, r->scale_const = 1.0 / c->size;
        return comm_ring_start(c, r, recv, count);
    }
    int e = mpi_start(c, r, send, recv, count, counts, displs, type, redop, root);
    if (e != MPI_SUCCESS) {
        char d[160];
        comm_describe(&r->d, d, sizeof d);
        return dlt_seterr(DLT_ERR_COMM, "%s: MPI error %d", d, e);
    }
    if (redop == DLT_COMM_AVG && (r->d.op == OP_ALLREDUCE || r->d.op == OP_REDUCE_SCATTER) &&
        c->size > 1) {
        r->avg_buf = recv;
        r->avg_n = count;
        r->avg_type = type;
    }
    return DLT_OK;
}

dlt_status comm_start(dlt_comm *c, int op, const void *send, void *recv, size_t count,
                      const int *counts, const int *displs, int type, int redop, int root, int tag,
                      dlt_comm_req *req)
{
    if (!fits_int(count) || !fits_int(count * (size_t)c->size))
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "collective of %zu elements is too large", count);
    if (root < 0 || root >= c->size)
        return dlt_seterr(DLT_ERR_INVALID, "collective root %d outside 0..%d", root, c->size - 1);
    if (type == DLT_COMM_BF16 && redop != DLT_COMM_SUM &&
        (op == OP_ALLREDUCE || op == OP_REDUCE_SCATTER || op == OP_REDUCE_SCATTERV))
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "%s of bf16 elements: only SUM is implemented (got %s)",
                          op == OP_ALLREDUCE ? "all-reduce" : "reduce-scatter",
                          redop == DLT_COMM_AVG ? "AVG" : redop == DLT_COMM_MAX ? "MAX" : "MIN");
    comm_req *r = new_req(c, op, type, root, tag, count);
    if (!r)
        return dlt_seterr(DLT_ERR_INTERNAL, "more than %d collectives pending", COMM_MAX_REQ);
    int device = c->backend == DLT_COMM_NCCL && op != OP_BARRIER;
    if (device) {
        dlt_status st = comm_nccl_start(c, r, send, recv, count, counts, displs, type, redop, root);
        if (st != DLT_OK) {
            r->in_use = 0;
            return st;
        }
        r->on_device = 1;
    } else {
        dlt_status st = ring_or_mpi(c, r, send, recv, count, counts, displs, type, redop, root);
        if (st != DLT_OK) {
            r->in_use = 0;
            return st;
        }
    }
    dlt_comm_req q = {(int)(r - c->req) + 1};
    if (req) {
        *req = q;
        return DLT_OK;
    }
    return dlt_comm_wait(c, &q);
}

dlt_status comm_allreduce_scaled(dlt_comm *c, float *buf, size_t count, int tag, const double *num,
                                 const double *den, dlt_comm_req *gate, dlt_comm_req *req)
{
    if (c->size < 2 || !fits_int(count))
        return dlt_seterr(DLT_ERR_INTERNAL, "scaled all-reduce: needs 2 or more ranks and < 2^31 elements");
    comm_req *r = new_req(c, OP_ALLREDUCE, DLT_COMM_F32, 0, tag, count);
    if (!r)
        return dlt_seterr(DLT_ERR_INTERNAL, "more than %d collectives pending", COMM_MAX_REQ);
    r->scale = 1;
    r->scale_num = num;
    r->scale_den = den;
    r->scale_gate = gate;
    dlt_status st = comm_ring_start(c, r, buf, count);
    if (st != DLT_OK) {
        r->in_use = 0;
        return st;
    }
    req->id = (int)(r - c->req) + 1;
    return DLT_OK;
}

static void finish_req(dlt_comm *c, comm_req *r)
{
    if (r->avg_buf) {
        double inv = 1.0 / c->size;
        if (r->avg_type == DLT_COMM_F64)
            for (size_t i = 0; i < r->avg_n; i++)
                ((double *)r->avg_buf)[i] *= inv;
        else
            for (size_t i = 0; i < r->avg_n; i++)
                ((float *)r->avg_buf)[i] = (float)(((float *)r->avg_buf)[i] * inv);
    }
    r->in_use = 0;
}

static comm_req *lookup(dlt_comm *c, const dlt_comm_req *req)
{
    if (!req || req->id <= 0 || req->id > COMM_MAX_REQ)
        return NULL;
    comm_req *r = &c->req[req->id - 1];
    return r->in_use ? r : NULL;
}

dlt_status dlt_comm_wait(dlt_comm *c, dlt_comm_req *req)
{
    comm_req *r = lookup(c, req);
    if (!r)
        return DLT_OK;
    if (r->on_device)
        comm_wait_fn(c, comm_nccl_done, r);
    else if (r->ring)
        comm_wait_fn(c, comm_ring_done, r);
    else
        comm_wait_mpi(c, &r->mreq, &r->d);
    finish_req(c, r);
    req->id = 0;
    return DLT_OK;
}

int dlt_comm_test(dlt_comm *c, dlt_comm_req *req)
{
    comm_req *r = lookup(c, req);
    int flag = 0;
    if (!r)
        return 1;
    if (r->on_device) {
        int d = comm_nccl_done(c, r);
        if (d < 0)
            comm_trip(c, &r->d, 2);
        flag = d;
    } else if (r->ring) {
        flag = comm_ring_done(c, r);
    } else {
        MPI_Test(&r->mreq, &flag, MPI_STATUS_IGNORE);
    }
    if (flag) {
        finish_req(c, r);
        req->id = 0;
    }
    return flag;
}

void dlt_comm_progress(dlt_comm *c)
{
    comm_ring_progress(c);
    /* one MPI_Test on a pending host request drives the progress engine for all */
    for (int i = 0; i < COMM_MAX_REQ; i++)
        if (c->req[i].in_use && !c->req[i].on_device && c->req[i].mreq != MPI_REQUEST_NULL) {
            int flag = 0;
            MPI_Test(&c->req[i].mreq, &flag, MPI_STATUS_IGNORE);
            return;
        }
}

static int type_ok(dlt_comm_type t)
{
    return t == DLT_COMM_F32 || t == DLT_COMM_F64 || t == DLT_COMM_BF16;
}

dlt_status dlt_comm_allreduce(dlt_comm *c, void *buf, size_t count, dlt_comm_type t, dlt_comm_op op,
                              dlt_comm_req *req)
{
    if (!type_ok(t) || op < DLT_COMM_SUM || op > DLT_COMM_MIN)
        return dlt_seterr(DLT_ERR_INVALID, "all-reduce: bad type or op");
    return comm_start(c, OP_ALLREDUCE, NULL, buf, count, NULL, NULL, t, op, 0, -1, req);
}

dlt_status dlt_comm_bcast(dlt_comm *c, void *buf, size_t count, dlt_comm_type t, int root,
                          dlt_comm_req *req)
{
    if (!type_ok(t))
        return dlt_seterr(DLT_ERR_INVALID, "broadcast: bad type");
    return comm_start(c, OP_BCAST, NULL, buf, count, NULL, NULL, t, 0, root, -1, req);
}

dlt_status dlt_comm_allgather(dlt_comm *c, const void *send, void *recv, size_t count,
                              dlt_comm_type t, dlt_comm_req *req)
{
    if (!type_ok(t))
        return dlt_seterr(DLT_ERR_INVALID, "all-gather: bad type");
    return comm_start(c, OP_ALLGATHER, send, recv, count, NULL, NULL, t, 0, 0, -1, req);
}

dlt_status dlt_comm_reduce_scatter(dlt_comm *c, const void *send, void *recv, size_t count,
                                   dlt_comm_type t, dlt_comm_op op, dlt_comm_req *req)
{
    if (!type_ok(t) || op < DLT_COMM_SUM || op > DLT_COMM_MIN || !send || send == recv)
        return dlt_seterr(DLT_ERR_INVALID, "reduce-scatter: bad type, op or buffers");
    return comm_start(c, OP_REDUCE_SCATTER, send, recv, count, NULL, NULL, t, op, 0, -1, req);
}

dlt_status dlt_comm_barrier(dlt_comm *c, dlt_comm_req *req)
{
    return comm_start(c, OP_BARRIER, NULL, NULL, 0, NULL, NULL, DLT_COMM_F32, 0, 0, -1, req);
}

dlt_status comm_start_host(dlt_comm *c, int op, const void *send, void *recv, size_t count, int type,
                           int redop, int root, int tag, dlt_comm_req *req)
{
    /* host memory: always MPI, whatever the backend of the gradients */
    dlt_comm_backend b = c->backend;
    c->backend = DLT_COMM_MPI;
    dlt_status st = comm_start(c, op, send, recv, count, NULL, NULL, type, redop, root, tag, req);
    c->backend = b;
    return st;
}

dlt_status comm_host(dlt_comm *c, int op, const void *send, void *recv, size_t count, int type,
                     int redop, int root)
{
    return comm_start_host(c, op, send, recv, count, type, redop, root, -1, NULL);
}

dlt_status dlt_comm_reduce_metrics(dlt_comm *c, double *vals, int n)
{
    if (n <= 0)
        return DLT_OK;
    return comm_host(c, OP_ALLREDUCE, NULL, vals, (size_t)n, DLT_COMM_F64, DLT_COMM_SUM, 0);
}
