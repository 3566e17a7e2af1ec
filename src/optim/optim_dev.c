/* The optimizer on a device: state in device memory, one fused kernel per
 * step over every (non-frozen) parameter. The kernel is the backend's
 * "optim_step" symbol (src/gpu/k_optim.cu); it applies the same per-element
 * rules as the CPU (optim_elem.h) with coefficients computed here per step. */
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "optim_impl.h"

_Static_assert(DLT_SLOT_NROLES == DLT_OPTIM_NSLOTS, "device args carry every state role");

void dlt_optim_dev_free(dlt_optim *o)
{
    dlt_backend *be = o->be;
    if (!be)
        return;
    for (int r = 0; r < DLT_SLOT_NROLES; r++)
        be->release(be->ctx, o->d_role[r]);
    be->release(be->ctx, o->d_coef);
    be->release(be->ctx, o->d_seg);
    be->release(be->ctx, o->d_tile_seg);
    be->release(be->ctx, o->d_tile_start);
    be->release(be->ctx, o->d_tile_sums);
    be->release(be->ctx, o->d_seg_sums);
    be->release(be->ctx, o->d_seg_tiles);
    free(o->coef);
    o->be = NULL;
}

static dlt_status upload_new(dlt_backend *be, const void *src, size_t bytes, void **dst)
{
    dlt_status st = be->alloc(be->ctx, bytes ? bytes : 1, dst);
    if (st == DLT_OK && bytes)
        st = be->upload(be->ctx, *dst, src, bytes);
    return st;
}

dlt_status dlt_optim_to_device(dlt_optim *o, dlt_backend *be)
{
    dlt_status st = DLT_OK;
    if (be && be->host_memory) /* the CPU: the state is already where the parameters are */
        return o->be ? dlt_seterr(DLT_ERR_INVALID, "optimizer: already on another device") : DLT_OK;
    if (!be || o->be)
        return o->be == be ? DLT_OK : dlt_seterr(DLT_ERR_INVALID, "optimizer: already on another device");
    dlt_optim_dev_step_fn fn = be->symbol ? (dlt_optim_dev_step_fn)be->symbol(be->ctx, "optim_step") : NULL;
    if (!fn)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "optimizer: the %s backend has no optimizer kernel", be->name);
    /* tiles never straddle parameters, so a block needs one coefficient set */
    int64_t ntiles = 0;
    for (int i = 0; i < o->nparams; i++)
        if (!o->params[i].frozen)
            ntiles += (int64_t)((o->params[i].numel + DLT_OPTIM_TILE - 1) / DLT_OPTIM_TILE);
    uint64_t *seg = malloc(2 * (size_t)(o->nparams + 1) * sizeof *seg);
    int64_t *segt = malloc(2 * (size_t)(o->nparams + 1) * sizeof *segt);
    int32_t *tseg = malloc((size_t)(ntiles + 1) * sizeof *tseg);
    uint64_t *tstart = malloc((size_t)(ntiles + 1) * sizeof *tstart);
    o->coef = calloc((size_t)o->nparams + 1, sizeof *o->coef);
    if (!seg || !segt || !tseg || !tstart || !o->coef) {
        st = dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
        goto out;
    }
    int64_t t = 0;
    for (int i = 0; i < o->nparams; i++) {
        const dlt_optim_param *p = &o->params[i];
        seg[i] = p->offset;
        seg[o->nparams + i] = p->numel;
        segt[i] = t;
        for (size_t a = 0; !p->frozen && a < p->numel; a += DLT_OPTIM_TILE) {
            tseg[t] = i;
            tstart[t++] = p->offset + a;
        }
        segt[o->nparams + i] = t - segt[i];
    }
    o->be = be;
    o->dev_step = fn;
    o->ntiles = ntiles;
    size_t fbytes = (o->total ? o->total : 1) * sizeof(float);
    for (int r = 0; r < DLT_SLOT_NROLES && st == DLT_OK; r++)
        if (o->role[r])
            st = upload_new(be, o->role[r], fbytes, (void **)&o->d_role[r]);
    if (st == DLT_OK)
        st = upload_new(be, seg, 2 * (size_t)o->nparams * sizeof *seg, (void **)&o->d_seg);
    if (st == DLT_OK)
        st = upload_new(be, tseg, (size_t)ntiles * sizeof *tseg, (void **)&o->d_tile_seg);
    if (st == DLT_OK)
        st = upload_new(be, tstart, (size_t)ntiles * sizeof *tstart, (void **)&o->d_tile_start);
    if (st == DLT_OK)
        st = be->alloc(be->ctx, ((size_t)o->nparams + 1) * sizeof *o->coef, (void **)&o->d_coef);
    if (st == DLT_OK && o->cfg.kind == DLT_OPTIM_LAMB) {
        st = upload_new(be, segt, 2 * (size_t)o->nparams * sizeof *segt, (void **)&o->d_seg_tiles);
        if (st == DLT_OK)
            st = be->alloc(be->ctx, 2 * ((size_t)ntiles + 1) * sizeof(double), (void **)&o->d_tile_sums);
        if (st == DLT_OK)
            st = be->alloc(be->ctx, 2 * ((size_t)o->nparams + 1) * sizeof(double), (void **)&o->d_seg_sums);
    }
    if (st == DLT_OK)
        st = be->sync(be->ctx); /* the staging arrays are freed below */
out:
    free(seg);
    free(segt);
    free(tseg);
    free(tstart);
    if (st != DLT_OK)
        dlt_optim_dev_free(o);
    return st;
}

dlt_status dlt_optim_dev_step(dlt_optim *o, float *params, const float *grads, double lr)
{
    dlt_backend *be = o->be;
    int64_t t = o->step + 1;
    for (int i = 0; i < o->nparams; i++)
        dlt_optim_coef_init(&o->cfg, lr * o->params[i].lr_mult, o->params[i].weight_decay, t, &o->coef[i]);
    /* from pageable memory: the copy has taken the data when upload returns */
    dlt_status st = be->upload(be->ctx, o->d_coef, o->coef, (size_t)o->nparams * sizeof *o->coef);
    if (st)
        return st;
    dlt_optim_dev_args a;
    memset(&a, 0, sizeof a);
    a.kind = (int)o->cfg.kind;
    a.params = params;
    a.grads = grads;
    for (int r = 0; r < DLT_SLOT_NROLES && r < DLT_OPTIM_NSLOTS; r++)
        a.slot[r] = o->d_role[r];
    a.amsgrad = o->cfg.amsgrad;
    a.centered = o->cfg.centered;
    a.coef = o->d_coef;
    a.seg_off = o->d_seg;
    a.seg_len = o->d_seg + o->nparams;
    a.tile_seg = o->d_tile_seg;
    a.tile_start = o->d_tile_start;
    a.ntiles = o->ntiles;
    a.tile_sums = o->d_tile_sums;
    a.seg_sums = o->d_seg_sums;
    a.seg_tile0 = o->d_seg_tiles;
    a.seg_ntiles = o->d_seg_tiles ? o->d_seg_tiles + o->nparams : NULL;
    a.nsegs = o->nparams;
    a.lamb_skip_adapt = o->cfg.lamb_skip_adapt_no_decay;
    if ((st = o->dev_step(be->ctx, &a)) != DLT_OK)
        return dlt_adderr(st, "optimizer step %lld", (long long)t);
    o->last_lr = lr;
    return DLT_OK;
}

static dlt_status move_state(dlt_optim *o, int up)
{
    dlt_backend *be = o->be;
    size_t bytes = o->total * sizeof(float);
    if (!be || !bytes)
        return DLT_OK;
    for (int r = 0; r < DLT_SLOT_NROLES; r++) {
        if (!o->role[r])
            continue;
        dlt_status st = up ? be->upload(be->ctx, o->d_role[r], o->role[r], bytes)
                           : be->download(be->ctx, o->role[r], o->d_role[r], bytes);
        if (st)
            return st;
    }
    return up ? DLT_OK : be->sync(be->ctx);
}

dlt_status dlt_optim_download(dlt_optim *o) { return move_state(o, 0); }
dlt_status dlt_optim_upload(dlt_optim *o) { return move_state(o, 1); }
