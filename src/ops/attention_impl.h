/* Private to the attention family (attention.c, attention_kernels.c and the
 * CUDA kernels in src/gpu/k_attention.cu): the attributes shared by the
 * forward and backward ops and the kernels. Compiles as C and as C++. */
#ifndef DLT_ATTENTION_IMPL_H
#define DLT_ATTENTION_IMPL_H

#include "dlt_opdef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the optional key-padding mask input is read (fixed by its dtype/shape). */
enum { ATTN_MASK_NONE = 0, ATTN_MASK_LENGTHS, ATTN_MASK_KEEP, ATTN_MASK_ADD };

typedef struct {
    float scale; /* resolved: never 0 */
    float p;     /* attention dropout */
    int causal;
    int layout;  /* DLT_ATTN_BHTD, DLT_ATTN_BTHD or DLT_ATTN_PACKED (inputs 0-2 are one value) */
    uint64_t id; /* dropout stream id, shared by the forward and backward nodes */
    /* backward only: which optional inputs follow q, k, v, o, lse */
    int has_do, has_mask, has_dlse;
} attn_attr;

/* Sizes and the per-head addressing of one call. A head's rows of a tensor
 * with T rows of width W start at base(b, h) and are ld floats apart:
 * BHTD: ((b H + h) T) W, ld W; BTHD: (b T H + h) W, ld H W. The inputs q, k,
 * v (and their gradients) have Hin heads per row: H, or 3H when packed, where
 * k's heads start hk heads into the row and v's hv (attn_in_*); the output o
 * (and dO) always has H. */
typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
    int bthd;
    int64_t Hin, hk, hv; /* unpacked: H, 0, 0; packed: 3H, H, 2H */
    int packed;          /* q, k, v are one tensor, and so are their gradients */
} attn_geom;

static inline int64_t attn_base(const attn_geom *gm, int64_t b, int64_t h, int64_t T, int64_t W)
{
    return gm->bthd ? (b * T * gm->H + h) * W : ((b * gm->H + h) * T) * W;
}
static inline int64_t attn_ld(const attn_geom *gm, int64_t W)
{
    return gm->bthd ? gm->H * W : W;
}
static inline int64_t attn_in_base(const attn_geom *gm, int64_t b, int64_t h, int64_t T, int64_t W)
{
    return gm->bthd ? (b * T * gm->Hin + h) * W : ((b * gm->H + h) * T) * W;
}
static inline int64_t attn_in_ld(const attn_geom *gm, int64_t W)
{
    return gm->bthd ? gm->Hin * W : W;
}

/* The dropout stream of one node at one step: the forward and backward
 * nodes share it (and CPU and GPU kernels), so their masks agree. */
static inline DLT_HD uint64_t attn_stream(uint64_t id, int64_t step)
{
    return dlt_rng_mix(id * 0x9e3779b97f4a7c15ull ^
                       dlt_rng_mix((uint64_t)step + 0x3c6ef372fe94f82bull));
}

/* Query rows per block: scores are held for one block of one head per thread. */
#define ATTN_BQ 64

attn_geom dlt_attn_geometry(const attn_attr *a, const dlt_shape *q, const dlt_shape *k,
                            const dlt_shape *v);
int dlt_attn_mask_kind(const dlt_shape *m);
/* Bytes of scratch one thread needs (nbuf score blocks of ATTN_BQ x Tk). */
size_t attn_slot_bytes(const attn_geom *gm, int nbuf);

dlt_status attn_fwd_cpu(const dlt_kctx *k);
dlt_status attn_bwd_cpu(const dlt_kctx *k);

#ifdef __cplusplus
}
#endif
#endif
