/* Child networks from a description (NAS): a spec is a list of layers in
 * Zoph & Le's macro search space (2017), optionally with ENAS's six ops per
 * layer (Pham et al. 2018), built into a graph at run time. The same spec
 * trains on its own as `model.arch = "spec"` with a `[model.spec]` table
 * (src/train/spec_toml.c reads it; docs/models.md documents both).
 *
 * The network, for an input x [N, C, H, W]:
 *   stem     (stem_filters > 0) conv 3x3 + batch norm + ReLU, stride 1;
 *            h_{-1} = its output, or x itself without a stem.
 *   layer i  input: h_{i-1} concatenated on channels with h_j for every j in
 *            skip (ascending j). The previous layer is always part of the
 *            input, so skip names layers 0..i-2 only. A skipped h_j is larger
 *            than h_{i-1} when strides lie between: it is zero-padded at the
 *            bottom/right to a multiple of R (the product of the strides of
 *            layers j+1..i-1) and average-pooled R x R with stride R, which
 *            gives exactly h_{i-1}'s size (ceil(H / R)); parameter-free, like
 *            Zoph & Le's padding, but towards the smaller size.
 *            op conv:    conv kernel_h x kernel_w (stride, "same" padding
 *                        kernel/2, no bias) + batch norm + ReLU;
 *            op sepconv: depthwise kernel_h x kernel_w (stride) + pointwise
 *                        1x1 to filters + batch norm + ReLU;
 *            op maxpool/avgpool: conv 1x1 to filters + batch norm + ReLU,
 *                        then a kernel_h x kernel_w pool (stride, padding
 *                        kernel/2; average over the in-image elements).
 *            Every op maps H to ceil(H / stride) (kernels are odd).
 *   head     global average pooling of the last layer, linear to the classes.
 * Parameters are named as a torch module tree would name them:
 * stem.conv.weight, stem.bn.*, layers.<i>.conv.weight (sepconv:
 * layers.<i>.depthwise.weight and layers.<i>.pointwise.weight), layers.<i>.bn.*,
 * fc.weight, fc.bias. Convs are initialised as torchvision's (kaiming normal,
 * fan_out, ReLU gain), batch norm with scale 1 (momentum 0.1, eps 1e-5 unless
 * the caller passes others), the classifier as torch.nn.Linear. */
#ifndef DLT_SPEC_H
#define DLT_SPEC_H

#include <stdint.h>
#include <stdio.h>

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits a spec is checked against (skips are a 64-bit mask of layers). */
#define DLT_SPEC_MAX_LAYERS 64
#define DLT_SPEC_MAX_KERNEL 15
#define DLT_SPEC_MAX_FILTERS 4096
#define DLT_SPEC_MAX_STRIDE 4

typedef enum {
    DLT_SPEC_CONV = 0,
    DLT_SPEC_SEPCONV,
    DLT_SPEC_MAXPOOL,
    DLT_SPEC_AVGPOOL,
    DLT_SPEC_NOPS
} dlt_spec_op;

typedef struct {
    dlt_spec_op op;
    int kernel_h, kernel_w; /* odd, 1..DLT_SPEC_MAX_KERNEL */
    int filters;            /* output channels, 1..DLT_SPEC_MAX_FILTERS */
    int stride;             /* both axes, 1..DLT_SPEC_MAX_STRIDE */
    uint64_t skip;          /* bit j: h_j joins the input (j <= i - 2) */
} dlt_spec_layer;

/* A value type: copy it freely, nothing to free. */
typedef struct {
    int nlayers;      /* 1..DLT_SPEC_MAX_LAYERS */
    int stem_filters; /* 0: no stem */
    dlt_spec_layer layer[DLT_SPEC_MAX_LAYERS];
} dlt_spec;

/* "conv", "sepconv", "maxpool", "avgpool"; NULL past the end. */
const char *dlt_spec_op_name(dlt_spec_op op);
/* The op named `name`, or -1. */
int dlt_spec_op_find(const char *name);

/* The rules that need no input shape (layer count, kernels, filters,
 * strides, skips naming earlier layers). DLT_ERR_INVALID with one line naming
 * the field: "model.spec.layers[3].skip names layer 5: a skip must name an
 * earlier layer (0..1; the previous layer is always the input)". */
dlt_status dlt_spec_check(const dlt_spec *s);
/* dlt_spec_check, then the shape rules for a C x H x W input: a stride s
 * needs at least s x s pixels left ("model.spec.layers[5].stride = 2: the
 * image is 1x1 here (28x28 at the input); the strides would collapse it below
 * 1x1"). On success *out_h, *out_w (may be NULL) get the last layer's size. */
dlt_status dlt_spec_check_shape(const dlt_spec *s, int in_c, int in_h, int in_w, int *out_h,
                                int *out_w);

/* Builds the network on x [N, C, H, W] under the current scope and returns
 * the logits [N, num_classes]; *features (may be NULL) gets the pooled
 * features the classifier reads [N, last filters]. An invalid spec fails the
 * graph with dlt_spec_check_shape's message (-1). */
dlt_t dlt_spec_build(dlt_graph *g, const dlt_spec *s, dlt_t x, int num_classes, float bn_momentum,
                     float bn_eps, dlt_t *features);

/* Size of a spec on a C x H x W input with `classes` outputs: trainable
 * parameters and forward FLOPs per sample (the graph's own FLOP rules, from
 * a batch-1 graph built and freed here). */
dlt_status dlt_spec_measure(const dlt_spec *s, int in_c, int in_h, int in_w, int classes,
                            int64_t *params, double *flops);

/* The spec as TOML. Inline: one line, `{ stem_filters = 32, layers = [{
 * kernel = 3, filters = 36, stride = 1 }, ...] }` (a value for --set
 * model.spec=..., a search log); writes at most n bytes with the NUL and
 * returns the length it needed (as snprintf). */
int dlt_spec_snprint(char *buf, size_t n, const dlt_spec *s);
/* A job file that trains the spec on its own: `[model] arch = "spec"` and a
 * `[model.spec]` table with one layer per line (every other key at its
 * default; src/train's dlt_spec_write_job keeps a base job's other keys).
 * DLT_ERR_IO on a write error. */
dlt_status dlt_spec_write_toml(FILE *f, const dlt_spec *s);

/* A search space to draw random specs from (random search, benchmarks):
 * each layer draws its op (conv only unless enas_ops), kernel_h and kernel_w
 * (the same unless separate_hw), filters and stride from the lists, and each
 * earlier layer it may skip from joins with probability skip_prob. A stride
 * that would collapse the image (see dlt_spec_check_shape) becomes 1. */
typedef struct {
    int nlayers;
    int nkernels, kernels[8];
    int nfilters, filters[8];
    int nstrides, strides[4];
    int stem_filters;
    int enas_ops, separate_hw;
    double skip_prob;
} dlt_spec_space;
/* Zoph & Le's space without strides: 12 layers, kernels 1/3/5/7 (h and w
 * apart), filters 24/36/48/64, stride 1, skips with probability 0.4, no stem. */
void dlt_spec_space_default(dlt_spec_space *sp);
/* A spec drawn from `sp` with a counter-based generator keyed by seed (the
 * same seed gives the same spec), valid for an in_h x in_w input. */
dlt_status dlt_spec_random(const dlt_spec_space *sp, uint64_t seed, int in_h, int in_w,
                           dlt_spec *out);

#ifdef __cplusplus
}
#endif
#endif
