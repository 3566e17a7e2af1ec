/* CPU kernels of the conv family: im2col / col2im around OpenBLAS sgemm.
 *
 * Each image is lowered on its own into a per-thread column buffer (the
 * workspace), so the buffer stays small. With at least as many images as
 * threads, images run in parallel with single-threaded sgemm (no fork/join per
 * GEMM, which dominates for the small GEMMs of CIFAR-sized layers); otherwise
 * images run one after another with multi-threaded sgemm. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "conv_impl.h"

static int64_t col_rows(const conv_geom *q) { return q->c * q->kh * q->kw; }

static size_t col_bytes(const conv_geom *q)
{
    return conv_is_pointwise(q) ? 0 : (size_t)(col_rows(q) * q->oh * q->ow) * sizeof(float);
}

static size_t w_bytes(const conv_geom *q)
{
    return (size_t)(q->oc * (q->c / q->groups) * q->kh * q->kw) * sizeof(float);
}

size_t conv_fwd_ws(const conv_geom *q, int slots) { return (size_t)slots * col_bytes(q); }
size_t conv_bwd_data_ws(const conv_geom *q, int slots) { return (size_t)slots * col_bytes(q); }
size_t conv_bwd_filter_ws(const conv_geom *q, int slots)
{
    return (size_t)slots * col_bytes(q) + (size_t)(slots - 1) * w_bytes(q);
}

int conv_slots(int64_t n)
{
    int t = dlt_get_num_threads();
    return n < t ? (int)n : t;
}

/* The output columns ow whose input column ow * sw + off lies inside [0, w). */
static void valid_cols(int64_t off, int64_t w, int sw, int64_t ow, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
    int64_t h = w - 1 - off < 0 ? 0 : (w - 1 - off) / sw + 1;
    if (h > ow)
        h = ow;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

static void im2col(const conv_geom *q, const float *x, float *col, int nthreads)
{
    int64_t ohw = q->oh * q->ow, hw = q->h * q->w;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && q->c > 1)
    for (int64_t c = 0; c < q->c; c++)
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++) {
                float *row = col + ((c * q->kh + ki) * q->kw + kj) * ohw;
                int64_t coff = (int64_t)kj * q->dw - q->pw, lo, hi;
                valid_cols(coff, q->w, q->sw, q->ow, &lo, &hi);
                const float *xc = x + c * hw;
                for (int64_t oh = 0; oh < q->oh; oh++) {
                    float *r = row + oh * q->ow;
                    int64_t ih = oh * q->sh - q->ph + (int64_t)ki * q->dh;
                    if (ih < 0 || ih >= q->h) {
                        memset(r, 0, (size_t)q->ow * sizeof *r);
                        continue;
                    }
                    const float *xr = xc + ih * q->w;
                    for (int64_t ow = 0; ow < lo; ow++)
                        r[ow] = 0.f;
                    if (q->sw == 1)
                        memcpy(r + lo, xr + lo + coff, (size_t)(hi - lo) * sizeof *r);
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            r[ow] = xr[ow * q->sw + coff];
                    for (int64_t ow = hi; ow < q->ow; ow++)
                        r[ow] = 0.f;
                }
            }
}

/* The adjoint of im2col: adds every column entry back into its image pixel.
 * Channels are independent, so the parallel loop over them is race-free and
 * each pixel's sum keeps a fixed order. */
static void col2im_add(const conv_geom *q, const float *col, float *x, int nthreads)
{
    int64_t ohw = q->oh * q->ow, hw = q->h * q->w;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && q->c > 1)
    for (int64_t c = 0; c < q->c; c++)
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++) {
                const float *row = col + ((c * q->kh + ki) * q->kw + kj) * ohw;
                int64_t coff = (int64_t)kj * q->dw - q->pw, lo, hi;
                valid_cols(coff, q->w, q->sw, q->ow, &lo, &hi);
                float *xc = x + c * hw;
                for (int64_t oh = 0; oh < q->oh; oh++) {
                    int64_t ih = oh * q->sh - q->ph + (int64_t)ki * q->dh;
                    if (ih < 0 || ih >= q->h)
                        continue;
                    const float *r = row + oh * q->ow;
                    float *xr = xc + ih * q->w + coff;
                    for (int64_t ow = lo; ow < hi; ow++)
                        xr[ow * q->sw] += r[ow];
                }
            }
}

static void fill_channels(float *dst, const float *bias, int64_t nch, int64_t len)
{
    for (int64_t c = 0; c < nch; c++) {
        float v = bias ? bias[c] : 0.f;
        for (int64_t i = 0; i < len; i++)
            dst[c * len + i] = v;
    }
}

static void fwd_image(const conv_geom *q, const float *x, const float *w, const float *bias, float *y,
                      float *col, int nthreads)
{
    int64_t ohw = q->oh * q->ow, ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    const float *src = x;
    if (!conv_is_pointwise(q)) {
        im2col(q, x, col, nthreads);
        src = col;
    }
    if (bias)
        fill_channels(y, bias, q->oc, ohw);
    for (int g = 0; g < q->groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ocg, (int)ohw, (int)kg, 1.f,
                    w + g * ocg * kg, (int)kg, src + g * kg * ohw, (int)ohw, bias ? 1.f : 0.f,
                    y + g * ocg * ohw, (int)ohw);
}

static void bwd_data_image(const conv_geom *q, const float *y, const float *w, const float *bias,
                           float *x, float *col, int nthreads)
{
    int64_t ohw = q->oh * q->ow, ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    int pw = conv_is_pointwise(q);
    float *dst = pw ? x : col;
    if (pw && bias)
        fill_channels(x, bias, q->c, ohw);
    for (int g = 0; g < q->groups; g++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kg, (int)ohw, (int)ocg, 1.f,
                    w + g * ocg * kg, (int)kg, y + g * ocg * ohw, (int)ohw, pw && bias ? 1.f : 0.f,
                    dst + g * kg * ohw, (int)ohw);
    if (!pw) {
        fill_channels(x, bias, q->c, q->h * q->w);
        col2im_add(q, col, x, nthreads);
    }
}

static void bwd_filter_image(const conv_geom *q, const float *x, const float *y, float *w, float beta,
                             float *col, int nthreads)
{
    int64_t ohw = q->oh * q->ow, ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    const float *src = x;
    if (!conv_is_pointwise(q)) {
        im2col(q, x, col, nthreads);
        src = col;
    }
    for (int g = 0; g < q->groups; g++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ocg, (int)kg, (int)ohw, 1.f,
                    y + g * ocg * ohw, (int)ohw, src + g * kg * ohw, (int)ohw, beta, w + g * ocg * kg,
                    (int)kg);
}

/* How many images run at once: one per thread, fewer when the workspace the
 * plan reserved (for its thread count) is smaller. */
static int pick_slots(const conv_geom *q, int nthreads, size_t work_bytes,
                      size_t (*ws)(const conv_geom *, int))
{
    int t = nthreads < q->n ? nthreads : (int)q->n;
    while (t > 1 && ws(q, t) > work_bytes)
        t--;
    return t < 1 ? 1 : t;
}

enum { KIND_FWD, KIND_DATA, KIND_FILTER };

typedef struct {
    const conv_geom *q;
    const float *a, *b, *bias;
    float *out, *work;
    int kind;
} conv_job;

static void run_image(const conv_job *j, int64_t i, float *col, float *wacc, float beta, int nthreads)
{
    const conv_geom *q = j->q;
    int64_t xs = q->c * q->h * q->w, ys = q->oc * q->oh * q->ow;
    if (j->kind == KIND_FWD)
        fwd_image(q, j->a + i * xs, j->b, j->bias, j->out + i * ys, col, nthreads);
    else if (j->kind == KIND_DATA)
        bwd_data_image(q, j->a + i * ys, j->b, j->bias, j->out + i * xs, col, nthreads);
    else
        bwd_filter_image(q, j->a + i * xs, j->b + i * ys, wacc, beta, col, nthreads);
}

static void run_conv(const conv_job *j, size_t work_bytes, int nthreads,
                     size_t (*ws)(const conv_geom *, int))
{
    const conv_geom *q = j->q;
    int slots = pick_slots(q, nthreads, work_bytes, ws);
    size_t colf = col_bytes(q) / sizeof(float), wn = w_bytes(q) / sizeof(float);
    if (q->n == 0 && j->kind == KIND_FILTER)
        memset(j->out, 0, wn * sizeof(float));
    if (slots == 1) {
        for (int64_t i = 0; i < q->n; i++)
            run_image(j, i, j->work, j->out, i ? 1.f : 0.f, nthreads);
        return;
    }
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(static, 1) num_threads(slots)
    for (int t = 0; t < slots; t++) {
        /* fixed image ranges per slot: the filter partial sums, and so the
         * result, depend on the thread count only */
        int64_t i0 = q->n * t / slots, i1 = q->n * (t + 1) / slots;
        float *col = colf ? j->work + (size_t)t * colf : NULL;
        float *wacc = t == 0 ? j->out : j->work + (size_t)slots * colf + (size_t)(t - 1) * wn;
        for (int64_t i = i0; i < i1; i++)
            run_image(j, i, col, wacc, i > i0 ? 1.f : 0.f, 1);
    }
    openblas_set_num_threads(nthreads);
    if (j->kind == KIND_FILTER) {
        const float *part = j->work + (size_t)slots * colf;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (wn * (size_t)slots > 32768)
        for (size_t e = 0; e < wn; e++) {
            float s = j->out[e];
            for (int t = 1; t < slots; t++)
                s += part[(size_t)(t - 1) * wn + e];
            j->out[e] = s;
        }
    }
}

void conv_fwd(const conv_geom *q, const float *x, const float *w, const float *bias, float *y,
              float *work, size_t work_bytes, int nthreads)
{
    conv_job j = {q, x, w, bias, y, work, KIND_FWD};
    run_conv(&j, work_bytes, nthreads, conv_fwd_ws);
}

void conv_bwd_data(const conv_geom *q, const float *y, const float *w, const float *bias, float *x,
                   float *work, size_t work_bytes, int nthreads)
{
    conv_job j = {q, y, w, bias, x, work, KIND_DATA};
    run_conv(&j, work_bytes, nthreads, conv_bwd_data_ws);
}

void conv_bwd_filter(const conv_geom *q, const float *x, const float *y, float *w, float *work,
                     size_t work_bytes, int nthreads)
{
    conv_job j = {q, x, y, NULL, w, work, KIND_FILTER};
    run_conv(&j, work_bytes, nthreads, conv_bwd_filter_ws);
}
