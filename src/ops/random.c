/* Random tensors drawn inside the graph: random_normal and random_uniform
 * (a GAN's latent noise, a VAE's reparameterisation noise, WGAN-GP's
 * interpolation weights), so nothing is uploaded from the host. They have
 * no inputs; the shape, the distribution's parameters and a per-node stream
 * id are attributes. Element i is a pure function of (graph seed, node id,
 * step, i) through the counter-based RNG of dlt_opdef.h, like dropout's
 * mask: every run with another step draws new numbers, a run with the same
 * seed, step and rank (data-parallel ranks mix their rank into the seed)
 * draws the same ones, so a resumed run continues exactly, and the CUDA
 * kernels (src/gpu/k_random.cu) compute the same bits from the same DLT_HD
 * helpers (random_impl.h). Unlike dropout they draw in training and in
 * evaluation runs alike. Their outputs are leaves for differentiation: the
 * gradient rule has no input to give a gradient to. */
#include <float.h>
#include <math.h>

#include "dlt_ops.h"
#include "random_impl.h"

static dlt_status random_shape(const dlt_node *n, const dlt_shape *in, dlt_shape *out)
{
    (void)in;
    const random_attr *a = DLT_CATTR(n, random_attr);
    out[0] = dlt_shape_make(DLT_F32, a->ndim, a->dim);
    return DLT_OK;
}

/* No inputs, so no input gradients: the output is a constant of the step. */
static dlt_status random_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    (void)g, (void)n, (void)dy, (void)dx;
    return DLT_OK;
}

/* Element by element from its own counter: the thread count changes no bit. */
static dlt_status random_normal_cpu(const dlt_kctx *k)
{
    const random_attr *a = DLT_CATTR(k->node, random_attr);
    float *y = k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    uint64_t seed = dlt_random_seed(a, k->seed), stream = dlt_random_stream(a->id, k->step);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 4096)
    for (int64_t i = 0; i < n; i++)
        y[i] = dlt_random_normal_at(a, seed, stream, a->base + (uint64_t)i);
    return DLT_OK;
}

static dlt_status random_uniform_cpu(const dlt_kctx *k)
{
    const random_attr *a = DLT_CATTR(k->node, random_attr);
    float *y = k->out[0];
    int64_t n = dlt_shape_numel(k->out_shape[0]);
    uint64_t seed = dlt_random_seed(a, k->seed), stream = dlt_random_stream(a->id, k->step);
#pragma omp parallel for schedule(static) num_threads(k->nthreads) if (n > 8192)
    for (int64_t i = 0; i < n; i++)
        y[i] = dlt_random_uniform_at(a, seed, stream, a->base + (uint64_t)i);
    return DLT_OK;
}

static double random_flops(const dlt_node *n, const dlt_shape *const *in,
                           const dlt_shape *const *out)
{
    (void)n, (void)in;
    return (double)dlt_shape_numel(out[0]);
}

const dlt_op_def dlt_op_def_random_normal = {
    .id = DLT_OP_RANDOM_NORMAL,
    .name = "random_normal",
    .nin_min = 0,
    .nin_max = 0,
    .nout = 1,
    .shape = random_shape,
    .grad = random_grad,
    .cpu = random_normal_cpu,
    .flops = random_flops,
};

const dlt_op_def dlt_op_def_random_uniform = {
    .id = DLT_OP_RANDOM_UNIFORM,
    .name = "random_uniform",
    .nin_min = 0,
    .nin_max = 0,
    .nout = 1,
    .shape = random_shape,
    .grad = random_grad,
    .cpu = random_uniform_cpu,
    .flops = random_flops,
};

/* The attributes both builders share: the shape, checked as dlt_input checks
 * it, and this node's stream id (unique in the graph: the node's index + 1). */
static int random_attr_init(dlt_graph *g, const char *op, int ndim, const int64_t *dims,
                            random_attr *a)
{
    if (dlt_graph_status(g) != DLT_OK)
        return 0;
    if (ndim < 0 || ndim > DLT_MAX_DIMS) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: rank %d is outside 0..%d", op, ndim, DLT_MAX_DIMS);
        return 0;
    }
    if (ndim > 0 && !dims) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: rank %d but no dims given", op, ndim);
        return 0;
    }
    *a = (random_attr){.ndim = ndim, .id = (uint64_t)dlt_graph_num_nodes(g) + 1};
    for (int i = 0; i < ndim; i++) {
        if (dims[i] <= 0) {
            dlt_graph_fail(g, DLT_ERR_INVALID, "%s: dimension %d is %lld (must be > 0)", op, i,
                           (long long)dims[i]);
            return 0;
        }
        a->dim[i] = dims[i];
    }
    return 1;
}

/* The global keying of the _samples builders (first_sample >= 0): the
 * graph's seed, and the counters of samples [first, first + dims[0]) of the
 * global batch. */
static int globalize(dlt_graph *g, const char *op, random_attr *a, int64_t first_sample)
{
    if (first_sample < 0)
        return 1;
    int64_t per = 1;
    for (int i = 1; i < a->ndim; i++)
        per *= a->dim[i];
    if (a->ndim < 1) {
        dlt_graph_fail(g, DLT_ERR_INVALID,
                       "%s: a per-sample draw needs a batch dimension (rank >= 1)", op);
        return 0;
    }
    a->global = 1;
    a->gseed = dlt_graph_seed(g);
    a->base = (uint64_t)first_sample * (uint64_t)per;
    return 1;
}

static dlt_t random_normal(dlt_graph *g, int ndim, const int64_t *dims, float mean, float std,
                           int64_t first)
{
    random_attr a;
    if (!random_attr_init(g, "random_normal", ndim, dims, &a) ||
        !globalize(g, "random_normal", &a, first))
        return -1;
    /* |z| < 6.67, so mean + std z stays finite when this bound does */
    if (!isfinite(mean) || !(std >= 0.f) || !(fabs((double)mean) + 7.0 * (double)std <= FLT_MAX))
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "random_normal: mean %g and std %g must be finite, std >= 0 and "
                              "|mean| + 7 std within the f32 range",
                              (double)mean, (double)std);
    a.p0 = mean, a.p1 = std;
    return dlt_node_add(g, &dlt_op_def_random_normal, 0, NULL, &a, sizeof a);
}

static dlt_t random_uniform(dlt_graph *g, int ndim, const int64_t *dims, float lo, float hi,
                            int64_t first)
{
    random_attr a;
    if (!random_attr_init(g, "random_uniform", ndim, dims, &a) ||
        !globalize(g, "random_uniform", &a, first))
        return -1;
    float width = hi - lo;
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(width))
        return dlt_graph_fail(
            g, DLT_ERR_INVALID,
            "random_uniform: [lo, hi) = [%g, %g) must be finite and non-empty, with "
            "hi - lo within the f32 range",
            (double)lo, (double)hi);
    a.p0 = lo, a.p1 = hi, a.width = width;
    a.hi_below = nextafterf(hi, -INFINITY); /* >= lo, as lo < hi */
    return dlt_node_add(g, &dlt_op_def_random_uniform, 0, NULL, &a, sizeof a);
}

dlt_t dlt_random_normal(dlt_graph *g, int ndim, const int64_t *dims, float mean, float std)
{
    return random_normal(g, ndim, dims, mean, std, -1);
}

dlt_t dlt_random_uniform(dlt_graph *g, int ndim, const int64_t *dims, float lo, float hi)
{
    return random_uniform(g, ndim, dims, lo, hi, -1);
}

dlt_t dlt_random_normal_samples(dlt_graph *g, int ndim, const int64_t *dims, float mean, float std,
                                int64_t first_sample)
{
    if (first_sample < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "random_normal: first sample %lld is negative",
                              (long long)first_sample);
    return random_normal(g, ndim, dims, mean, std, first_sample);
}

dlt_t dlt_random_uniform_samples(dlt_graph *g, int ndim, const int64_t *dims, float lo, float hi,
                                 int64_t first_sample)
{
    if (first_sample < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "random_uniform: first sample %lld is negative",
                              (long long)first_sample);
    return random_uniform(g, ndim, dims, lo, hi, first_sample);
}
