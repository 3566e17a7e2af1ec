// GPU kernels of the conv family. conv2d, conv_transpose2d and
// conv2d_weight_grad run on cuDNN's legacy convolution API (NCHW f32): they are
// cuDNN's forward, backward-data and backward-filter convolutions of the same
// geometry (conv_impl.h phrases all three in conv2d terms).
#include <climits>
#include <cstring>
#include <mutex>

#include "conv_impl.h"
#include "gpu_impl.h"

namespace
{

enum conv_kind { K_FWD, K_DATA, K_FILTER };

// Workspace the planner is asked for at most: a faster algorithm that wants
// more is skipped. The planner frees a node's workspace right after it, so
// this only bounds the arena's peak.
const size_t WS_CAP = size_t(512) << 20;
// Without a cuDNN handle at plan time (none could be created) the kernels
// choose among the algorithms that fit this.
const size_t WS_FALLBACK = size_t(64) << 20;
// cuDNN's legacy API indexes tensors with int: batches whose image or
// response would exceed this many elements run in chunks of images.
const int64_t MAX_ELEMS = INT_MAX;

int64_t x_numel(const conv_geom &q)
{
    return q.n * q.c * q.h * q.w;
}
int64_t y_numel(const conv_geom &q)
{
    return q.n * q.oc * q.oh * q.ow;
}
int64_t w_numel(const conv_geom &q)
{
    return q.oc * (q.c / q.groups) * q.kh * q.kw;
}

// Images per cuDNN call (0: a single image is too large).
int64_t chunk_images(const conv_geom &q)
{
    int64_t per = q.c * q.h * q.w > q.oc * q.oh * q.ow ? q.c * q.h * q.w : q.oc * q.oh * q.ow;
    if (per < 1)
        per = 1;
    int64_t nb = MAX_ELEMS / per;
    return nb < q.n ? nb : q.n;
}

// The geometry of a node: image x, weight w, response y in conv2d terms.
conv_geom geom_of(const dlt_node *n, const dlt_shape *xs, const dlt_shape *ws, const dlt_shape *ys)
{
    const conv_attr *a = DLT_CATTR(n, conv_attr);
    conv_geom q = {xs->dim[0], xs->dim[1],      xs->dim[2],      xs->dim[3], ys->dim[1], ys->dim[2],
                   ys->dim[3], (int)ws->dim[2], (int)ws->dim[3], a->sh,      a->sw,      a->ph,
                   a->pw,      a->dh,           a->dw,           a->groups};
    return q;
}

// ------------------------------------------------------------------ descriptors
struct conv_desc {
    cudnnTensorDescriptor_t x = nullptr, y = nullptr;
    cudnnFilterDescriptor_t w = nullptr;
    cudnnConvolutionDescriptor_t conv = nullptr;
    conv_desc() = default;
    conv_desc(const conv_desc &) = delete;
    conv_desc &operator=(const conv_desc &) = delete;
    ~conv_desc()
    {
        if (x)
            cudnnDestroyTensorDescriptor(x);
        if (y)
            cudnnDestroyTensorDescriptor(y);
        if (w)
            cudnnDestroyFilterDescriptor(w);
        if (conv)
            cudnnDestroyConvolutionDescriptor(conv);
    }
};

// Descriptors for `n` images of geometry q. The response size is checked
// against cuDNN's own forward size (the shape rules guarantee they agree).
cudnnStatus_t make_desc(conv_desc &d, const conv_geom &q, int64_t n)
{
    cudnnStatus_t s;
    if ((s = cudnnCreateTensorDescriptor(&d.x)) != CUDNN_STATUS_SUCCESS ||
        (s = cudnnCreateTensorDescriptor(&d.y)) != CUDNN_STATUS_SUCCESS ||
        (s = cudnnCreateFilterDescriptor(&d.w)) != CUDNN_STATUS_SUCCESS ||
        (s = cudnnCreateConvolutionDescriptor(&d.conv)) != CUDNN_STATUS_SUCCESS)
        return s;
    if ((s = cudnnSetTensor4dDescriptor(d.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)q.c,
                                        (int)q.h, (int)q.w)) != CUDNN_STATUS_SUCCESS ||
        (s = cudnnSetTensor4dDescriptor(d.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)n, (int)q.oc,
                                        (int)q.oh, (int)q.ow)) != CUDNN_STATUS_SUCCESS ||
        (s = cudnnSetFilter4dDescriptor(d.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)q.oc,
                                        (int)(q.c / q.groups), q.kh, q.kw)) !=
            CUDNN_STATUS_SUCCESS ||
        (s = cudnnSetConvolution2dDescriptor(d.conv, q.ph, q.pw, q.sh, q.sw, q.dh, q.dw,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) !=
            CUDNN_STATUS_SUCCESS ||
        (s = cudnnSetConvolutionGroupCount(d.conv, q.groups)) != CUDNN_STATUS_SUCCESS)
        return s;
    int dn, dc, dh, dw;
    if ((s = cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &dn, &dc, &dh, &dw)) !=
        CUDNN_STATUS_SUCCESS)
        return s;
    if (dn != n || dc != q.oc || dh != q.oh || dw != q.ow)
        return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS;
}

// ------------------------------------------------------------------ algorithms
// The math a context allows (dlt_gpu.conv_math): 0 = FMA kernels only (true
// f32); 1 = cuDNN's default math, which for f32 data means TF32 tensor cores;
// 2 = also down-conversion of the f32 data to f16 for tensor cores
// (precision = "fp16"). Level 1 never takes a candidate that converts to f16.
enum { MATH_FMA = 0, MATH_TF32 = 1, MATH_F16 = 2, MATH_LEVELS = 3 };
cudnnMathType_t math_of(int level)
{
    return level == MATH_F16 ? CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
           : level == MATH_TF32 ? CUDNN_DEFAULT_MATH
                                : CUDNN_FMA_MATH;
}

// Whether a heuristic candidate's math type is allowed at `level`, and the
// math type to run it with.
bool math_allowed(int level, cudnnMathType_t m, cudnnMathType_t *use)
{
    if (level == MATH_FMA) {
        *use = CUDNN_FMA_MATH;
        return m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH;
    }
    *use = m;
    return level == MATH_F16 || m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// One heuristic result, whatever the kind.
struct cand {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t det;
    cudnnMathType_t math;
};

template <typename P> int copy_perf(const P *p, int np, cand *c)
{
    for (int i = 0; i < np; i++)
        c[i] = cand{(int)p[i].algo, p[i].status, p[i].memory, p[i].determinism, p[i].mathType};
    return np;
}

enum { MAX_CAND = 16 };

cudnnStatus_t heuristics(cudnnHandle_t h, int kind, const conv_desc &d, cand *c, int *nc)
{
    cudnnStatus_t s;
    int np = 0;
    *nc = 0;
    if (kind == K_FWD) {
        cudnnConvolutionFwdAlgoPerf_t p[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        s = cudnnGetConvolutionForwardAlgorithm_v7(h, d.x, d.w, d.conv, d.y,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &np, p);
        if (s == CUDNN_STATUS_SUCCESS)
            *nc = copy_perf(p, np, c);
    } else if (kind == K_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t p[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        s = cudnnGetConvolutionBackwardDataAlgorithm_v7(
            h, d.w, d.y, d.conv, d.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &np, p);
        if (s == CUDNN_STATUS_SUCCESS)
            *nc = copy_perf(p, np, c);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t p[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        s = cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            h, d.x, d.y, d.conv, d.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &np, p);
        if (s == CUDNN_STATUS_SUCCESS)
            *nc = copy_perf(p, np, c);
    }
    return s;
}

cudnnStatus_t ws_size(cudnnHandle_t h, int kind, const conv_desc &d, int algo, size_t *bytes)
{
    if (kind == K_FWD)
        return cudnnGetConvolutionForwardWorkspaceSize(h, d.x, d.w, d.conv, d.y,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    if (kind == K_DATA)
        return cudnnGetConvolutionBackwardDataWorkspaceSize(
            h, d.w, d.y, d.conv, d.x, (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(
        h, d.x, d.y, d.conv, d.w, (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
}

struct choice {
    int algo;
    cudnnMathType_t math;
    size_t ws;
};

// The algorithm for a geometry: cuDNN's heuristic order (fastest first),
// preferring deterministic algorithms (so runs repeat bit for bit), then any,
// among those whose workspace fits `cap`; algorithm 0 (implicit GEMM, no
// workspace) last. Leaves d's math type set to the choice's.
cudnnStatus_t choose(cudnnHandle_t h, int kind, conv_desc &d, int level, size_t cap, choice *out)
{
    cand c[MAX_CAND + 1];
    int nc = 0;
    cudnnStatus_t s = cudnnSetConvolutionMathType(d.conv, math_of(level));
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    if (heuristics(h, kind, d, c, &nc) != CUDNN_STATUS_SUCCESS)
        nc = 0;
    if (nc > MAX_CAND)
        nc = MAX_CAND;
    c[nc++] = cand{0, CUDNN_STATUS_SUCCESS, 0, CUDNN_DETERMINISTIC, math_of(level)};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nc; i++) {
            if (c[i].status != CUDNN_STATUS_SUCCESS ||
                (pass == 0 && c[i].det != CUDNN_DETERMINISTIC))
                continue;
            cudnnMathType_t m;
            if (!math_allowed(level, c[i].math, &m))
                continue;
            size_t bytes = 0;
            if (cudnnSetConvolutionMathType(d.conv, m) != CUDNN_STATUS_SUCCESS ||
                ws_size(h, kind, d, c[i].algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > cap)
                continue;
            *out = choice{c[i].algo, m, bytes};
            return CUDNN_STATUS_SUCCESS;
        }
    return CUDNN_STATUS_NOT_SUPPORTED;
}

// ------------------------------------------------------------------ the cache
// Choices are made once per signature (heuristic queries cost far more than a
// lookup) in a small process-wide table; all of it, and the plan-time handles,
// under one mutex.
struct conv_key {
    int kind, device, level, pad_;
    int64_t n, c, h, w, oc, oh, ow;
    int kh, kw, sh, sw, ph, pw, dh, dw, groups, pad2_;
    size_t cap;
};

struct cache_entry {
    conv_key key;
    choice ch;
};

enum { CACHE_SIZE = 512, MAX_DEVICES = 64 };

std::mutex cache_mu;
cache_entry cache[CACHE_SIZE];
int cache_used, cache_next;
cudnnHandle_t plan_handle[MAX_DEVICES];
int plan_handle_failed[MAX_DEVICES];

conv_key key_of(int kind, int device, int level, const conv_geom &q, int64_t n, size_t cap)
{
    conv_key k;
    memset(&k, 0, sizeof k); // the padding takes part in memcmp
    k.kind = kind, k.device = device, k.level = level;
    k.n = n, k.c = q.c, k.h = q.h, k.w = q.w, k.oc = q.oc, k.oh = q.oh, k.ow = q.ow;
    k.kh = q.kh, k.kw = q.kw, k.sh = q.sh, k.sw = q.sw, k.ph = q.ph, k.pw = q.pw, k.dh = q.dh,
    k.dw = q.dw, k.groups = q.groups;
    k.cap = cap;
    return k;
}

// Caller holds cache_mu.
choice *cache_find(const conv_key &k)
{
    for (int i = 0; i < cache_used; i++)
        if (memcmp(&cache[i].key, &k, sizeof k) == 0)
            return &cache[i].ch;
    return nullptr;
}

void cache_put(const conv_key &k, const choice &ch)
{
    int i = cache_used < CACHE_SIZE ? cache_used++ : cache_next++ % CACHE_SIZE;
    cache[i].key = k;
    cache[i].ch = ch;
}

// The choice for n images of q (d is set up for them; its math type is set to
// the choice's). Caller holds cache_mu.
cudnnStatus_t lookup(cudnnHandle_t h, int kind, int device, int level, const conv_geom &q, int64_t n,
                     size_t cap, conv_desc &d, choice *out)
{
    conv_key k = key_of(kind, device, level, q, n, cap);
    const choice *hit = cache_find(k);
    if (hit) {
        *out = *hit;
        return cudnnSetConvolutionMathType(d.conv, out->math);
    }
    cudnnStatus_t s = choose(h, kind, d, level, cap, out);
    if (s == CUDNN_STATUS_SUCCESS)
        cache_put(k, *out);
    return s;
}

// Plan time: the workspace of the choice for the full and the last chunk, at
// every math level (the plan does not know the device's setting).
size_t conv_ws_of(int kind, const conv_geom &q)
{
    int64_t nb = chunk_images(q);
    if (x_numel(q) == 0 || y_numel(q) == 0 || w_numel(q) == 0 || nb < 1)
        return 0;
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) {
        (void)cudaGetLastError();
        return WS_FALLBACK;
    }
    if (dev < 0 || dev >= MAX_DEVICES)
        return WS_FALLBACK;
    std::lock_guard<std::mutex> lock(cache_mu);
    if (!plan_handle[dev] && !plan_handle_failed[dev] &&
        cudnnCreate(&plan_handle[dev]) != CUDNN_STATUS_SUCCESS) {
        plan_handle[dev] = nullptr;
        plan_handle_failed[dev] = 1;
    }
    if (!plan_handle[dev])
        return WS_FALLBACK;
    size_t need = 0;
    int64_t sizes[2] = {nb, q.n % nb};
    for (int i = 0; i < 2; i++) {
        if (sizes[i] == 0 || (i == 1 && sizes[1] == sizes[0]))
            continue;
        conv_desc d;
        if (make_desc(d, q, sizes[i]) != CUDNN_STATUS_SUCCESS)
            return WS_FALLBACK;
        for (int level = 0; level < MATH_LEVELS; level++) {
            choice ch;
            if (lookup(plan_handle[dev], kind, dev, level, q, sizes[i], WS_CAP, d, &ch) !=
                CUDNN_STATUS_SUCCESS)
                return WS_FALLBACK;
            if (ch.ws > need)
                need = ch.ws;
        }
    }
    return need;
}

// ------------------------------------------------------------------ bias
// out[i] = (add ? out[i] : 0) + (bias ? bias[channel of i] : 0) over [N, C, HW].
__global__ void bias_kernel(int64_t total, int64_t hw, int64_t nch, const float *bias, float *out,
                            int add)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        float b = bias ? bias[(i / hw) % nch] : 0.f;
        out[i] = add ? out[i] + b : b;
    }
}

dlt_status bias_apply(const dlt_kctx *k, int64_t total, int64_t hw, int64_t nch, const float *bias,
                      float *out, int add)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    if (total == 0 || (add && !bias))
        return DLT_OK;
    bias_kernel<<<dlt_gpu_blocks(g, total, 256), 256, 0, g->stream>>>(total, hw, nch, bias, out,
                                                                      add);
    return dlt_gpu_launched(k, "conv bias_kernel");
}

// ------------------------------------------------------------------ running
cudnnStatus_t launch(struct dlt_gpu *g, int kind, const conv_desc &d, const choice &ch,
                     const float *a, const float *b, float *out, void *work, int accumulate)
{
    const float one = 1.f, zero = 0.f;
    if (kind == K_FWD)
        return cudnnConvolutionForward(g->cudnn, &one, d.x, a, d.w, b, d.conv,
                                       (cudnnConvolutionFwdAlgo_t)ch.algo, work, ch.ws, &zero, d.y,
                                       out);
    if (kind == K_DATA)
        return cudnnConvolutionBackwardData(g->cudnn, &one, d.w, b, d.y, a, d.conv,
                                            (cudnnConvolutionBwdDataAlgo_t)ch.algo, work, ch.ws,
                                            &zero, d.x, out);
    return cudnnConvolutionBackwardFilter(g->cudnn, &one, d.x, a, d.y, b, d.conv,
                                          (cudnnConvolutionBwdFilterAlgo_t)ch.algo, work, ch.ws,
                                          accumulate ? &one : &zero, d.w, out);
}

// Descriptors and algorithm for one chunk size.
struct chunk_plan {
    int64_t n = -1;
    conv_desc d;
    choice ch{};
};

dlt_status prepare(const dlt_kctx *k, int kind, const conv_geom &q, int64_t n, chunk_plan &p)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    p.n = n;
    cudnnStatus_t s = make_desc(p.d, q, n);
    if (s == CUDNN_STATUS_SUCCESS) {
        std::lock_guard<std::mutex> lock(cache_mu);
        s = lookup(g->cudnn, kind, g->device, g->conv_math, q, n, k->work_bytes, p.d, &p.ch);
    }
    return dlt_gpu_check_cudnn(s, k, "choosing the cuDNN convolution algorithm");
}

// Should the chosen algorithm refuse to run after all, algorithm 0 (no
// workspace) replaces it, in the cache too.
cudnnStatus_t launch_or_fallback(const dlt_kctx *k, int kind, const conv_geom &q, chunk_plan &p,
                                 const float *a, const float *b, float *out, int accumulate)
{
    struct dlt_gpu *g = dlt_gpu_of(k);
    cudnnStatus_t s =
        launch(g, kind, p.d, p.ch, a, b, out, p.ch.ws ? k->work : nullptr, accumulate);
    if (s == CUDNN_STATUS_SUCCESS || p.ch.algo == 0)
        return s;
    choice c0{0, math_of(g->conv_math), 0};
    if (cudnnSetConvolutionMathType(p.d.conv, c0.math) != CUDNN_STATUS_SUCCESS ||
        ws_size(g->cudnn, kind, p.d, 0, &c0.ws) != CUDNN_STATUS_SUCCESS || c0.ws > k->work_bytes)
        return s;
    p.ch = c0;
    {
        std::lock_guard<std::mutex> lock(cache_mu);
        conv_key key = key_of(kind, g->device, g->conv_math, q, p.n, k->work_bytes);
        choice *hit = cache_find(key);
        if (hit)
            *hit = c0;
    }
    return launch(g, kind, p.d, p.ch, a, b, out, p.ch.ws ? k->work : nullptr, accumulate);
}

// One op on the whole batch, in chunks of images: a and b are the op's two
// inputs, out its output (K_FWD: x, w -> y; K_DATA: y, w -> x; K_FILTER:
// x, y -> w, accumulated over chunks).
dlt_status run_conv(const dlt_kctx *k, int kind, const conv_geom &q, const float *a, const float *b,
                    float *out)
{
    int64_t nb = chunk_images(q);
    if (nb < 1 || w_numel(q) > MAX_ELEMS)
        return dlt_seterr(DLT_ERR_UNSUPPORTED,
                          "%s: one image or the weight has more than %lld elements (cuDNN)",
                          k->node->op->name, (long long)MAX_ELEMS);
    int64_t xs = q.c * q.h * q.w, ys = q.oc * q.oh * q.ow;
    chunk_plan full, last; // every chunk has nb images but the last
    dlt_status st;
    for (int64_t i0 = 0; i0 < q.n; i0 += nb) {
        int64_t cnt = q.n - i0 < nb ? q.n - i0 : nb;
        chunk_plan &p = cnt == nb ? full : last;
        if (p.n != cnt && (st = prepare(k, kind, q, cnt, p)) != DLT_OK)
            return st;
        cudnnStatus_t s;
        if (kind == K_FWD)
            s = launch_or_fallback(k, kind, q, p, a + i0 * xs, b, out + i0 * ys, 0);
        else if (kind == K_DATA)
            s = launch_or_fallback(k, kind, q, p, a + i0 * ys, b, out + i0 * xs, 0);
        else
            s = launch_or_fallback(k, kind, q, p, a + i0 * xs, b + i0 * ys, out, i0 > 0);
        if (s != CUDNN_STATUS_SUCCESS)
            return dlt_gpu_check_cudnn(s, k,
                                       kind == K_FWD    ? "cudnnConvolutionForward"
                                       : kind == K_DATA ? "cudnnConvolutionBackwardData"
                                                        : "cudnnConvolutionBackwardFilter");
    }
    return DLT_OK;
}

// ------------------------------------------------------------------ the ops
// conv2d(x, w[, b]) -> y
dlt_status conv_cuda(const dlt_kctx *k)
{
    conv_geom q = geom_of(k->node, k->in_shape[0], k->in_shape[1], k->out_shape[0]);
    const float *bias = k->node->nin == 3 ? (const float *)k->in[2] : nullptr;
    float *y = (float *)k->out[0];
    if (y_numel(q) == 0)
        return DLT_OK;
    if (x_numel(q) == 0 || w_numel(q) == 0) // nothing to sum: the bias alone
        return bias_apply(k, y_numel(q), q.oh * q.ow, q.oc, bias, y, 0);
    dlt_status st = run_conv(k, K_FWD, q, (const float *)k->in[0], (const float *)k->in[1], y);
    if (st != DLT_OK)
        return st;
    return bias_apply(k, y_numel(q), q.oh * q.ow, q.oc, bias, y, 1);
}

// conv_transpose2d(y, w[, b]) -> x
dlt_status convt_cuda(const dlt_kctx *k)
{
    conv_geom q = geom_of(k->node, k->out_shape[0], k->in_shape[1], k->in_shape[0]);
    const float *bias = k->node->nin == 3 ? (const float *)k->in[2] : nullptr;
    float *x = (float *)k->out[0];
    if (x_numel(q) == 0)
        return DLT_OK;
    if (y_numel(q) == 0 || w_numel(q) == 0)
        return bias_apply(k, x_numel(q), q.h * q.w, q.c, bias, x, 0);
    dlt_status st = run_conv(k, K_DATA, q, (const float *)k->in[0], (const float *)k->in[1], x);
    if (st != DLT_OK)
        return st;
    return bias_apply(k, x_numel(q), q.h * q.w, q.c, bias, x, 1);
}

// conv2d_weight_grad(x, y) -> w
dlt_status wgrad_cuda(const dlt_kctx *k)
{
    conv_geom q = geom_of(k->node, k->in_shape[0], k->out_shape[0], k->in_shape[1]);
    float *w = (float *)k->out[0];
    if (w_numel(q) == 0)
        return DLT_OK;
    if (x_numel(q) == 0 || y_numel(q) == 0)
        return bias_apply(k, w_numel(q), 1, 1, nullptr, w, 0);
    return run_conv(k, K_FILTER, q, (const float *)k->in[0], (const float *)k->in[1], w);
}

size_t conv_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return conv_ws_of(K_FWD, geom_of(n, in[0], in[1], out[0]));
}

size_t convt_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return conv_ws_of(K_DATA, geom_of(n, out[0], in[1], in[0]));
}

size_t wgrad_ws(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out)
{
    return conv_ws_of(K_FILTER, geom_of(n, in[0], out[0], in[1]));
}

} // namespace

extern "C" const dlt_gpu_kernel dlt_gpu_kernels_conv[] = {
    {DLT_OP_CONV2D, conv_cuda, conv_ws},
    {DLT_OP_CONV_TRANSPOSE2D, convt_cuda, convt_ws},
    {DLT_OP_CONV2D_WEIGHT_GRAD, wgrad_cuda, wgrad_ws},
    {DLT_OP_COUNT, NULL, NULL},
};
