/* Model summary: a per-scope table of output shapes, parameter counts and
 * forward FLOPs (like Keras' summary or torchinfo), totals, and a plan's memory
 * report; and the FLOP count of the nodes some outputs depend on (forward for
 * a loss, a whole training step when the gradients are among the outputs). */
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"

static double node_flops(const dlt_graph *g, const dlt_node *nd)
{
    const dlt_shape *in[DLT_MAX_IN], *out[DLT_MAX_OUT];
    if (!nd->op->flops)
        return 0;
    for (int i = 0; i < nd->nin; i++)
        in[i] = &DLT_V(g, nd->in[i]).shape;
    for (int j = 0; j < nd->nout; j++)
        out[j] = &DLT_V(g, nd->out[j]).shape;
    return nd->op->flops(nd, in, out);
}

double dlt_graph_flops(const dlt_graph *g, int nout, const dlt_t *outputs)
{
    unsigned char *seen = calloc((size_t)g->nnodes + 1, 1);
    int *stack = malloc(((size_t)g->nnodes + 1) * sizeof *stack), sp = 0;
    double total = 0;
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return -1;
    }
    for (int r = 0; r < nout; r++) {
        int n = dlt_valid(g, outputs[r]) ? DLT_V(g, outputs[r]).node : -1;
        if (n >= 0 && !seen[n])
            seen[n] = 1, stack[sp++] = n;
    }
    while (sp > 0) {
        int top = stack[--sp];
        const dlt_node *nd = &DLT_N(g, top);
        total += node_flops(g, nd);
        for (int i = 0; i < nd->nin; i++) {
            int u = DLT_V(g, nd->in[i]).node;
            if (u >= 0 && !seen[u])
                seen[u] = 1, stack[sp++] = u;
        }
    }
    free(seen);
    free(stack);
    return total;
}

/* A node built by dlt_grad: some dotted component of its name is "grad". */
static int is_grad_name(const char *name)
{
    for (const char *p = name; (p = strstr(p, "grad")) != NULL; p += 4)
        if ((p == name || p[-1] == '.') && p[4] == '.')
            return 1;
    return 0;
}

/* Length of the scope part of a dotted name (up to the last '.'). */
static size_t scope_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

typedef struct {
    const char *name; /* points into a node or value name */
    size_t len;
    int first;  /* sort key: first node of the scope, or first consumer of its params */
    int last;   /* last forward node, -1 for parameter-only scopes */
    int nnodes;
    int64_t params;
    double flops;
} row;

static int find_row(row *rows, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (rows[i].len == len && strncmp(rows[i].name, name, len) == 0)
            return i;
    return -1;
}

static int cmp_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static const char *human(double v, int binary, char *buf, size_t len)
{
    static const char *si[] = {"", " K", " M", " G", " T", " P"};
    static const char *bi[] = {" B", " KiB", " MiB", " GiB", " TiB", " PiB"};
    double base = binary ? 1024 : 1000;
    int u = 0;
    while (v >= base && u < 5)
        v /= base, u++;
    if (u == 0)
        snprintf(buf, len, "%.0f%s", v, binary ? bi[0] : si[0]);
    else
        snprintf(buf, len, "%.2f%s", v, binary ? bi[u] : si[u]);
    return buf;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t v, char *buf, size_t len)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 1 < len; i++) {
        if (i > 0 && tmp[i - 1] != '-' && (n - i) % 3 == 0 && o + 2 < len)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

void dlt_graph_summary(dlt_graph *g, const dlt_plan *p, FILE *out)
{
    int cap = g->nnodes + g->nvals + 1, nrows = 0;
    row *rows = calloc((size_t)cap, sizeof *rows);
    int *first_use = malloc(((size_t)g->nvals + 1) * sizeof *first_use);
    if (!rows || !first_use) {
        fprintf(out, "summary: out of memory\n");
        free(rows);
        free(first_use);
        return;
    }
    unsigned char *backward = calloc((size_t)g->nnodes + 1, 1);
    if (!backward) {
        fprintf(out, "summary: out of memory\n");
        free(rows);
        free(first_use);
        return;
    }
    for (int v = 0; v < g->nvals; v++)
        first_use[v] = g->nnodes;
    for (int i = 0; i < g->nnodes; i++) {
        const dlt_node *nd = &DLT_N(g, i);
        /* dlt_grad builds the accumulations of fan-out gradients outside the
         * "grad" scope: anything computed from a gradient is backward too */
        backward[i] = (unsigned char)is_grad_name(nd->name);
        for (int k = 0; k < nd->nin && !backward[i]; k++) {
            int u = DLT_V(g, nd->in[k]).node;
            backward[i] = (unsigned char)(u >= 0 && u < i && backward[u]);
        }
        if (backward[i])
            continue;
        for (int k = 0; k < nd->nin; k++)
            if (first_use[nd->in[k]] > i)
                first_use[nd->in[k]] = i;
        size_t len = scope_len(nd->name);
        int r = find_row(rows, nrows, nd->name, len);
        if (r < 0) {
            r = nrows++;
            rows[r] = (row){nd->name, len, i, i, 0, 0, 0};
        }
        rows[r].last = i;
        rows[r].nnodes++;
        rows[r].flops += node_flops(g, nd);
    }
    int64_t trainable = 0, fixed = 0;
    double flops = 0;
    for (int v = 0; v < g->nvals; v++) {
        const dlt_value *val = &DLT_V(g, v);
        if (val->kind != DLT_VAL_PARAM && val->kind != DLT_VAL_BUFFER)
            continue;
        int64_t n = dlt_shape_numel(&val->shape);
        *(val->kind == DLT_VAL_PARAM ? &trainable : &fixed) += n;
        size_t len = scope_len(val->name);
        int r = find_row(rows, nrows, val->name, len);
        if (r < 0) {
            r = nrows++;
            rows[r] = (row){val->name, len, first_use[v], -1, 0, 0, 0};
        }
        rows[r].params += n;
    }
    for (int r = 0; r < nrows; r++)
        flops += rows[r].flops;
    qsort(rows, (size_t)nrows, sizeof *rows, cmp_row);

    int w0 = 5, w1 = 6;
    char sh[128], a[64], b[64];
    for (int r = 0; r < nrows; r++) {
        int l = rows[r].len ? (int)rows[r].len : 5;
        w0 = l > w0 ? l : w0;
        if (rows[r].last >= 0) {
            int sl = (int)strlen(dlt_shape_str(&DLT_V(g, DLT_N(g, rows[r].last).out[0]).shape, sh, sizeof sh));
            w1 = sl > w1 ? sl : w1;
        }
    }
    int width = w0 + w1 + 2 + 2 + 5 + 2 + 14 + 2 + 10;
    fprintf(out, "%-*s  %-*s  %5s  %14s  %10s\n", w0, "Scope", w1, "Output", "Nodes", "Params", "FLOPs");
    fprintf(out, "%.*s\n", width, "==========================================================================="
                                  "==========================================================================");
    for (int r = 0; r < nrows; r++) {
        const row *rw = &rows[r];
        if (rw->last >= 0)
            dlt_shape_str(&DLT_V(g, DLT_N(g, rw->last).out[0]).shape, sh, sizeof sh);
        else
            snprintf(sh, sizeof sh, "-");
        fprintf(out, "%-*.*s  %-*s  %5d  %14s  %10s\n", w0, rw->len ? (int)rw->len : 5,
                rw->len ? rw->name : "(top)", w1, sh, rw->nnodes, grouped(rw->params, a, sizeof a),
                human(rw->flops, 0, b, sizeof b));
    }
    fprintf(out, "%.*s\n", width, "---------------------------------------------------------------------------"
                                  "--------------------------------------------------------------------------");
    fprintf(out, "Total params: %s (%s)\n", grouped(trainable + fixed, a, sizeof a),
            human((double)(trainable + fixed) * sizeof(float), 1, b, sizeof b));
    fprintf(out, "Trainable params: %s\n", grouped(trainable, a, sizeof a));
    fprintf(out, "Non-trainable params: %s\n", grouped(fixed, a, sizeof a));
    fprintf(out, "Forward FLOPs per batch: %s (%.0f)\n", human(flops, 0, a, sizeof a), flops);
    if (p) {
        dlt_mem_report m;
        dlt_plan_memory(p, &m);
        size_t total = m.params_bytes + m.grads_bytes + m.buffers_bytes + m.arena_bytes + m.inputs_bytes;
        fprintf(out, "Memory (plan of %d steps):\n", m.nsteps);
        fprintf(out, "  parameters          %12s\n", human((double)m.params_bytes, 1, a, sizeof a));
        fprintf(out, "  gradients           %12s\n", human((double)m.grads_bytes, 1, a, sizeof a));
        fprintf(out, "  buffers             %12s\n", human((double)m.buffers_bytes, 1, a, sizeof a));
        fprintf(out, "  activations (arena) %12s\n", human((double)m.arena_bytes, 1, a, sizeof a));
        fprintf(out, "  without reuse       %12s\n", human((double)m.activations_bytes, 1, a, sizeof a));
        fprintf(out, "  inputs              %12s\n", human((double)m.inputs_bytes, 1, a, sizeof a));
        fprintf(out, "  total               %12s\n", human((double)total, 1, a, sizeof a));
    }
    free(rows);
    free(first_use);
    free(backward);
}
