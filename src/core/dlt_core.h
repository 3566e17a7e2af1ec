/* dltrain core: shapes, the static graph, symbolic autodiff, plans and the executor.
 *
 * A dlt_graph holds values (tensors) and nodes (ops). Builders return value ids
 * (dlt_t). Errors are sticky: a builder that fails returns -1, records the first
 * error in the graph (dlt_graph_status/dlt_errmsg), and every later builder that
 * receives -1 returns -1, so model code can build a whole network and check once. */
#ifndef DLT_CORE_H
#define DLT_CORE_H

#include <stdio.h>

#include "dlt_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLT_MAX_DIMS 8

typedef enum { DLT_DEV_CPU = 0, DLT_DEV_CUDA = 1 } dlt_device;

/* A tensor descriptor: dtype, rank, dims (row-major), device tag. */
typedef struct {
    dlt_dtype dtype;
    int ndim;
    int64_t dim[DLT_MAX_DIMS];
    dlt_device device;
} dlt_shape;

dlt_shape dlt_shape_make(dlt_dtype dtype, int ndim, const int64_t *dims);
int64_t dlt_shape_numel(const dlt_shape *s);
size_t dlt_shape_bytes(const dlt_shape *s);
int dlt_shape_equal(const dlt_shape *a, const dlt_shape *b); /* dtype and dims */
/* "f32[8,3,32,32]" into buf; returns buf. */
char *dlt_shape_str(const dlt_shape *s, char *buf, size_t len);

typedef int32_t dlt_t; /* value id in a graph; -1 = invalid (an error happened) */
typedef struct dlt_graph dlt_graph;
typedef struct dlt_backend dlt_backend; /* a device backend (dlt_backend.h, dlt_gpu_backend) */

/* ---------------------------------------------------------------- graph */
dlt_graph *dlt_graph_create(uint64_t seed);
void dlt_graph_free(dlt_graph *g);
/* First error recorded while building (DLT_OK if none); message in dlt_graph_errmsg. */
dlt_status dlt_graph_status(const dlt_graph *g);
const char *dlt_graph_errmsg(const dlt_graph *g);
uint64_t dlt_graph_seed(const dlt_graph *g);
/* Record an error on the graph (sticky; only the first is kept) and return -1.
 * Builders use it to reject bad arguments. */
dlt_t dlt_graph_fail(dlt_graph *g, dlt_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int dlt_graph_num_values(const dlt_graph *g);
int dlt_graph_num_nodes(const dlt_graph *g);

/* Name scopes: dotted prefixes for parameter and node names ("layer1.0.conv1"). */
void dlt_scope_push(dlt_graph *g, const char *name);
void dlt_scope_pushf(dlt_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dlt_scope_pop(dlt_graph *g);

/* ---------------------------------------------------------------- leaves */
typedef enum {
    DLT_INIT_ZEROS = 0,
    DLT_INIT_ONES,
    DLT_INIT_CONSTANT,        /* a */
    DLT_INIT_UNIFORM,         /* U(a, b) */
    DLT_INIT_NORMAL,          /* N(a, b^2): mean a, std b */
    DLT_INIT_TRUNC_NORMAL,    /* N(a, b^2) truncated to [a - 2b, a + 2b] */
    DLT_INIT_XAVIER_UNIFORM,  /* gain */
    DLT_INIT_XAVIER_NORMAL,   /* gain */
    DLT_INIT_KAIMING_UNIFORM, /* mode, gain (gain = sqrt(2) for ReLU) */
    DLT_INIT_KAIMING_NORMAL   /* mode, gain */
} dlt_init_kind;
typedef enum { DLT_FAN_IN = 0, DLT_FAN_OUT } dlt_fan_mode;
typedef struct {
    dlt_init_kind kind;
    double a, b;
    dlt_fan_mode mode;
    double gain;
} dlt_init;
dlt_init dlt_init_const(double v);
dlt_init dlt_init_uniform(double lo, double hi);
dlt_init dlt_init_normal(double mean, double std);
dlt_init dlt_init_kaiming(dlt_init_kind kind, dlt_fan_mode mode, double gain);
dlt_init dlt_init_xavier(dlt_init_kind kind, double gain);
/* fan_in/fan_out of a weight shape as PyTorch computes them
 * (dim1 * receptive field, dim0 * receptive field). */
void dlt_init_fans(const dlt_shape *s, double *fan_in, double *fan_out);

/* A graph input fed each step (a batch, labels). `name` is not scoped. */
dlt_t dlt_input(dlt_graph *g, const char *name, dlt_dtype dtype, int ndim, const int64_t *dims);
/* A trainable f32 parameter named <scope>.<name>. Creating a name twice is an error;
 * use dlt_param_lookup, or reuse mode below, to share weights. */
dlt_t dlt_param(dlt_graph *g, const char *name, int ndim, const int64_t *dims, dlt_init init);
/* A non-trainable f32 buffer saved in checkpoints (batch-norm running statistics). */
dlt_t dlt_buffer(dlt_graph *g, const char *name, int ndim, const int64_t *dims, dlt_init init);
/* A constant; `data` (numel elements of dtype) is copied. */
dlt_t dlt_constant(dlt_graph *g, dlt_dtype dtype, int ndim, const int64_t *dims, const void *data);
dlt_t dlt_scalar(dlt_graph *g, float v); /* f32 constant of rank 0 */
/* The parameter or buffer with this full dotted name, or -1 with an error. */
dlt_t dlt_param_lookup(dlt_graph *g, const char *full_name);
/* Reuse mode (on != 0): dlt_param and dlt_buffer return the existing value of
 * that scoped name instead of creating one, and fail unless it exists with the
 * same kind and shape (the initializer is ignored). Calling a builder again in
 * reuse mode applies the same module to another input, as calling a torch
 * module twice: a GAN's discriminator on real images, fakes and interpolates.
 * Returns the previous mode. */
int dlt_graph_set_reuse(dlt_graph *g, int on);
/* Freeze mode (on != 0): dlt_param creates a buffer instead of a parameter,
 * with the same name, shape and initializer: a frozen layer (torch's
 * requires_grad_(False), e.g. Mask R-CNN's first backbone stages). It is
 * saved in checkpoints and loaded by name like any parameter, but has no
 * gradient, no optimizer state and is not counted as trainable; the
 * backward computes nothing for it. Returns the previous mode. */
int dlt_graph_set_frozen(dlt_graph *g, int on);
/* Recompute mode (on != 0, the default): dlt_grad gives backward nodes
 * recomputed copies of forward outputs whose op can rebuild them cheaply from
 * values the backward keeps anyway (dlt_op_def.recompute: batch norm + relu),
 * so those outputs are freed after their last forward use. The recomputed
 * values are bitwise the originals: results do not change, peak activation
 * memory drops (ResNet-50: one copy of every bottleneck's inner activations)
 * for one extra elementwise pass each. Returns the previous mode. */
int dlt_graph_set_recompute(dlt_graph *g, int on);

typedef enum {
    DLT_VAL_TEMP = 0, /* produced by a node */
    DLT_VAL_INPUT,
    DLT_VAL_PARAM,
    DLT_VAL_BUFFER,
    DLT_VAL_CONST
} dlt_value_kind;

/* The pointer stays valid for the graph's lifetime (values never move), so it
 * may be held while more nodes are added. */
const dlt_shape *dlt_shape_of(const dlt_graph *g, dlt_t v);
const char *dlt_name_of(const dlt_graph *g, dlt_t v);
dlt_value_kind dlt_kind_of(const dlt_graph *g, dlt_t v);
/* Set a value's display name (the node output name), e.g. "logits". Returns v. */
dlt_t dlt_set_name(dlt_graph *g, dlt_t v, const char *name);

/* Replace input `input` of node `node` (the id of the node producing a value,
 * see dlt_producer) with v of the same shape. Graph surgery such as tying or
 * recurrence unrolling; a rewiring that creates a cycle is reported by
 * dlt_plan_create and dlt_grad as DLT_ERR_CYCLE. */
dlt_status dlt_rewire(dlt_graph *g, int node, int input, dlt_t v);
/* Id of the node that produced v, -1 for leaves (inputs, parameters, constants). */
int dlt_producer_id(const dlt_graph *g, dlt_t v);

/* ---------------------------------------------------------------- flat parameters */
/* One parameter (or buffer) inside the flat buffers. */
typedef struct {
    const char *name;
    dlt_t value;
    size_t offset, numel;
    dlt_shape shape;
} dlt_param_info;

/* Fix the layout of the flat parameter/gradient buffers. `order` lists parameter
 * values in the desired layout order (the gradient reducer passes bucket order);
 * NULL means reverse creation order, which approximates the order backward
 * produces gradients. Allocates the buffers and runs the initializers (each
 * parameter from its own RNG stream keyed by its name, so values do not depend on
 * the layout). Called implicitly by the first dlt_plan_create. Building new
 * parameters after this is an error. */
dlt_status dlt_graph_finalize(dlt_graph *g, const dlt_t *order, int norder);
int dlt_graph_finalized(const dlt_graph *g);
int dlt_num_params(const dlt_graph *g);
const dlt_param_info *dlt_param_at(const dlt_graph *g, int i); /* in layout order */
int dlt_num_buffers(const dlt_graph *g);
const dlt_param_info *dlt_buffer_at(const dlt_graph *g, int i);
size_t dlt_params_numel(const dlt_graph *g); /* flat size incl. alignment padding */
size_t dlt_buffers_numel(const dlt_graph *g);
float *dlt_params_data(dlt_graph *g);  /* flat parameter buffer */
float *dlt_grads_data(dlt_graph *g);   /* flat gradient buffer, same layout */
float *dlt_buffers_data(dlt_graph *g); /* flat buffer of non-trainable buffers */
/* ---------------------------------------------------------------- devices */
/* Place the graph on a backend: a device (dlt_gpu_backend) keeps its
 * parameters, gradients and buffers in device memory, every plan's arena too,
 * and plans run its kernels. Call before dlt_graph_finalize; NULL = the CPU
 * backend, which every graph has until another is set (get_backend never
 * returns NULL). On a device the host pointers above (dlt_params_data & co.)
 * are host mirrors that dlt_graph_download/upload move explicitly (initial
 * values are uploaded by finalize); on the CPU (a backend with host memory)
 * they are the storage itself and both calls do nothing. */
dlt_status dlt_graph_set_backend(dlt_graph *g, dlt_backend *b);
dlt_backend *dlt_graph_get_backend(const dlt_graph *g);
enum { DLT_SYNC_PARAMS = 1, DLT_SYNC_GRADS = 2, DLT_SYNC_BUFFERS = 4, DLT_SYNC_ALL = 7 };
/* Device -> host mirrors; returns when the copies are done. */
dlt_status dlt_graph_download(dlt_graph *g, unsigned what);
/* Host mirrors -> device (queued on the device's stream; the host data may be
 * changed once this returns). */
dlt_status dlt_graph_upload(dlt_graph *g, unsigned what);
/* The flat buffers where kernels see them: device memory on a device graph,
 * the host buffers on the CPU. */
float *dlt_params_dev(dlt_graph *g);
float *dlt_grads_dev(dlt_graph *g);
float *dlt_buffers_dev(dlt_graph *g);

/* Pointer to a parameter's, buffer's or constant's (host) storage (after finalize). */
float *dlt_param_data(dlt_graph *g, dlt_t v);
float *dlt_param_grad(dlt_graph *g, dlt_t v);

/* ---------------------------------------------------------------- autodiff */
/* Append to the graph the nodes computing d loss / d wrt[i] into grads[i].
 * loss must be a scalar (rank 0, or numel 1) f32 value. A wrt value the loss does
 * not depend on gets a zeros constant. Gradients of gradients work wherever the
 * backward ops have gradient rules of their own. */
dlt_status dlt_grad(dlt_graph *g, dlt_t loss, int nwrt, const dlt_t *wrt, dlt_t *grads);
/* Gradients for every trainable parameter created so far; *params and *grads are
 * malloc'd arrays of length *n (caller frees). */
dlt_status dlt_grad_params(dlt_graph *g, dlt_t loss, int *n, dlt_t **params, dlt_t **grads);

/* ---------------------------------------------------------------- plans */
typedef struct dlt_plan dlt_plan;
typedef struct {
    /* (param, grad value) pairs: each grad is computed straight into the flat
     * gradient buffer at the parameter's offset. */
    int ngrads;
    const dlt_t *grad_params, *grad_values;
    /* Add the gradients into the gradient buffer instead of overwriting it
     * (gradient accumulation over micro-steps; the caller zeroes the buffer). */
    int accumulate;
    /* Plan the order and memory only (dlt_plan_memory, summaries, --dry-run):
     * nothing is allocated and the plan cannot run. */
    int measure_only;
    /* Debug: after a value's last use fill its arena region with NaN, so any
     * reader of freed memory produces NaN. */
    int poison;
} dlt_plan_opts;

dlt_status dlt_plan_create(dlt_graph *g, int nout, const dlt_t *outputs, const dlt_plan_opts *opts,
                           dlt_plan **out);
void dlt_plan_free(dlt_plan *p);

typedef struct {
    size_t params_bytes, grads_bytes, buffers_bytes;
    size_t arena_bytes;      /* peak of the activation arena */
    size_t activations_bytes; /* sum of all temporaries without reuse */
    size_t inputs_bytes;
    int nsteps;
} dlt_mem_report;
void dlt_plan_memory(const dlt_plan *p, dlt_mem_report *r);

/* Storage of any value the plan holds: inputs (write before running), outputs
 * (read after running), params, buffers, constants. NULL for values not kept.
 * Always host memory: on a device graph, inputs are page-locked staging that
 * dlt_plan_run uploads first (or dlt_plan_prefetch ahead of it), outputs are
 * host copies it downloads once written, and parameters/buffers are the
 * graph's host mirrors (see dlt_graph_download). */
void *dlt_plan_data(dlt_plan *p, dlt_t v);

typedef struct {
    int training;     /* batch norm uses batch statistics, dropout is active */
    int64_t step;     /* the training step, keying dropout masks */
    int profile;      /* accumulate per-node wall time */
    /* Mixed into the seed kernels see (dropout masks): data-parallel ranks pass
     * their rank so each draws its own masks; 0 keeps the graph seed. */
    uint64_t rng_stream;
    /* Called after each node of the plan (the gradient reducer starts bucket
     * reductions from here). */
    void (*after_node)(dlt_plan *p, int step_index, void *user);
    void *user;
    /* Device plans: return once everything is queued. The outputs are
     * downloaded right after the last step that writes one (the backward goes
     * on on the device); dlt_plan_wait_outputs waits for them, dlt_plan_wait
     * for the whole run and its error check. Ignored on the CPU (and on a
     * backend without events: the run is synchronous). */
    int async;
    /* Device plans: replay the run from a captured CUDA graph (one launch
     * instead of one per kernel). The first run of a plan runs as usual, the
     * second is captured, later ones launch the capture; a change of
     * `training` or `async` captures again (the step and seed reach kernels
     * through device memory, dlt_kctx.run_dev). Ignored where it cannot
     * hold: a backend without graphs (dlt_plan_graphable), profiling, an
     * after_node callback (it acts between steps). */
    int graph;
} dlt_exec_opts;
/* Run the plan. A run still pending on this plan (async) is waited for first
 * (dlt_plan_wait; its error, if any, is returned and nothing new is queued). */
dlt_status dlt_plan_run(dlt_plan *p, const dlt_exec_opts *opts);

/* Overlapping the next batch's upload with compute (device plans; on the CPU
 * all three return DLT_OK at once). The host staging of the inputs
 * (dlt_plan_data) is read by the device from a run's start until its outputs
 * are ready, and by a prefetch until dlt_plan_wait returns or the outputs of
 * the run that consumed it are ready: write the next batch only after those.
 * A trainer's step k:  run(k, async); wait_outputs; read outputs; write batch
 * k+1; prefetch (its upload overlaps the backward of k); wait; optimizer;
 * run(k+1) starts from the prefetched copy. */
/* Copy the current inputs in the host staging to a device staging area on
 * the backend's transfer stream (after the runs queued before have taken
 * their own batch from it); the next run takes its inputs from there instead
 * of the host. The device staging is allocated by the first call. */
dlt_status dlt_plan_prefetch(dlt_plan *p);
/* Block until the outputs of the last run are in host memory (dlt_plan_data). */
dlt_status dlt_plan_wait_outputs(dlt_plan *p);
/* Block until the last run (and a pending prefetch's copy) is done, then
 * report errors that kernels could only record (e.g. an index out of range).
 * A no-op when nothing is pending; dlt_plan_free waits too. */
dlt_status dlt_plan_wait(dlt_plan *p);

/* Whether dlt_exec_opts.graph can apply to p: a device plan on a backend
 * with graphs. Writes why not into why (may be NULL). */
int dlt_plan_graphable(const dlt_plan *p, char *why, size_t len);

/* Introspection for the reducer and profilers. */
int dlt_plan_num_steps(const dlt_plan *p);
const char *dlt_plan_step_name(const dlt_plan *p, int i); /* node name */
const char *dlt_plan_step_op(const dlt_plan *p, int i);   /* op name */
double dlt_plan_step_time(const dlt_plan *p, int i);      /* seconds, summed over runs */
/* Step index after which the gradient of parameter `param` is complete (-1 if the
 * plan does not compute it). */
int dlt_plan_grad_ready_step(const dlt_plan *p, dlt_t param);
/* Check that no two values with overlapping lifetimes share arena bytes. */
dlt_status dlt_plan_verify(const dlt_plan *p);

/* ---------------------------------------------------------------- summary */
/* Per scope: output shape, parameters and FLOPs (forward, per batch), then the
 * plan's memory report when `p` is given. */
void dlt_graph_summary(dlt_graph *g, const dlt_plan *p, FILE *out);
double dlt_graph_flops(const dlt_graph *g, int nout, const dlt_t *outputs);

/* ---------------------------------------------------------------- key/values */
/* A short ordered list of named settings (a model's resolved architecture):
 * builders describe themselves with it; checkpoints, exports and --dry-run
 * print it without knowing what the keys mean. */
#define DLT_KV_MAX 40
typedef enum { DLT_KV_INT = 0, DLT_KV_FLOAT, DLT_KV_STRING, DLT_KV_BOOL } dlt_kv_kind;
typedef struct {
    char key[32];
    dlt_kv_kind kind;
    int64_t i;    /* INT, BOOL (0/1) */
    double f;     /* FLOAT */
    char s[128];  /* STRING */
} dlt_kv;
typedef struct {
    int n;
    dlt_kv kv[DLT_KV_MAX];
} dlt_kvlist;
/* Appends (silently drops what does not fit: the lists are fixed by code). */
void dlt_kv_int(dlt_kvlist *l, const char *key, int64_t v);
void dlt_kv_bool(dlt_kvlist *l, const char *key, int v);
/* Stores the shortest decimal that reads back as the float v (1e-12f is
 * 1e-12, not 9.99999996e-13), so configs print as they were written. */
void dlt_kv_float(dlt_kvlist *l, const char *key, float v);
void dlt_kv_str(dlt_kvlist *l, const char *key, const char *v);
/* "16,32,64" from n ints. */
void dlt_kv_ints(dlt_kvlist *l, const char *key, const int *v, int n);
/* The value as text: integers, floats (%.9g of the stored double), true/false. */
void dlt_kv_format(const dlt_kv *kv, char *buf, size_t n);
const dlt_kv *dlt_kv_find(const dlt_kvlist *l, const char *key);

/* ---------------------------------------------------------------- threads */
/* Threads used by CPU kernels (OpenMP); 0 = all cores. OpenBLAS is kept on one
 * thread and GEMMs are split over the OpenMP threads (dlt_gemm), so the two
 * thread pools never oversubscribe the cores. */
void dlt_set_num_threads(int n);
int dlt_get_num_threads(void);

#ifdef __cplusplus
}
#endif
#endif
