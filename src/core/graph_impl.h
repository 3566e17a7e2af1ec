/* Graph internals shared by the core's own files (not by ops). */
#ifndef DLT_GRAPH_IMPL_H
#define DLT_GRAPH_IMPL_H

#include "dlt_backend.h"

typedef struct {
    dlt_shape shape;
    dlt_value_kind kind;
    int node;      /* producer node id, -1 for leaves */
    int out_index; /* which output of the producer */
    char *name;
    /* params and buffers */
    dlt_init init;
    size_t offset; /* in the flat buffer (valid once finalized) */
    void *const_data;
    void *const_dev; /* constants on a device graph: their device copy (made by the first plan) */
    int order; /* creation order among params (or buffers) */
} dlt_value;

/* Values and nodes live in fixed chunks that never move, so pointers such as
 * dlt_shape_of's stay valid while builders grow the graph. */
#define DLT_CHUNK_BITS 10
#define DLT_CHUNK (1 << DLT_CHUNK_BITS)
#define DLT_V(g, i) ((g)->vchunks[(i) >> DLT_CHUNK_BITS][(i) & (DLT_CHUNK - 1)])
#define DLT_N(g, i) ((g)->nchunks[(i) >> DLT_CHUNK_BITS][(i) & (DLT_CHUNK - 1)])

struct dlt_graph {
    uint64_t seed;
    dlt_value **vchunks;
    int nvals, nvchunks;
    dlt_node **nchunks;
    int nnodes, nnchunks;
    char **scope;
    int nscope, cap_scope;
    dlt_status status;
    char errmsg[1024];
    int nparams_created, nbuffers_created;
    int reuse; /* dlt_graph_set_reuse: parameters/buffers are looked up, not created */
    int frozen; /* dlt_graph_set_frozen: dlt_param creates buffers (not trained) */
    int no_recompute; /* dlt_graph_set_recompute(g, 0): dlt_grad keeps every forward output */
    int finalized;
    dlt_param_info *params, *buffers; /* layout order */
    int nparams, nbuffers;
    float *pdata, *gdata, *bdata; /* host storage (on a device graph: host mirrors) */
    size_t pnumel, bnumel;
    dlt_backend *be;              /* never NULL: dlt_cpu_backend() unless a device is set */
    /* storage on the backend, set by finalize: device memory, or the host
     * storage above itself on a host-memory backend (no mirrors) */
    float *d_pdata, *d_gdata, *d_bdata;
};

/* Current scope joined with `name` by '.', malloc'd. */
char *dlt_scoped_name(const dlt_graph *g, const char *name);
dlt_t dlt_new_value(dlt_graph *g, const dlt_shape *s, dlt_value_kind kind, const char *name);
static inline int dlt_valid(const dlt_graph *g, dlt_t v) { return v >= 0 && v < g->nvals; }
/* Accumulate same-shaped gradients: the op autodiff uses for fan-out. */
dlt_t dlt_accum(dlt_graph *g, int n, const dlt_t *v);
/* A zeros constant shaped like v (f32). */
dlt_t dlt_zeros_like(dlt_graph *g, dlt_t v);
void dlt_run_initializer(const dlt_value *v, uint64_t seed, float *dst);
/* Storage on the graph's backend (device.c): allocate and fill the device
 * copies at finalize (or alias the host storage on a host-memory backend),
 * free them, and the backend storage of a parameter/buffer/constant value. */
dlt_status dlt_device_finalize(dlt_graph *g);
void dlt_device_free(dlt_graph *g);
void *dlt_device_value_ptr(dlt_graph *g, dlt_t v);

#endif
