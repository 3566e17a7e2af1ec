/* The all-reduce of large host buffers: a ring over point-to-point messages,
 * reduce-scatter then all-gather, with the reducer's post-scale fused into
 * the last reduction.
 *
 * Why not MPI_Iallreduce. Open MPI's non-blocking collectives (libnbc) run an
 * in-place all-reduce as a binomial reduce followed by a broadcast whatever
 * the size: every byte crosses twice, one way at a time, on each link of the
 * tree. The blocking MPI_Allreduce picks a bandwidth-optimal algorithm; a
 * ring sends and reduces 2 (P-1)/P of the buffer per rank, which is that
 * optimum. Measured on 2 ranks with 25 MiB (bench/comm_bench), the in-place
 * MPI_Iallreduce took about twice as long as MPI_Allreduce, and the
 * separate post-scale pass over the whole buffer a fifth again.
 *
 * Order and progress. Ring requests run one at a time in the order they
 * were started (the same on every rank, as for every collective), each step
 * when some call drives the queue: dlt_comm_test, dlt_comm_progress (the
 * reducer calls it between plan nodes) and every wait (polled, with the
 * watchdog's timeout and reports, like any other request). One step posts
 * one receive from the left neighbour and one send to the right; a
 * reduce-scatter step receives into a scratch buffer and adds it into the
 * chunk. Chunk k of rank r's buffer is summed as x_k + x_{k+1} + ... in ring
 * order, the same on every rank (with 2 ranks a + b, exactly MPI's sum).
 *
 * Fused post-scale. After the last reduce-scatter step each rank holds one
 * reduced chunk; multiplying it there (and gathering the products) rounds
 * each element as the separate pass after the all-reduce did:
 * (float)((double)sum * f). */
#include "comm_impl.h"

#include <stdlib.h>
#include <string.h>

#include "dlt_bf16.h"

int comm_ring_eligible(const dlt_comm *c, int op, int type, int redop, size_t count)
{
    return op == OP_ALLREDUCE && c->size > 1 && (redop == DLT_COMM_SUM || redop == DLT_COMM_AVG) &&
           (type == DLT_COMM_F32 || type == DLT_COMM_F64 || type == DLT_COMM_BF16) &&
           c->ring_min >= 0 && count * comm_type_size(type) >= (size_t)c->ring_min;
}

/* Chunk k of a ring request: equal chunks, the last ones shorter or empty. */
static void chunk(const dlt_comm *c, const comm_req *r, int k, size_t *lo, size_t *n)
{
    size_t hi;
    dlt_comm_shard((size_t)r->d.count, c->size, k, 16, lo, &hi);
    *n = hi - *lo;
}

static size_t max_chunk_bytes(const dlt_comm *c, size_t count, int type)
{
    size_t lo, hi;
    return dlt_comm_shard(count, c->size, 0, 16, &lo, &hi) * comm_type_size(type);
}

static dlt_status grow_scratch(dlt_comm *c, size_t bytes)
{
    if (bytes <= c->scratch_bytes)
        return DLT_OK;
    void *nb = malloc(bytes);
    if (!nb)
        return dlt_seterr(DLT_ERR_NOMEM, "comm: cannot allocate %zu bytes for the ring all-reduce", bytes);
    if (c->scratch && c->scratch_busy == c->scratch)
        c->retired = c->scratch; /* the head still receives into it */
    else
        free(c->scratch);
    c->scratch = nb;
    c->scratch_bytes = bytes;
    return DLT_OK;
}

dlt_status comm_ring_start(dlt_comm *c, comm_req *r, void *buf, size_t count)
{
    dlt_status st = grow_scratch(c, max_chunk_bytes(c, count, r->d.type));
    if (st != DLT_OK)
        return st;
    r->ring = 1;
    r->ring_step = 0;
    r->ring_posted = 0;
    r->ring_done = 0;
    r->ring_buf = buf;
    r->rq[0] = r->rq[1] = MPI_REQUEST_NULL;
    c->ringq[(c->rq_head + c->rq_len) % COMM_MAX_REQ] = (int)(r - c->req);
    c->rq_len++;
    return DLT_OK;
}

static int mod(int a, int p)
{
    return ((a % p) + p) % p;
}

/* Posts step s: reduce-scatter (s < P-1) sends chunk r-s and receives chunk
 * r-s-1 into the scratch; all-gather step t = s-(P-1) sends chunk r+1-t and
 * receives chunk r-t in place. */
static int post(dlt_comm *c, comm_req *r)
{
    int p = c->size, me = c->rank, s = r->ring_step, tag = (int)(r->d.seq & 0x3fff);
    int left = mod(me - 1, p), right = mod(me + 1, p), sendk, recvk;
    size_t es = comm_type_size(r->d.type), slo, sn, rlo, rn;
    MPI_Datatype dt = comm_mpi_type(r->d.type);
    char *buf = r->ring_buf, *dst;
    if (s < p - 1) {
        sendk = mod(me - s, p), recvk = mod(me - s - 1, p);
        chunk(c, r, recvk, &rlo, &rn);
        dst = c->scratch;
        r->ring_tmp = dst;
        c->scratch_busy = dst;
    } else {
        int t = s - (p - 1);
        sendk = mod(me + 1 - t, p), recvk = mod(me - t, p);
        chunk(c, r, recvk, &rlo, &rn);
        dst = buf + rlo * es;
    }
    chunk(c, r, sendk, &slo, &sn);
    if (MPI_Irecv(dst, (int)rn, dt, left, tag, c->ring, &r->rq[1]) != MPI_SUCCESS ||
        MPI_Isend(buf + slo * es, (int)sn, dt, right, tag, c->ring, &r->rq[0]) != MPI_SUCCESS)
        return -1;
    r->ring_posted = 1;
    return 0;
}

/* The post-scale, once its inputs are known: 1 ready (*f set), 0 not yet. */
static int scale_factor(dlt_comm *c, comm_req *r, double *f)
{
    if (r->scale_gate && r->scale_gate->id && !dlt_comm_test(c, r->scale_gate))
        return 0;
    if (!r->scale_den)
        *f = r->scale_const;
    else
        *f = *r->scale_den > 0 ? *r->scale_num / *r->scale_den : 0;
    return 1;
}

/* x[i] = x[i] + y[i] (then * f when scaled) over n elements of `type`. */
static void reduce(int type, void *x, const void *y, size_t n, int scaled, double f)
{
    if (type == DLT_COMM_F32) {
        float *a = x;
        const float *b = y;
        if (scaled)
            for (size_t i = 0; i < n; i++) {
                float s = a[i] + b[i];
                a[i] = (float)(s * f);
            }
        else
            for (size_t i = 0; i < n; i++)
                a[i] += b[i];
    } else if (type == DLT_COMM_F64) {
        double *a = x;
        const double *b = y;
        for (size_t i = 0; i < n; i++) {
            double s = a[i] + b[i];
            a[i] = scaled ? s * f : s;
        }
    } else { /* bf16: as comm.c's bf16_sum, the pair added in f32 and rounded once */
        dlt_bf16 *a = x;
        const dlt_bf16 *b = y;
        for (size_t i = 0; i < n; i++)
            a[i] = dlt_f32_to_bf16(dlt_bf16_to_f32(b[i]) + dlt_bf16_to_f32(a[i]));
    }
}

/* Moves request r (the head) on as far as it goes: 1 complete, 0 pending,
 * -1 MPI error. */
static int advance(dlt_comm *c, comm_req *r)
{
    int p = c->size, nsteps = 2 * (p - 1);
    while (r->ring_step < nsteps) {
        int flag = 0;
        if (!r->ring_posted && post(c, r) != 0)
            return -1;
        if (MPI_Testall(2, r->rq, &flag, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
            return -1;
        if (!flag)
            return 0;
        if (r->ring_step < p - 1) {
            int last = r->ring_step == p - 2;
            double f = 1;
            if (last && r->scale && !scale_factor(c, r, &f))
                return 0; /* transfers done; the reduction waits for the factor */
            size_t lo, n;
            chunk(c, r, mod(c->rank - r->ring_step - 1, p), &lo, &n);
            reduce(r->d.type, (char *)r->ring_buf + lo * comm_type_size(r->d.type), r->ring_tmp, n,
                   last && r->scale, f);
            c->scratch_busy = NULL;
            free(c->retired);
            c->retired = NULL;
        }
        r->ring_step++;
        r->ring_posted = 0;
    }
    return 1;
}

void comm_ring_progress(dlt_comm *c)
{
    while (c->rq_len > 0) {
        comm_req *h = &c->req[c->ringq[c->rq_head]];
        int s = advance(c, h);
        if (s < 0) {
            comm_trip(c, &h->d, 2); /* REASON_BACKEND: an MPI error in the ring */
        }
        if (s == 0)
            return;
        h->ring_done = 1;
        c->rq_head = (c->rq_head + 1) % COMM_MAX_REQ;
        c->rq_len--;
    }
}

int comm_ring_done(dlt_comm *c, comm_req *r)
{
    if (!r->ring_done)
        comm_ring_progress(c);
    return r->ring_done;
}

void comm_ring_free(dlt_comm *c)
{
    free(c->scratch);
    free(c->retired);
    c->scratch = c->retired = c->scratch_busy = NULL;
    c->scratch_bytes = 0;
}
