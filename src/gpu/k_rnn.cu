// GPU kernels of the rnn family (rnn.c): the fused LSTM and GRU cells and
// their backward ops, one thread per state element with the CPU's formulas
// (the DLT_HD helpers of rnn_impl.h), and categorical_sample, one thread per
// row drawing the CPU's index: rnn_impl.h fixes every float operation of the
// draw (its own exp, __fmul_rn/__fdiv_rn/__fadd_rn that nvcc never fuses), and
// the run's seed and step are read from the device (dlt_kctx.run_dev), so a
// CUDA graph replays each run's draws.
#include "gpu_impl.h"
#include "rnn_impl.h"

namespace
{

const int kThreads = 256;

__global__ void lstm_kernel(int64_t N, int64_t H, const float *gates, const float *cp, float *h,
                            float *c)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < N * H;
         e += (int64_t)gridDim.x * blockDim.x)
        dlt_lstm_fwd(gates, cp, H, e / H, e % H, &h[e], &c[e]);
}

__global__ void lstm_grad_kernel(int64_t N, int64_t H, const float *gates, const float *cp,
                                 const float *dh, const float *dc, float *dgates, float *dcp)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < N * H;
         e += (int64_t)gridDim.x * blockDim.x)
        dlt_lstm_bwd(gates, cp, dh, dc, H, e / H, e % H, dgates, dcp);
}

__global__ void gru_kernel(int64_t N, int64_t H, const float *gi, const float *gh, const float *hp,
                           float *h)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < N * H;
         e += (int64_t)gridDim.x * blockDim.x)
        h[e] = dlt_gru_fwd(gi, gh, hp, H, e / H, e % H);
}

__global__ void gru_grad_kernel(int64_t N, int64_t H, const float *gi, const float *gh,
                                const float *hp, const float *dh, float *dgi, float *dgh,
                                float *dhp)
{
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < N * H;
         e += (int64_t)gridDim.x * blockDim.x)
        dlt_gru_bwd(gi, gh, hp, dh, H, e / H, e % H, dgi, dgh, dhp);
}

__global__ void cat_kernel(int64_t N, int64_t K, const uint64_t *run, rnn_sample_attr a,
                           const float *x, int32_t *y)
{
    uint64_t seed = a.global ? a.gseed : run[0], stream = dlt_cat_stream(a.id, (int64_t)run[1]);
    for (int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; r < N;
         r += (int64_t)gridDim.x * blockDim.x)
        y[r] = dlt_cat_sample_row(&a, x + r * K, K, seed, stream, a.base + (uint64_t)r);
}

// N and H of a cell node: the state input's [N, H] (input `state`).
void cell_dims(const dlt_kctx *k, int state, int64_t *N, int64_t *H)
{
    *N = k->in_shape[state]->dim[0];
    *H = k->in_shape[state]->dim[1];
}

dlt_status lstm_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t N, H;
    cell_dims(k, 1, &N, &H);
    if (N * H == 0)
        return DLT_OK;
    lstm_kernel<<<dlt_gpu_blocks(g, N * H, kThreads), kThreads, 0, g->stream>>>(
        N, H, (const float *)k->in[0], (const float *)k->in[1], (float *)k->out[0],
        (float *)k->out[1]);
    return dlt_gpu_launched(k, "lstm_kernel");
}

dlt_status lstm_grad_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    const rnn_grad_attr *a = DLT_CATTR(k->node, rnn_grad_attr);
    int64_t N, H;
    cell_dims(k, 1, &N, &H);
    if (N * H == 0)
        return DLT_OK;
    const float *dh = a->has_dh ? (const float *)k->in[2] : NULL;
    const float *dc = a->has_dc ? (const float *)k->in[2 + a->has_dh] : NULL;
    lstm_grad_kernel<<<dlt_gpu_blocks(g, N * H, kThreads), kThreads, 0, g->stream>>>(
        N, H, (const float *)k->in[0], (const float *)k->in[1], dh, dc, (float *)k->out[0],
        (float *)k->out[1]);
    return dlt_gpu_launched(k, "lstm_grad_kernel");
}

dlt_status gru_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t N, H;
    cell_dims(k, 2, &N, &H);
    if (N * H == 0)
        return DLT_OK;
    gru_kernel<<<dlt_gpu_blocks(g, N * H, kThreads), kThreads, 0, g->stream>>>(
        N, H, (const float *)k->in[0], (const float *)k->in[1], (const float *)k->in[2],
        (float *)k->out[0]);
    return dlt_gpu_launched(k, "gru_kernel");
}

dlt_status gru_grad_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t N, H;
    cell_dims(k, 2, &N, &H);
    if (N * H == 0)
        return DLT_OK;
    gru_grad_kernel<<<dlt_gpu_blocks(g, N * H, kThreads), kThreads, 0, g->stream>>>(
        N, H, (const float *)k->in[0], (const float *)k->in[1], (const float *)k->in[2],
        (const float *)k->in[3], (float *)k->out[0], (float *)k->out[1], (float *)k->out[2]);
    return dlt_gpu_launched(k, "gru_grad_kernel");
}

dlt_status cat_cuda(const dlt_kctx *k)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    int64_t N = k->in_shape[0]->dim[0], K = k->in_shape[0]->dim[1];
    if (N == 0)
        return DLT_OK;
    if (!k->run_dev)
        return dlt_seterr(DLT_ERR_INTERNAL,
                          "categorical_sample: no run key on the device (not a device plan)");
    cat_kernel<<<dlt_gpu_blocks(g, N, kThreads), kThreads, 0, g->stream>>>(
        N, K, k->run_dev, *DLT_CATTR(k->node, rnn_sample_attr), (const float *)k->in[0],
        (int32_t *)k->out[0]);
    return dlt_gpu_launched(k, "categorical_sample_kernel");
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_rnn[] = {
    {DLT_OP_LSTM_CELL, lstm_cuda, NULL},         {DLT_OP_LSTM_CELL_GRAD, lstm_grad_cuda, NULL},
    {DLT_OP_GRU_CELL, gru_cuda, NULL},           {DLT_OP_GRU_CELL_GRAD, gru_grad_cuda, NULL},
    {DLT_OP_CATEGORICAL_SAMPLE, cat_cuda, NULL}, {DLT_OP_COUNT, NULL, NULL},
};
