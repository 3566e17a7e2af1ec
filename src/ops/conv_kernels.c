/* CPU kernels of the conv family: im2col / col2im around OpenBLAS sgemm.
 *
 * Images are lowered a few at a time into a per-thread column buffer (the
 * workspace), so the buffer stays small: one image when its output plane is
 * large, a chunk of images side by side when it is small, so that each GEMM
 * has at least CHUNK_COLS columns (OpenBLAS runs small GEMMs far below peak).
 * With at least as many images as threads, images run in parallel with
 * single-threaded sgemm (no fork/join per GEMM); otherwise images run one
 * after another with multi-threaded sgemm. */
#include <omp.h>
#include <string.h>

#include "conv_impl.h"

enum { CHUNK_COLS = 2048 };

static int64_t col_rows(const conv_geom *q) { return q->c * q->kh * q->kw; }

/* Images per GEMM for a slot that handles up to ceil(n / slots) images. */
static int64_t chunk_of(const conv_geom *q, int slots)
{
    int64_t ohw = q->oh * q->ow, per = (q->n + slots - 1) / slots;
    int64_t bc = ohw >= CHUNK_COLS ? 1 : (CHUNK_COLS + ohw - 1) / ohw;
    bc = bc < per ? bc : per;
    return bc < 1 ? 1 : bc;
}

/* Per slot: the column buffer (none for a single 1x1 image, which is its own
 * column matrix) and the response of the chunk in GEMM layout. */
static size_t slot_floats(const conv_geom *q, int64_t bc)
{
    int64_t ohw = q->oh * q->ow;
    int64_t col = bc == 1 && conv_is_pointwise(q) ? 0 : col_rows(q) * bc * ohw;
    return (size_t)(col + q->oc * bc * ohw);
}

static size_t w_bytes(const conv_geom *q)
{
    return (size_t)(q->oc * (q->c / q->groups) * q->kh * q->kw) * sizeof(float);
}

/* Bytes for `slots` slots of chunks of bc images; the filter gradient adds a
 * transposed weight accumulator per slot. */
static size_t ws_bytes(const conv_geom *q, int slots, int64_t bc, int filter)
{
    return (size_t)slots * (slot_floats(q, bc) * sizeof(float) + (filter ? w_bytes(q) : 0));
}

size_t conv_fwd_ws(const conv_geom *q, int slots) { return ws_bytes(q, slots, chunk_of(q, slots), 0); }
size_t conv_bwd_data_ws(const conv_geom *q, int slots) { return conv_fwd_ws(q, slots); }
size_t conv_bwd_filter_ws(const conv_geom *q, int slots) { return ws_bytes(q, slots, chunk_of(q, slots), 1); }

int conv_slots(int64_t n)
{
    int t = dlt_get_num_threads();
    return n < 1 ? 1 : n < t ? (int)n : t;
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

/* Lowers one image into columns [C KH KW, OH OW] of a matrix with row stride ld. */
static void im2col(const conv_geom *q, const float *x, float *col, int64_t ld, int nthreads)
{
    int64_t hw = q->h * q->w;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && q->c > 1)
    for (int64_t c = 0; c < q->c; c++)
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++) {
                float *row = col + ((c * q->kh + ki) * q->kw + kj) * ld;
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
static void col2im_add(const conv_geom *q, const float *col, int64_t ld, float *x, int nthreads)
{
    int64_t hw = q->h * q->w;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && q->c > 1)
    for (int64_t c = 0; c < q->c; c++)
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++) {
                const float *row = col + ((c * q->kh + ki) * q->kw + kj) * ld;
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

/* Copies cnt planes-of-channels between NCHW ([img][ch][len]) and the chunk
 * layout [ch][img][len] that one GEMM over the chunk uses. */
static void to_chunk(const float *src, float *dst, int64_t cnt, int64_t nch, int64_t len)
{
    for (int64_t j = 0; j < cnt; j++)
        for (int64_t c = 0; c < nch; c++)
            memcpy(dst + (c * cnt + j) * len, src + (j * nch + c) * len, (size_t)len * sizeof *dst);
}

/* One chunk of cnt images: the operands of the GEMMs. `col` [K, cnt OHW]
 * receives the lowered images (a single 1x1 image is used in place) and `tmp`
 * holds the response in GEMM layout.
 *
 * The GEMMs are oriented so that OpenBLAS's long dimension is the pixel one:
 * with few output channels, Y^T = col^T W^T and dW^T = col dy^T run 15-50%
 * faster than Y = W col and dW = dy col^T (measured on AVX-512). */
typedef struct {
    const conv_geom *q;
    int64_t cnt, ld; /* images, columns of every GEMM operand (cnt OH OW) */
    float *col, *tmp;
    int nthreads;
} chunk;

static const float *lower(const chunk *ch, const float *x)
{
    const conv_geom *q = ch->q;
    if (ch->cnt == 1 && conv_is_pointwise(q))
        return x;
    for (int64_t j = 0; j < ch->cnt; j++)
        im2col(q, x + j * q->c * q->h * q->w, ch->col + j * q->oh * q->ow, ch->ld, ch->nthreads);
    return ch->col;
}

static void fwd_chunk(const chunk *ch, const float *x, const float *w, const float *bias, float *y)
{
    const conv_geom *q = ch->q;
    int64_t ohw = q->oh * q->ow, ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    const float *src = lower(ch, x);
    /* tmp [cnt OHW, OC] = col^T W^T, then transposed into NCHW */
    for (int g = 0; g < q->groups; g++)
        dlt_gemm(1, 1, ch->ld, ocg, kg, 1.f, src + g * kg * ch->ld, ch->ld, w + g * ocg * kg, kg, 0.f,
                 ch->tmp + g * ocg, q->oc, ch->nthreads);
    for (int64_t j = 0; j < ch->cnt; j++)
        for (int64_t o = 0; o < q->oc; o++) {
            const float *s = ch->tmp + j * ohw * q->oc + o;
            float *d = y + (j * q->oc + o) * ohw, b = bias ? bias[o] : 0.f;
            for (int64_t i = 0; i < ohw; i++)
                d[i] = s[i * q->oc] + b;
        }
}

static void bwd_data_chunk(const chunk *ch, const float *y, const float *w, const float *bias, float *x)
{
    const conv_geom *q = ch->q;
    int64_t ohw = q->oh * q->ow, ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    int direct = ch->cnt == 1 && conv_is_pointwise(q);
    const float *src = y;
    if (ch->cnt > 1) {
        to_chunk(y, ch->tmp, ch->cnt, q->oc, ohw);
        src = ch->tmp;
    }
    float *dst = direct ? x : ch->col;
    if (direct && bias)
        fill_channels(x, bias, q->c, ohw);
    for (int g = 0; g < q->groups; g++)
        dlt_gemm(1, 0, kg, ch->ld, ocg, 1.f, w + g * ocg * kg, kg, src + g * ocg * ch->ld, ch->ld,
                 direct && bias ? 1.f : 0.f, dst + g * kg * ch->ld, ch->ld, ch->nthreads);
    if (!direct)
        for (int64_t j = 0; j < ch->cnt; j++) {
            float *xj = x + j * q->c * q->h * q->w;
            fill_channels(xj, bias, q->c, q->h * q->w);
            col2im_add(q, ch->col + j * ohw, ch->ld, xj, ch->nthreads);
        }
}

/* Accumulates dW^T [K, OC / groups] per group into wt. */
static void bwd_filter_chunk(const chunk *ch, const float *x, const float *y, float *wt, float beta)
{
    const conv_geom *q = ch->q;
    int64_t ocg = q->oc / q->groups, kg = col_rows(q) / q->groups;
    const float *src = lower(ch, x), *dy = y;
    if (ch->cnt > 1) {
        to_chunk(y, ch->tmp, ch->cnt, q->oc, q->oh * q->ow);
        dy = ch->tmp;
    }
    for (int g = 0; g < q->groups; g++)
        dlt_gemm(0, 1, kg, ocg, ch->ld, 1.f, src + g * kg * ch->ld, ch->ld, dy + g * ocg * ch->ld, ch->ld,
                 beta, wt + g * kg * ocg, ocg, ch->nthreads);
}

/* How many slots (threads, each with its own buffers) run at once, and the
 * images per GEMM: one slot per thread with the preferred chunk, less of both
 * when the workspace the plan reserved (for its thread count) is smaller.
 * One slot of one image always fits: the plan reserved at least that. */
static int pick_slots(const conv_geom *q, int nthreads, size_t work_bytes, int filter, int64_t *bc)
{
    int t = nthreads < q->n ? nthreads : (int)q->n;
    /* below ~1 MFLOP per thread a parallel region costs more than it saves
     * (and stalls badly on a loaded machine) */
    double flops = 2.0 * (double)q->n * (double)q->oc * (double)(q->oh * q->ow) * (double)col_rows(q) /
                   (double)q->groups;
    if (flops < 1e6 * t)
        t = flops >= 2e6 ? (int)(flops / 1e6) : 1;
    for (t = t < 1 ? 1 : t; t >= 1; t--) {
        for (*bc = chunk_of(q, t); *bc > 1 && ws_bytes(q, t, *bc, filter) > work_bytes; (*bc)--)
            ;
        if (ws_bytes(q, t, *bc, filter) <= work_bytes)
            return t;
    }
    *bc = 1;
    return 1;
}

enum { KIND_FWD, KIND_DATA, KIND_FILTER };

typedef struct {
    const conv_geom *q;
    const float *a, *b, *bias;
    float *out, *work;
    int kind;
} conv_job;

/* Images [i0, i1) in chunks, with the slot's buffers at `buf`; filter
 * gradients accumulate into wacc (transposed). */
static void run_range(const conv_job *j, int64_t i0, int64_t i1, int64_t bc, float *buf, float *wacc,
                      int nthreads)
{
    const conv_geom *q = j->q;
    int64_t xs = q->c * q->h * q->w, ys = q->oc * q->oh * q->ow;
    for (int64_t i = i0; i < i1; i += bc) {
        int64_t cnt = i1 - i < bc ? i1 - i : bc;
        int64_t ncol = cnt == 1 && conv_is_pointwise(q) ? 0 : col_rows(q) * cnt * q->oh * q->ow;
        chunk ch = {q, cnt, cnt * q->oh * q->ow, buf, buf + ncol, nthreads};
        if (j->kind == KIND_FWD)
            fwd_chunk(&ch, j->a + i * xs, j->b, j->bias, j->out + i * ys);
        else if (j->kind == KIND_DATA)
            bwd_data_chunk(&ch, j->a + i * ys, j->b, j->bias, j->out + i * xs);
        else
            bwd_filter_chunk(&ch, j->a + i * xs, j->b + i * ys, wacc, i > i0 ? 1.f : 0.f);
    }
}

/* w[g][o][k] = sum over slots of wt_t[g][k][o], slots in order. */
static void sum_transposed(const conv_geom *q, const float *wt, int slots, float *w, int nthreads)
{
    int64_t ocg = q->oc / q->groups, kg = col_rows(q) / q->groups, wn = q->oc * kg;
#pragma omp parallel for schedule(static) num_threads(nthreads) if (wn * slots > 32768)
    for (int64_t e = 0; e < wn; e++) {
        int64_t g = e / (ocg * kg), o = (e / kg) % ocg, k = e % kg;
        const float *src = wt + (g * kg + k) * ocg + o;
        float s = src[0];
        for (int t = 1; t < slots; t++)
            s += src[t * wn];
        w[e] = s;
    }
}

static void run_conv(const conv_job *j, size_t work_bytes, int nthreads)
{
    const conv_geom *q = j->q;
    int64_t bc;
    int slots = pick_slots(q, nthreads, work_bytes, j->kind == KIND_FILTER, &bc);
    size_t sf = slot_floats(q, bc), wn = w_bytes(q) / sizeof(float);
    float *wt = j->work + (size_t)slots * sf;
    if (q->n == 0 && j->kind == KIND_FILTER)
        memset(wt, 0, wn * (size_t)slots * sizeof(float));
    if (slots == 1) {
        run_range(j, 0, q->n, bc, j->work, wt, nthreads);
    } else {
#pragma omp parallel for schedule(static, 1) num_threads(slots)
        for (int t = 0; t < slots; t++) {
            /* fixed image ranges per slot: the filter partial sums, and so the
             * result, depend on the thread count only */
            int64_t i0 = q->n * t / slots, i1 = q->n * (t + 1) / slots;
            run_range(j, i0, i1, bc, j->work + (size_t)t * sf, wt + (size_t)t * wn, 1);
        }
    }
    if (j->kind == KIND_FILTER)
        sum_transposed(q, wt, slots, j->out, nthreads);
}

void conv_fwd(const conv_geom *q, const float *x, const float *w, const float *bias, float *y,
              float *work, size_t work_bytes, int nthreads)
{
    conv_job j = {q, x, w, bias, y, work, KIND_FWD};
    run_conv(&j, work_bytes, nthreads);
}

void conv_bwd_data(const conv_geom *q, const float *y, const float *w, const float *bias, float *x,
                   float *work, size_t work_bytes, int nthreads)
{
    conv_job j = {q, y, w, bias, x, work, KIND_DATA};
    run_conv(&j, work_bytes, nthreads);
}

void conv_bwd_filter(const conv_geom *q, const float *x, const float *y, float *w, float *work,
                     size_t work_bytes, int nthreads)
{
    conv_job j = {q, x, y, NULL, w, work, KIND_FILTER};
    run_conv(&j, work_bytes, nthreads);
}
