/* Topological order of the nodes a set of values depends on (cycle-checked). */
#include <stdlib.h>

#include "graph_impl.h"
#include "topo.h"

/* Iterative DFS with colours: 0 unseen, 1 on stack, 2 done. */
dlt_status dlt_topo_order(const dlt_graph *g, int nroots, const dlt_t *roots, int **order, int *n)
{
    int nn = g->nnodes;
    unsigned char *colour = calloc((size_t)nn + 1, 1);
    int *stack = malloc(((size_t)nn + 1) * sizeof *stack);
    int *pos = malloc(((size_t)nn + 1) * sizeof *pos);
    int *out = malloc(((size_t)nn + 1) * sizeof *out);
    int sp = 0, k = 0;
    dlt_status st = DLT_OK;
    if (!colour || !stack || !pos || !out) {
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory ordering %d nodes", nn);
        goto done;
    }
    for (int r = 0; r < nroots; r++) {
        if (!dlt_valid(g, roots[r])) {
            st = dlt_seterr(DLT_ERR_INVALID, "plan output %d is not a value of this graph", r);
            goto done;
        }
        int start = DLT_V(g, roots[r]).node;
        if (start < 0 || colour[start])
            continue;
        stack[sp] = start, pos[sp] = 0, sp++;
        colour[start] = 1;
        while (sp > 0) {
            int v = stack[sp - 1];
            const dlt_node *nd = &DLT_N(g, v);
            if (pos[sp - 1] < nd->nin) {
                dlt_t in = nd->in[pos[sp - 1]++];
                int u = DLT_V(g, in).node;
                if (u < 0 || colour[u] == 2)
                    continue;
                if (colour[u] == 1) {
                    st = dlt_seterr(DLT_ERR_CYCLE,
                                    "the graph has a cycle: node '%s' (%s) depends on its own output "
                                    "through '%s'",
                                    DLT_N(g, u).name, DLT_N(g, u).op->name, nd->name);
                    goto done;
                }
                colour[u] = 1;
                stack[sp] = u, pos[sp] = 0, sp++;
            } else {
                colour[v] = 2;
                out[k++] = v;
                sp--;
            }
        }
    }
    *order = out;
    *n = k;
    out = NULL;
done:
    free(colour);
    free(stack);
    free(pos);
    free(out);
    return st;
}

dlt_status dlt_rewire(dlt_graph *g, int node, int input, dlt_t v)
{
    if (node < 0 || node >= g->nnodes || input < 0 || input >= DLT_N(g, node).nin)
        return dlt_seterr(DLT_ERR_INVALID, "rewire: node %d has no input %d", node, input);
    if (!dlt_valid(g, v))
        return dlt_seterr(DLT_ERR_INVALID, "rewire: value %d is not in the graph", v);
    dlt_t old = DLT_N(g, node).in[input];
    if (!dlt_shape_equal(&DLT_V(g, old).shape, &DLT_V(g, v).shape)) {
        char a[128], b[128];
        return dlt_seterr(DLT_ERR_SHAPE, "rewire: node '%s' input %d is %s, '%s' is %s",
                          DLT_N(g, node).name, input, dlt_shape_str(&DLT_V(g, old).shape, a, sizeof a),
                          DLT_V(g, v).name, dlt_shape_str(&DLT_V(g, v).shape, b, sizeof b));
    }
    DLT_N(g, node).in[input] = v;
    return DLT_OK;
}
