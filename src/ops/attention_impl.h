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

/* ... in a tensor with hs heads per row (BTHD) */
static inline int64_t attn_base_hs(const attn_geom *gm, int64_t hs, int64_t b, int64_t h, int64_t T, int64_t W)
{
    return gm->bthd ? (b * T * hs + h) * W : ((b * gm->H + h) * T) * W;
}
static inline int64_t attn_ld_hs(const attn_geom *gm, int64_t hs, int64_t W)
{
    return gm->bthd ? hs * W : W;
}
/* o and dO (H heads per row) */
static inline int64_t attn_base(const attn_geom *gm, int64_t b, int64_t h, int64_t T, int64_t W)
{
    return attn_base_hs(gm, gm->H, b, h, T, W);
}
static inline int64_t attn_ld(const attn_geom *gm, int64_t W)
{
    return attn_ld_hs(gm, gm->H, W);
}
/* q, k, v and their gradients (Hin heads per row, from attn_pointers' starts) */
static inline int64_t attn_in_base(const attn_geom *gm, int64_t b, int64_t h, int64_t T, int64_t W)
{
    return attn_base_hs(gm, gm->Hin, b, h, T, W);
}
static inline int64_t attn_in_ld(const attn_geom *gm, int64_t W)
{
    return attn_ld_hs(gm, gm->Hin, W);
}

/* Where q, k, v (inputs 0-2) and the backward's dq, dk, dv (outputs 0-2)
 * start, for the CPU and CUDA kernels alike: k's and v's first heads are hk
 * and hv heads into their rows; packed, the three gradients are output 0's
 * (outputs 1 and 2 are optional and unused). dq, dk, dv are NULL for the
 * forward. */
typedef struct {
    const float *q, *k, *v;
    float *dq, *dk, *dv;
} attn_ptrs;
static inline attn_ptrs attn_pointers(const attn_geom *gm, const dlt_kctx *k, int backward)
{
    attn_ptrs p = {(const float *)k->in[0], (const float *)k->in[1] + gm->hk * gm->D,
                   (const float *)k->in[2] + gm->hv * gm->Dv, NULL, NULL, NULL};
    if (backward) {
        p.dq = (float *)k->out[0];
        p.dk = gm->packed ? p.dq + gm->hk * gm->D : (float *)k->out[1];
        p.dv = gm->packed ? p.dq + gm->hv * gm->Dv : (float *)k->out[2];
    }
    return p;
}

/* The dropout stream of one node at one step: the forward and backward
 * nodes share it (and CPU and GPU kernels), so their masks agree. */
static inline DLT_HD uint64_t attn_stream(uint64_t id, int64_t step)
{
    return dlt_rng_mix(id * 0x9e3779b97f4a7c15ull ^
                       dlt_rng_mix((uint64_t)step + 0x3c6ef372fe94f82bull));
}

/* Query rows per block: scores are held for one block of one head per thread.
 * Causal attention runs half-height blocks, whose keys stop at their last
 * row: at T = 128 the blocks cover 5/8 of the score matrix instead of 3/4
 * (GPT-mini on 2 threads, AVX2 code: attention forward + backward 33.4 ->
 * 28.8 ms per step; 16 rows gained nothing more). Bidirectional attention
 * keeps 64 (BERT-mini: 32 rows cost 2 ms more). */
#define ATTN_BQ 64
static inline int64_t attn_block_rows(const attn_attr *a)
{
    return a->causal ? ATTN_BQ / 2 : ATTN_BQ;
}

attn_geom dlt_attn_geometry(const attn_attr *a, const dlt_shape *q, const dlt_shape *k,
                            const dlt_shape *v);
int dlt_attn_mask_kind(const dlt_shape *m);
/* Floats of one score block in a thread's scratch: ATTN_BQ (or Tq) rows of Tk */
static inline int64_t attn_block_floats(const attn_geom *gm)
{
    return (gm->Tq < ATTN_BQ ? gm->Tq : ATTN_BQ) * gm->Tk;
}

/* Bytes of scratch one thread needs: the forward one score block of ATTN_BQ
 * x Tk, a head's K^T and V; the backward two blocks, K^T and V^T. */
size_t attn_slot_bytes(const attn_geom *gm, int backward);

dlt_status attn_fwd_cpu(const dlt_kctx *k);
dlt_status attn_bwd_cpu(const dlt_kctx *k);

#ifdef __cplusplus
}
#endif
#endif
