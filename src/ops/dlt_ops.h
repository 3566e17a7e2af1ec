/* Op builders: each adds a node to a graph and returns its output value (-1 on
 * error, sticky; see dlt_core.h). One file per op family in src/ops/. */
#ifndef DLT_OPS_H
#define DLT_OPS_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise binary with NumPy broadcasting (binary.c) */
dlt_t dlt_add(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_sub(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_mul(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_div(dlt_graph *g, dlt_t a, dlt_t b);
/* a * s + t for scalars s, t (no broadcasting input needed) */
dlt_t dlt_affine(dlt_graph *g, dlt_t a, float s, float t);

/* ---- reductions (reduce.c). axes: list of axes (negative counts from the end);
 * naxes = 0 reduces all. keepdim keeps reduced axes as size 1. */
dlt_t dlt_sum(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
dlt_t dlt_mean(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
/* Sum x down to `shape` (the inverse of broadcasting; used by gradient rules). */
dlt_t dlt_sum_to(dlt_graph *g, dlt_t x, const dlt_shape *shape);
/* Broadcast x to `shape` (NumPy rules). */
dlt_t dlt_broadcast_to(dlt_graph *g, dlt_t x, const dlt_shape *shape);

/* ---- linear algebra (matmul.c). a: [..., M, K] (or [..., K, M] with ta),
 * b: [..., K, N] (or [..., N, K] with tb); batch dims broadcast. */
dlt_t dlt_matmul(dlt_graph *g, dlt_t a, dlt_t b, int ta, int tb);
/* x [..., in] times weight [out, in] transposed plus bias [out] (bias may be -1). */
dlt_t dlt_linear(dlt_graph *g, dlt_t x, dlt_t weight, dlt_t bias);

/* ---- activations (activation.c) */
dlt_t dlt_relu(dlt_graph *g, dlt_t x);

/* ---- shape (shape.c) */
dlt_t dlt_reshape(dlt_graph *g, dlt_t x, int ndim, const int64_t *dims); /* one dim may be -1 */
dlt_t dlt_stop_gradient(dlt_graph *g, dlt_t x);

/* ==== unary math, activations, softmax, more reductions (unary family) ==== */
/* (unary family: add declarations here) */
/* Elementwise math (unary.c), f32. Derivatives of every order are available
 * (those of gelu, sigmoid, tanh and softplus up to order 3). Conventions follow
 * PyTorch: d|x|/dx = 0 at 0; clamp passes the gradient where min <= x <= max
 * (use -INFINITY / INFINITY for one-sided clamps; min > max gives max); pow's
 * derivative is 0 for exponent 0. */
dlt_t dlt_exp(dlt_graph *g, dlt_t x);
dlt_t dlt_ln(dlt_graph *g, dlt_t x); /* natural log (dlt_log is the logger) */
dlt_t dlt_sqrt(dlt_graph *g, dlt_t x);
dlt_t dlt_rsqrt(dlt_graph *g, dlt_t x); /* 1 / sqrt(x) */
dlt_t dlt_pow(dlt_graph *g, dlt_t x, float p);
/* a ** b with broadcasting; d/db = y log(a) is NaN at a == 0 (torch gives 0 there) */
dlt_t dlt_pow_tensor(dlt_graph *g, dlt_t a, dlt_t b);
dlt_t dlt_abs(dlt_graph *g, dlt_t x);
dlt_t dlt_clamp(dlt_graph *g, dlt_t x, float min, float max);
dlt_t dlt_neg(dlt_graph *g, dlt_t x);
dlt_t dlt_square(dlt_graph *g, dlt_t x);

/* Activations (activation.c). */
dlt_t dlt_leaky_relu(dlt_graph *g, dlt_t x, float negative_slope); /* slope used at x <= 0 */
dlt_t dlt_elu(dlt_graph *g, dlt_t x, float alpha);
dlt_t dlt_selu(dlt_graph *g, dlt_t x);
typedef enum { DLT_GELU_EXACT = 0, DLT_GELU_TANH } dlt_gelu_approx; /* torch approximate='none'|'tanh' */
dlt_t dlt_gelu(dlt_graph *g, dlt_t x, dlt_gelu_approx approx);
dlt_t dlt_sigmoid(dlt_graph *g, dlt_t x);
dlt_t dlt_tanh(dlt_graph *g, dlt_t x);
/* log(1 + exp(beta x)) / beta, and x where beta x > threshold (torch: 1, 20) */
dlt_t dlt_softplus(dlt_graph *g, dlt_t x, float beta, float threshold);
/* x > 0 ? x : weight[c] x with c the index on axis 1 (rank < 2: one channel);
 * weight is [1] or [C] (a parameter, e.g. initialised to 0.25 as torch). */
dlt_t dlt_prelu(dlt_graph *g, dlt_t x, dlt_t weight);

/* Softmax and log-softmax over one axis (softmax.c), numerically stable. */
dlt_t dlt_softmax(dlt_graph *g, dlt_t x, int axis);
dlt_t dlt_log_softmax(dlt_graph *g, dlt_t x, int axis);

/* More reductions (reduce_ext.c); axes as for dlt_sum (naxes = 0: all).
 * max/min: the gradient flows to one element per reduced group, the first in
 * row-major order among ties (a NaN counts as the maximum; the first NaN wins).
 * var: sum((x - mean)^2) / (N - correction), as torch.var(correction=...)
 * (correction 1 = unbiased); N - correction <= 0 gives inf or NaN, as torch. */
dlt_t dlt_max(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
dlt_t dlt_min(dlt_graph *g, dlt_t x, int naxes, const int *axes, int keepdim);
dlt_t dlt_var(dlt_graph *g, dlt_t x, int naxes, const int *axes, int correction, int keepdim);

/* ==== convolution, pooling, upsampling (conv family) ==== */
/* (conv family: add declarations here) */
/* Hyper-parameters as (height, width) pairs; a zeroed struct (or NULL) is
 * stride 1, no padding, dilation 1, one group. */
typedef struct {
    int stride[2];         /* 0 means 1 */
    int padding[2];        /* zeros added on each side */
    int dilation[2];       /* 0 means 1 */
    int groups;            /* 0 means 1; in_channels for depthwise */
    int output_padding[2]; /* conv_transpose2d only: extra rows/columns at the end */
} dlt_conv2d_opts;
/* x [N, C, H, W], weight [OC, C / groups, KH, KW], bias [OC] or -1 -> [N, OC, OH, OW]
 * with OH = (H + 2 pad - dilation (KH - 1) - 1) / stride + 1 (conv.c). */
dlt_t dlt_conv2d(dlt_graph *g, dlt_t x, dlt_t w, dlt_t b, const dlt_conv2d_opts *o);
/* PyTorch ConvTranspose2d: x [N, C, H, W], weight [C, OC / groups, KH, KW], bias [OC]
 * or -1 -> [N, OC, (H - 1) stride - 2 pad + dilation (KH - 1) + output_padding + 1, ...]. */
dlt_t dlt_conv_transpose2d(dlt_graph *g, dlt_t x, dlt_t w, dlt_t b, const dlt_conv2d_opts *o);
/* The two halves of conv2d's backward (what dlt_grad uses): the gradient of the
 * conv2d input (of size h x wd) from dy and w, and of the KH x KW weight from x and dy. */
dlt_t dlt_conv2d_input_grad(dlt_graph *g, dlt_t dy, dlt_t w, int64_t h, int64_t wd,
                            const dlt_conv2d_opts *o);
dlt_t dlt_conv2d_weight_grad(dlt_graph *g, dlt_t x, dlt_t dy, int kh, int kw, const dlt_conv2d_opts *o);
/* The CPU convolution providers (conv_provider.c): 1 when the library was
 * built with oneDNN (configure found libdnnl-dev), and a line saying which
 * provider runs convolutions (for --version). Plans pick one per node when
 * they are made; DLT_CONV=im2col|dnnl|direct|auto (unset: auto) forces one. */
int dlt_conv_dnnl_built(void);
/* oneDNN convolution primitives alive in this process (plans own them; 0
 * once every plan is freed). */
int dlt_conv_dnnl_live(void);
/* Images whose weight gradient ran split over threads, one-thread primitives per slice (conv_dnnl.c). */
long long dlt_conv_dnnl_split_images(void);
/* Images run by the direct data-gradient kernel in this process (the data
 * gradient of images with <= 4 channels, unless DLT_CONV forces a provider). */
long long dlt_conv_direct_images(void);
void dlt_conv_provider_info(char *buf, size_t len);

/* Pooling windows (pool.c); zeroed fields take the defaults noted. */
typedef struct {
    int kernel[2];   /* required */
    int stride[2];   /* 0 means the kernel size */
    int padding[2];  /* at most half the kernel */
    int dilation[2]; /* 0 means 1 (max pooling only) */
    int exclude_pad; /* average pooling: 1 divides by the in-image count
                        (count_include_pad=False); 0 is PyTorch's default */
} dlt_pool2d_opts;
/* x [N, C, H, W] -> [N, C, OH, OW], floor mode; the gradient goes to the first
 * maximum of each window. */
dlt_t dlt_maxpool2d(dlt_graph *g, dlt_t x, const dlt_pool2d_opts *o);
dlt_t dlt_avgpool2d(dlt_graph *g, dlt_t x, const dlt_pool2d_opts *o);
/* x [N, C, H, W] -> [N, C] (mean over H, W). */
dlt_t dlt_global_avgpool2d(dlt_graph *g, dlt_t x);
/* Upsampling by integer factors (upsample.c): x [N, C, H, W] -> [N, C, H sh, W sw].
 * Bilinear uses align_corners=False (PyTorch's default). */
dlt_t dlt_upsample_nearest2d(dlt_graph *g, dlt_t x, int sh, int sw);
dlt_t dlt_upsample_bilinear2d(dlt_graph *g, dlt_t x, int sh, int sw);

/* ==== normalisation, dropout, losses, metrics (norm family) ==== */
/* (norm family: add declarations here) */
/* Batch norm over x [N, C, ...] (or [N, C]): statistics per channel. In training
 * (dlt_exec_opts.training) it normalises with the batch mean and biased
 * variance and, when running_mean/running_var (dlt_buffer values [C]) are
 * given, updates them in place: r = (1 - momentum) r + momentum * batch stat
 * (unbiased variance; torch: momentum 0.1, eps 1e-5). In eval mode it uses the
 * running statistics (or batch statistics when none are given). gamma/beta:
 * [C] or both -1. Second-order gradients are supported. */
dlt_t dlt_batch_norm(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, dlt_t running_mean, dlt_t running_var,
                     float momentum, float eps);
/* Activation of a fused epilogue. */
typedef enum { DLT_ACT_NONE = 0, DLT_ACT_RELU = 1 } dlt_act;
/* Batch norm with a fused epilogue, y = act(batch_norm(x) + residual), in one
 * node and one pass over memory (residual: x's shape, or -1 for none); its
 * gradient is one norm_backward node that also masks dy by y > 0 and gives
 * the residual's gradient. Equal to the composition dlt_batch_norm, dlt_add,
 * dlt_relu to float rounding (the sum is rounded once, as there). */
dlt_t dlt_batch_norm_act(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, dlt_t running_mean, dlt_t running_var,
                         float momentum, float eps, dlt_t residual, dlt_act act);
/* Layer norm over the last nnorm dims, which must equal normalized_shape;
 * gamma/beta: normalized_shape (or both -1). */
dlt_t dlt_layer_norm(dlt_graph *g, dlt_t x, int nnorm, const int64_t *normalized_shape, dlt_t gamma,
                     dlt_t beta, float eps);
/* Group norm of x [N, C, ...] with C divisible by num_groups; gamma/beta [C] or -1. */
dlt_t dlt_group_norm(dlt_graph *g, dlt_t x, int num_groups, dlt_t gamma, dlt_t beta, float eps);
/* Instance norm of x [N, C, spatial...] (group norm with C groups, no running statistics). */
dlt_t dlt_instance_norm(dlt_graph *g, dlt_t x, dlt_t gamma, dlt_t beta, float eps);
/* Inverted dropout with probability p in [0, 1), active in training mode only.
 * The mask is a pure function of (graph seed, node, step, element). */
dlt_t dlt_dropout(dlt_graph *g, dlt_t x, float p);
/* Random f32 tensors of shape dims (random.c), drawn on the graph's backend
 * at every run, in training and evaluation runs alike (noise is not
 * dropout): element i is a pure function of (graph seed, node, step, i), so
 * each step draws new numbers, the same seed, step and rank draw the same
 * ones (a resumed run), and CPU and CUDA give the same bits. No inputs and
 * no gradient (a leaf for dlt_grad). Normal: Box-Muller, mean + std z with
 * |z| < 6.67 (never inf or NaN; std >= 0). Uniform: on [lo, hi), never hi.
 * For a per-sample value (WGAN-GP's interpolation weight epsilon) pass dims
 * [N, 1, 1, 1] and let the binary ops broadcast it over [N, C, H, W]. */
dlt_t dlt_random_normal(dlt_graph *g, int ndim, const int64_t *dims, float mean, float std);
dlt_t dlt_random_uniform(dlt_graph *g, int ndim, const int64_t *dims, float lo, float hi);
/* The same draws keyed by GLOBAL sample index, for data parallelism: dims[0]
 * is this rank's batch and first_sample the global index of its first
 * sample (rank x local batch); element i draws counter first_sample x
 * (elements per sample) + i from the graph seed alone (the run's rank
 * stream is not mixed in). So R ranks x batch b draw together exactly what
 * 1 rank x R b draws for the same step (a GAN's noise, WGAN-GP's epsilon). */
dlt_t dlt_random_normal_samples(dlt_graph *g, int ndim, const int64_t *dims, float mean, float std,
                                int64_t first_sample);
dlt_t dlt_random_uniform_samples(dlt_graph *g, int ndim, const int64_t *dims, float lo, float hi,
                                 int64_t first_sample);

typedef enum {
    DLT_REDUCE_MEAN = 0,
    DLT_REDUCE_SUM,
    DLT_REDUCE_NONE,
    DLT_REDUCE_BATCHMEAN /* sum / x.dim[0] (kl_div) */
} dlt_reduction;
/* Softmax cross-entropy, torch semantics: logits [N, C, d...] f32, labels [N, d...]
 * i32; labels equal to ignore_index contribute nothing and mean divides by the
 * number of the others; label_smoothing in [0, 1]. Scalar unless reduction NONE. */
dlt_t dlt_cross_entropy(dlt_graph *g, dlt_t logits, dlt_t labels, int ignore_index, float label_smoothing,
                        dlt_reduction reduction);
/* x and target of the same shape; pos_weight (or -1) broadcasts to x's shape. */
dlt_t dlt_bce_with_logits(dlt_graph *g, dlt_t x, dlt_t target, dlt_t pos_weight, dlt_reduction reduction);
dlt_t dlt_mse_loss(dlt_graph *g, dlt_t x, dlt_t target, dlt_reduction reduction);
dlt_t dlt_l1_loss(dlt_graph *g, dlt_t x, dlt_t target, dlt_reduction reduction);
dlt_t dlt_smooth_l1_loss(dlt_graph *g, dlt_t x, dlt_t target, float beta, dlt_reduction reduction);
dlt_t dlt_huber_loss(dlt_graph *g, dlt_t x, dlt_t target, float delta, dlt_reduction reduction);
/* torch.nn.functional.kl_div(log_input, target) with log_target false
 * (torch's recommended reduction is DLT_REDUCE_BATCHMEAN). */
dlt_t dlt_kl_div(dlt_graph *g, dlt_t log_input, dlt_t target, dlt_reduction reduction);
/* Metrics (no gradient), rank-0 f32: number / fraction of positions whose label
 * is among the k largest logits (ties favour the label). */
dlt_t dlt_topk_correct(dlt_graph *g, dlt_t logits, dlt_t labels, int k);
dlt_t dlt_topk_accuracy(dlt_graph *g, dlt_t logits, dlt_t labels, int k);
dlt_t dlt_accuracy(dlt_graph *g, dlt_t logits, dlt_t labels); /* top-1 fraction */

/* ==== shape ops: permute, transpose, concat, split, slice, pad, gather (shape family) ==== */
/* (shape family: add declarations here) */
/* squeeze/unsqueeze/flatten are reshape views (shape.c). squeeze: naxes = 0
 * drops every size-1 axis; flatten joins axes start..end (inclusive, may be
 * negative) like torch.flatten. */
dlt_t dlt_squeeze(dlt_graph *g, dlt_t x, int naxes, const int *axes);
dlt_t dlt_unsqueeze(dlt_graph *g, dlt_t x, int axis);
dlt_t dlt_flatten(dlt_graph *g, dlt_t x, int start, int end);
/* y.dim[i] = x.dim[axes[i]] (axes: a permutation of 0..ndim-1, negatives allowed). */
dlt_t dlt_permute(dlt_graph *g, dlt_t x, int naxes, const int *axes);
dlt_t dlt_transpose(dlt_graph *g, dlt_t x, int axis0, int axis1);
/* Join n tensors along axis (all other dims and the dtype equal); any n >= 1
 * (chained above DLT_MAX_IN inputs). */
dlt_t dlt_concat(dlt_graph *g, int n, const dlt_t *xs, int axis);
/* Split x along axis into nparts pieces of sizes[] (NULL: equal pieces) written
 * to out[0..nparts-1]; returns out[0] (-1 and out[] = -1 on error). */
dlt_t dlt_split(dlt_graph *g, dlt_t x, int axis, int nparts, const int64_t *sizes, dlt_t *out);
/* x[start:stop:step] on every axis (arrays of x's rank; NULL: 0, end, 1).
 * Negative start/stop count from the end; DLT_SLICE_END stops at the end;
 * step >= 1; empty or out-of-range slices are errors. */
#define DLT_SLICE_END INT64_MAX
dlt_t dlt_slice(dlt_graph *g, dlt_t x, const int64_t *start, const int64_t *stop, const int64_t *step);
dlt_t dlt_slice_axis(dlt_graph *g, dlt_t x, int axis, int64_t start, int64_t stop, int64_t step);
/* Pad every axis by before[i]/after[i] (>= 0; NULL: none) elements: with
 * `value`, or mirrored without repeating the edge (pads smaller than the size;
 * f32 only), as torch's "constant" and "reflect" modes. */
typedef enum { DLT_PAD_CONSTANT = 0, DLT_PAD_REFLECT } dlt_pad_mode;
dlt_t dlt_pad(dlt_graph *g, dlt_t x, const int64_t *before, const int64_t *after, dlt_pad_mode mode,
              float value);
/* numpy.take / torch.index_select generalised to any index shape: y = x with
 * `axis` replaced by idx's dims, y[..., j..., ...] = x[..., idx[j...], ...].
 * idx is i32 in [0, x.dim[axis]) (checked when the step runs). The gradient
 * is a deterministic scatter-add. */
dlt_t dlt_index_select(dlt_graph *g, dlt_t x, int axis, dlt_t idx);
/* Rows of table [V, D] for ids (i32, any shape): [ids..., D]. */
dlt_t dlt_embedding(dlt_graph *g, dlt_t table, dlt_t ids);
/* torch.gather: idx (i32) has x's shape except along axis, y has idx's shape,
 * y[..., j, ...] = x[..., idx[..., j, ...], ...]. */
dlt_t dlt_gather(dlt_graph *g, dlt_t x, int axis, dlt_t idx);

/* ==== scaled dot-product attention (attention family) ==== */
/* (attention family: add declarations here) */
/* Layouts of q, k, v and the output: [B, H, T, D] (torch's), or [B, T, H, D]
 * (what a linear layer followed by a reshape gives; no permutes needed), or
 * packed: q, k and v are one tensor [B, T, 3H, D], q's H heads then k's then
 * v's (GPT-2's c_attn output reshaped; pass it as q, and k = v = -1), the
 * output [B, T, H, D]; its gradient is one packed tensor too, so no split
 * before and no concat after. */
typedef enum { DLT_ATTN_BHTD = 0, DLT_ATTN_BTHD = 1, DLT_ATTN_PACKED = 2 } dlt_attn_layout;
typedef struct {
    float scale;    /* 0: 1 / sqrt(D) */
    int causal;     /* query i sees keys j <= i (top-left aligned, as torch's tril) */
    float dropout;  /* on the probabilities, in training mode only */
    dlt_attn_layout layout;
} dlt_attention_opts;
/* softmax(scale q k^T + mask) v, with q [B, H, Tq, D], k [B, H, Tk, D],
 * v [B, H, Tk, Dv] -> [B, H, Tq, Dv] (or the [B, T, H, D] layout). `mask`
 * (-1 for none) pads keys per batch: i32 [B] lengths (keys j >= len[b] are
 * masked; len in [0, Tk], checked when the step runs), i32 [B, Tk] keep flags
 * (0 = masked, as Hugging Face's attention_mask) or f32 [B, Tk] added to the
 * scaled scores. A query that sees no key gives zeros (lse -inf). o: NULL =
 * defaults. *lse (may be NULL) receives the second output, the log-sum-exp of
 * every score row [B, H, Tq]; it is differentiable too. The CPU kernel holds
 * at most 64 x Tk scores per thread and the backward recomputes them from q,
 * k and lse. The backward op (attention_grad) has no gradient rule: second
 * order through attention is not supported (dlt_grad reports it). The mask
 * gets no gradient. */
dlt_t dlt_attention(dlt_graph *g, dlt_t q, dlt_t k, dlt_t v, dlt_t mask, const dlt_attention_opts *o,
                    dlt_t *lse);

/* ==== recurrent cells, categorical sampling (rnn family) ==== */
/* The pointwise part of one torch.nn.LSTM step, fused (rnn.c): gates [N, 4H]
 * = x W_ih^T + b_ih + h W_hh^T + b_hh in torch's order i, f, g, o, c_prev
 * [N, H]; returns h = o tanh(c) and writes c = f c_prev + i g to *c (may be
 * NULL). Differentiable through any number of steps (not twice). */
dlt_t dlt_lstm_cell(dlt_graph *g, dlt_t gates, dlt_t c_prev, dlt_t *c);
/* One torch.nn.GRU step's pointwise part: gi = x W_ih^T + b_ih and
 * gh = h_prev W_hh^T + b_hh, both [N, 3H] in torch's order r, z, n;
 * returns h = (1 - z) n + z h_prev with n = tanh(gi_n + r gh_n). */
dlt_t dlt_gru_cell(dlt_graph *g, dlt_t gi, dlt_t gh, dlt_t h_prev);
typedef struct {
    float temperature; /* > 0; 0: 1. Samples softmax(logits / temperature) */
    /* 0: draws keyed by the run's seed, which mixes in the rank (each rank
     * draws its own). 1: keyed by the graph's seed alone, row r drawing
     * counter first_sample + r (>= 0), so every rank with the same graph
     * seed draws the same indices (a controller replicated on every rank). */
    int global;
    int64_t first_sample;
} dlt_categorical_opts;
/* One index per row of logits [N, K] -> i32 [N], drawn from
 * softmax(logits / T) by inverse CDF on one counter-based uniform per row, a
 * pure function of (seed, node, step, rank or first_sample, row): CPU and
 * CUDA draw the same indices, a resumed run continues exactly. A row with a
 * non-finite logit gives -1. No gradient. o: NULL = temperature 1, per-rank
 * draws. */
dlt_t dlt_categorical_sample(dlt_graph *g, dlt_t logits, const dlt_categorical_opts *o);
/* log softmax(logits)[n, idx[n]] -> [N] (idx i32 [N], e.g. the samples): the
 * log-probability of the choices, differentiable in the logits (REINFORCE);
 * for a temperature, pass the scaled logits. */
dlt_t dlt_categorical_log_prob(dlt_graph *g, dlt_t logits, dlt_t idx);
/* -sum_k p_k log p_k of p = softmax(logits) per row: [N, K] -> [N]. */
dlt_t dlt_categorical_entropy(dlt_graph *g, dlt_t logits);
/* ==== detection boxes (box family: box.c) ==== */
/* Boxes are (x1, y1, x2, y2) in a last axis of size 4, batched over images
 * in the leading axes, as torchvision's detection code computes them. Ops
 * that only compare or select give no gradient (constants for dlt_grad). */
/* Pairwise IoU, a [..., N, 4] x b [..., M, 4] (same leading dims) ->
 * [..., N, M]; two empty boxes give NaN as torchvision (never above a
 * threshold). No gradient. */
dlt_t dlt_box_iou(dlt_graph *g, dlt_t a, dlt_t b);
/* torchvision's BoxCoder with weights (wx, wy, ww, wh) (NULL: all 1;
 * Faster R-CNN's box head uses 10, 10, 5, 5). encode: the regression
 * targets of reference boxes (the matched ground truth) relative to
 * proposals, both [..., 4] -> [..., 4]; no gradient. decode: deltas
 * [..., 4K] applied to boxes [..., 4] (same leading dims) -> [..., 4K], with
 * dw, dh clamped at `clip` before exp (torchvision: log(1000 / 16)); the
 * gradient flows to the deltas (not the boxes, which torchvision detaches). */
dlt_t dlt_box_encode(dlt_graph *g, dlt_t reference, dlt_t proposals, const float weights[4]);
dlt_t dlt_box_decode(dlt_graph *g, dlt_t deltas, dlt_t boxes, const float weights[4], float clip);
/* The k largest values along the last axis of x (f32), largest first, ties
 * to the lower index, NaN the largest (torch.topk's order, made stable).
 * Returns the values [..., k] (a gather of x: the gradient scatters back);
 * *indices (may be NULL) gets the i32 indices [..., k], which have none. */
dlt_t dlt_topk(dlt_graph *g, dlt_t x, int64_t k, dlt_t *indices);
/* Batched greedy NMS: boxes [B, N, 4], scores [B, N]; classes (i32 [B, N],
 * or -1: one class) keep boxes of different classes from suppressing each
 * other (torchvision's batched_nms); valid (f32 [B, N], 0 = absent, or -1:
 * all present) leaves padding out. Boxes go in score order (ties: lower
 * index first) and each kept box suppresses the later ones of its class
 * with IoU > iou_threshold. Returns the first K kept indices per image,
 * i32 [B, K] in score order, as torchvision's kept list; slots past the
 * last kept one hold index 0 and 0 in *keep_valid (f32 [B, K], 1 = kept;
 * may be NULL). O(N^2) per image: topk the scores first for large N. */
dlt_t dlt_nms(dlt_graph *g, dlt_t boxes, dlt_t scores, dlt_t classes, dlt_t valid,
              float iou_threshold, int64_t k, dlt_t *keep_valid);
/* torchvision's Matcher: quality [B, G, A] (the IoU of ground truth g with
 * anchor a), gt_count i32 [B] (the first gt_count[b] rows are real, clamped
 * to [0, G]; -1: all G) -> i32 [B, A]: the matched ground truth's index,
 * -1 below `low`, -2 in [low, high). allow_low_quality: anchors that attain
 * some ground truth's highest quality keep their best match. An image
 * without ground truth gets -1 everywhere (torchvision raises instead). */
dlt_t dlt_box_match(dlt_graph *g, dlt_t quality, dlt_t gt_count, float high, float low,
                    int allow_low_quality);
/* torchvision's BalancedPositiveNegativeSampler: labels i32 [B, A] (>= 1
 * positive, 0 negative, < 0 ignored; A <= 2^24) -> f32 [B, A] masks of the
 * sampled positives (returned) and negatives (*negatives, may be NULL):
 * min(#pos, int(batch_per_image x positive_fraction)) positives and
 * min(#neg, batch_per_image - that) negatives per image, a uniformly random
 * subset drawn from the counter-based RNG keyed by (graph seed, node, step,
 * global image first_sample + b): new draws every step, the same for the
 * same seed and step (a resumed run), R ranks x b images the same as one
 * rank x R b, and the same on CPU and GPU (not torch's random numbers). */
dlt_t dlt_box_sample(dlt_graph *g, dlt_t labels, int64_t batch_per_image, float positive_fraction,
                     int64_t first_sample, dlt_t *negatives);
/* The anchors of one FPN level, as torchvision's AnchorGenerator: for each
 * cell of a grid_h x grid_w feature map (row-major) the nratios x nsizes
 * base anchors (ratio-major; half sizes rounded half to even) shifted by the
 * cell times the stride (image size // grid size), float32:
 * dlt_anchor_count(...) x 4 values written to out. dlt_anchors adds them to
 * the graph as a constant [count, 4] (computed once at graph build). */
int64_t dlt_anchor_count(int nsizes, int nratios, int64_t grid_h, int64_t grid_w);
dlt_status dlt_anchor_grid(int nsizes, const float *sizes, int nratios, const float *ratios,
                           int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w,
                           float *out);
dlt_t dlt_anchors(dlt_graph *g, int nsizes, const float *sizes, int nratios, const float *ratios,
                  int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w);
/* Mask R-CNN's losses (box_loss.c), torchvision's with the sampled elements
 * as f32 0/1 masks; every count is clamped to >= 1 (nothing sampled: 0, not
 * torchvision's NaN). RPN: objectness [B, A] logits, deltas and targets
 * [B, A, 4], pos and neg [B, A] (dlt_box_sample's masks) -> the objectness
 * BCE averaged over the sampled, returned, and in *box_loss (may be NULL)
 * smooth-L1 (beta 1/9) summed over the positives / #sampled. RoI heads:
 * class_logits [R, C], box_regression [R, 4C], labels i32 [R] in [0, C)
 * (0 background), targets [R, 4] (encoded with 10, 10, 5, 5), sampled
 * f32 [R] -> cross-entropy averaged over the sampled, returned; *box_loss:
 * smooth-L1 (beta 1/9) of the label's deltas summed over the sampled
 * positives / #sampled; *mask_loss (with mask_logits [R, C, M, M] and
 * mask_targets [R, M, M]; both may be -1 / NULL): BCE of the label's mask
 * channel averaged over the positives' M x M pixels. */
dlt_t dlt_rpn_losses(dlt_graph *g, dlt_t objectness, dlt_t deltas, dlt_t targets, dlt_t pos,
                     dlt_t neg, dlt_t *box_loss);
dlt_t dlt_roi_losses(dlt_graph *g, dlt_t class_logits, dlt_t box_regression, dlt_t labels,
                     dlt_t targets, dlt_t sampled, dlt_t mask_logits, dlt_t mask_targets,
                     dlt_t *box_loss, dlt_t *mask_loss);
/* ==== RoIAlign and FPN level assignment (roi family, src/ops/roi.c) ==== */
/* torchvision.ops.roi_align: x [B, C, H, W], rois f32 [R, 5] (batch index,
 * x1, y1, x2, y2) with batch_idx = -1, or boxes f32 [R, 4] with an i32
 * batch_idx [R] -> [R, C, out_h, out_w]. Boxes are in image coordinates,
 * times spatial_scale (> 0) for the map. sampling_ratio > 0: that many
 * bilinear samples per bin and axis; <= 0: adaptive, ceil(roi size / bins).
 * aligned: the -0.5 pixel shift (Detectron2), and no minimum roi size of 1.
 * A roi whose batch index is outside [0, B) (e.g. -1: a padding slot of a
 * fixed-size list) pools to zeros and gets no gradient. Differentiable in x
 * (the backward is an op, roi_align_backward, deterministic on the CPU, with
 * float atomics on the GPU); the rois get no gradient, as in torchvision. */
typedef struct {
    int out_h, out_w;
    float spatial_scale;
    int sampling_ratio;
    int aligned;
} dlt_roi_align_opts;
dlt_t dlt_roi_align(dlt_graph *g, dlt_t x, dlt_t rois, dlt_t batch_idx, const dlt_roi_align_opts *o);
/* The fused multi-level pooler: nlev (1..4) maps of the same B and C,
 * scales[l] the spatial scale of map l; roi r is pooled once, from map
 * level[r] (i32 [R], as roi_level gives; a level outside [0, nlev) pools to
 * zeros). o->spatial_scale is not used. One map needs no level (-1). */
dlt_t dlt_roi_align_levels(dlt_graph *g, int nlev, const dlt_t *feats, const float *scales,
                           dlt_t rois, dlt_t batch_idx, dlt_t level, const dlt_roi_align_opts *o);
/* torchvision's LevelMapper: for rois [R, 5] or boxes [R, 4], the i32 [R]
 * level floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps)
 * clamped to [k_min, k_max], minus k_min (FPN: k0 4, 224, eps 1e-6, levels
 * 2..5). An index: no gradient. */
typedef struct {
    int k_min, k_max;
    float canonical_scale;
    int canonical_level;
    float eps;
} dlt_roi_level_opts;
dlt_t dlt_roi_level(dlt_graph *g, dlt_t rois, const dlt_roi_level_opts *o);

/* ==== i32/f32 conversion (cast family, src/ops/cast.c) ==== */
/* y = clamp(x * scale + offset, lo, hi) in double, stored as `to` (f32, or
 * i32 floored); x f32 or i32, any shape; NaN gives lo. For index arithmetic
 * (shift a matcher's codes, clamp gather indices, masks from labels); no
 * gradient. */
dlt_t dlt_cast(dlt_graph *g, dlt_t x, dlt_dtype to, double scale, double offset, double lo, double hi);

#ifdef __cplusplus
}
#endif
#endif
