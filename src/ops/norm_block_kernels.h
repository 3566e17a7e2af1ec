/* The normalisation family's passes over one contiguous block of values
 * (norm_kernels.c), for one vmath path: included by vmath_kernels.h, so
 * compiled once per ISA level with that level's flags (the library's own
 * files are built for baseline x86-64, where GCC's `omp simd` double sums run
 * two lanes wide).
 *
 * The sums are in double, each path in its own (fixed) lane order, so they
 * may differ between paths in the last bits of a double; the maps are f32 with
 * the same operations in the same order on every path (no FP contraction in
 * these files), so they give the same bits everywhere. */

/* sum of x[0..n) */
static double vk_norm_sum(const float *x, int64_t n)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* sum of (x - m)^2 */
static double vk_norm_sqdev(const float *x, int64_t n, double m)
{
    double q = 0;
#pragma omp simd reduction(+ : q)
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - m;
        q += d * d;
    }
    return q;
}

/* y = x * sc + sh, then + r (r may be NULL) and max(., 0) when relu; y may be x */
static void vk_norm_map(const float *x, float *y, int64_t n, float sc, float sh, const float *r, int relu)
{
    if (!r && !relu) {
#pragma omp simd
        for (int64_t s = 0; s < n; s++)
            y[s] = x[s] * sc + sh;
    } else if (!r) {
#pragma omp simd
        for (int64_t s = 0; s < n; s++) {
            float v = x[s] * sc + sh;
            y[s] = v > 0.f ? v : 0.f;
        }
    } else if (relu) {
#pragma omp simd
        for (int64_t s = 0; s < n; s++) {
            float v = (x[s] * sc + sh) + r[s];
            y[s] = v > 0.f ? v : 0.f;
        }
    } else {
#pragma omp simd
        for (int64_t s = 0; s < n; s++)
            y[s] = (x[s] * sc + sh) + r[s];
    }
}

/* *s1 += sum(g), *s2 += sum(g * (x - m)) with g = dy, or, when y is not NULL,
 * g = dy * (y > 0) (the relu epilogue's mask), written to t (t may be dy) */
static void vk_norm_dsums(const float *dy, const float *y, float *t, const float *x, int64_t n, double m,
                          double *s1, double *s2)
{
    double a1 = 0, a2 = 0;
    if (y) {
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < n; i++) {
            float d = dy[i]; /* loaded unconditionally: a conditional load blocks vectorisation */
            float g = y[i] > 0.f ? d : 0.f;
            t[i] = g;
            a1 += g;
            a2 += (double)g * ((double)x[i] - m);
        }
    } else {
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < n; i++) {
            a1 += dy[i];
            a2 += (double)dy[i] * ((double)x[i] - m);
        }
    }
    *s1 += a1;
    *s2 += a2;
}

/* dx = k1 * dy - k0 - k2 * (x - m); dx may be dy */
static void vk_norm_dx(const float *dy, const float *x, float *dx, int64_t n, float m, float k0, float k1,
                       float k2)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++)
        dx[i] = k1 * dy[i] - k0 - k2 * (x[i] - m);
}

/* The parameter sums of one row of a layer norm's backward, per channel:
 * s1[c] += dy[c], s2[c] += dy[c] (x[c] - m) r, in double (the same operations
 * in the same order on every path: element c depends on column c only) */
static void vk_norm_col_dsums(const float *dy, const float *x, int64_t n, double m, double r, double *s1,
                              double *s2)
{
#pragma omp simd
    for (int64_t c = 0; c < n; c++) {
        double d = dy[c];
        s1[c] += d;
        s2[c] += d * ((double)x[c] - m) * r;
    }
}

/* One row of a layer norm's backward (one value per channel): *s1 = sum g dy,
 * *s2 = sum g dy (x - m), g = gam[i] or 1 without gamma, in double */
static void vk_norm_row_dsums(const float *dy, const float *x, const float *gam, int64_t n, double m, double *s1,
                              double *s2)
{
    double a1 = 0, a2 = 0;
    if (gam) {
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < n; i++) {
            double gc = gam[i], d = dy[i];
            a1 += gc * d;
            a2 += gc * (d * ((double)x[i] - m));
        }
    } else {
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t i = 0; i < n; i++) {
            double d = dy[i];
            a1 += d;
            a2 += d * ((double)x[i] - m);
        }
    }
    *s1 = a1;
    *s2 = a2;
}

/* Its dx = (f32)(r g) dy - k0 - k2 (x - m); dx may be dy */
static void vk_norm_row_dx(const float *dy, const float *x, const float *gam, float *dx, int64_t n, double r,
                           float k0, float k2, float m)
{
    if (gam) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] = (float)(r * gam[i]) * dy[i] - k0 - k2 * (x[i] - m);
    } else { /* the same bits; with the select inside, AVX2 code ran 10 ns per element */
        float rf = (float)r;
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] = rf * dy[i] - k0 - k2 * (x[i] - m);
    }
}
