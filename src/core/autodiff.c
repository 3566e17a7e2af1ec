/* Symbolic reverse-mode differentiation: appends gradient nodes to the graph
 * using each op's gradient rule, so gradients are ordinary values and can be
 * differentiated again. */
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"
#include "topo.h"

typedef struct {
    dlt_t *v;
    int n, cap;
} contrib_list;

static int push(contrib_list *l, dlt_t v)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 2;
        dlt_t *p = realloc(l->v, (size_t)cap * sizeof *p);
        if (!p)
            return 0;
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 1;
}

static int is_float(dlt_dtype t) { return t == DLT_F32 || t == DLT_F16 || t == DLT_BF16; }

int dlt_graph_set_recompute(dlt_graph *g, int on)
{
    int prev = !g->no_recompute;
    g->no_recompute = on == 0;
    return prev;
}

/* Recompute mode: for each forward node in `order` whose op can rebuild its
 * output 0 (dlt_op_def.recompute) and whose output 0 and input 0 are both
 * read by backward nodes (ids from `first` on: input 0 stays in memory
 * anyway), the backward nodes read the rebuilt value instead. The
 * topological order reaches a rebuilt value from the first backward node
 * that reads it, so it is computed just before it is needed and output 0
 * dies after its last forward use. */
static dlt_status recompute_outputs(dlt_graph *g, const int *order, int norder, int first)
{
    int last = g->nnodes;
    dlt_t *sub = malloc(((size_t)g->nvals + 1) * sizeof *sub);
    if (!sub)
        return dlt_seterr(DLT_ERR_NOMEM, "dlt_grad: out of memory");
    for (int v = 0; v < g->nvals; v++)
        sub[v] = -2; /* -2: no backward reader, -1: read, not rebuilt */
    for (int j = first; j < last; j++)
        for (int i = 0; i < DLT_N(g, j).nin; i++)
            sub[DLT_N(g, j).in[i]] = -1;
    int any = 0;
    for (int k = 0; k < norder; k++) {
        dlt_node nd = DLT_N(g, order[k]); /* copy: the rule grows the graph */
        if (!nd.op->recompute || sub[nd.out[0]] != -1 || nd.nin < 1 || sub[nd.in[0]] != -1)
            continue;
        dlt_scope_pushf(g, "grad.%s", nd.name);
        dlt_t r = nd.op->recompute(g, &nd);
        dlt_scope_pop(g);
        if (g->status) {
            free(sub);
            dlt_seterr(g->status, "%s", g->errmsg);
            return dlt_adderr(g->status, "dlt_grad: recomputing %s ('%s')", nd.op->name, nd.name);
        }
        if (r >= 0)
            sub[nd.out[0]] = r, any = 1;
    }
    for (int j = first; any && j < last; j++)
        for (int i = 0; i < DLT_N(g, j).nin; i++) {
            dlt_t v = DLT_N(g, j).in[i];
            if (sub[v] >= 0)
                DLT_N(g, j).in[i] = sub[v];
        }
    free(sub);
    return DLT_OK;
}

dlt_status dlt_grad(dlt_graph *g, dlt_t loss, int nwrt, const dlt_t *wrt, dlt_t *grads)
{
    dlt_status st = DLT_OK;
    int *order = NULL, norder = 0;
    contrib_list *contrib = NULL;
    unsigned char *depends = NULL;
    int nvals0 = g->nvals, nnodes0 = g->nnodes;

    if (g->status)
        return dlt_seterr(g->status, "%s", g->errmsg);
    if (!dlt_valid(g, loss))
        return dlt_seterr(DLT_ERR_INVALID, "dlt_grad: loss is not a value of this graph");
    if (dlt_shape_numel(&DLT_V(g, loss).shape) != 1 || DLT_V(g, loss).shape.dtype != DLT_F32) {
        char sh[128];
        return dlt_seterr(DLT_ERR_SHAPE, "dlt_grad: loss '%s' must be a single f32 value, got %s",
                          DLT_V(g, loss).name, dlt_shape_str(&DLT_V(g, loss).shape, sh, sizeof sh));
    }
    for (int i = 0; i < nwrt; i++)
        if (!dlt_valid(g, wrt[i]))
            return dlt_seterr(DLT_ERR_INVALID, "dlt_grad: wrt[%d] is not a value of this graph", i);
    if ((st = dlt_topo_order(g, 1, &loss, &order, &norder)) != DLT_OK)
        return st;
    contrib = calloc((size_t)nvals0, sizeof *contrib);
    depends = calloc((size_t)nvals0, 1);
    if (!contrib || !depends) {
        st = dlt_seterr(DLT_ERR_NOMEM, "dlt_grad: out of memory");
        goto done;
    }
    /* forward: which values depend on a wrt value (only they need gradients) */
    for (int i = 0; i < nwrt; i++)
        if (is_float(DLT_V(g, wrt[i]).shape.dtype))
            depends[wrt[i]] = 1;
    for (int k = 0; k < norder; k++) {
        const dlt_node *nd = &DLT_N(g, order[k]);
        int d = 0;
        for (int i = 0; i < nd->nin; i++)
            d |= depends[nd->in[i]];
        /* |=: a wrt value produced by a node (not a leaf: WGAN-GP's
         * interpolates) depends on itself whatever its inputs do */
        for (int j = 0; j < nd->nout; j++)
            depends[nd->out[j]] |= (unsigned char)(d && is_float(DLT_V(g, nd->out[j]).shape.dtype));
    }
    if (depends[loss]) {
        float one = 1.0f;
        const dlt_shape *ls = &DLT_V(g, loss).shape;
        dlt_t seed = dlt_constant(g, DLT_F32, ls->ndim, ls->dim, &one);
        if (seed < 0 || !push(&contrib[loss], seed)) {
            st = dlt_seterr(DLT_ERR_NOMEM, "dlt_grad: out of memory");
            goto done;
        }
    }
    for (int k = norder - 1; k >= 0; k--) {
        dlt_node nd = DLT_N(g, order[k]); /* copy: rules grow the graph */
        dlt_t dy[DLT_MAX_OUT], dx[DLT_MAX_IN];
        int any = 0, need = 0;
        dlt_scope_push(g, "grad"); /* fan-out sums are backward nodes too */
        for (int j = 0; j < nd.nout; j++) {
            contrib_list *l = &contrib[nd.out[j]];
            dy[j] = l->n ? dlt_accum(g, l->n, l->v) : -1;
            any |= dy[j] >= 0;
        }
        dlt_scope_pop(g);
        for (int i = 0; i < nd.nin; i++)
            need |= depends[nd.in[i]];
        if (!any || !need)
            continue;
        if (!nd.op->grad) {
            st = dlt_seterr(DLT_ERR_UNSUPPORTED, "dlt_grad: op %s ('%s') has no gradient rule",
                            nd.op->name, nd.name);
            goto done;
        }
        for (int i = 0; i < DLT_MAX_IN; i++)
            dx[i] = -1;
        /* backward nodes are named after the forward node they differentiate,
         * e.g. "grad.layer1.0.conv1.conv2d.conv_transpose2d" */
        dlt_scope_pushf(g, "grad.%s", nd.name);
        st = nd.op->grad(g, &nd, dy, dx);
        dlt_scope_pop(g);
        if (st == DLT_OK && g->status)
            st = g->status;
        if (st != DLT_OK) {
            if (g->status)
                dlt_seterr(g->status, "%s", g->errmsg);
            dlt_adderr(st, "dlt_grad: gradient of %s ('%s')", nd.op->name, nd.name);
            goto done;
        }
        for (int i = 0; i < nd.nin; i++) {
            dlt_t x = nd.in[i];
            if (dx[i] < 0 || !depends[x])
                continue;
            if (!dlt_shape_equal(&DLT_V(g, dx[i]).shape, &DLT_V(g, x).shape)) {
                char a[128], b[128];
                st = dlt_seterr(DLT_ERR_INTERNAL,
                                "dlt_grad: gradient rule of %s ('%s') gave %s for input %d of shape %s",
                                nd.op->name, nd.name, dlt_shape_str(&DLT_V(g, dx[i]).shape, a, sizeof a),
                                i, dlt_shape_str(&DLT_V(g, x).shape, b, sizeof b));
                goto done;
            }
            if (!push(&contrib[x], dx[i])) {
                st = dlt_seterr(DLT_ERR_NOMEM, "dlt_grad: out of memory");
                goto done;
            }
        }
    }
    for (int i = 0; i < nwrt; i++) {
        contrib_list *l = &contrib[wrt[i]];
        dlt_scope_push(g, "grad");
        grads[i] = l->n ? dlt_accum(g, l->n, l->v) : dlt_zeros_like(g, wrt[i]);
        dlt_scope_pop(g);
        if (grads[i] < 0) {
            st = dlt_seterr(g->status, "%s", g->errmsg);
            goto done;
        }
    }
    if (!g->no_recompute)
        st = recompute_outputs(g, order, norder, nnodes0);
done:
    if (contrib)
        for (int i = 0; i < nvals0; i++)
            free(contrib[i].v);
    free(contrib);
    free(depends);
    free(order);
    return st;
}

dlt_status dlt_grad_params(dlt_graph *g, dlt_t loss, int *n, dlt_t **params, dlt_t **grads)
{
    int np = 0;
    for (int v = 0; v < g->nvals; v++)
        np += DLT_V(g, v).kind == DLT_VAL_PARAM;
    dlt_t *p = malloc(((size_t)np + 1) * sizeof *p), *gr = malloc(((size_t)np + 1) * sizeof *gr);
    if (!p || !gr) {
        free(p);
        free(gr);
        return dlt_seterr(DLT_ERR_NOMEM, "dlt_grad_params: out of memory");
    }
    np = 0;
    for (int v = 0; v < g->nvals; v++)
        if (DLT_V(g, v).kind == DLT_VAL_PARAM)
            p[np++] = v;
    dlt_status st = dlt_grad(g, loss, np, p, gr);
    if (st != DLT_OK) {
        free(p);
        free(gr);
        return st;
    }
    *n = np;
    *params = p;
    *grads = gr;
    return DLT_OK;
}
