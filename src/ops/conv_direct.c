/* The direct data-gradient convolution for images with few channels
 * (conv_impl.h says what and why; the kernel is conv_direct_kernels.h, one
 * copy per vmath ISA path): the padded buffer's layout and workspace of the
 * paths that read a padded copy, and the split of images over threads. */
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>

#include "conv_impl.h"
#include "dlt_ops.h"
#include "vmath.h"

static _Atomic long long images_run;

long long dlt_conv_direct_images(void) { return atomic_load(&images_run); }

int conv_direct_supports(const conv_geom *q)
{
    return q->groups == 1 && q->dh == 1 && q->dw == 1 && q->c >= 1 && q->c <= CONV_DIRECT_MAX_C &&
           q->kh <= CONV_DIRECT_MAX_K && q->kw <= CONV_DIRECT_MAX_K && q->sh >= 1 && q->sw >= 1;
}

/* The smallest and largest shift over the phases p < s and the taps that
 * reach them (conv_phase_taps). */
static void shift_range(int s, int pad, int kn, int64_t *lo, int64_t *hi)
{
    int k[CONV_DIRECT_MAX_K];
    int64_t e[CONV_DIRECT_MAX_K];
    *lo = INT64_MAX, *hi = INT64_MIN;
    for (int p = 0; p < s; p++)
        for (int i = 0, n = conv_phase_taps(p, pad, s, kn, k, e); i < n; i++) {
            *lo = e[i] < *lo ? e[i] : *lo;
            *hi = e[i] > *hi ? e[i] : *hi;
        }
    if (*lo > *hi) /* no taps at all (kn = 0) */
        *lo = *hi = 0;
}

/* Rows: a tile reads phase rows i + ey for i < ceil(H / sh) rounded up by at
 * most a tile's rows (CONV_DIRECT_TILE at most), ey in the shift range; columns: j + ex
 * for j < jr, every ISA's tiles ending within a multiple of 16 lanes. */
void conv_direct_layout_of(const conv_geom *q, conv_direct_layout *l)
{
    int64_t eylo, eyhi, exlo, exhi;
    shift_range(q->sh, q->ph, q->kh, &eylo, &eyhi);
    shift_range(q->sw, q->pw, q->kw, &exlo, &exhi);
    int64_t ir = (q->h + q->sh - 1) / q->sh + CONV_DIRECT_TILE;
    l->jr = ((q->w + q->sw - 1) / q->sw + 15) / 16 * 16;
    l->pt = eylo < 0 ? -eylo : 0;
    l->pl = exlo < 0 ? -exlo : 0;
    l->hp = l->pt + (q->oh > ir + eyhi ? q->oh : ir + eyhi);
    l->wp = l->pl + (q->ow > l->jr + exhi ? q->ow : l->jr + exhi);
}

static size_t pad_floats(const conv_geom *q, const conv_direct_layout *l)
{
    return (size_t)(q->oc * l->hp * l->wp);
}

int conv_direct_in_place(void) { return dlt_vmath_vec()->conv_data_in_place; }

size_t conv_direct_ws(const conv_geom *q, int slots)
{
    if (conv_direct_in_place())
        return 0;
    conv_direct_layout l;
    conv_direct_layout_of(q, &l);
    return (size_t)slots * pad_floats(q, &l) * sizeof(float);
}

void conv_direct_data(const conv_geom *q, const float *y, const float *w, const float *bias, float *x,
                      float *work, size_t work_bytes, int nthreads)
{
    conv_direct_layout l;
    conv_direct_layout_of(q, &l);
    size_t per = conv_direct_in_place() ? 0 : pad_floats(q, &l);
    int64_t slots = nthreads < q->n ? nthreads : q->n;
    if (per) {
        int64_t fit = (int64_t)(work_bytes / sizeof(float) / per);
        slots = slots < fit ? slots : fit;
    }
    slots = slots > 1 ? slots : 1; /* the workspace rule gives at least one */
    const dlt_vmath_ops *v = dlt_vmath_vec(); /* DLT_CPU_ISA=libm says nothing about convolutions */
    int64_t xs = q->c * q->h * q->w, ys = q->oc * q->oh * q->ow;
    /* fixed image ranges per slot; an image's bits do not depend on which */
#pragma omp parallel for schedule(static, 1) num_threads((int)slots) if (slots > 1)
    for (int64_t t = 0; t < slots; t++)
        for (int64_t i = q->n * t / slots; i < q->n * (t + 1) / slots; i++)
            v->conv_data_image(q, &l, y + i * ys, w, bias, x + i * xs, per ? work + (size_t)t * per : NULL,
                               i == q->n * t / slots);
    atomic_fetch_add(&images_run, q->n);
}
