// GPU kernels of the reduce family (reduce.c): sum (and mean, its scale) and
// broadcast_to, and the sum plan other files reuse (k_reduce.cuh, which has
// the shared reductions). Every sum is deterministic: fixed splits chosen from
// the shape alone, partial sums combined in a fixed order, no atomics.
#include <algorithm>
#include <limits.h>
#include <string.h>

#include "k_reduce.cuh"

namespace dlt_kred
{

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

void geom_make(const dlt_shape *s, const unsigned char *reduce, Geom *gm)
{
    dlt_red_nest_init(gm, s, reduce);
}

// ---------------------------------------------------------------- sum
// Chunks of a long r so that about 2048 row teams or 65536 column threads run.
static void pass_split(SumPass *p)
{
    p->S = 1;
    if (p->inner == 1) {
        if (p->outer < 1024 && p->r > 8192)
            p->S = std::min(ceil_div(2048, p->outer), ceil_div(p->r, 4096));
    } else {
        int64_t no = p->outer * p->inner;
        if (no < 32768 && p->r > 256)
            p->S = std::min(ceil_div(65536, no), ceil_div(p->r, 128));
    }
    if (p->S < 1)
        p->S = 1;
    p->chunk = ceil_div(p->r, p->S);
    p->S = ceil_div(p->r, p->chunk);
}

void sum_plan(const dlt_shape *s, const unsigned char *reduce, SumPlan *pl)
{
    int64_t dim[DLT_MAX_DIMS];
    int red[DLT_MAX_DIMS], nd = 0;
    memset(pl, 0, sizeof *pl);
    pl->nout = pl->nred = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (reduce[i])
            pl->nred *= s->dim[i];
        else
            pl->nout *= s->dim[i];
    }
    if (pl->nout == 0 || pl->nred == 0)
        return;
    // contiguous data: any run of reduced (kept) axes is one axis
    for (int i = 0; i < s->ndim; i++) {
        int64_t d = s->dim[i];
        if (d == 1)
            continue;
        if (nd > 0 && red[nd - 1] == !!reduce[i])
            dim[nd - 1] *= d;
        else
            dim[nd] = d, red[nd] = !!reduce[i], nd++;
    }
    for (int j = nd - 1; j >= 0; j--) {
        if (!red[j])
            continue;
        SumPass *p = &pl->p[pl->np];
        p->outer = p->inner = 1;
        for (int i = 0; i < j; i++)
            p->outer *= dim[i];
        for (int i = j + 1; i < nd; i++)
            p->inner *= dim[i];
        p->r = dim[j];
        dim[j] = 1; // reduced: later passes see the smaller tensor
        pass_split(p);
        size_t nout = (size_t)(p->outer * p->inner);
        if (p->S > 1)
            pl->part_elems = std::max(pl->part_elems, (size_t)p->S * nout);
        pl->np++;
        if (pl->np >= 2) { // the previous pass wrote an intermediate
            size_t *b = &pl->buf_elems[(pl->np - 2) % 2];
            const SumPass *q = &pl->p[pl->np - 2];
            *b = std::max(*b, (size_t)(q->outer * q->inner));
        }
    }
    pl->bytes = (pl->buf_elems[0] + pl->buf_elems[1] + pl->part_elems) * sizeof(double);
}

// y[(o S + s) inner + i] = scale * sum of x[o, j, i] over j in chunk s:
// one thread per output; consecutive threads read consecutive i.
template <typename TI, typename TO>
__global__ void sum_cols_kernel(int64_t outer, int64_t r, int64_t inner, int64_t S, int64_t chunk,
                                const TI *x, TO *y, double scale)
{
    int64_t n = outer * S * inner;
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < n;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = t % inner, q = t / inner, s = q % S, o = q / S;
        int64_t j0 = s * chunk, j1 = j0 + chunk < r ? j0 + chunk : r;
        const TI *p = x + (o * r + j0) * inner + i;
        double acc = 0;
        for (int64_t j = j0; j < j1; j++, p += inner)
            acc += (double)*p;
        y[t] = (TO)(acc * scale);
    }
}

// inner == 1: a team per segment (row o, chunk s) reads it contiguously.
template <int TEAM, typename TI, typename TO>
__global__ void sum_rows_kernel(int64_t nseg, int64_t r, int64_t S, int64_t chunk, const TI *x,
                                TO *y, double scale)
{
    for (int64_t t = team_id<TEAM>(); t < nseg; t += team_count<TEAM>()) {
        int64_t s = t % S, o = t / S;
        int64_t j0 = s * chunk, j1 = j0 + chunk < r ? j0 + chunk : r;
        const TI *p = x + o * r;
        double acc = 0;
        for (int64_t j = j0 + team_rank<TEAM>(); j < j1; j += TEAM)
            acc += (double)p[j];
        acc = team_sum<TEAM>(acc);
        if (team_rank<TEAM>() == 0)
            y[t] = (TO)(acc * scale);
    }
}

template <typename TI, typename TO>
static dlt_status sum_launch(const dlt_kctx *k, const TI *x, TO *y, int64_t outer, int64_t r,
                             int64_t inner, int64_t S, int64_t chunk, double scale)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (inner == 1 && chunk > 16) {
        int64_t nseg = outer * S;
        if (chunk > 1024) {
            sum_rows_kernel<kThreads, TI, TO>
                <<<team_blocks(g, nseg, kThreads), kThreads, 0, g->stream>>>(nseg, r, S, chunk, x,
                                                                             y, scale);
        } else {
            sum_rows_kernel<32, TI, TO><<<team_blocks(g, nseg, 32), kThreads, 0, g->stream>>>(
                nseg, r, S, chunk, x, y, scale);
        }
        return dlt_gpu_launched(k, "sum_rows_kernel");
    }
    sum_cols_kernel<TI, TO>
        <<<dlt_gpu_blocks(g, outer * S * inner, kThreads), kThreads, 0, g->stream>>>(
            outer, r, inner, S, chunk, x, y, scale);
    return dlt_gpu_launched(k, "sum_cols_kernel");
}

// The same with the element types chosen at run time (float or double).
static dlt_status sum_launch_any(const dlt_kctx *k, const void *x, int xd, void *y, int yd,
                                 int64_t outer, int64_t r, int64_t inner, int64_t S, int64_t chunk,
                                 double scale)
{
    if (xd && yd)
        return sum_launch(k, (const double *)x, (double *)y, outer, r, inner, S, chunk, scale);
    if (xd)
        return sum_launch(k, (const double *)x, (float *)y, outer, r, inner, S, chunk, scale);
    if (yd)
        return sum_launch(k, (const float *)x, (double *)y, outer, r, inner, S, chunk, scale);
    return sum_launch(k, (const float *)x, (float *)y, outer, r, inner, S, chunk, scale);
}

dlt_status sum_run(const dlt_kctx *k, const SumPlan *pl, const void *x, int x_double, float *y,
                   double scale, void *work)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (pl->nout == 0)
        return DLT_OK;
    if (pl->nred == 0) // an empty sum is 0 even for a mean (the CPU's rule)
        return dlt_gpu_check(cudaMemsetAsync(y, 0, (size_t)pl->nout * sizeof(float), g->stream), k,
                             "cudaMemsetAsync");
    if (pl->np == 0) // only size-1 axes reduced: a scaled copy
        return sum_launch_any(k, x, x_double, y, 0, pl->nout, 1, 1, 1, 1, scale);
    if (pl->bytes > 0 && (!work || k->work_bytes < pl->bytes))
        return dlt_seterr(DLT_ERR_INTERNAL, "%s: workspace of %zu bytes, %zu needed",
                          k->node->op->name, k->work_bytes, pl->bytes);
    double *buf[2] = {(double *)work, (double *)work + pl->buf_elems[0]};
    double *part = (double *)work + pl->buf_elems[0] + pl->buf_elems[1];
    const void *src = x;
    int src_d = x_double;
    for (int i = 0; i < pl->np; i++) {
        const SumPass *p = &pl->p[i];
        int last = i == pl->np - 1;
        void *dst = last ? (void *)y : (void *)buf[i % 2];
        double sc = last ? scale : 1.0;
        dlt_status st;
        if (p->S > 1) {
            st = sum_launch_any(k, src, src_d, part, 1, p->outer, p->r, p->inner, p->S, p->chunk,
                                1.0);
            if (st == DLT_OK)
                st = sum_launch_any(k, part, 1, dst, !last, p->outer, p->S, p->inner, 1, p->S, sc);
        } else {
            st = sum_launch_any(k, src, src_d, dst, !last, p->outer, p->r, p->inner, 1, p->r, sc);
        }
        if (st != DLT_OK)
            return st;
        src = dst;
        src_d = 1;
    }
    return DLT_OK;
}

static size_t sum_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *)
{
    SumPlan pl;
    sum_plan(in[0], DLT_CATTR(n, reduce_attr)->reduce, &pl);
    return pl.bytes;
}

static dlt_status sum_cuda(const dlt_kctx *k)
{
    const reduce_attr *a = DLT_CATTR(k->node, reduce_attr);
    SumPlan pl;
    sum_plan(k->in_shape[0], a->reduce, &pl);
    return sum_run(k, &pl, k->in[0], 0, (float *)k->out[0], (double)a->scale, k->work);
}

// ---------------------------------------------------------------- broadcast_to
struct BcastMap {
    int nd;
    int64_t dim[DLT_MAX_DIMS], str[DLT_MAX_DIMS];
};

// Element-size copies: the op moves any dtype's bits unchanged.
template <typename T> __global__ void bcast_kernel(int64_t n, BcastMap m, const T *x, T *y)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t off = 0, q = i;
        for (int d = m.nd - 1; d >= 0; d--) {
            off += (q % m.dim[d]) * m.str[d];
            q /= m.dim[d];
        }
        y[i] = x[off];
    }
}

static dlt_status bto_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const dlt_shape *si = k->in_shape[0], *so = k->out_shape[0];
    int64_t n = dlt_shape_numel(so), ni = dlt_shape_numel(si);
    if (n == 0)
        return DLT_OK;
    size_t esz = ni > 0 ? dlt_shape_bytes(si) / (size_t)ni : 4;
    dlt_bcast_iter it;
    dlt_bcast_init(&it, si, si, so);
    BcastMap m;
    m.nd = it.ndim;
    for (int d = 0; d < it.ndim; d++)
        m.dim[d] = it.dim[d], m.str[d] = it.sa[d];
    unsigned nb = dlt_gpu_blocks(g, n, kThreads);
    switch (esz) {
    case 1:
        bcast_kernel<<<nb, kThreads, 0, g->stream>>>(n, m, (const uint8_t *)k->in[0],
                                                     (uint8_t *)k->out[0]);
        break;
    case 2:
        bcast_kernel<<<nb, kThreads, 0, g->stream>>>(n, m, (const uint16_t *)k->in[0],
                                                     (uint16_t *)k->out[0]);
        break;
    case 4:
        bcast_kernel<<<nb, kThreads, 0, g->stream>>>(n, m, (const uint32_t *)k->in[0],
                                                     (uint32_t *)k->out[0]);
        break;
    case 8:
        bcast_kernel<<<nb, kThreads, 0, g->stream>>>(n, m, (const uint64_t *)k->in[0],
                                                     (uint64_t *)k->out[0]);
        break;
    default:
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "broadcast_to: %zu-byte elements", esz);
    }
    return dlt_gpu_launched(k, "bcast_kernel");
}
} // namespace dlt_kred

using namespace dlt_kred;

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_reduce[] = {
    {DLT_OP_SUM, sum_cuda, sum_ws},
    {DLT_OP_BROADCAST_TO, bto_cuda, NULL},
    {DLT_OP_COUNT, NULL, NULL},
};
