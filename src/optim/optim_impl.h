/* Private to src/optim: the optimizer object and the per-algorithm kernels. */
#ifndef DLT_OPTIM_IMPL_H
#define DLT_OPTIM_IMPL_H

#include "dlt_optim.h"
#include "optim_elem.h"

/* State roles (DLT_SLOT_*) are in optim_elem.h: the device step indexes by them. */


typedef struct {
    char *name;
    size_t offset, numel;
    double lr_mult, weight_decay;
    int frozen;
} dlt_optim_param;

/* The flat parameter elements [lo, hi) whose state this optimizer holds,
 * stored from element `state_off` of every slot (ZeRO-1: this rank's shards;
 * otherwise one range [0, total) at 0, so slots are laid out like the
 * parameters). On a device: its pieces (parameters cut to the range) are the
 * kernel's segments from piece `seg0` on, `nseg` of them, with `ntiles` tiles
 * from tile `tile0` on, every offset relative to lo. */
typedef struct {
    size_t lo, hi, state_off;
    int seg0, nseg;
    int64_t tile0, ntiles;
} dlt_optim_own;

struct dlt_optim {
    dlt_optim_config cfg;
    dlt_optim_param *params;
    int nparams;
    size_t total;
    dlt_optim_own *own; /* sorted, disjoint, non-empty */
    int nown;
    size_t state_n;     /* elements per slot: the owned ranges' total */
    float *role[DLT_SLOT_NROLES]; /* state_n floats each; NULL when unused */
    int slot_role[DLT_SLOT_NROLES]; /* slot i -> role */
    int nslots;
    int64_t step;
    double last_lr;
    dlt_optim_norm_reducer reducer;
    void *reducer_user;
    double *sums; /* 2*nparams scratch for LAMB */
    /* on a device (optim_dev.c): role[] are then host mirrors of d_role[] */
    struct dlt_backend *be;
    float *d_role[DLT_SLOT_NROLES];
    dlt_optim_coef *coef, *d_coef; /* per piece, refreshed every step */
    int nseg;        /* pieces of parameters in owned ranges (see dlt_optim_own) */
    int *seg_param;  /* the parameter of each piece */
    uint64_t *d_seg; /* offsets then lengths, 2 * nseg */
    int32_t *d_tile_seg; /* relative to the range's first piece */
    uint64_t *d_tile_start;
    int64_t ntiles;
    double *d_tile_sums, *d_seg_sums; /* LAMB: 2 * ntiles, 2 * nseg */
    int64_t *d_seg_tiles;             /* LAMB: first tile (relative), then tile count, per piece */
    dlt_optim_dev_step_fn dev_step;
};
/* The fused device step over the owned range own[k] (optim_dev.c). */
dlt_status dlt_optim_dev_step(dlt_optim *o, int k, float *params, const float *grads, double lr);
void dlt_optim_dev_free(dlt_optim *o);

/* What one kernel call needs: one parameter's elements [0,n) with every
 * pointer already offset to them. */
typedef struct {
    float *p;
    const float *g;
    float *s[DLT_SLOT_NROLES];
    size_t n;
    double lr, wd; /* effective for this parameter */
    int64_t t;     /* 1-based number of this step */
} dlt_optim_chunk;

/* The coefficients of one parameter's update at step t (1-based). */
void dlt_optim_coef_init(const dlt_optim_config *cfg, double lr, double wd, int64_t t, dlt_optim_coef *k);
/* Element-wise update of one chunk for every algorithm except LAMB. */
void dlt_optim_kernel(const dlt_optim_config *cfg, const dlt_optim_chunk *c);
/* LAMB phase 1: moments, and the chunk's sums of w^2 and u^2 (adds to out[0..1]). */
void dlt_optim_lamb_moments(const dlt_optim_config *cfg, const dlt_optim_chunk *c, double out[2]);
/* LAMB phase 2: w -= lr * ratio * u with ratio from whole-parameter sums. */
void dlt_optim_lamb_apply(const dlt_optim_config *cfg, const dlt_optim_chunk *c,
                          const double sums[2]);

/* The element-wise loops of one ISA level (optim_loops.h); every level
 * computes the same bits. */
typedef struct {
    void (*sgd)(const dlt_optim_coef *k, const dlt_optim_chunk *c);
    void (*adam)(const dlt_optim_config *cfg, const dlt_optim_coef *k, const dlt_optim_chunk *c);
    void (*rmsprop)(const dlt_optim_config *cfg, const dlt_optim_coef *k, const dlt_optim_chunk *c);
    void (*adadelta)(const dlt_optim_coef *k, const dlt_optim_chunk *c);
    void (*adagrad)(const dlt_optim_coef *k, const dlt_optim_chunk *c);
} dlt_optim_loops;
extern const dlt_optim_loops dlt_optim_loops_base, dlt_optim_loops_avx2; /* avx2: x86-64 only */
/* The table of an ISA level (dlt_cpu_isa): libm and baseline get the baseline
 * table, avx2 and avx512 the avx2 one where it is compiled in; NULL for a
 * level this build or CPU lacks. */
const dlt_optim_loops *dlt_optim_loops_isa(int isa);

/* Large element-wise loops go parallel; they are per-element, so the result
 * does not depend on the thread count. */
#define DLT_OPTIM_PAR_MIN 32768

#endif
