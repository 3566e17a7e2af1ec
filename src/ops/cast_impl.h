/* The cast family's attribute and per-element conversion (cast.c), shared
 * with the CUDA kernel (src/gpu/k_cast.cu) so that both backends give the
 * same values. Internal to libdltrain. */
#ifndef DLT_CAST_IMPL_H
#define DLT_CAST_IMPL_H

#include <math.h>
#include <stdint.h>

#include "dlt_opdef.h"

/* y = clamp(x * scale + offset, lo, hi), then floor for an i32 output. */
typedef struct {
    double scale, offset, lo, hi;
    int to_i32; /* the output dtype: 1 i32, 0 f32 */
} cast_attr;

/* The value in double (exact for every i32 and f32 input times an integer
 * scale and offset), clamped; NaN gives lo. */
static inline DLT_HD double dlt_cast1(const cast_attr *a, double x)
{
    double v = x * a->scale + a->offset;
    if (!(v >= a->lo))
        v = a->lo;
    if (v > a->hi)
        v = a->hi;
    return v;
}

static inline DLT_HD int32_t dlt_cast1_i32(const cast_attr *a, double x)
{
    double v = floor(dlt_cast1(a, x));
    if (v < -2147483648.0)
        v = -2147483648.0;
    if (v > 2147483647.0)
        v = 2147483647.0;
    return (int32_t)v;
}

#endif
