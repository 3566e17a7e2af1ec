/* A graph's backend and its storage there: on a device backend, the device
 * copies of the flat parameter, gradient and buffer storage and of constants,
 * and the explicit moves between them and their host mirrors; on a backend
 * whose memory is host memory (the CPU), the host storage itself. */
#include <string.h>

#include "graph_impl.h"

dlt_status dlt_graph_set_backend(dlt_graph *g, dlt_backend *b)
{
    if (!b)
        b = dlt_cpu_backend();
    if (g->finalized && b != g->be)
        return dlt_seterr(DLT_ERR_INVALID, "the device of a graph is chosen before its parameters are laid out");
    g->be = b;
    return DLT_OK;
}

dlt_backend *dlt_graph_get_backend(const dlt_graph *g) { return g->be; }

float *dlt_params_dev(dlt_graph *g) { return g->d_pdata; }
float *dlt_grads_dev(dlt_graph *g) { return g->d_gdata; }
float *dlt_buffers_dev(dlt_graph *g) { return g->d_bdata; }

static dlt_status alloc_copy(dlt_backend *be, size_t numel, float **out)
{
    return be->alloc(be->ctx, (numel ? numel : 1) * sizeof(float), (void **)out);
}

dlt_status dlt_device_finalize(dlt_graph *g)
{
    dlt_backend *be = g->be;
    dlt_status st;
    if (be->host_memory) { /* no mirrors: the host storage is the graph's */
        g->d_pdata = g->pdata, g->d_gdata = g->gdata, g->d_bdata = g->bdata;
        return DLT_OK;
    }
    if ((st = alloc_copy(be, g->pnumel, &g->d_pdata)) || (st = alloc_copy(be, g->pnumel, &g->d_gdata)) ||
        (st = alloc_copy(be, g->bnumel, &g->d_bdata)))
        return st;
    if ((st = be->memset(be->ctx, g->d_gdata, 0, (g->pnumel ? g->pnumel : 1) * sizeof(float))))
        return st;
    return dlt_graph_upload(g, DLT_SYNC_PARAMS | DLT_SYNC_BUFFERS);
}

void dlt_device_free(dlt_graph *g)
{
    dlt_backend *be = g->be;
    if (be->host_memory)
        return;
    be->release(be->ctx, g->d_pdata);
    be->release(be->ctx, g->d_gdata);
    be->release(be->ctx, g->d_bdata);
    for (int i = 0; i < g->nvals; i++)
        if (DLT_V(g, i).const_dev)
            be->release(be->ctx, DLT_V(g, i).const_dev);
}

static dlt_status move(dlt_graph *g, unsigned what, int up)
{
    dlt_backend *be = g->be;
    struct {
        unsigned bit;
        float *host, *dev;
        size_t numel;
    } parts[3] = {{DLT_SYNC_PARAMS, g->pdata, g->d_pdata, g->pnumel},
                  {DLT_SYNC_GRADS, g->gdata, g->d_gdata, g->pnumel},
                  {DLT_SYNC_BUFFERS, g->bdata, g->d_bdata, g->bnumel}};
    if (be->host_memory || !g->finalized)
        return DLT_OK;
    for (int i = 0; i < 3; i++) {
        if (!(what & parts[i].bit) || !parts[i].numel)
            continue;
        size_t bytes = parts[i].numel * sizeof(float);
        dlt_status st = up ? be->upload(be->ctx, parts[i].dev, parts[i].host, bytes)
                           : be->download(be->ctx, parts[i].host, parts[i].dev, bytes);
        if (st)
            return st;
    }
    return up ? DLT_OK : be->sync(be->ctx);
}

dlt_status dlt_graph_download(dlt_graph *g, unsigned what) { return move(g, what, 0); }
dlt_status dlt_graph_upload(dlt_graph *g, unsigned what) { return move(g, what, 1); }

void *dlt_device_value_ptr(dlt_graph *g, dlt_t v)
{
    dlt_value *val = &DLT_V(g, v);
    if (g->be->host_memory)
        return dlt_param_data(g, v);
    switch (val->kind) {
    case DLT_VAL_PARAM:
        return g->finalized ? g->d_pdata + val->offset : NULL;
    case DLT_VAL_BUFFER:
        return g->finalized ? g->d_bdata + val->offset : NULL;
    case DLT_VAL_CONST:
        if (!val->const_dev) {
            size_t bytes = dlt_shape_bytes(&val->shape);
            void *d;
            if (g->be->alloc(g->be->ctx, bytes ? bytes : 1, &d))
                return NULL;
            if (g->be->upload(g->be->ctx, d, val->const_data, bytes)) {
                g->be->release(g->be->ctx, d);
                return NULL;
            }
            val->const_dev = d;
        }
        return val->const_dev;
    default:
        return NULL;
    }
}
