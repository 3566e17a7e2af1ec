/* The emulated cuDNN (see cudnn.h): descriptors are plain structs, the three
 * convolutions are loops in double over NCHW f32 data, and the "algorithms"
 * are a short list whose workspace needs differ, so k_conv.cu's choice,
 * workspace and fallback logic all run. */
#include <stdlib.h>

#include <vector>

#include "cudnn.h"

struct emu_cudnn {
    int unused;
};
struct emu_tensor_desc {
    int n, c, h, w, set;
};
struct emu_filter_desc {
    int k, c, h, w, set;
};
struct emu_conv_desc {
    int ph, pw, u, v, dh, dw, set;
    cudnnConvolutionMode_t mode;
    int groups;
    cudnnMathType_t math;
};

namespace
{

// Algorithm 0 needs no workspace, 1 a workspace that grows with the image, 2
// a small one and is listed first but non-deterministic (k_conv.cu prefers
// deterministic algorithms); 3 and above are "not supported here".
const int kAlgos = 3;
const size_t kSmallWs = 256;

size_t ws_of(int algo, const emu_tensor_desc *x)
{
    if (algo == 1)
        return sizeof(float) * ((size_t)x->c * x->h * x->w + 64);
    return algo == 2 ? kSmallWs : 0;
}

template <class D> cudnnStatus_t create(D **d)
{
    *d = (D *)calloc(1, sizeof(D));
    return *d ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_EXECUTION_FAILED;
}

template <class D> cudnnStatus_t destroy(D *d)
{
    free(d);
    return CUDNN_STATUS_SUCCESS;
}

// Descriptors that agree: x [N, C, H, W], w [K, C/groups, R, S], y [N, K, OH, OW]
// of cuDNN's forward size.
bool consistent(const emu_tensor_desc *x, const emu_filter_desc *w, const emu_conv_desc *c,
                const emu_tensor_desc *y)
{
    if (!x || !w || !c || !y || !x->set || !w->set || !c->set || !y->set || c->groups < 1)
        return false;
    if (x->c != w->c * c->groups || w->k % c->groups != 0 || y->n != x->n || y->c != w->k)
        return false;
    int oh = (x->h + 2 * c->ph - c->dh * (w->h - 1) - 1) / c->u + 1;
    int ow = (x->w + 2 * c->pw - c->dw * (w->w - 1) - 1) / c->v + 1;
    return oh == y->h && ow == y->w && oh > 0 && ow > 0;
}

cublasComputeType_t rounding_of(cudnnMathType_t m)
{
    return m == CUDNN_FMA_MATH                          ? CUBLAS_COMPUTE_32F
           : m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION ? CUBLAS_COMPUTE_32F_FAST_16F
                                                        : CUBLAS_COMPUTE_32F_FAST_TF32;
}

// The heuristic list for a checked call (x, w, c, y: the forward's descriptors).
template <class P>
cudnnStatus_t candidates(const emu_tensor_desc *x, const emu_filter_desc *w, const emu_conv_desc *c,
                         const emu_tensor_desc *y, int filter, int max, int *n, P *p)
{
    if (!consistent(x, w, c, y))
        return CUDNN_STATUS_BAD_PARAM;
    static const int order[kAlgos] = {2, 1, 0};
    *n = 0;
    for (int i = 0; i < kAlgos && *n < max; i++) {
        P q;
        memset(&q, 0, sizeof q);
        q.algo = (decltype(q.algo))order[i];
        q.status = CUDNN_STATUS_SUCCESS;
        q.time = (float)(i + 1);
        q.memory = ws_of(order[i], x);
        q.determinism = order[i] == 2 || (filter && order[i] == 0) ? CUDNN_NON_DETERMINISTIC : CUDNN_DETERMINISTIC;
        q.mathType = c->math;
        p[(*n)++] = q;
    }
    return CUDNN_STATUS_SUCCESS;
}

// The workspace of `algo` for a checked call.
cudnnStatus_t ws_query(const emu_tensor_desc *x, const emu_filter_desc *w, const emu_conv_desc *c,
                       const emu_tensor_desc *y, int algo, size_t *bytes)
{
    if (!consistent(x, w, c, y))
        return CUDNN_STATUS_BAD_PARAM;
    if (algo < 0 || algo >= kAlgos)
        return CUDNN_STATUS_NOT_SUPPORTED;
    *bytes = ws_of(algo, x);
    return CUDNN_STATUS_SUCCESS;
}

// Checks the call's algorithm and workspace.
cudnnStatus_t check_ws(int algo, const emu_tensor_desc *x, void *ws, size_t ws_bytes)
{
    if (algo < 0 || algo >= kAlgos)
        return CUDNN_STATUS_NOT_SUPPORTED;
    size_t need = ws_of(algo, x);
    if (need > 0 && (!ws || ws_bytes < need))
        return CUDNN_STATUS_BAD_PARAM;
    return CUDNN_STATUS_SUCCESS;
}

// Runs a checked call now, or records it in an open capture (the
// descriptors' contents and the scalars are taken at the call, as cuDNN
// does). The workspace is filled with NaN bytes before any operand is read.
template <class F> cudnnStatus_t run_or_record(void *ws, size_t need, F compute)
{
    auto work = [=]() {
        if (need > 0)
            memset(ws, 0xff, need);
        compute();
    };
    if (emu_capturing())
        emu_defer(work);
    else
        work();
    return CUDNN_STATUS_SUCCESS;
}

// The operand as the math type reads it.
std::vector<float> rounded(const float *p, size_t n, cudnnMathType_t m)
{
    std::vector<float> v(p, p + n);
    cublasComputeType_t ct = rounding_of(m);
    for (float &f : v)
        f = emu_tensor_core_input(f, ct);
    return v;
}

// Visits every (image, output channel, output pixel, input channel of the
// group, filter tap) that reads an input pixel inside the image:
// f(x index, w index, y index).
template <class F> void each_tap(const emu_tensor_desc *x, const emu_filter_desc *w, const emu_conv_desc *c,
                                 const emu_tensor_desc *y, F f)
{
    int kg = w->k / c->groups, cg = w->c;
    for (int n = 0; n < x->n; n++)
        for (int k = 0; k < w->k; k++) {
            int g = k / kg;
            for (int oh = 0; oh < y->h; oh++)
                for (int ow = 0; ow < y->w; ow++) {
                    size_t yi = (((size_t)n * y->c + k) * y->h + oh) * y->w + ow;
                    for (int ci = 0; ci < cg; ci++)
                        for (int r = 0; r < w->h; r++) {
                            int ih = oh * c->u - c->ph + r * c->dh;
                            if (ih < 0 || ih >= x->h)
                                continue;
                            for (int s = 0; s < w->w; s++) {
                                int iw = ow * c->v - c->pw + s * c->dw;
                                if (iw < 0 || iw >= x->w)
                                    continue;
                                // true convolution flips the filter
                                int fr = c->mode == CUDNN_CONVOLUTION ? w->h - 1 - r : r;
                                int fs = c->mode == CUDNN_CONVOLUTION ? w->w - 1 - s : s;
                                size_t xi = (((size_t)n * x->c + g * cg + ci) * x->h + ih) * x->w + iw;
                                size_t wi = (((size_t)k * cg + ci) * w->h + fr) * w->w + fs;
                                f(xi, wi, yi);
                            }
                        }
                }
        }
}

// out = alpha * acc + beta * out (beta 0: out is not read, as in cuDNN)
void store(float *out, const std::vector<double> &acc, float alpha, float beta)
{
    double a = alpha, b = beta;
    for (size_t i = 0; i < acc.size(); i++)
        out[i] = (float)(a * acc[i] + (b == 0 ? 0.0 : b * out[i]));
}

size_t numel(const emu_tensor_desc *d) { return (size_t)d->n * d->c * d->h * d->w; }
size_t numel(const emu_filter_desc *d) { return (size_t)d->k * d->c * d->h * d->w; }

// The three convolutions: FWD y = conv(x, w); DATA dx from dy and w; FILTER
// dw from x and dy. a and b are the call's two operands in that order, out
// its result; the descriptors are the forward's (x, w, conv, y).
enum conv_kind { FWD, DATA, FILTER };

cudnnStatus_t conv_call(conv_kind kind, const emu_tensor_desc *xd, const emu_filter_desc *wd,
                        const emu_conv_desc *cd, const emu_tensor_desc *yd, int algo, void *ws, size_t ws_bytes,
                        const void *alpha, const void *beta, const float *a, const float *b, float *out)
{
    if (!consistent(xd, wd, cd, yd))
        return CUDNN_STATUS_BAD_PARAM;
    cudnnStatus_t s = check_ws(algo, xd, ws, ws_bytes);
    if (s != CUDNN_STATUS_SUCCESS)
        return s;
    emu_tensor_desc X = *xd, Y = *yd;
    emu_filter_desc W = *wd;
    emu_conv_desc C = *cd;
    float al = *(const float *)alpha, be = *(const float *)beta;
    return run_or_record(ws, ws_of(algo, xd), [=]() {
        size_t na = kind == DATA ? numel(&Y) : numel(&X), nb = kind == FILTER ? numel(&Y) : numel(&W);
        size_t nout = kind == FWD ? numel(&Y) : kind == DATA ? numel(&X) : numel(&W);
        std::vector<float> av = rounded(a, na, C.math), bv = rounded(b, nb, C.math);
        std::vector<double> acc(nout, 0.0);
        each_tap(&X, &W, &C, &Y, [&](size_t xi, size_t wi, size_t yi) {
            if (kind == FWD)
                acc[yi] += (double)av[xi] * bv[wi];
            else if (kind == DATA)
                acc[xi] += (double)av[yi] * bv[wi];
            else
                acc[wi] += (double)av[xi] * bv[yi];
        });
        store(out, acc, al, be);
    });
}

} // namespace

extern "C" {

cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { return create(h); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { return destroy(h); }
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { return create(d); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { return create(d); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { return destroy(d); }
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d)
{
    cudnnStatus_t s = create(d);
    if (s == CUDNN_STATUS_SUCCESS)
        (*d)->groups = 1, (*d)->math = CUDNN_DEFAULT_MATH;
    return s;
}
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { return destroy(d); }

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t t,
                                         int n, int c, int h, int w)
{
    if (f != CUDNN_TENSOR_NCHW || t != CUDNN_DATA_FLOAT || n < 1 || c < 1 || h < 1 || w < 1)
        return CUDNN_STATUS_BAD_PARAM;
    *d = emu_tensor_desc{n, c, h, w, 1};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f,
                                         int k, int c, int h, int w)
{
    if (f != CUDNN_TENSOR_NCHW || t != CUDNN_DATA_FLOAT || k < 1 || c < 1 || h < 1 || w < 1)
        return CUDNN_STATUS_BAD_PARAM;
    *d = emu_filter_desc{k, c, h, w, 1};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
                                              int dil_h, int dil_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t t)
{
    if (pad_h < 0 || pad_w < 0 || u < 1 || v < 1 || dil_h < 1 || dil_w < 1 || t != CUDNN_DATA_FLOAT)
        return CUDNN_STATUS_BAD_PARAM;
    d->ph = pad_h, d->pw = pad_w, d->u = u, d->v = v, d->dh = dil_h, d->dw = dil_w, d->mode = mode, d->set = 1;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t d, int groups)
{
    if (groups < 1)
        return CUDNN_STATUS_BAD_PARAM;
    d->groups = groups;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m)
{
    if (m < CUDNN_DEFAULT_MATH || m > CUDNN_FMA_MATH)
        return CUDNN_STATUS_BAD_PARAM;
    d->math = m;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t c, cudnnTensorDescriptor_t x,
                                                    cudnnFilterDescriptor_t w, int *n, int *k, int *h, int *wd)
{
    if (!c->set || !x->set || !w->set || x->c != w->c * c->groups)
        return CUDNN_STATUS_BAD_PARAM;
    *n = x->n, *k = w->k;
    *h = (x->h + 2 * c->ph - c->dh * (w->h - 1) - 1) / c->u + 1;
    *wd = (x->w + 2 * c->pw - c->dw * (w->w - 1) - 1) / c->v + 1;
    return *h > 0 && *wd > 0 ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                     cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                     cudnnTensorDescriptor_t y, int max, int *n,
                                                     cudnnConvolutionFwdAlgoPerf_t *p)
{
    return candidates(x, w, c, y, 0, max, n, p);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                          cudnnTensorDescriptor_t dy,
                                                          cudnnConvolutionDescriptor_t c,
                                                          cudnnTensorDescriptor_t dx, int max, int *n,
                                                          cudnnConvolutionBwdDataAlgoPerf_t *p)
{
    return candidates(dx, w, c, dy, 0, max, n, p);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                            cudnnTensorDescriptor_t dy,
                                                            cudnnConvolutionDescriptor_t c,
                                                            cudnnFilterDescriptor_t dw, int max, int *n,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t *p)
{
    return candidates(x, dw, c, dy, 1, max, n, p);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                      cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                                                      cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t a,
                                                      size_t *bytes)
{
    return ws_query(x, w, c, y, (int)a, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, cudnnFilterDescriptor_t w,
                                                           cudnnTensorDescriptor_t dy,
                                                           cudnnConvolutionDescriptor_t c,
                                                           cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t a, size_t *bytes)
{
    return ws_query(dx, w, c, dy, (int)a, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                             cudnnTensorDescriptor_t dy,
                                                             cudnnConvolutionDescriptor_t c,
                                                             cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t a, size_t *bytes)
{
    return ws_query(x, dw, c, dy, (int)a, bytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void *alpha, cudnnTensorDescriptor_t xd,
                                      const void *x, cudnnFilterDescriptor_t wd, const void *w,
                                      cudnnConvolutionDescriptor_t cd, cudnnConvolutionFwdAlgo_t a, void *ws,
                                      size_t ws_bytes, const void *beta, cudnnTensorDescriptor_t yd, void *y)
{
    return conv_call(FWD, xd, wd, cd, yd, (int)a, ws, ws_bytes, alpha, beta, (const float *)x, (const float *)w,
                     (float *)y);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void *alpha, cudnnFilterDescriptor_t wd,
                                           const void *w, cudnnTensorDescriptor_t dyd, const void *dy,
                                           cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdDataAlgo_t a,
                                           void *ws, size_t ws_bytes, const void *beta,
                                           cudnnTensorDescriptor_t dxd, void *dx)
{
    return conv_call(DATA, dxd, wd, cd, dyd, (int)a, ws, ws_bytes, alpha, beta, (const float *)dy, (const float *)w,
                     (float *)dx);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void *alpha, cudnnTensorDescriptor_t xd,
                                             const void *x, cudnnTensorDescriptor_t dyd, const void *dy,
                                             cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdFilterAlgo_t a,
                                             void *ws, size_t ws_bytes, const void *beta,
                                             cudnnFilterDescriptor_t dwd, void *dw)
{
    return conv_call(FILTER, xd, dwd, cd, dyd, (int)a, ws, ws_bytes, alpha, beta, (const float *)x,
                     (const float *)dy, (float *)dw);
}

} // extern "C"
