/* The graph: values, nodes, name scopes and sticky build errors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_impl.h"

dlt_graph *dlt_graph_create(uint64_t seed)
{
    dlt_graph *g = calloc(1, sizeof *g);
    if (g) {
        g->seed = seed;
        g->be = dlt_cpu_backend();
    }
    return g;
}

void dlt_graph_free(dlt_graph *g)
{
    if (!g)
        return;
    dlt_device_free(g);
    for (int i = 0; i < g->nvals; i++) {
        free(DLT_V(g, i).name);
        free(DLT_V(g, i).const_data);
    }
    for (int i = 0; i < g->nnodes; i++)
        free((char *)DLT_N(g, i).name);
    for (int i = 0; i < g->nscope; i++)
        free(g->scope[i]);
    for (int i = 0; i < g->nvchunks; i++)
        free(g->vchunks[i]);
    for (int i = 0; i < g->nnchunks; i++)
        free(g->nchunks[i]);
    free(g->vchunks);
    free(g->nchunks);
    free(g->scope);
    free(g->params);
    free(g->buffers);
    dlt_host_free(g->pdata, (g->pnumel ? g->pnumel : 1) * sizeof(float), 1); /* as params.c made them */
    dlt_host_free(g->gdata, (g->pnumel ? g->pnumel : 1) * sizeof(float), 1);
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
/* One more chunk of `elem`-sized slots; the chunk array may move, chunks do not. */
static int grow_chunks(void ***chunks, int *n, size_t elem)
{
    void **c = realloc(*chunks, (size_t)(*n + 1) * sizeof *c);
    if (!c)
        return 0;
    *chunks = c;
    c[*n] = calloc(DLT_CHUNK, elem);
    if (!c[*n])
        return 0;
    (*n)++;
    return 1;
}

dlt_t dlt_new_value(dlt_graph *g, const dlt_shape *s, dlt_value_kind kind, const char *name)
{
    if (g->nvals == g->nvchunks * DLT_CHUNK && !grow_chunks((void ***)&g->vchunks, &g->nvchunks, sizeof(dlt_value)))
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding value '%s'", name);
    dlt_value *v = &DLT_V(g, g->nvals);
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
    return dlt_valid(g, v) ? &DLT_V(g, v).shape : NULL;
}

const char *dlt_name_of(const dlt_graph *g, dlt_t v)
{
    return dlt_valid(g, v) ? DLT_V(g, v).name : "<invalid>";
}

dlt_value_kind dlt_kind_of(const dlt_graph *g, dlt_t v)
{
    return dlt_valid(g, v) ? DLT_V(g, v).kind : DLT_VAL_TEMP;
}

dlt_t dlt_set_name(dlt_graph *g, dlt_t v, const char *name)
{
    if (!dlt_valid(g, v))
        return -1;
    char *n = dlt_scoped_name(g, name);
    if (!n)
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory naming '%s'", name);
    free(DLT_V(g, v).name);
    DLT_V(g, v).name = n;
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
        dlt_shape_str(&DLT_V(g, in[i]).shape, sh, sizeof sh);
        n += (size_t)snprintf(buf + n, len - n, "%s'%s' %s", i ? ", " : "", DLT_V(g, in[i]).name, sh);
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
        in_shapes[i] = DLT_V(g, in[i]).shape;
    }
    if (g->nnodes == g->nnchunks * DLT_CHUNK && !grow_chunks((void ***)&g->nchunks, &g->nnchunks, sizeof(dlt_node)))
        return dlt_graph_fail(g, DLT_ERR_NOMEM, "out of memory adding %s", op->name);
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
        DLT_V(g, v).node = node.id;
        DLT_V(g, v).out_index = k;
        node.out[k] = v;
    }
    DLT_N(g, g->nnodes) = node;
    g->nnodes++;
    return node.out[0];
}

dlt_t dlt_node_output(dlt_graph *g, dlt_t v, int k)
{
    if (!dlt_valid(g, v))
        return -1;
    int n = DLT_V(g, v).node;
    if (n < 0 || k < 0 || k >= DLT_N(g, n).nout)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "value '%s' has no output %d", DLT_V(g, v).name, k);
    return DLT_N(g, n).out[k];
}

const dlt_node *dlt_producer(const dlt_graph *g, dlt_t v)
{
    if (!dlt_valid(g, v) || DLT_V(g, v).node < 0)
        return NULL;
    return &DLT_N(g, DLT_V(g, v).node);
}

int dlt_producer_id(const dlt_graph *g, dlt_t v) { return dlt_valid(g, v) ? DLT_V(g, v).node : -1; }

uint64_t dlt_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}
