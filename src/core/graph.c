/* The graph: values, nodes, name scopes and sticky build errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"

dlt_graph *dlt_graph_create(uint64_t seed)
{
    dlt_graph *g = calloc(1, sizeof *g);
    if (g)
        g->seed = seed;
    return g;
}

void dlt_graph_free(dlt_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->nvals; i++) {
        free(g->vals[i].name);
        free(g->vals[i].const_data);
    }
    for (int i = 0; i < g->nnodes; i++)
        free((char *)g->nodes[i].name);
    for (int i = 0; i < g->nscope; i++)
        free(g->scope[i]);
    free(g->vals);
    free(g->nodes);
    free(g->scope);
    free(g->params);
    free(g->buffers);
    free(g->pdata);
    free(g->gdata);
    free(g->bdata);
    free(g);
}

dlt_status dlt_graph_status(const dlt_graph *g) { return g->status; }
const char *dlt_graph_errmsg(const dlt_graph *g) { return g->status ? g->errmsg : "no error"; }
uint64_t dlt_graph_seed(const dlt_graph *g) { return g->seed; }
int dlt_graph_num_values(const dlt_graph *g) { return g->nvals; }
int dlt_graph_num_nodes(const dlt_graph *g) { return g->nnodes; }

dlt_t dlt_graph_fail(dlt_graph *g, dlt_status st, const char *fmt, ...)
{
    if (g->status == DLT_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
        va_end(ap);
        g->status = st;
    }
    dlt_seterr(g->status, "%s", g->errmsg);
    return -1;
}

/* ---------------------------------------------------------------- scopes */
void dlt_scope_push(dlt_graph *g, const char *name)
{
    if (g->nscope == g->cap_scope) {
        int cap = g->cap_scope ? 2 * g->cap_scope : 16;
        char **s = realloc(g->scope, (size_t)cap * sizeof *s);
        if (!s) {
            dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory pushing scope '%s'", name);
            return;
        }
        g->scope = s;
        g->cap_scope = cap;
    }
    g->scope[g->nscope] = strdup(name);
    if (!g->scope[g->nscope]) {
        dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory pushing scope '%s'", name);
        return;
    }
    g->nscope++;
}

void dlt_scope_pushf(dlt_graph *g, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    dlt_scope_push(g, buf);
}

void dlt_scope_pop(dlt_graph *g)
{
    if (g->nscope > 0)
        free(g->scope[--g->nscope]);
}

char *dlt_scoped_name(const dlt_graph *g, const char *name)
{
    size_t len = strlen(name) + 1;
    for (int i = 0; i < g->nscope; i++)
        len += strlen(g->scope[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    for (int i = 0; i < g->nscope; i++) {
        size_t l = strlen(g->scope[i]);
        if (l == 0)
            continue;
        memcpy(p, g->scope[i], l);
        p += l;
        *p++ = '.';
    }
    if (*name == '\0' && p > s)
        p--; /* no trailing dot */
    strcpy(p, name);
    return s;
}

/* ---------------------------------------------------------------- values */
dlt_t dlt_new_value(dlt_graph *g, const dlt_shape *s, dlt_value_kind kind, const char *name)
{
    if (g->nvals == g->cap_vals) {
        int cap = g->cap_vals ? 2 * g->cap_vals : 256;
        dlt_value *v = realloc(g->vals, (size_t)cap * sizeof *v);
        if (!v)
            return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding value '%s'", name);
        g->vals = v;
        g->cap_vals = cap;
    }
    dlt_value *v = &g->vals[g->nvals];
    memset(v, 0, sizeof *v);
    v->shape = *s;
    v->kind = kind;
    v->node = -1;
    v->name = strdup(name ? name : "");
    if (!v->name)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding value '%s'", name);
    return g->nvals++;
}

const dlt_shape *dlt_shape_of(const dlt_graph *g, dlt_t v)
{
    return dlt_valid(g, v) ? &g->vals[v].shape : NULL;
}

const char *dlt_name_of(const dlt_graph *g, dlt_t v)
{
    return dlt_valid(g, v) ? g->vals[v].name : "<invalid>";
}

dlt_value_kind dlt_kind_of(const dlt_graph *g, dlt_t v)
{
    return dlt_valid(g, v) ? g->vals[v].kind : DLT_VAL_TEMP;
}

dlt_t dlt_set_name(dlt_graph *g, dlt_t v, const char *name)
{
    if (!dlt_valid(g, v))
        return -1;
    char *n = dlt_scoped_name(g, name);
    if (!n)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory naming '%s'", name);
    free(g->vals[v].name);
    g->vals[v].name = n;
    return v;
}

/* ---------------------------------------------------------------- nodes */
static void describe_inputs(const dlt_graph *g, int nin, const dlt_t *in, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < nin && n < len; i++) {
        char sh[128];
        if (!dlt_valid(g, in[i]))
            continue;
        dlt_shape_str(&g->vals[in[i]].shape, sh, sizeof sh);
        n += (size_t)snprintf(buf + n, len - n, "%s'%s' %s", i ? ", " : "", g->vals[in[i]].name, sh);
    }
}

dlt_t dlt_node_add(dlt_graph *g, const dlt_op_def *op, int nin, const dlt_t *in, const void *attr,
                   size_t attr_size)
{
    dlt_shape in_shapes[DLT_MAX_IN], out_shapes[DLT_MAX_OUT];
    char ins[768];
    if (g->status != DLT_OK)
        return -1;
    if (nin < op->nin_min || nin > op->nin_max || nin > DLT_MAX_IN || op->nout > DLT_MAX_OUT)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "%s: takes %d to %d inputs, got %d", op->name,
                              op->nin_min, op->nin_max, nin);
    if (attr_size > DLT_ATTR_BYTES)
        return dlt_graph_fail(g, DLT_ERR_INTERNAL, "%s: attributes of %zu bytes exceed %d", op->name,
                              attr_size, DLT_ATTR_BYTES);
    for (int i = 0; i < nin; i++) {
        if (!dlt_valid(g, in[i]))
            return dlt_graph_fail(g, DLT_ERR_INVALID, "%s: input %d is not a value of this graph",
                                  op->name, i);
        in_shapes[i] = g->vals[in[i]].shape;
    }
    if (g->nnodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 256;
        dlt_node *nn = realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn)
            return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding %s", op->name);
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    dlt_node node;
    memset(&node, 0, sizeof node);
    node.op = op;
    node.id = g->nnodes;
    node.nin = nin;
    node.nout = op->nout;
    for (int i = 0; i < nin; i++)
        node.in[i] = in[i];
    if (attr_size)
        memcpy(node.attr, attr, attr_size);
    node.name = dlt_scoped_name(g, op->name);
    if (!node.name)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding %s", op->name);
    memset(out_shapes, 0, sizeof out_shapes);
    dlt_clearerr();
    dlt_status st = op->shape(&node, in_shapes, out_shapes);
    if (st != DLT_OK) {
        describe_inputs(g, nin, in, ins, sizeof ins);
        dlt_graph_fail(g, st, "%s '%s': %s (inputs: %s)", op->name, node.name, dlt_errmsg(), ins);
        free((char *)node.name);
        return -1;
    }
    for (int k = 0; k < op->nout; k++) {
        char oname[512];
        snprintf(oname, sizeof oname, op->nout > 1 ? "%s:%d" : "%s", node.name, k);
        dlt_t v = dlt_new_value(g, &out_shapes[k], DLT_VAL_TEMP, oname);
        if (v < 0) {
            free((char *)node.name);
            return -1;
        }
        g->vals[v].node = node.id;
        g->vals[v].out_index = k;
        node.out[k] = v;
    }
    g->nodes[g->nnodes++] = node;
    return node.out[0];
}

dlt_t dlt_node_output(dlt_graph *g, dlt_t v, int k)
{
    if (!dlt_valid(g, v))
        return -1;
    int n = g->vals[v].node;
    if (n < 0 || k < 0 || k >= g->nodes[n].nout)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "value '%s' has no output %d", g->vals[v].name, k);
    return g->nodes[n].out[k];
}

const dlt_node *dlt_producer(const dlt_graph *g, dlt_t v)
{
    if (!dlt_valid(g, v) || g->vals[v].node < 0)
        return NULL;
    return &g->nodes[g->vals[v].node];
}

int dlt_producer_id(const dlt_graph *g, dlt_t v) { return dlt_valid(g, v) ? g->vals[v].node : -1; }

uint64_t dlt_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}
