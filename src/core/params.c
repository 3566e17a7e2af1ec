/* Leaves (inputs, parameters, buffers, constants) and the flat parameter,
 * gradient and buffer storage. */
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"

/* Parameters start on 64-byte boundaries so kernels and collectives see aligned
 * ranges; the padding is zero and never updated. */
#define DLT_PARAM_ALIGN 16

static int check_dims(dlt_graph *g, const char *what, const char *name, int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > DLT_MAX_DIMS) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s '%s': rank %d is outside 0..%d", what, name, ndim,
                       DLT_MAX_DIMS);
        return 0;
    }
    for (int i = 0; i < ndim; i++)
        if (dims[i] <= 0) {
            dlt_graph_fail(g, DLT_ERR_INVALID, "%s '%s': dimension %d is %lld (must be > 0)", what,
                           name, i, (long long)dims[i]);
            return 0;
        }
    return 1;
}

dlt_t dlt_input(dlt_graph *g, const char *name, dlt_dtype dtype, int ndim, const int64_t *dims)
{
    if (g->status || !check_dims(g, "input", name, ndim, dims))
        return -1;
    dlt_shape s = dlt_shape_make(dtype, ndim, dims);
    return dlt_new_value(g, &s, DLT_VAL_INPUT, name);
}

static dlt_t find_named(const dlt_graph *g, const char *full)
{
    for (int i = 0; i < g->nvals; i++)
        if ((DLT_V(g, i).kind == DLT_VAL_PARAM || DLT_V(g, i).kind == DLT_VAL_BUFFER) &&
            strcmp(DLT_V(g, i).name, full) == 0)
            return i;
    return -1;
}

static dlt_t new_state(dlt_graph *g, dlt_value_kind kind, const char *name, int ndim,
                       const int64_t *dims, dlt_init init)
{
    const char *what = kind == DLT_VAL_PARAM ? "parameter" : "buffer";
    if (g->status || !check_dims(g, what, name, ndim, dims))
        return -1;
    if (g->finalized)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "%s '%s' created after the parameter layout was fixed", what, name);
    char *full = dlt_scoped_name(g, name);
    if (!full)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory");
    dlt_t have = find_named(g, full);
    if (g->reuse) {
        dlt_shape want = dlt_shape_make(DLT_F32, ndim, dims);
        if (have < 0)
            dlt_graph_fail(g, DLT_ERR_NOTFOUND, "%s '%s' to reuse does not exist", what, full);
        else if (DLT_V(g, have).kind != kind || !dlt_shape_equal(&DLT_V(g, have).shape, &want)) {
            char a[64], b[64];
            dlt_shape_str(&DLT_V(g, have).shape, a, sizeof a);
            dlt_shape_str(&want, b, sizeof b);
            have = dlt_graph_fail(g, DLT_ERR_SHAPE, "%s '%s' reused as %s %s, but it is a %s %s", what,
                                  full, what, b, DLT_V(g, have).kind == DLT_VAL_PARAM ? "parameter" : "buffer", a);
        }
        free(full);
        return have;
    }
    if (have >= 0) {
        dlt_graph_fail(g, DLT_ERR_INVALID,
                       "%s '%s' already exists (use dlt_param_lookup to share weights)", what, full);
        free(full);
        return -1;
    }
    dlt_shape s = dlt_shape_make(DLT_F32, ndim, dims);
    dlt_t v = dlt_new_value(g, &s, kind, full);
    free(full);
    if (v < 0)
        return -1;
    DLT_V(g, v).init = init;
    DLT_V(g, v).order = kind == DLT_VAL_PARAM ? g->nparams_created++ : g->nbuffers_created++;
    return v;
}

dlt_t dlt_param(dlt_graph *g, const char *name, int ndim, const int64_t *dims, dlt_init init)
{
    return new_state(g, g->frozen ? DLT_VAL_BUFFER : DLT_VAL_PARAM, name, ndim, dims, init);
}

dlt_t dlt_buffer(dlt_graph *g, const char *name, int ndim, const int64_t *dims, dlt_init init)
{
    return new_state(g, DLT_VAL_BUFFER, name, ndim, dims, init);
}

int dlt_graph_set_frozen(dlt_graph *g, int on)
{
    int prev = g->frozen;
    g->frozen = on != 0;
    return prev;
}

int dlt_graph_set_reuse(dlt_graph *g, int on)
{
    int prev = g->reuse;
    g->reuse = on != 0;
    return prev;
}

dlt_t dlt_param_lookup(dlt_graph *g, const char *full_name)
{
    if (g->status)
        return -1;
    dlt_t v = find_named(g, full_name);
    if (v < 0)
        return dlt_graph_fail(g, DLT_ERR_NOTFOUND, "no parameter or buffer named '%s'", full_name);
    return v;
}

dlt_t dlt_constant(dlt_graph *g, dlt_dtype dtype, int ndim, const int64_t *dims, const void *data)
{
    if (g->status || !check_dims(g, "constant", "", ndim, dims))
        return -1;
    dlt_shape s = dlt_shape_make(dtype, ndim, dims);
    size_t bytes = dlt_shape_bytes(&s);
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory for a constant of %zu bytes", bytes);
    if (data)
        memcpy(copy, data, bytes);
    else
        memset(copy, 0, bytes);
    char *name = dlt_scoped_name(g, "const");
    dlt_t v = dlt_new_value(g, &s, DLT_VAL_CONST, name ? name : "const");
    free(name);
    if (v < 0) {
        free(copy);
        return -1;
    }
    DLT_V(g, v).const_data = copy;
    return v;
}

dlt_t dlt_scalar(dlt_graph *g, float v) { return dlt_constant(g, DLT_F32, 0, NULL, &v); }

dlt_t dlt_zeros_like(dlt_graph *g, dlt_t v)
{
    if (!dlt_valid(g, v))
        return -1;
    dlt_shape s = DLT_V(g, v).shape;
    return dlt_constant(g, DLT_F32, s.ndim, s.dim, NULL);
}

/* ---------------------------------------------------------------- layout */

static dlt_status layout(dlt_graph *g, dlt_value_kind kind, const dlt_t *order, int norder,
                         dlt_param_info **out, int *nout, size_t *numel)
{
    int n = kind == DLT_VAL_PARAM ? g->nparams_created : g->nbuffers_created;
    dlt_param_info *info = calloc((size_t)(n ? n : 1), sizeof *info);
    char *placed = calloc((size_t)g->nvals + 1, 1);
    int k = 0;
    if (!info || !placed) {
        free(info);
        free(placed);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory laying out parameters");
    }
    for (int i = 0; order && i < norder; i++) {
        dlt_t v = order[i];
        if (!dlt_valid(g, v) || DLT_V(g, v).kind != kind || placed[v])
            continue;
        placed[v] = 1;
        info[k++].value = v;
    }
    /* the rest in reverse creation order */
    for (int o = n - 1; o >= 0; o--)
        for (int v = 0; v < g->nvals; v++)
            if (DLT_V(g, v).kind == kind && DLT_V(g, v).order == o && !placed[v]) {
                placed[v] = 1;
                info[k++].value = v;
            }
    free(placed);
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        dlt_value *val = &DLT_V(g, info[i].value);
        info[i].name = val->name;
        info[i].shape = val->shape;
        info[i].numel = (size_t)dlt_shape_numel(&val->shape);
        info[i].offset = off;
        val->offset = off;
        off += (info[i].numel + DLT_PARAM_ALIGN - 1) / DLT_PARAM_ALIGN * DLT_PARAM_ALIGN;
    }
    *out = info;
    *nout = k;
    *numel = off;
    return DLT_OK;
}

dlt_status dlt_graph_finalize(dlt_graph *g, const dlt_t *order, int norder)
{
    if (g->status)
        return dlt_seterr(g->status, "%s", g->errmsg);
    if (g->finalized)
        return DLT_OK;
    dlt_status st = layout(g, DLT_VAL_PARAM, order, norder, &g->params, &g->nparams, &g->pnumel);
    if (st == DLT_OK)
        st = layout(g, DLT_VAL_BUFFER, NULL, 0, &g->buffers, &g->nbuffers, &g->bnumel);
    if (st != DLT_OK)
        return st;
    g->pdata = dlt_host_alloc((g->pnumel ? g->pnumel : 1) * sizeof(float), 1);
    g->gdata = dlt_host_alloc((g->pnumel ? g->pnumel : 1) * sizeof(float), 1);
    g->bdata = calloc(g->bnumel ? g->bnumel : 1, sizeof(float));
    if (!g->pdata || !g->gdata || !g->bdata)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory allocating %zu parameters", g->pnumel);
    for (int i = 0; i < g->nparams; i++)
        dlt_run_initializer(&DLT_V(g, g->params[i].value), g->seed, g->pdata + g->params[i].offset);
    for (int i = 0; i < g->nbuffers; i++)
        dlt_run_initializer(&DLT_V(g, g->buffers[i].value), g->seed, g->bdata + g->buffers[i].offset);
    g->finalized = 1;
    return dlt_device_finalize(g);
}

int dlt_graph_finalized(const dlt_graph *g) { return g->finalized; }
int dlt_num_params(const dlt_graph *g) { return g->finalized ? g->nparams : g->nparams_created; }
const dlt_param_info *dlt_param_at(const dlt_graph *g, int i)
{
    return g->finalized && i >= 0 && i < g->nparams ? &g->params[i] : NULL;
}
int dlt_num_buffers(const dlt_graph *g) { return g->finalized ? g->nbuffers : g->nbuffers_created; }
const dlt_param_info *dlt_buffer_at(const dlt_graph *g, int i)
{
    return g->finalized && i >= 0 && i < g->nbuffers ? &g->buffers[i] : NULL;
}
size_t dlt_params_numel(const dlt_graph *g) { return g->pnumel; }
size_t dlt_buffers_numel(const dlt_graph *g) { return g->bnumel; }
float *dlt_params_data(dlt_graph *g) { return g->pdata; }
float *dlt_grads_data(dlt_graph *g) { return g->gdata; }
float *dlt_buffers_data(dlt_graph *g) { return g->bdata; }

float *dlt_param_data(dlt_graph *g, dlt_t v)
{
    if (!dlt_valid(g, v))
        return NULL;
    dlt_value *val = &DLT_V(g, v);
    if (val->kind == DLT_VAL_CONST)
        return val->const_data;
    if (!g->finalized)
        return NULL;
    if (val->kind == DLT_VAL_PARAM)
        return g->pdata + val->offset;
    if (val->kind == DLT_VAL_BUFFER)
        return g->bdata + val->offset;
    return NULL;
}

float *dlt_param_grad(dlt_graph *g, dlt_t v)
{
    if (!dlt_valid(g, v) || !g->finalized || DLT_V(g, v).kind != DLT_VAL_PARAM)
        return NULL;
    return g->gdata + DLT_V(g, v).offset;
}
