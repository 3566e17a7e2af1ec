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
    free(o->seg_param);
    o->coef = NULL, o->seg_param = NULL;
    memset(o->d_role, 0, sizeof o->d_role);
    o->d_coef = NULL, o->d_seg = NULL, o->d_tile_seg = NULL, o->d_tile_start = NULL;
    o->d_tile_sums = o->d_seg_sums = NULL, o->d_seg_tiles = NULL;
    o->be = NULL;
}

static dlt_status upload_new(dlt_backend *be, const void *src, size_t bytes, void **dst)
{
    dlt_status st = be->alloc(be->ctx, bytes ? bytes : 1, dst);
    if (st == DLT_OK && bytes)
        st = be->upload(be->ctx, *dst, src, bytes);
    return st;
}

/* The pieces of the owned ranges: per range k, every non-frozen parameter's
 * part inside it (o->seg_param, own[k].seg0/nseg), and their tiles. LAMB
 * needs whole parameters: a piece that cuts one is refused. */
static dlt_status count_pieces(dlt_optim *o)
{
    int nseg = 0;
    int64_t ntiles = 0;
    for (int k = 0; k < o->nown; k++) {
        dlt_optim_own *w = &o->own[k];
        w->seg0 = nseg, w->tile0 = ntiles, w->nseg = 0, w->ntiles = 0;
        for (int i = 0; i < o->nparams; i++) {
            const dlt_optim_param *p = &o->params[i];
            size_t a = p->offset > w->lo ? p->offset : w->lo;
            size_t b = p->offset + p->numel < w->hi ? p->offset + p->numel : w->hi;
            if (p->frozen || a >= b)
                continue;
            if (o->cfg.kind == DLT_OPTIM_LAMB && b - a != p->numel)
                return dlt_seterr(DLT_ERR_UNSUPPORTED,
                                  "lamb on a device: owned range [%zu, %zu) cuts parameter '%s'; its trust "
                                  "ratio needs whole-parameter norms", w->lo, w->hi, p->name);
            w->nseg++;
            w->ntiles += (int64_t)((b - a + DLT_OPTIM_TILE - 1) / DLT_OPTIM_TILE);
        }
        nseg += w->nseg;
        ntiles += w->ntiles;
    }
    o->nseg = nseg;
    o->ntiles = ntiles;
    return DLT_OK;
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
    if ((st = count_pieces(o)) != DLT_OK)
        return st;
    /* tiles never straddle pieces, so a block needs one coefficient set */
    int nseg = o->nseg;
    int64_t ntiles = o->ntiles;
    uint64_t *seg = malloc(2 * (size_t)(nseg + 1) * sizeof *seg);
    int64_t *segt = malloc(2 * (size_t)(nseg + 1) * sizeof *segt);
    int32_t *tseg = malloc((size_t)(ntiles + 1) * sizeof *tseg);
    uint64_t *tstart = malloc((size_t)(ntiles + 1) * sizeof *tstart);
    o->coef = calloc((size_t)nseg + 1, sizeof *o->coef);
    o->seg_param = calloc((size_t)nseg + 1, sizeof *o->seg_param);
    if (!seg || !segt || !tseg || !tstart || !o->coef || !o->seg_param) {
        st = dlt_seterr(DLT_ERR_NOMEM, "optimizer: out of memory");
        goto out;
    }
    /* offsets relative to the range's lo, tile and piece numbers to its first */
    for (int k = 0; k < o->nown; k++) {
        const dlt_optim_own *w = &o->own[k];
        int s = w->seg0;
        int64_t t = w->tile0;
        for (int i = 0; i < o->nparams; i++) {
            const dlt_optim_param *p = &o->params[i];
            size_t a = p->offset > w->lo ? p->offset : w->lo;
            size_t b = p->offset + p->numel < w->hi ? p->offset + p->numel : w->hi;
            if (p->frozen || a >= b)
                continue;
            o->seg_param[s] = i;
            seg[s] = a - w->lo;
            seg[nseg + s] = b - a;
            segt[s] = t - w->tile0;
            for (size_t e = a; e < b; e += DLT_OPTIM_TILE) {
                tseg[t] = s - w->seg0;
                tstart[t++] = e - w->lo;
            }
            segt[nseg + s] = t - w->tile0 - segt[s];
            s++;
        }
    }
    o->be = be;
    o->dev_step = fn;
    size_t fbytes = (o->state_n ? o->state_n : 1) * sizeof(float);
    for (int r = 0; r < DLT_SLOT_NROLES && st == DLT_OK; r++)
        if (o->role[r])
            st = upload_new(be, o->role[r], fbytes, (void **)&o->d_role[r]);
    if (st == DLT_OK)
        st = upload_new(be, seg, 2 * (size_t)nseg * sizeof *seg, (void **)&o->d_seg);
    if (st == DLT_OK)
        st = upload_new(be, tseg, (size_t)ntiles * sizeof *tseg, (void **)&o->d_tile_seg);
    if (st == DLT_OK)
        st = upload_new(be, tstart, (size_t)ntiles * sizeof *tstart, (void **)&o->d_tile_start);
    if (st == DLT_OK)
        st = be->alloc(be->ctx, ((size_t)nseg + 1) * sizeof *o->coef, (void **)&o->d_coef);
    if (st == DLT_OK && o->cfg.kind == DLT_OPTIM_LAMB) {
        st = upload_new(be, segt, 2 * (size_t)nseg * sizeof *segt, (void **)&o->d_seg_tiles);
        if (st == DLT_OK)
            st = be->alloc(be->ctx, 2 * ((size_t)ntiles + 1) * sizeof(double), (void **)&o->d_tile_sums);
        if (st == DLT_OK)
            st = be->alloc(be->ctx, 2 * ((size_t)nseg + 1) * sizeof(double), (void **)&o->d_seg_sums);
    }
    if (st == DLT_OK)
        st = be->sync(be->ctx); /* the staging arrays are freed below */
out:
    free(seg);
    free(segt);
    free(tseg);
    free(tstart);
    if (st != DLT_OK) {
        dlt_optim_dev_free(o);
        free(o->coef), free(o->seg_param);
        o->coef = NULL, o->seg_param = NULL;
    }
    return st;
}

dlt_status dlt_optim_dev_step(dlt_optim *o, int k, float *params, const float *grads, double lr)
{
    dlt_backend *be = o->be;
    const dlt_optim_own *w = &o->own[k];
    int64_t t = o->step + 1;
    for (int s = w->seg0; s < w->seg0 + w->nseg; s++) {
        const dlt_optim_param *p = &o->params[o->seg_param[s]];
        dlt_optim_coef_init(&o->cfg, lr * p->lr_mult, p->weight_decay, t, &o->coef[s]);
    }
    /* from pageable memory: the copy has taken the data when upload returns */
    dlt_status st = w->nseg ? be->upload(be->ctx, o->d_coef + w->seg0, o->coef + w->seg0,
                                         (size_t)w->nseg * sizeof *o->coef)
                            : DLT_OK;
    if (st)
        return st;
    /* the range's elements, state and pieces, every pointer offset to them */
    dlt_optim_dev_args a;
    memset(&a, 0, sizeof a);
    a.kind = (int)o->cfg.kind;
    a.params = params + w->lo;
    a.grads = grads + w->lo;
    for (int r = 0; r < DLT_SLOT_NROLES && r < DLT_OPTIM_NSLOTS; r++)
        a.slot[r] = o->d_role[r] ? o->d_role[r] + w->state_off : NULL;
    a.amsgrad = o->cfg.amsgrad;
    a.centered = o->cfg.centered;
    a.coef = o->d_coef + w->seg0;
    a.seg_off = o->d_seg + w->seg0;
    a.seg_len = o->d_seg + o->nseg + w->seg0;
    a.tile_seg = o->d_tile_seg + w->tile0;
    a.tile_start = o->d_tile_start + w->tile0;
    a.ntiles = w->ntiles;
    a.tile_sums = o->d_tile_sums ? o->d_tile_sums + 2 * w->tile0 : NULL;
    a.seg_sums = o->d_seg_sums ? o->d_seg_sums + 2 * w->seg0 : NULL;
    a.seg_tile0 = o->d_seg_tiles ? o->d_seg_tiles + w->seg0 : NULL;
    a.seg_ntiles = o->d_seg_tiles ? o->d_seg_tiles + o->nseg + w->seg0 : NULL;
    a.nsegs = w->nseg;
    a.lamb_skip_adapt = o->cfg.lamb_skip_adapt_no_decay;
    if ((st = o->dev_step(be->ctx, &a)) != DLT_OK)
        return dlt_adderr(st, "optimizer step %lld", (long long)t);
    o->last_lr = lr;
    return DLT_OK;
}

static dlt_status move_state(dlt_optim *o, int up)
{
    dlt_backend *be = o->be;
    size_t bytes = o->state_n * sizeof(float);
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

float *dlt_optim_slot_dev(dlt_optim *o, int i)
{
    if (i < 0 || i >= o->nslots)
        return NULL;
    int r = o->slot_role[i];
    return o->be ? o->d_role[r] : o->role[r];
}
