/* Optimizer object: configuration, parameter groups, flat state slots, and
 * the walk over parameters that hands each one's [lo,hi) piece to a kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim_impl.h"

static const char *const kind_names[DLT_OPTIM_NKINDS] = {
    "sgd", "adam", "adamw", "rmsprop", "adadelta", "adagrad", "lamb"};

static const char *const role_names[DLT_SLOT_NROLES] = {
    "momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq",
    "square_avg", "grad_avg", "acc_delta", "sum"};

const char *dlt_optim_kind_name(dlt_optim_kind k)
{
    return (unsigned)k < DLT_OPTIM_NKINDS ? kind_names[k] : "?";
}

dlt_status dlt_optim_config_default(const char *name, dlt_optim_config *cfg)
{
    if (!name || !cfg)
        return dlt_seterr(DLT_ERR_INVALID, "optimizer: NULL argument");
    int k = 0;
    while (k < DLT_OPTIM_NKINDS && strcmp(kind_names[k], name) != 0)
        k++;
    if (k == DLT_OPTIM_NKINDS)
        return dlt_seterr(DLT_ERR_NOTFOUND,
                          "unknown optimizer '%s' (expected sgd, adam, adamw, rmsprop, "
                          "adadelta, adagrad or lamb)", name);
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = (dlt_optim_kind)k;
    cfg->beta1 = 0.9, cfg->beta2 = 0.999;
    switch (cfg->kind) {
    case DLT_OPTIM_SGD: cfg->lr = 1e-3; break;
    case DLT_OPTIM_ADAM: cfg->lr = 1e-3, cfg->eps = 1e-8; break;
    case DLT_OPTIM_ADAMW: cfg->lr = 1e-3, cfg->eps = 1e-8, cfg->weight_decay = 1e-2; break;
    case DLT_OPTIM_RMSPROP: cfg->lr = 1e-2, cfg->alpha = 0.99, cfg->eps = 1e-8; break;
    case DLT_OPTIM_ADADELTA: cfg->lr = 1.0, cfg->rho = 0.9, cfg->eps = 1e-6; break;
    case DLT_OPTIM_ADAGRAD: cfg->lr = 1e-2, cfg->eps = 1e-10; break;
    case DLT_OPTIM_LAMB: cfg->lr = 1e-3, cfg->eps = 1e-6, cfg->weight_decay = 1e-2; break;
    default: break;
    }
    return DLT_OK;
}

/* Same checks as PyTorch's constructors. */
static dlt_status check_config(const dlt_optim_config *c)
{
    const char *n = dlt_optim_kind_name(c->kind);
    if ((unsigned)c->kind >= DLT_OPTIM_NKINDS)
        return dlt_seterr(DLT_ERR_INVALID, "optimizer: invalid kind %d", (int)c->kind);
    if (!(c->lr >= 0))
        return dlt_seterr(DLT_ERR_INVALID, "%s: invalid lr %g (must be >= 0)", n, c->lr);
    if (!(c->eps >= 0))
        return dlt_seterr(DLT_ERR_INVALID, "%s: invalid eps %g (must be >= 0)", n, c->eps);
    if (!(c->weight_decay >= 0))
        return dlt_seterr(DLT_ERR_INVALID, "%s: invalid weight_decay %g (must be >= 0)", n,
                          c->weight_decay);
    if (!(c->momentum >= 0))
        return dlt_seterr(DLT_ERR_INVALID, "%s: invalid momentum %g (must be >= 0)", n,
                          c->momentum);
    switch (c->kind) {
    case DLT_OPTIM_SGD:
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return dlt_seterr(DLT_ERR_INVALID,
                              "sgd: nesterov needs momentum > 0 and dampening = 0");
        break;
    case DLT_OPTIM_ADAM:
    case DLT_OPTIM_ADAMW:
    case DLT_OPTIM_LAMB:
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return dlt_seterr(DLT_ERR_INVALID, "%s: invalid betas (%g, %g): each must be in [0, 1)",
                              n, c->beta1, c->beta2);
        break;
    case DLT_OPTIM_RMSPROP:
        if (!(c->alpha >= 0))
            return dlt_seterr(DLT_ERR_INVALID, "rmsprop: invalid alpha %g (must be >= 0)", c->alpha);
        break;
    case DLT_OPTIM_ADADELTA:
        if (!(c->rho >= 0 && c->rho <= 1))
            return dlt_seterr(DLT_ERR_INVALID, "adadelta: invalid rho %g (must be in [0, 1])", c->rho);
        break;
    case DLT_OPTIM_ADAGRAD:
        if (!(c->lr_decay >= 0) || !(c->initial_accumulator_value >= 0))
            return dlt_seterr(DLT_ERR_INVALID,
                              "adagrad: lr_decay and initial_accumulator_value must be >= 0");
        break;
    default: break;
    }
    return DLT_OK;
}

int dlt_glob_match(const char *pat, const char *s)
{
    /* Iterative glob with single-star backtracking: linear for these short names. */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == '?' || *pat == *s) {
            pat++, s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static int cmp_by_offset(const void *a, const void *b)
{
    const dlt_optim_param *x = *(dlt_optim_param *const *)a, *y = *(dlt_optim_param *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static dlt_status check_layout(dlt_optim *o)
{
    dlt_optim_param **byoff = malloc((size_t)o->nparams * sizeof *byoff);
    if (!byoff)
        return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
    for (int i = 0; i < o->nparams; i++)
        byoff[i] = &o->params[i];
    qsort(byoff, (size_t)o->nparams, sizeof *byoff, cmp_by_offset);
    dlt_status st = DLT_OK;
    for (int i = 1; i < o->nparams && st == DLT_OK; i++)
        if (byoff[i - 1]->offset + byoff[i - 1]->numel > byoff[i]->offset)
            st = dlt_seterr(DLT_ERR_INVALID, "optimizer: parameters '%s' and '%s' overlap",
                            byoff[i - 1]->name, byoff[i]->name);
    free(byoff);
    return st;
}

static int uses_role(const dlt_optim_config *c, int role)
{
    switch (c->kind) {
    case DLT_OPTIM_SGD: return role == DLT_SLOT_MOMENTUM_BUFFER && c->momentum != 0;
    case DLT_OPTIM_ADAM:
    case DLT_OPTIM_ADAMW:
        return role == DLT_SLOT_EXP_AVG || role == DLT_SLOT_EXP_AVG_SQ ||
               (role == DLT_SLOT_MAX_EXP_AVG_SQ && c->amsgrad);
    case DLT_OPTIM_LAMB: return role == DLT_SLOT_EXP_AVG || role == DLT_SLOT_EXP_AVG_SQ;
    case DLT_OPTIM_RMSPROP:
        return role == DLT_SLOT_SQUARE_AVG || (role == DLT_SLOT_GRAD_AVG && c->centered) ||
               (role == DLT_SLOT_MOMENTUM_BUFFER && c->momentum > 0);
    case DLT_OPTIM_ADADELTA: return role == DLT_SLOT_SQUARE_AVG || role == DLT_SLOT_ACC_DELTA;
    case DLT_OPTIM_ADAGRAD: return role == DLT_SLOT_SUM;
    default: return 0;
    }
}

int dlt_optim_config_num_slots(const dlt_optim_config *cfg)
{
    int n = 0;
    for (int r = 0; r < DLT_SLOT_NROLES && cfg; r++)
        n += uses_role(cfg, r);
    return n;
}

/* The owned ranges, without the empty ones, each with its place in the
 * compact state; DLT_ERR_INVALID unless sorted, disjoint and inside [0,total). */
static dlt_status set_owned(dlt_optim *o, const dlt_optim_range *owned, int nowned)
{
    o->own = calloc((size_t)(nowned > 0 ? nowned : 1), sizeof *o->own);
    if (!o->own)
        return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
    size_t prev = 0;
    for (int k = 0; k < nowned; k++) {
        const dlt_optim_range *w = &owned[k];
        if (w->lo > w->hi || w->hi > o->total || w->lo < prev)
            return dlt_seterr(DLT_ERR_INVALID,
                              "optimizer: owned range %d [%zu, %zu) is not sorted, disjoint and inside "
                              "[0, %zu)", k, w->lo, w->hi, o->total);
        prev = w->hi;
        if (w->lo == w->hi)
            continue;
        o->own[o->nown++] = (dlt_optim_own){.lo = w->lo, .hi = w->hi, .state_off = o->state_n};
        o->state_n += w->hi - w->lo;
    }
    return DLT_OK;
}

dlt_status dlt_optim_create(const dlt_optim_config *cfg, const dlt_param_view *params,
                            int nparams, size_t total, const dlt_param_group_rule *rules,
                            int nrules, dlt_optim **out)
{
    const dlt_optim_range all = {0, total};
    return dlt_optim_create_sharded(cfg, params, nparams, total, rules, nrules, &all, 1, out);
}

dlt_status dlt_optim_create_sharded(const dlt_optim_config *cfg, const dlt_param_view *params,
                                    int nparams, size_t total, const dlt_param_group_rule *rules,
                                    int nrules, const dlt_optim_range *owned, int nowned,
                                    dlt_optim **out)
{
    if (!cfg || !out || nparams < 0 || nrules < 0 || (nparams > 0 && !params) ||
        (nrules > 0 && !rules) || nowned < 0 || (nowned > 0 && !owned))
        return dlt_seterr(DLT_ERR_INVALID, "dlt_optim_create: invalid arguments");
    *out = NULL;
    dlt_status st = check_config(cfg);
    if (st)
        return st;
    for (int r = 0; r < nrules; r++) {
        const dlt_param_group_rule *ru = &rules[r];
        if (!ru->pattern || !(ru->lr_mult >= 0) ||
            (ru->set_weight_decay && !(ru->weight_decay >= 0)))
            return dlt_seterr(DLT_ERR_INVALID,
                              "optimizer: parameter group rule %d ('%s') needs a pattern, "
                              "lr_mult >= 0 and weight_decay >= 0",
                              r, ru->pattern ? ru->pattern : "(null)");
    }
    dlt_optim *o = calloc(1, sizeof *o);
    if (!o)
        return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
    o->cfg = *cfg;
    o->total = total;
    o->nparams = nparams;
    o->params = calloc((size_t)(nparams ? nparams : 1), sizeof *o->params);
    o->sums = calloc(2 * (size_t)(nparams ? nparams : 1), sizeof *o->sums);
    if (!o->params || !o->sums) {
        dlt_optim_free(o);
        return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
    }
    for (int i = 0; i < nparams; i++) {
        const dlt_param_view *v = &params[i];
        dlt_optim_param *p = &o->params[i];
        const char *name = v->name ? v->name : "";
        p->name = strdup(name);
        if (!p->name) {
            dlt_optim_free(o);
            return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
        }
        if (v->offset > total || v->numel > total - v->offset) {
            dlt_optim_free(o);
            return dlt_seterr(DLT_ERR_INVALID,
                              "optimizer: parameter '%s' [%zu, +%zu) lies outside the flat "
                              "buffer of %zu elements", name, v->offset, v->numel, total);
        }
        p->offset = v->offset, p->numel = v->numel;
        p->lr_mult = 1, p->weight_decay = cfg->weight_decay;
        for (int r = 0; r < nrules; r++) {
            if (!dlt_glob_match(rules[r].pattern, name))
                continue;
            if (rules[r].lr_mult != 0)
                p->lr_mult = rules[r].lr_mult;
            if (rules[r].set_weight_decay)
                p->weight_decay = rules[r].weight_decay;
            p->frozen = rules[r].frozen != 0;
            break;
        }
    }
    if ((st = check_layout(o)) || (st = set_owned(o, owned, nowned))) {
        dlt_optim_free(o);
        return st;
    }
    for (int r = 0; r < DLT_SLOT_NROLES; r++) {
        if (!uses_role(cfg, r))
            continue;
        o->role[r] = dlt_host_alloc((o->state_n ? o->state_n : 1) * sizeof(float), 1);
        if (!o->role[r]) {
            dlt_optim_free(o);
            return dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory for %zu-element state",
                              o->state_n);
        }
        o->slot_role[o->nslots++] = r;
    }
    if (o->role[DLT_SLOT_SUM] && cfg->initial_accumulator_value != 0) {
        float init = (float)cfg->initial_accumulator_value;
        for (int k = 0; k < o->nown; k++) {
            const dlt_optim_own *w = &o->own[k];
            for (int i = 0; i < nparams; i++) {
                const dlt_optim_param *p = &o->params[i];
                size_t a = p->offset > w->lo ? p->offset : w->lo;
                size_t b = p->offset + p->numel < w->hi ? p->offset + p->numel : w->hi;
                for (size_t j = a; !p->frozen && j < b; j++)
                    o->role[DLT_SLOT_SUM][w->state_off + (j - w->lo)] = init;
            }
        }
    }
    *out = o;
    return DLT_OK;
}

void dlt_optim_free(dlt_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->nparams && o->params; i++)
        free(o->params[i].name);
    dlt_optim_dev_free(o);
    for (int r = 0; r < DLT_SLOT_NROLES; r++)
        dlt_host_free(o->role[r], (o->state_n ? o->state_n : 1) * sizeof(float), 1);
    free(o->params);
    free(o->own);
    free(o->sums);
    free(o);
}

/* The owned range holding [lo,hi) (lo < hi), or -1. */
static int owner_of(const dlt_optim *o, size_t lo, size_t hi)
{
    int a = 0, b = o->nown;
    while (a < b) { /* the first range ending after lo */
        int m = a + (b - a) / 2;
        if (o->own[m].hi <= lo)
            a = m + 1;
        else
            b = m;
    }
    return a < o->nown && o->own[a].lo <= lo && hi <= o->own[a].hi ? a : -1;
}

/* The piece of parameter p inside [lo,hi) (inside owned range w, or empty);
 * 0 when empty or frozen. */
static int make_chunk(const dlt_optim *o, const dlt_optim_own *w, const dlt_optim_param *p, float *params,
                      const float *grads, double lr, size_t lo, size_t hi, dlt_optim_chunk *c)
{
    size_t a = p->offset > lo ? p->offset : lo;
    size_t b = p->offset + p->numel < hi ? p->offset + p->numel : hi;
    if (p->frozen || a >= b)
        return 0;
    c->p = params + a;
    c->g = grads ? grads + a : NULL;
    for (int r = 0; r < DLT_SLOT_NROLES; r++)
        c->s[r] = o->role[r] ? o->role[r] + w->state_off + (a - w->lo) : NULL;
    c->n = b - a;
    c->lr = lr * p->lr_mult;
    c->wd = p->weight_decay;
    c->t = o->step + 1;
    return 1;
}

static dlt_status check_step_args(const dlt_optim *o, const float *params, const float *grads,
                                  double lr, size_t lo, size_t hi)
{
    if (!o || !params || !grads)
        return dlt_seterr(DLT_ERR_INVALID, "optimizer step: NULL argument");
    if (!(lr >= 0) || isinf(lr))
        return dlt_seterr(DLT_ERR_INVALID, "optimizer step %lld: invalid lr %g",
                          (long long)o->step + 1, lr);
    if (lo > hi || hi > o->total)
        return dlt_seterr(DLT_ERR_INVALID,
                          "optimizer step: range [%zu, %zu) is not inside [0, %zu)", lo, hi,
                          o->total);
    if (lo < hi && owner_of(o, lo, hi) < 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "optimizer step: range [%zu, %zu) is not inside one range whose state this "
                          "optimizer holds", lo, hi);
    return DLT_OK;
}

/* The owned range of a checked, non-empty [lo,hi); a stand-in for empty ones. */
static const dlt_optim_own *own_of(const dlt_optim *o, size_t lo, size_t hi)
{
    static const dlt_optim_own none = {0};
    return lo < hi ? &o->own[owner_of(o, lo, hi)] : &none;
}

dlt_status dlt_optim_lamb_phase1(dlt_optim *o, const float *params, const float *grads,
                                 size_t lo, size_t hi, double *sums)
{
    dlt_status st = check_step_args(o, params, grads, 0, lo, hi);
    if (st)
        return st;
    if (o->cfg.kind != DLT_OPTIM_LAMB || !sums)
        return dlt_seterr(DLT_ERR_INVALID, "lamb phase 1: not a LAMB optimizer, or NULL sums");
    const dlt_optim_own *w = own_of(o, lo, hi);
    for (int i = 0; i < o->nparams; i++) {
        dlt_optim_chunk c;
        sums[2 * i] = sums[2 * i + 1] = 0;
        /* Only reads the parameters: the cast lets one chunk type serve both phases. */
        if (make_chunk(o, w, &o->params[i], (float *)params, grads, 0, lo, hi, &c))
            dlt_optim_lamb_moments(&o->cfg, &c, &sums[2 * i]);
    }
    return DLT_OK;
}

dlt_status dlt_optim_lamb_phase2(dlt_optim *o, float *params, double lr, size_t lo, size_t hi,
                                 const double *sums)
{
    static const float nograd = 0;
    dlt_status st = check_step_args(o, params, &nograd, lr, lo, hi);
    if (st)
        return st;
    if (o->cfg.kind != DLT_OPTIM_LAMB || !sums)
        return dlt_seterr(DLT_ERR_INVALID, "lamb phase 2: not a LAMB optimizer, or NULL sums");
    const dlt_optim_own *w = own_of(o, lo, hi);
    for (int i = 0; i < o->nparams; i++) {
        dlt_optim_chunk c;
        if (make_chunk(o, w, &o->params[i], params, NULL, lr, lo, hi, &c))
            dlt_optim_lamb_apply(&o->cfg, &c, &sums[2 * i]);
    }
    o->last_lr = lr;
    return DLT_OK;
}

static dlt_status lamb_range(dlt_optim *o, float *params, const float *grads, double lr,
                             size_t lo, size_t hi)
{
    /* Checked before phase 1 so that a refused step leaves the state as it was. */
    for (int i = 0; i < o->nparams && !o->reducer; i++) {
        const dlt_optim_param *p = &o->params[i];
        int touches = p->numel && p->offset < hi && p->offset + p->numel > lo;
        if (!p->frozen && touches && (p->offset < lo || p->offset + p->numel > hi))
            return dlt_seterr(DLT_ERR_UNSUPPORTED,
                              "lamb: range [%zu, %zu) cuts parameter '%s'; its trust ratio "
                              "needs whole-parameter norms: set a norm reducer or use "
                              "dlt_optim_lamb_phase1/phase2", lo, hi, p->name);
    }
    dlt_status st = dlt_optim_lamb_phase1(o, params, grads, lo, hi, o->sums);
    if (st)
        return st;
    if (o->reducer && (st = o->reducer(o->sums, 2 * o->nparams, o->reducer_user)))
        return dlt_adderr(st, "lamb step %lld: norm reducer", (long long)o->step + 1);
    return dlt_optim_lamb_phase2(o, params, lr, lo, hi, o->sums);
}

dlt_status dlt_optim_step_range(dlt_optim *o, float *params, const float *grads, double lr,
                                size_t lo, size_t hi)
{
    dlt_status st = check_step_args(o, params, grads, lr, lo, hi);
    if (st)
        return st;
    if (o->be) {
        /* the device kernel steps whole owned ranges */
        int k = lo < hi ? owner_of(o, lo, hi) : -1;
        if (lo < hi && (o->own[k].lo != lo || o->own[k].hi != hi))
            return dlt_seterr(DLT_ERR_UNSUPPORTED,
                              "optimizer on a device: range [%zu, %zu) is not one of the owned ranges", lo, hi);
        st = lo < hi ? dlt_optim_dev_step(o, k, params, grads, lr) : DLT_OK;
        if (st == DLT_OK)
            o->last_lr = lr;
        return st;
    }
    if (o->cfg.kind == DLT_OPTIM_LAMB)
        return lamb_range(o, params, grads, lr, lo, hi);
    const dlt_optim_own *w = own_of(o, lo, hi);
    for (int i = 0; i < o->nparams; i++) {
        dlt_optim_chunk c;
        if (make_chunk(o, w, &o->params[i], params, grads, lr, lo, hi, &c))
            dlt_optim_kernel(&o->cfg, &c);
    }
    o->last_lr = lr;
    return DLT_OK;
}

void dlt_optim_advance(dlt_optim *o)
{
    if (o)
        o->step++;
}

dlt_status dlt_optim_step(dlt_optim *o, float *params, const float *grads, double lr)
{
    if (!o)
        return dlt_seterr(DLT_ERR_INVALID, "optimizer step: NULL optimizer");
    dlt_status st = DLT_OK;
    /* every owned range ([0,total) unless sharded); an empty optimizer still
     * checks its arguments */
    if (o->nown == 0)
        st = check_step_args(o, params, grads, lr, 0, 0);
    for (int k = 0; k < o->nown && st == DLT_OK; k++)
        st = dlt_optim_step_range(o, params, grads, lr, o->own[k].lo, o->own[k].hi);
    if (st == DLT_OK && o->nown == 0)
        o->last_lr = lr;
    if (st == DLT_OK)
        o->step++;
    return st;
}

void dlt_optim_set_norm_reducer(dlt_optim *o, dlt_optim_norm_reducer fn, void *user)
{
    o->reducer = fn;
    o->reducer_user = user;
}

int dlt_optim_num_slots(const dlt_optim *o) { return o->nslots; }

const char *dlt_optim_slot_name(const dlt_optim *o, int i)
{
    return i >= 0 && i < o->nslots ? role_names[o->slot_role[i]] : NULL;
}

float *dlt_optim_slot(dlt_optim *o, int i)
{
    return i >= 0 && i < o->nslots ? o->role[o->slot_role[i]] : NULL;
}

float *dlt_optim_slot_by_name(dlt_optim *o, const char *name)
{
    for (int i = 0; i < o->nslots; i++)
        if (strcmp(role_names[o->slot_role[i]], name) == 0)
            return o->role[o->slot_role[i]];
    return NULL;
}

size_t dlt_optim_total(const dlt_optim *o) { return o->total; }
size_t dlt_optim_state_numel(const dlt_optim *o) { return o->state_n; }
size_t dlt_optim_state_bytes(const dlt_optim *o) { return (size_t)o->nslots * o->state_n * sizeof(float); }
int dlt_optim_num_owned(const dlt_optim *o) { return o->nown; }

void dlt_optim_owned(const dlt_optim *o, int k, size_t *lo, size_t *hi, size_t *state_off)
{
    int ok = k >= 0 && k < o->nown;
    if (lo)
        *lo = ok ? o->own[k].lo : 0;
    if (hi)
        *hi = ok ? o->own[k].hi : 0;
    if (state_off)
        *state_off = ok ? o->own[k].state_off : 0;
}
int64_t dlt_optim_get_step(const dlt_optim *o) { return o->step; }
void dlt_optim_set_step(dlt_optim *o, int64_t step) { o->step = step; }
double dlt_optim_last_lr(const dlt_optim *o) { return o->last_lr; }
const dlt_optim_config *dlt_optim_get_config(const dlt_optim *o) { return &o->cfg; }
int dlt_optim_num_params(const dlt_optim *o) { return o->nparams; }

dlt_status dlt_optim_param_group(const dlt_optim *o, int i, double *lr_mult,
                                 double *weight_decay, int *frozen)
{
    if (!o || i < 0 || i >= o->nparams)
        return dlt_seterr(DLT_ERR_INVALID, "optimizer: no parameter %d", i);
    if (lr_mult)
        *lr_mult = o->params[i].lr_mult;
    if (weight_decay)
        *weight_decay = o->params[i].weight_decay;
    if (frozen)
        *frozen = o->params[i].frozen;
    return DLT_OK;
}
