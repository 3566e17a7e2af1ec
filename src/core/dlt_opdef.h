/* The op registry interface: what an op file in src/ops/ provides, and the
 * graph/kernel views it receives. Internal to libdltrain (not installed). */
#ifndef DLT_OPDEF_H
#define DLT_OPDEF_H

#include "dlt_core.h"
#include "dlt_op_list.h"

#ifdef __cplusplus
extern "C" {
#define DLT_ALIGNAS(n) alignas(n)
#else
#define DLT_ALIGNAS(n) _Alignas(n)
#endif

#define DLT_MAX_IN 8
#define DLT_MAX_OUT 4
#define DLT_ATTR_BYTES 192

/* A node as op code sees it. `attr` holds the op's own POD attribute struct. */
typedef struct dlt_node {
    const struct dlt_op_def *op;
    int id;
    int nin, nout;
    dlt_t in[DLT_MAX_IN];
    dlt_t out[DLT_MAX_OUT];
    DLT_ALIGNAS(16) unsigned char attr[DLT_ATTR_BYTES];
    const char *name; /* scope-qualified node name */
} dlt_node;

#define DLT_ATTR(node, type) ((type *)(void *)(node)->attr)
#define DLT_CATTR(node, type) ((const type *)(const void *)(node)->attr)

/* Everything a kernel gets. Pointers are to contiguous row-major storage: host
 * memory for CPU kernels, device memory for a backend's (GPU) kernels. */
typedef struct {
    const dlt_node *node;
    const dlt_shape *in_shape[DLT_MAX_IN];
    const void *in[DLT_MAX_IN];
    const dlt_shape *out_shape[DLT_MAX_OUT];
    void *out[DLT_MAX_OUT];
    void *work; /* workspace of the size the op's `workspace` rule asked for */
    size_t work_bytes;
    int training;
    int64_t step;
    uint64_t seed; /* graph seed */
    int nthreads;
    /* DLT_OP_STATEFUL ops: state[i] is the writable storage of input i when
     * that input is a buffer (batch norm: the running statistics), NULL for
     * other inputs and other ops. Resolved by the plan, in the memory of the
     * kernel's backend (host or device) like in[]; kernels never see the graph. */
    void *state[DLT_MAX_IN];
    void *dev;        /* the backend's context (GPU: struct dlt_gpu *), NULL on the CPU */
    /* Device plans: {seed, step} of the current run in device memory, written
     * before each run. Device kernels that draw random numbers read them
     * there (not seed/step above), so a run replayed from a captured CUDA
     * graph draws that run's numbers. NULL on the CPU. */
    const uint64_t *run_dev;
    /* The op's per-node state (dlt_op_def.prepare): made by the plan before
     * the first run, owned by the plan and released with it; read-only to the
     * kernel between runs of one plan. NULL for ops without prepare and for
     * device kernels. */
    void *op_state;
} dlt_kctx;

/* Op ids: indices of dlt_op_table and of every backend's kernel array. */
typedef enum {
#define DLT_OP_ENUM_(id, name, family, cuda) DLT_OP_##id,
    DLT_OP_LIST(DLT_OP_ENUM_)
#undef DLT_OP_ENUM_
    DLT_OP_COUNT
} dlt_op_id;

typedef struct dlt_op_def {
    dlt_op_id id; /* its line in dlt_op_list.h: dlt_op_table[id] == this def */
    const char *name;
    int nin_min, nin_max, nout;
    /* Fill out[0..nout-1] from the inputs' shapes and the attributes. Return a
     * status with a short reason; the graph adds the op, node and every shape. */
    dlt_status (*shape)(const dlt_node *n, const dlt_shape *in, dlt_shape *out);
    /* Append gradient nodes: dy[k] is the incoming gradient of output k (-1 when
     * none flows), dx[i] receives the gradient of input i (leave -1 for none).
     * `n` is a copy: the graph may grow while the rule runs. NULL: not
     * differentiable (an error if a gradient is requested through it). */
    dlt_status (*grad)(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx);
    dlt_status (*cpu)(const dlt_kctx *k);
    /* Scratch bytes the CPU kernel needs (NULL: none). */
    size_t (*workspace)(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
    /* Forward multiply-adds x2 (NULL: counted as 0). */
    double (*flops)(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out);
    /* Optional per-node state of the CPU kernel, made once at plan time
     * (algorithm choice, JIT primitives, their scratch): `prepare` runs when a
     * plan is created (after the workspace rule, with the thread count the
     * kernels will get) and stores its state, or NULL for none, in *state.
     * The plan owns the state: it hands it to every run as dlt_kctx.op_state
     * and calls `release(state)` for a non-NULL state when the plan is freed.
     * `prepare` sees the node and shapes, never the graph; on error it returns
     * a status with a short reason (the plan adds op and node) and owns
     * nothing. Device kernels get no state. Both NULL: none. */
    dlt_status (*prepare)(const dlt_node *n, const dlt_shape *const *in, const dlt_shape *const *out,
                          int nthreads, void **state);
    void (*release)(void *state);
    /* Optional: append nodes that recompute output 0 from input 0, the node's
     * other outputs and parameters, and return the recomputed value, or -1
     * with the graph's status unchanged where that is not worth it. In
     * recompute mode (dlt_graph_set_recompute, the default) dlt_grad asks for
     * it where the backward reads both output 0 and input 0, and gives the
     * recomputed value to the backward nodes that read output 0, so output 0
     * need not stay in memory from the forward to the backward (batch norm +
     * relu: rebuilt from x and the statistics just before the next
     * convolution's weight gradient needs it). The value must be bitwise
     * output 0's. NULL: output 0 is kept. */
    dlt_t (*recompute)(dlt_graph *g, const dlt_node *n);
    unsigned flags;
} dlt_op_def;

enum {
    DLT_OP_INPLACE = 1u << 0, /* output 0 may reuse input 0's storage */
    DLT_OP_VIEW = 1u << 1,    /* output 0 aliases input 0's storage (no kernel) */
    DLT_OP_STATEFUL = 1u << 2, /* writes buffers (batch norm running stats) */
    /* outputs after the first are optional: a plan in which nothing reads one
     * gives it no storage, and the kernel gets NULL for it and skips it */
    DLT_OP_OPT_OUTPUTS = 1u << 3,
    /* with INPLACE: output 0 may reuse any input's storage of its size, tried
     * in input order (elementwise binary ops: each output element reads its
     * own index of a full-size input before writing it) */
    DLT_OP_INPLACE_ANY = 1u << 4
};

/* Every op's definition (dlt_op_def_<name>, in its family's file), and the
 * table of all of them indexed by id (src/ops/op_table.c). */
#define DLT_OP_EXTERN_(id, name, family, cuda) extern const dlt_op_def dlt_op_def_##name;
DLT_OP_LIST(DLT_OP_EXTERN_)
#undef DLT_OP_EXTERN_
extern const dlt_op_def *const dlt_op_table[DLT_OP_COUNT];
/* The family of op `id`: the stem of its file in src/ops ("" when out of range). */
const char *dlt_op_family(int id);
/* The stem of the file of op `id`'s CUDA kernel, src/gpu/k_<stem>.cu ("" when
 * out of range). */
const char *dlt_op_cuda_file(int id);

/* Add a node: checks arity and input validity, runs the shape rule (formatting
 * errors with op, node name and shapes), creates the outputs. Returns the first
 * output value, or -1 (sticky error). `attr` (attr_size bytes) is copied. */
dlt_t dlt_node_add(dlt_graph *g, const dlt_op_def *op, int nin, const dlt_t *in, const void *attr,
                   size_t attr_size);
/* The k-th output of the node that produced v. */
dlt_t dlt_node_output(dlt_graph *g, dlt_t v, int k);
/* The node that produced v (NULL for leaves). Valid until the graph grows. */
const dlt_node *dlt_producer(const dlt_graph *g, dlt_t v);

/* Counter-based RNG shared by CPU and GPU kernels: a pure function of
 * (seed, stream, counter), so masks are reproducible and order-independent. */
static inline DLT_HD uint64_t dlt_rng_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* dlt_rng_u64 in two parts, so that array kernels hoist the per-(seed, stream)
 * key out of their loops: dlt_rng_u64 = dlt_rng_keyed(dlt_rng_key(seed, stream), counter). */
static inline DLT_HD uint64_t dlt_rng_key(uint64_t seed, uint64_t stream)
{
    return dlt_rng_mix(seed ^ dlt_rng_mix(stream + 0x9e3779b97f4a7c15ull));
}
static inline DLT_HD uint64_t dlt_rng_keyed(uint64_t key, uint64_t counter)
{
    return dlt_rng_mix(key + counter * 0x9e3779b97f4a7c15ull);
}
static inline DLT_HD uint64_t dlt_rng_u64(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return dlt_rng_keyed(dlt_rng_key(seed, stream), counter);
}
/* Uniform in [0, 1) with 24 random bits (exact in f32). */
static inline DLT_HD float dlt_rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter)
{
    return (float)(dlt_rng_u64(seed, stream, counter) >> 40) * (1.0f / 16777216.0f);
}
uint64_t dlt_hash_str(const char *s); /* FNV-1a 64 */

/* Row-major C = alpha op(A) op(B) + beta C for CPU kernels. The GEMM library
 * (oneDNN's sgemm when built with it, else OpenBLAS: gemm.c) always runs on
 * one thread (dlt_set_num_threads): this splits the output over up to
 * `nthreads` OpenMP threads, or runs on the calling thread when called
 * inside a parallel region. Use it instead of cblas_sgemm. */
void dlt_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc, int nthreads);
/* Which library dlt_gemm runs and why, for --version (DLT_GEMM=openblas|dnnl|auto). */
void dlt_gemm_provider_info(char *buf, size_t len);
/* NULL, or one sentence when dlt_gemm runs OpenBLAS on a core below the CPU
 * (no AVX2 kernels on an AVX2+FMA CPU): the trainer warns with it at start-up. */
const char *dlt_gemm_warning(void);

#ifdef __cplusplus
}
#endif
#endif
