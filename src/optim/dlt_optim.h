/* dltrain optimizers, learning-rate schedules, gradient clipping, gradient
 * accumulation and loss scaling, all on flat buffers.
 *
 * All parameters live in one contiguous float buffer, all gradients in another
 * with the same layout. A dlt_param_view names one parameter inside them.
 * Optimizer state is a set of named "slots", each a float buffer of `total`
 * elements laid out like the parameters, so checkpoints and ZeRO-1 shards
 * address state by the same flat ranges as the parameters; a sharded
 * optimizer (ZeRO-1) stores only its owned ranges, one after the other.
 *
 * Update formulas are PyTorch 1.13's torch.optim single-tensor paths
 * (foreach=False, capturable=False); per-element arithmetic is done in double
 * and rounded to float when stored. Depends on dlt_base.h only. */
#ifndef DLT_OPTIM_H
#define DLT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ optimizers */

/* One parameter inside the flat buffers: elements [offset, offset+numel). */
typedef struct {
    const char *name;
    size_t offset, numel;
} dlt_param_view;

/* LAMB is You et al. 2019 (Alg. 2) with Adam's bias correction, as timm's
 * Lamb and apex FusedLAMB: u = m_hat / (sqrt(v_hat) + eps) + wd * w,
 * ratio = ||w|| / ||u|| per parameter (1 when either norm is 0), w -= lr *
 * ratio * u. No gradient pre-normalisation, no ratio clamp (clip before). */
typedef enum {
    DLT_OPTIM_SGD = 0,
    DLT_OPTIM_ADAM,
    DLT_OPTIM_ADAMW,
    DLT_OPTIM_RMSPROP,
    DLT_OPTIM_ADADELTA,
    DLT_OPTIM_ADAGRAD,
    DLT_OPTIM_LAMB,
    DLT_OPTIM_NKINDS
} dlt_optim_kind;

/* Hyper-parameters. Fields an algorithm does not use are ignored.
 * dlt_optim_config_default() fills PyTorch's defaults for the named
 * algorithm (SGD has no default lr in PyTorch; 1e-3 is used). */
typedef struct {
    dlt_optim_kind kind;
    double lr;            /* base lr, informative: each step takes its lr */
    double momentum;      /* sgd, rmsprop */
    double dampening;     /* sgd */
    int nesterov;         /* sgd */
    double beta1, beta2;  /* adam, adamw, lamb */
    double eps;           /* adam(w) 1e-8, rmsprop 1e-8, adadelta 1e-6, adagrad 1e-10, lamb 1e-6 */
    double weight_decay;  /* default for every parameter (groups may override) */
    double alpha;         /* rmsprop smoothing constant */
    int centered;         /* rmsprop */
    double rho;           /* adadelta */
    double lr_decay;      /* adagrad */
    double initial_accumulator_value; /* adagrad */
    int amsgrad;          /* adam, adamw */
    int maximize;         /* all: ascend instead of descend */
    /* LAMB only: when nonzero, parameters whose effective weight decay is 0
     * get no trust ratio (ratio 1), as apex FusedLAMB (use_nvlamb=False) and
     * timm (always_adapt=False) do. 0 (default) adapts every parameter, as in
     * the paper. */
    int lamb_skip_adapt_no_decay;
} dlt_optim_config;

/* name: "sgd","adam","adamw","rmsprop","adadelta","adagrad","lamb". */
dlt_status dlt_optim_config_default(const char *name, dlt_optim_config *cfg);
const char *dlt_optim_kind_name(dlt_optim_kind k);

/* Parameter groups by name pattern: glob with '*' (any run, also across dots)
 * and '?' (one character), matched against the whole name. The first rule
 * whose pattern matches a parameter decides for it; unmatched parameters use
 * the config's defaults. Zero-initialised fields mean "no change", so
 * {.pattern = "*.bias", .set_weight_decay = 1} means "no decay on biases". */
typedef struct {
    const char *pattern;
    double lr_mult;       /* multiplies the step's lr; 0 is read as 1 (use .frozen to stop) */
    double weight_decay;  /* used when set_weight_decay is nonzero */
    int set_weight_decay;
    int frozen;           /* never updated, its state never touched */
} dlt_param_group_rule;

/* Returns 1 when name matches the glob pattern. */
int dlt_glob_match(const char *pattern, const char *name);

typedef struct dlt_optim dlt_optim; /* opaque */

/* params: nparams views (copied, names too) into flat buffers of `total`
 * floats; views must lie inside [0,total) and not overlap. rules may be NULL.
 * The optimizer holds state for every element (slots laid out like the
 * parameters). */
dlt_status dlt_optim_create(const dlt_optim_config *cfg, const dlt_param_view *params,
                            int nparams, size_t total, const dlt_param_group_rule *rules,
                            int nrules, dlt_optim **out);

/* ZeRO-1: an optimizer that holds state for the flat elements of `owned`
 * only (this rank's shards; sorted, disjoint, inside [0,total); empty ranges
 * are dropped, nowned may be 0). Each slot then stores the owned ranges one
 * after the other (compact: dlt_optim_state_numel elements, range k from
 * dlt_optim_owned's state_off on), and steps take only ranges inside one
 * owned range (on a device: exactly an owned range). dlt_optim_step steps
 * every owned range. dlt_optim_create is this with the one range [0,total). */
typedef struct {
    size_t lo, hi;
} dlt_optim_range;
dlt_status dlt_optim_create_sharded(const dlt_optim_config *cfg, const dlt_param_view *params,
                                    int nparams, size_t total, const dlt_param_group_rule *rules,
                                    int nrules, const dlt_optim_range *owned, int nowned,
                                    dlt_optim **out);
/* Owned range k (non-empty, in flat order): [*lo, *hi), stored from element
 * *state_off of every slot; zeros when k is out of range. */
int dlt_optim_num_owned(const dlt_optim *o);
void dlt_optim_owned(const dlt_optim *o, int k, size_t *lo, size_t *hi, size_t *state_off);
/* Elements per slot (the owned ranges' total), and the state's bytes
 * (slots x elements x 4) on this rank. */
size_t dlt_optim_state_numel(const dlt_optim *o);
size_t dlt_optim_state_bytes(const dlt_optim *o);
/* Number of state slots an optimizer with this configuration keeps (Adam 2,
 * AMSGrad 3, SGD with momentum 1, ...), without creating one. */
int dlt_optim_config_num_slots(const dlt_optim_config *cfg);
void dlt_optim_free(dlt_optim *o);

/* One optimizer step over the whole buffer with learning rate lr (multiplied
 * per parameter by its group's lr_mult); advances the step count. */
dlt_status dlt_optim_step(dlt_optim *o, float *params, const float *grads, double lr);

/* ZeRO-1: updates only flat elements [lo,hi) (a parameter may be cut) as step
 * number get_step()+1, and does NOT advance the step count: after all ranges
 * of this step are done, call dlt_optim_advance() once. params/grads are
 * always full-size flat buffers indexed by the global offset; [lo,hi) must lie
 * inside one owned range (any range of an unsharded optimizer), and its state
 * is found there.
 * LAMB needs whole-parameter norms: if every parameter touching [lo,hi) lies
 * wholly inside it, step_range computes them itself; otherwise it needs the
 * norm reducer below (or use the two-phase API), else DLT_ERR_UNSUPPORTED. */
dlt_status dlt_optim_step_range(dlt_optim *o, float *params, const float *grads, double lr,
                                size_t lo, size_t hi);
void dlt_optim_advance(dlt_optim *o);

/* LAMB with sharded ranges. sums has 2*nparams doubles: sums[2i] = partial
 * ||w_i||^2 and sums[2i+1] = partial ||u_i||^2 over this range's elements
 * (u = Adam direction + weight_decay*w). A reducer, when set, is called by
 * step_range on every LAMB range step with those partial sums and must turn
 * them into totals in place (e.g. MPI_Allreduce(MPI_IN_PLACE, sums, n,
 * MPI_DOUBLE, MPI_SUM, comm)); every rank calls it, so it may be collective. */
typedef dlt_status (*dlt_optim_norm_reducer)(double *sums, int n, void *user);
void dlt_optim_set_norm_reducer(dlt_optim *o, dlt_optim_norm_reducer fn, void *user);
/* Two-phase form of a LAMB range step, without a callback:
 *   phase 1 updates exp_avg/exp_avg_sq on [lo,hi) and writes the partial sums
 *   (zeroed first, entries of parameters outside the range stay 0);
 *   the caller sums them over all ranges (all-reduce);
 *   phase 2 applies w -= lr*ratio*u on [lo,hi) from the totals.
 * Both phases use step number get_step()+1; call dlt_optim_advance() after. */
dlt_status dlt_optim_lamb_phase1(dlt_optim *o, const float *params, const float *grads,
                                 size_t lo, size_t hi, double *sums);
dlt_status dlt_optim_lamb_phase2(dlt_optim *o, float *params, double lr, size_t lo, size_t hi,
                                 const double *sums);

/* Run the optimizer on a device backend (dlt_gpu_backend): its state moves to
 * device memory (one fused kernel per owned range and step updates every
 * parameter piece in it), step() and step_range() then take the device flat
 * buffers (dlt_params_dev/dlt_grads_dev), and the slots below become host
 * mirrors moved by dlt_optim_download/upload (around checkpoints). Every
 * algorithm (LAMB's norms: per-tile partial sums added in a fixed order, so it
 * agrees with the CPU to rounding, not bit for bit; a sharded LAMB refuses
 * owned ranges that cut a parameter, its norms would be partial). On a backend
 * whose memory is host memory (the CPU backend) nothing moves: the optimizer
 * steps its host state with the CPU rules, as without a backend. */
struct dlt_backend;
dlt_status dlt_optim_to_device(dlt_optim *o, struct dlt_backend *be);
dlt_status dlt_optim_download(dlt_optim *o); /* device state -> host slots, waits */
dlt_status dlt_optim_upload(dlt_optim *o);   /* host slots -> device state */
/* Slot i where the steps use it: the device state on a device, else the
 * host slot (dlt_optim_slot); dlt_optim_state_numel elements. */
float *dlt_optim_slot_dev(dlt_optim *o, int i);

/* Named state slots (exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer,
 * square_avg, grad_avg, acc_delta, sum), each dlt_optim_state_numel floats:
 * `total`, laid out like the parameters, unless sharded (see
 * dlt_optim_create_sharded). */
int dlt_optim_num_slots(const dlt_optim *o);
const char *dlt_optim_slot_name(const dlt_optim *o, int i);
float *dlt_optim_slot(dlt_optim *o, int i);
float *dlt_optim_slot_by_name(dlt_optim *o, const char *name); /* NULL if absent */
size_t dlt_optim_total(const dlt_optim *o);

/* Number of completed steps (bias corrections, SGD's first-step momentum
 * init, Adagrad's lr decay use it); set it when resuming from a checkpoint. */
int64_t dlt_optim_get_step(const dlt_optim *o);
void dlt_optim_set_step(dlt_optim *o, int64_t step);
/* The lr passed to the last step (for logging); 0 before the first step. */
double dlt_optim_last_lr(const dlt_optim *o);
const dlt_optim_config *dlt_optim_get_config(const dlt_optim *o);

/* Per-parameter group outcome, in the order the views were given. */
int dlt_optim_num_params(const dlt_optim *o);
dlt_status dlt_optim_param_group(const dlt_optim *o, int i, double *lr_mult,
                                 double *weight_decay, int *frozen);

/* ------------------------------------------------------------ schedules */

typedef enum {
    DLT_SCHED_CONSTANT = 0,
    DLT_SCHED_STEP,             /* StepLR(step_size, gamma) */
    DLT_SCHED_MULTISTEP,        /* MultiStepLR(milestones, gamma) */
    DLT_SCHED_EXPONENTIAL,      /* ExponentialLR(gamma) */
    DLT_SCHED_COSINE,           /* CosineAnnealingLR(t_max, eta_min) */
    DLT_SCHED_COSINE_RESTARTS,  /* CosineAnnealingWarmRestarts(t_0, t_mult, eta_min) */
    DLT_SCHED_WARMUP_LINEAR,    /* HF get_linear_schedule_with_warmup */
    DLT_SCHED_WARMUP_COSINE,    /* HF get_cosine_schedule_with_warmup(num_cycles) */
    DLT_SCHED_WARMUP_POLY,      /* HF get_polynomial_decay_schedule_with_warmup(lr_end, power) */
    DLT_SCHED_ONE_CYCLE,        /* OneCycleLR(max_lr, total_steps, pct_start, 'cos', ...) */
    DLT_SCHED_HOLD_LINEAR,      /* CycleGAN/pix2pix 'linear': constant, then linear decay */
    DLT_SCHED_NKINDS
} dlt_schedule_kind;

#define DLT_SCHED_MAX_MILESTONES 32

/* A value type; the lr is a pure function of the step, so resuming at step k
 * needs only k. Step k means "k optimizer steps already taken": the lr used
 * by the (k+1)-th step, as PyTorch's scheduler after k scheduler.step()s.
 * OneCycleLR's momentum cycling is not provided (cycle_momentum=False). */
typedef struct {
    dlt_schedule_kind kind;
    double base_lr;
    int64_t step_size;          /* step */
    double gamma;               /* step, multistep, exponential */
    int64_t milestones[DLT_SCHED_MAX_MILESTONES]; /* multistep, non-decreasing */
    int nmilestones;
    int64_t t_max;              /* cosine */
    int64_t t_0, t_mult;        /* cosine_restarts */
    double eta_min;             /* cosine, cosine_restarts */
    int64_t warmup_steps, total_steps; /* warmup_*, one_cycle (total_steps) */
    /* The other schedules warm up linearly from warmup_start x their rate
     * over warmup_steps steps (default 0.001, torchvision's; 0: none). */
    double warmup_start;
    double num_cycles;          /* warmup_cosine, default 0.5 */
    double lr_end, power;       /* warmup_poly: defaults 1e-7, 1.0 */
    double max_lr, pct_start, div_factor, final_div_factor; /* one_cycle: 0.3, 25, 1e4 */
    int64_t hold_steps;         /* hold_linear: steps at the base lr (0: half of total_steps) */
} dlt_schedule;

/* name: "constant","step","multistep","exponential","cosine","cosine_restarts",
 * "warmup_linear","warmup_cosine","warmup_poly","one_cycle","hold_linear". Fills defaults
 * (PyTorch's / HF's where they have them); the caller sets the rest and
 * calls dlt_schedule_validate(). */
dlt_status dlt_schedule_init(dlt_schedule *s, const char *name, double base_lr);
dlt_status dlt_schedule_validate(const dlt_schedule *s);
const char *dlt_schedule_kind_name(dlt_schedule_kind k);
double dlt_schedule_lr(const dlt_schedule *s, int64_t step);

/* ------------------------------------------------------------ clipping */

/* Sum of squares of x[0..n) in double, summed in fixed-size chunks so the
 * result does not depend on the thread count. */
double dlt_grad_sumsq(const float *x, size_t n);
/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): total = ||g||_2,
 * coef = max_norm/(total+1e-6), g *= min(coef,1). Returns total (the
 * pre-clip norm, for logging; NaN/Inf when gradients are not finite, and the
 * gradients are then scaled by NaN/0 as PyTorch does). */
double dlt_clip_grad_norm(float *grads, size_t n, double max_norm);
/* Same, given the (e.g. all-reduced) total sum of squares. */
double dlt_clip_grad_norm_sumsq(float *grads, size_t n, double max_norm, double sumsq);
/* clip_grad_value_: clamp to [-clip, clip] (NaN stays NaN). */
void dlt_clip_grad_value(float *grads, size_t n, double clip);

/* Returns 1 when every gradient element of the views is finite; otherwise 0,
 * and *first_bad (if not NULL) = index of the first view, in view order, with
 * a non-finite element, *bad_elem (if not NULL) = its first such element's
 * index within that parameter. */
int dlt_grad_check_finite(const float *grads, const dlt_param_view *views, int n,
                          int *first_bad, size_t *bad_elem);

typedef enum {
    DLT_NONFINITE_SKIP_STEP = 0, /* warn, skip this optimizer step, continue */
    DLT_NONFINITE_STOP           /* return DLT_ERR_NONFINITE: the run stops */
} dlt_nonfinite_policy;

/* Checks the gradients before step `step` (the 1-based step about to be
 * taken, as logged). All finite: DLT_OK, *skip = 0. Otherwise the message
 * reads "step 12: non-finite gradient (nan) in parameter 'fc1.weight'
 * (element 3)"; SKIP_STEP logs it as a warning and returns DLT_OK with
 * *skip = 1; STOP returns DLT_ERR_NONFINITE with it as the error message. */
dlt_status dlt_grad_nonfinite_guard(const float *grads, const dlt_param_view *views, int n,
                                    int64_t step, dlt_nonfinite_policy policy, int *skip);

/* ------------------------------------------------------------ accumulation */

/* Gradient accumulation over k micro-steps. The caller's backward ADDS into
 * the gradient buffer; micro-step m (0-based, counting over the whole run)
 * is the first of its group when m % k == 0 (zero the gradients before its
 * backward) and the final one when m % k == k-1 (all-reduce, then
 * dlt_accum_average, clip and step). With each micro-batch's loss a mean over
 * its samples, averaging the sum by 1/k gives the gradient of the mean over
 * the k*b samples. */
typedef struct {
    int k;
    int64_t micro; /* micro-steps done */
} dlt_accum;

dlt_status dlt_accum_init(dlt_accum *a, int k);
int dlt_accum_is_first(const dlt_accum *a); /* for the micro-step about to run */
int dlt_accum_is_final(const dlt_accum *a);
void dlt_accum_next(dlt_accum *a);          /* after the micro-step's backward */
void dlt_accum_average(const dlt_accum *a, float *grads, size_t n); /* grads *= 1/k */

/* ------------------------------------------------------------ loss scaling */

/* Dynamic loss scaling for fp16, as torch.cuda.amp.GradScaler: multiply the
 * loss (seed of backward) by dlt_loss_scaler_get(), then unscale the
 * gradients; if any was inf/NaN skip the optimizer step; then update(): on
 * inf scale *= backoff and the growth tracker resets, otherwise after
 * growth_interval consecutive good steps scale *= growth. The scale is kept
 * as a float value, as GradScaler's float32 tensor. All fields are the
 * checkpointable state. */
typedef struct {
    double scale;          /* init 65536 */
    double growth_factor;  /* 2 */
    double backoff_factor; /* 0.5 */
    int growth_interval;   /* 2000 */
    int growth_tracker;    /* consecutive good steps since the last change */
    int enabled;           /* 0: scale 1, unscale only checks, update no-op */
} dlt_loss_scaler;

void dlt_loss_scaler_init(dlt_loss_scaler *s);
double dlt_loss_scaler_get(const dlt_loss_scaler *s);
/* grads *= float(1/scale); returns 1 when some element is inf/NaN (checked
 * before scaling, all elements are still scaled, as PyTorch does). */
int dlt_loss_scaler_unscale(const dlt_loss_scaler *s, float *grads, size_t n);
void dlt_loss_scaler_update(dlt_loss_scaler *s, int found_inf);
/* unscale + (step unless inf) + update in one call; *skipped = found_inf. */
dlt_status dlt_loss_scaler_step(dlt_loss_scaler *s, dlt_optim *o, float *params, float *grads,
                                double lr, int *skipped);

#ifdef __cplusplus
}
#endif
#endif
