/* bfloat16 <-> float conversions shared by CPU code, CUDA kernels and the
 * CUDA-on-CPU emulation, so that every backend rounds the same way bit for
 * bit (the bf16 gradient reduction compares them exactly).
 *
 * bf16 is the upper half of an IEEE binary32: 1 sign, 8 exponent and 7
 * fraction bits. float -> bf16 rounds to nearest, ties to even, like torch's
 * `float -> bfloat16`: a carry out of the fraction bumps the exponent (so the
 * largest floats round to infinity), denormals round like any other value,
 * infinities stay infinite and every NaN becomes the quiet NaN 0x7fc0 (a
 * plain rounding could turn a NaN whose payload sits in the low half into an
 * infinity). bf16 -> float is exact. Integer bit operations only: no
 * flush-to-zero mode of the device can change the result. */
#ifndef DLT_BF16_H
#define DLT_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t dlt_bf16;

static inline DLT_HD uint32_t dlt_f32_bits(float x)
{
#ifdef __CUDA_ARCH__
    return __float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

static inline DLT_HD float dlt_f32_from_bits(uint32_t u)
{
#ifdef __CUDA_ARCH__
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

static inline DLT_HD dlt_bf16 dlt_f32_to_bf16(float x)
{
    uint32_t u = dlt_f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (dlt_bf16)0x7fc0u;
    /* adding 0x7fff rounds up above the halfway point; the kept bit's value
     * (0 or 1) on top makes an exact tie round to the even neighbour */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (dlt_bf16)(u >> 16);
}

static inline DLT_HD float dlt_bf16_to_f32(dlt_bf16 h)
{
    return dlt_f32_from_bits((uint32_t)h << 16);
}

/* Named backend extensions (dlt_backend.symbol) that convert n elements on
 * the backend's compute stream, like the functions above:
 *   "f32_to_bf16": dst[i] = dlt_f32_to_bf16(src[i])
 *   "bf16_to_f32": dst[i] = dlt_bf16_to_f32(src[i])
 * Pointers are device memory; the call may return before the work is done. */
typedef dlt_status (*dlt_f32_to_bf16_fn)(void *ctx, dlt_bf16 *dst, const float *src, size_t n);
typedef dlt_status (*dlt_bf16_to_f32_fn)(void *ctx, float *dst, const dlt_bf16 *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
