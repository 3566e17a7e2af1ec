/* Private to the conv family: the geometry shared by conv2d, its transpose and
 * its weight gradient, the three CPU kernels (conv_kernels.c), and the pooling
 * and upsampling attributes. Included by the GPU kernels (src/gpu/k_conv.cu,
 * k_pool.cu, k_upsample.cu) too, so it compiles as C and as C++. */
#ifndef DLT_CONV_IMPL_H
#define DLT_CONV_IMPL_H

#include "dlt_opdef.h"
#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every kernel is phrased in conv2d terms: the "image" X [N, C, H, W], the
 * "response" Y [N, OC, OH, OW] = conv2d(X, W), and W [OC, C / groups, KH, KW].
 * conv2d computes Y, conv_transpose2d computes X (the adjoint), and
 * conv2d_weight_grad computes W. */
typedef struct conv_geom {
    int64_t n, c, h, w;
    int64_t oc, oh, ow;
    int kh, kw, sh, sw, ph, pw, dh, dw, groups;
} conv_geom;

/* The op attribute: the conv2d hyper-parameters plus, for conv_transpose2d,
 * the image size it produces and, for conv2d_weight_grad, the kernel size. */
typedef struct {
    int sh, sw, ph, pw, dh, dw, groups;
    int kh, kw;
    int64_t xh, xw;
} conv_attr;

/* pool.c: the window of maxpool2d / avgpool2d and their backward ops. */
typedef struct {
    int kh, kw, sh, sw, ph, pw, dh, dw, exclude_pad;
    int64_t xh, xw; /* the pooled image size (backward ops) */
} pool_attr;

/* Average pooling, CPU (pool.c) and CUDA (k_pool.cu) alike: the window
 * of output (oh, ow) clipped to an h x w image, [h0, h1) x [w0, w1), and the
 * count its sum is divided by (0: an empty window). Floor mode keeps every
 * window inside the padded image, so without exclude_pad it is the full kernel. */
static inline DLT_HD int64_t dlt_avgpool_window(const pool_attr *a, int64_t h, int64_t w, int64_t oh, int64_t ow,
                                                int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1)
{
    int64_t hs = oh * a->sh - a->ph, ws = ow * a->sw - a->pw;
    *h0 = hs < 0 ? 0 : hs;
    *w0 = ws < 0 ? 0 : ws;
    *h1 = hs + a->kh < h ? hs + a->kh : h;
    *w1 = ws + a->kw < w ? ws + a->kw : w;
    return a->exclude_pad ? (*h1 - *h0) * (*w1 - *w0) : (int64_t)a->kh * a->kw;
}

/* Max pooling's window of output (oh, ow) over one h x w plane xp: the
 * in-plane index of its first maximum in row-major order (a NaN counts as the
 * maximum, the first NaN wins: PyTorch's rule), its value in *best; -1 (and
 * *best = 0) for a window wholly in the padding. */
static inline DLT_HD int64_t dlt_maxpool_window(const pool_attr *a, const float *xp, int64_t h, int64_t w,
                                                int64_t oh, int64_t ow, float *best)
{
    float b = -INFINITY;
    int64_t bi = -1;
    for (int i = 0; i < a->kh; i++) {
        int64_t ih = oh * a->sh - a->ph + (int64_t)i * a->dh;
        if (ih < 0 || ih >= h)
            continue;
        for (int j = 0; j < a->kw; j++) {
            int64_t iw = ow * a->sw - a->pw + (int64_t)j * a->dw;
            if (iw < 0 || iw >= w)
                continue;
            float v = xp[ih * w + iw];
            if (bi < 0 || v > b || isnan(v)) {
                b = v;
                bi = ih * w + iw;
            }
        }
    }
    *best = bi < 0 ? 0.f : b;
    return bi;
}

/* upsample.c: the integer scale factors. */
typedef struct {
    int sh, sw;
} up_attr;

/* Output extent of a conv2d along one axis (may be <= 0 when the dilated kernel
 * does not fit the padded input). */
static inline int64_t conv_out_size(int64_t in, int k, int s, int p, int d)
{
    int64_t span = in + 2 * (int64_t)p - (int64_t)d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

/* A 1x1 kernel with unit stride and no padding: the image is the im2col matrix. */
static inline int conv_is_pointwise(const conv_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
}

/* Workspace bytes for the three kernels (`slots` images in flight at once). */
size_t conv_fwd_ws(const conv_geom *q, int slots);
size_t conv_bwd_data_ws(const conv_geom *q, int slots);
size_t conv_bwd_filter_ws(const conv_geom *q, int slots);
/* Images processed in parallel: the thread count the plan is made for, at most N. */
int conv_slots(int64_t n);

/* y = conv2d(x, w) + bias (bias may be NULL; over OC). */
void conv_fwd(const conv_geom *q, const float *x, const float *w, const float *bias, float *y,
              float *work, size_t work_bytes, int nthreads);
/* x = conv_transpose2d(y, w) + bias (bias may be NULL; over C). */
void conv_bwd_data(const conv_geom *q, const float *y, const float *w, const float *bias, float *x,
                   float *work, size_t work_bytes, int nthreads);
/* w = sum over images of y_n (x) im2col(x_n): the weight gradient. */
void conv_bwd_filter(const conv_geom *q, const float *x, const float *y, float *w, float *work,
                     size_t work_bytes, int nthreads);

/* ---------------------------------------------------------------- providers
 * Which implementation runs a CPU convolution node is decided once, at plan
 * time (conv_provider.c): im2col + sgemm above, or oneDNN's primitives
 * (conv_dnnl.c, when configure found libdnnl-dev), created by the op's
 * `prepare` and kept in the plan's per-node state. */
enum { CONV_FWD = 0, CONV_DATA, CONV_FILTER };
enum { CONV_IM2COL = 0, CONV_DNNL, CONV_DIRECT };

/* The provider for a node of kind CONV_* with geometry q, made for `nthreads`
 * threads: DLT_CONV=im2col|dnnl|direct|auto (unset: auto) forces one; auto follows
 * the measured rule in conv_provider.c. Falls back to im2col for what oneDNN
 * cannot do (or when it is not built). The same answer for the workspace
 * rule and `prepare` of one plan. */
int conv_provider(const conv_geom *q, int kind, int nthreads);

/* conv_direct.c: the data gradient (conv_transpose2d) of a convolution whose
 * image has few channels (a network's input layer; a GAN generator's last
 * layer), where im2col's column matrix has only C KH KW rows and the GEMM
 * runs far below peak. x is computed directly, vector lanes along image rows:
 * the image splits into stride phases (rows ih = py + sh i, columns
 * iw = px + sw j), and in one phase every kernel tap (ky, kx) that reaches it
 * reads the response at (i + ey, j + ex), a fixed shift. AVX-512 reads the
 * response where it is, with masked loads at its edges; the narrower paths
 * first copy it into a zero-padded buffer (conv_direct_layout), so every
 * shift is an unconditional vector load. Each tile of R rows x NB vectors x C
 * channels keeps its sums in registers over all (o, kx, ky), and each
 * response row it loads feeds up to 3 vertical taps (AVX-512; AVX2 for one
 * channel). Each element's sum runs
 * in the same (o, kx, ky) order whatever the tile and thread count.
 * The kernel is vector code, built per ISA level with vmath's paths
 * (dlt_vmath_ops.conv_data_image) and picked with them. */
/* CONV_DIRECT_TILE: sums per tile (R C NB), so at most that many rows. */
enum { CONV_DIRECT_MAX_C = 4, CONV_DIRECT_MAX_K = 32, CONV_DIRECT_TILE = 24 };
typedef struct conv_direct_layout {
    int64_t pt, pl;         /* the response's origin in the padded buffer */
    int64_t hp, wp;         /* padded rows and columns per response channel */
    int64_t jr;             /* columns computed per phase row: ceil(W / sw) rounded up to 16 */
} conv_direct_layout;
/* The taps k < kn of one axis (stride s, padding pad) that reach stride phase
 * p, those with p + pad - k divisible by s, into k[], and their shifts
 * (p + pad - k) / s into e[]: k ascending, so e descends by one from tap to
 * tap; returns how many (at most kn). */
static inline int conv_phase_taps(int p, int pad, int s, int kn, int *k, int64_t *e)
{
    int n = 0;
    for (int t = 0; t < kn; t++)
        if ((p + pad - t) % s == 0) {
            k[n] = t;
            e[n++] = (p + pad - t) / s;
        }
    return n;
}
/* 1 when the direct kernel handles q: groups 1, no dilation, C <= CONV_DIRECT_MAX_C,
 * kernels up to CONV_DIRECT_MAX_K a side. */
int conv_direct_supports(const conv_geom *q);
void conv_direct_layout_of(const conv_geom *q, conv_direct_layout *l);
/* 1 when the chosen vmath path reads the response in place (no workspace). */
int conv_direct_in_place(void);
/* Workspace bytes: one padded response per slot; 0 in place. */
size_t conv_direct_ws(const conv_geom *q, int slots);
/* x = conv_transpose2d(y, w) + bias (bias may be NULL), images split over
 * the slots that fit `work`. */
void conv_direct_data(const conv_geom *q, const float *y, const float *w, const float *bias, float *x,
                      float *work, size_t work_bytes, int nthreads);

/* conv_dnnl.c. A oneDNN convolution of one kind and geometry: its primitive,
 * memory objects and scratchpad, made once. */
typedef struct conv_dnnl conv_dnnl;
/* 1 when the library was built with oneDNN. */
int conv_dnnl_built(void);
/* 1 when oneDNN handles this geometry (padding it can express). */
int conv_dnnl_supports(const conv_geom *q);
/* 1 when oneDNN's primitive of this kind would pad the image's channels to
 * more than twice their count (conv_dnnl.c): the rule takes im2col then. */
int conv_dnnl_pads_image(const conv_geom *q, int kind);
/* Creates the primitive for `nthreads` threads; errors name the oneDNN status. */
dlt_status conv_dnnl_create(const conv_geom *q, int kind, int has_bias, int nthreads, conv_dnnl **out);
/* Workspace bytes of that primitive (its blocked copies and scratchpad). */
size_t conv_dnnl_ws(const conv_geom *q, int kind, int has_bias, int nthreads);
/* Runs it: CONV_FWD y = conv2d(a = x, b = w) + bias, CONV_DATA x = T(a = y, b = w)
 * + bias, CONV_FILTER w = G(a = x, b = y); plain NCHW / OIHW in and out; `work`
 * holds at least conv_dnnl_ws bytes. */
dlt_status conv_dnnl_run(conv_dnnl *d, const float *a, const float *b, const float *bias, float *out,
                         void *work, size_t work_bytes, int nthreads);
void conv_dnnl_free(conv_dnnl *d);

#ifdef __cplusplus
}
#endif
#endif
