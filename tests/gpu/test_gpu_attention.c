/* GPU attention kernels (src/gpu/k_attention*.cu) against the CPU: both
 * layouts, causal or not, the three padding masks (i32 lengths, i32 keep
 * flags, f32 additive), dropout in training mode (masks must match bit for
 * bit) and eval mode, o and/or lse as outputs (so the backward runs with and
 * without dO and dlse), Tq != Tk, sizes that are not multiples of the tiles,
 * head sizes 1..128 (tiled kernels) and wider (row kernels), and the packed
 * layout (q, k, v and their gradients in one tensor). Rows that see no
 * key (lse -inf) only appear in cases that compare o alone, since -inf
 * cannot be compared as a difference. Exits 77 without a CUDA device. */
#include <stdio.h>

#include "gpu_check.h"

#define TOL 2e-5

enum { M_NONE, M_LEN, M_KEEP, M_ADD };
enum { OUT_O = 1, OUT_LSE = 2, OUT_BOTH = 3 };

typedef struct {
    int64_t B, H, Tq, Tk, D, Dv;
    int bthd, causal; /* bthd 2: packed, q, k, v one [B, T, 3H, D] tensor (Tq = Tk, D = Dv) */
    int mask, len_lo; /* M_LEN: lengths drawn from [len_lo, Tk] */
    float dropout, scale, range;
    int outs;
} acase;

static dlt_t qkv(dlt_graph *g, const acase *c, const char *name, int64_t T, int64_t W, float r)
{
    int64_t d[4] = {c->B, c->H, T, W};
    if (c->bthd)
        d[1] = T, d[2] = c->H;
    return gc_input(g, name, 4, d, -r, r);
}

static int build(dlt_graph *g, dlt_t *outs, void *user)
{
    const acase *c = user;
    /* the harness keys fill ranges by name: one name per range */
    char qn[32], kn[32], mn[48];
    snprintf(qn, sizeof qn, "q_r%g", (double)c->range);
    snprintf(kn, sizeof kn, "k_r%g", (double)c->range);
    float r = c->range > 0 ? c->range : 1.f;
    dlt_t q, k = -1, v = -1, m = -1;
    if (c->bthd == 2) {
        int64_t pd[4] = {c->B, c->Tq, 3 * c->H, c->D};
        q = gc_input(g, qn, 4, pd, -r, r);
    } else {
        q = qkv(g, c, qn, c->Tq, c->D, r), k = qkv(g, c, kn, c->Tk, c->D, r);
        v = qkv(g, c, "v", c->Tk, c->Dv, 1.f);
    }
    int64_t md[2] = {c->B, c->Tk};
    switch (c->mask) {
    case M_LEN:
        snprintf(mn, sizeof mn, "len_%d_%lld", c->len_lo, (long long)c->Tk);
        m = gc_input_int(g, mn, 1, md, c->len_lo, (int)c->Tk);
        break;
    case M_KEEP:
        m = gc_input_int(g, "keep", 2, md, 0, 1);
        break;
    case M_ADD:
        m = gc_input(g, "madd", 2, md, -3.f, 0.5f);
        break;
    default:
        break;
    }
    dlt_attention_opts o = {c->scale, c->causal, c->dropout,
                            c->bthd == 2 ? DLT_ATTN_PACKED : c->bthd ? DLT_ATTN_BTHD : DLT_ATTN_BHTD};
    dlt_t lse = -1, y = dlt_attention(g, q, k, v, m, &o, &lse);
    if (y < 0)
        return 0;
    int n = 0;
    if (c->outs & OUT_O)
        outs[n++] = y;
    if (c->outs & OUT_LSE)
        outs[n++] = lse;
    return n;
}

int main(void)
{
    if (!gc_init())
        return 77;
    /* B, H, Tq, Tk, D, Dv, bthd, causal, mask, len_lo, dropout, scale, range, outs */
    acase plain = {2, 3, 17, 17, 16, 16, 0, 0, M_NONE, 0, 0.f, 0.f, 0.f, OUT_BOTH};
    gc_check("bhtd T17 D16", build, &plain, TOL);

    acase causal = {1, 2, 65, 65, 64, 64, 0, 1, M_NONE, 0, 0.f, 0.f, 2.f, OUT_BOTH};
    gc_check("bhtd causal T65 D64 (q, k in [-2, 2])", build, &causal, TOL);

    acase lens = {3, 2, 1, 65, 80, 80, 1, 0, M_LEN, 1, 0.f, 0.f, 0.f, OUT_BOTH};
    gc_check("bthd Tq1 Tk65 D80 lengths [1, Tk]", build, &lens, TOL);

    acase keep = {2, 2, 33, 17, 64, 16, 0, 1, M_KEEP, 0, 0.f, 0.f, 0.f, OUT_O};
    gc_check("bhtd causal Tq33 Tk17 D64 Dv16 keep flags (empty rows), o only", build, &keep, TOL);

    acase add = {2, 2, 17, 65, 16, 64, 0, 0, M_ADD, 0, 0.25f, 0.f, 0.f, OUT_BOTH};
    gc_check("bhtd Tq17 Tk65 D16 Dv64 additive mask dropout 0.25", build, &add, TOL);

    acase drop = {2, 2, 65, 65, 64, 64, 1, 1, M_NONE, 0, 0.1f, 0.f, 0.f, OUT_BOTH};
    gc_check("bthd causal T65 D64 dropout 0.1", build, &drop, TOL);
    gc_check_eval("bthd causal T65 D64 dropout 0.1 (eval: no dropout)", build, &drop, TOL);

    acase empty = {3, 2, 17, 17, 16, 16, 0, 1, M_LEN, 0, 0.2f, 0.f, 0.f, OUT_O};
    gc_check("bhtd causal T17 D16 lengths [0, Tk] (empty rows) dropout 0.2, o only", build, &empty,
             TOL);

    acase lse_only = {2, 2, 17, 17, 16, 16, 0, 1, M_NONE, 0, 0.f, 0.f, 0.f, OUT_LSE};
    gc_check("bhtd causal T17 D16, lse only (no dO)", build, &lse_only, TOL);

    acase big = {1, 2, 130, 130, 128, 128, 1, 1, M_NONE, 0, 0.1f, 0.f, 0.f, OUT_BOTH};
    gc_check("bthd causal T130 D128 dropout 0.1 (3 query tiles)", build, &big, TOL);

    acase tall = {2, 1, 70, 40, 80, 100, 0, 1, M_ADD, 0, 0.f, 0.f, 0.f, OUT_BOTH};
    gc_check("bhtd causal Tq70 > Tk40 D80 Dv100 additive mask", build, &tall, TOL);

    acase tiny = {2, 2, 3, 5, 1, 3, 0, 0, M_NONE, 0, 0.f, 0.7f, 0.f, OUT_BOTH};
    gc_check("bhtd Tq3 Tk5 D1 Dv3 scale 0.7", build, &tiny, TOL);

    acase onekey = {1, 3, 65, 1, 16, 16, 1, 0, M_ADD, 0, 0.3f, 0.f, 0.f, OUT_BOTH};
    gc_check("bthd Tq65 Tk1 D16 additive mask dropout 0.3", build, &onekey, TOL);

    acase wide = {2, 1, 9, 20, 136, 260, 0, 1, M_LEN, 1, 0.2f, 0.f, 0.f, OUT_BOTH};
    gc_check("bhtd causal Tq9 Tk20 D136 Dv260 lengths [1, Tk] dropout 0.2 (row kernels)", build,
             &wide, TOL);

    acase wide_keep = {2, 2, 5, 7, 200, 24, 1, 0, M_KEEP, 0, 0.f, 0.f, 0.f, OUT_O};
    gc_check("bthd Tq5 Tk7 D200 Dv24 keep flags, o only (row kernels)", build, &wide_keep, TOL);
    acase packed = {2, 2, 65, 65, 64, 64, 2, 1, M_LEN, 1, 0.1f, 0.f, 0.f, OUT_BOTH};
    gc_check("packed causal T65 D64 lengths [1, Tk] dropout 0.1", build, &packed, TOL);

    acase packed_rows = {2, 1, 9, 9, 136, 136, 2, 0, M_NONE, 0, 0.2f, 0.f, 0.f, OUT_BOTH};
    gc_check("packed T9 D136 dropout 0.2 (row kernels)", build, &packed_rows, TOL);
    return gc_finish();
}
