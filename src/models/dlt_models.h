/* Model builders: graph constructors for the model zoo. A model never calls a
 * kernel; it only adds nodes and parameters (named as torchvision names them,
 * e.g. "layer1.0.conv1.weight", so checkpoints map one to one). */
#ifndef DLT_MODELS_H
#define DLT_MODELS_H

#include "dlt_core.h"
#include "dlt_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Image classifiers: resnet20/32/44/56/110 (CIFAR-style, He et al. 2015 §4.2;
 * any depth 6n+2 >= 8 is accepted),
 * resnet18/34/50/101/152 (ImageNet-style, torchvision v1.5: stride in the 3x3
 * conv), vgg11/vgg16 (with batch norm), mlp, spec (the network in `net`,
 * dlt_spec.h). */
typedef struct {
    char arch[32];
    int in_channels, in_h, in_w, num_classes;
    char shortcut;          /* CIFAR resnets: 'A' (identity, zero-padded) or 'B' (1x1 projection) */
    int zero_init_residual; /* zero the last BN scale of each residual block */
    int small_input;        /* ImageNet resnets: 3x3 stem without max pooling (for 32x32 inputs) */
    int mlp_hidden, mlp_layers;
    float bn_momentum, bn_eps;
    float dropout;          /* vgg/mlp classifier dropout */
    /* ImageNet resnets as detection backbones (src/models/maskrcnn.c): */
    char norm;              /* 'b' batch norm (0 reads as 'b'), 'f' frozen batch norm
                               (torchvision's FrozenBatchNorm2d), 'g' group norm, 32 groups */
    int frozen_stages;      /* leading stages built frozen (dlt_graph_set_frozen): 1 = the
                               stem, 2 = stem and layer1, ... 5 = all (torchvision's
                               trainable_backbone_layers = 5 - frozen_stages) */
    dlt_spec net;           /* arch "spec": the child network (dlt_spec.h; [model.spec] in a job) */
} dlt_model_spec;

/* in_channels/in_h/in_w: when > 0, dlt_model_classifier checks that x has
 * that shape; the network itself takes its sizes from x. */
/* Defaults for `arch` (3x32x32 inputs, 10 classes, shortcut A, BN 0.1 / 1e-5).
 * DLT_ERR_INVALID names the known architectures when arch is unknown. */
dlt_status dlt_model_spec_default(const char *arch, dlt_model_spec *s);
/* Comma-separated list of architectures. */
const char *dlt_model_archs(void);
/* Builds the classifier on x [N, C, H, W]; returns logits [N, classes] (-1 on
 * error, recorded in the graph). */
dlt_t dlt_model_classifier(dlt_graph *g, const dlt_model_spec *s, dlt_t x);
/* The same graph (the same nodes and parameters, in the same order), and in
 * *features (may be NULL; -1 on error) the penultimate value: the input of the
 * final linear layer, [N, F]. ResNets: the global-average-pooled output of the
 * last stage (F = 64 for the CIFAR-style ones, 512 or 2048 for ImageNet's);
 * vgg: the pooled features (before classifier dropout); mlp: the last hidden
 * layer's activations (before dropout; the flattened input when it has none).
 * Feature extractors (FID, src/train/fid_features.c) plan this value. */
dlt_t dlt_model_classifier_features(dlt_graph *g, const dlt_model_spec *s, dlt_t x, dlt_t *features);

/* The resolved settings of a classifier (after the task filled in the input
 * shape and classes) as key/values; docs/models.md documents each key. */
void dlt_model_describe(const dlt_model_spec *s, dlt_kvlist *kv);
/* The families `arch` belongs to, space-separated, e.g. "classifier resnet
 * resnet-cifar" or "transformer gpt" (the names a job key's "applies to"
 * uses), "vae" for the variational autoencoder; NULL for an unknown arch. */
const char *dlt_arch_families(const char *arch);

/* Building blocks shared by builders: conv (kaiming normal, fan_out, relu gain;
 * bias zero, as torchvision's resnets and vggs), batch norm (scale 1, or 0 with
 * zero_gamma; running statistics 0 and 1), linear (torch.nn.Linear's default). */
dlt_t dlt_nn_conv(dlt_graph *g, const char *name, dlt_t x, int out_c, int k, int stride, int pad,
                  int bias);
dlt_t dlt_nn_bn(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma);
/* The spec's normalisation (s->norm) under `name`: batch norm as dlt_nn_bn,
 * frozen batch norm as dlt_nn_frozen_bn (eps = s->bn_eps), or group norm with
 * 32 groups (torch.nn.GroupNorm: weight 1 (or 0 with zero_gamma), bias 0). */
dlt_t dlt_nn_norm(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma);
/* dlt_nn_norm followed by an epilogue, y = relu?(norm(x) + residual) (residual
 * -1: none; relu 0 or 1), with the same parameter and buffer names. Batch norm
 * is one fused node (dlt_batch_norm_act: one pass over memory forward and
 * backward); frozen batch norm and group norm add and apply relu as ops. */
dlt_t dlt_nn_norm_act(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma,
                      dlt_t residual, int relu);
/* dlt_nn_norm_act in two steps, for blocks whose residual is built after the
 * normalisation's parameters (torchvision's order: bn2 before the downsample
 * branch, so parameters are created in the same order as without fusion):
 * dlt_nn_norm_begin creates the parameters of the norm of x (0 on error, a
 * sticky graph error), dlt_nn_norm_end adds the nodes. */
typedef struct {
    char kind; /* 'b' batch, 'f' frozen batch, 'g' group norm */
    dlt_t x, w, b, rm, rv;
    float momentum, eps;
} dlt_nn_norm_layer;
int dlt_nn_norm_begin(dlt_graph *g, const char *name, dlt_t x, const dlt_model_spec *s, int zero_gamma,
                      dlt_nn_norm_layer *l);
dlt_t dlt_nn_norm_end(dlt_graph *g, const dlt_nn_norm_layer *l, dlt_t residual, int relu);
/* torchvision's FrozenBatchNorm2d: y = x * scale + shift per channel with
 * scale = weight / sqrt(running_var + eps), shift = bias - running_mean *
 * scale, all four buffers (weight 1, bias 0, mean 0, var 1 until a
 * checkpoint sets them): an affine map in training and evaluation alike. */
dlt_t dlt_nn_frozen_bn(dlt_graph *g, const char *name, dlt_t x, float eps);
/* Batch norm of x [N, C, ...] with its parameters (scale from gamma_init, bias
 * zero) and running statistics (0 and 1) under the scope `name` (NULL: the
 * current scope); dlt_nn_bn is this with the spec's momentum and eps.
 * dlt_nn_batch_norm_act adds the fused epilogue relu?(y + residual). */
dlt_t dlt_nn_batch_norm(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                        dlt_init gamma_init);
dlt_t dlt_nn_batch_norm_act(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                            dlt_init gamma_init, dlt_t residual, int relu);
dlt_t dlt_nn_linear(dlt_graph *g, const char *name, dlt_t x, int out);

/* Recurrent layers (rnn.c), torch.nn.LSTM / torch.nn.GRU with
 * batch_first = False: parameters weight_ih_l<l>, weight_hh_l<l>,
 * bias_ih_l<l>, bias_hh_l<l> under the scope `name` (NULL: the current one),
 * uniform in +-1/sqrt(hidden) as torch initialises them. */
#define DLT_RNN_MAX_LAYERS 8
typedef enum { DLT_RNN_LSTM = 0, DLT_RNN_GRU } dlt_rnn_mode;
typedef struct {
    dlt_rnn_mode mode;
    int input_size, hidden_size, num_layers;
    dlt_t w_ih[DLT_RNN_MAX_LAYERS], w_hh[DLT_RNN_MAX_LAYERS];
    dlt_t b_ih[DLT_RNN_MAX_LAYERS], b_hh[DLT_RNN_MAX_LAYERS];
} dlt_rnn;
/* Create (or, in reuse mode, find) a recurrent layer's parameters. */
dlt_status dlt_nn_rnn_create(dlt_graph *g, const char *name, dlt_rnn_mode mode, int input_size,
                             int hidden_size, int num_layers, dlt_rnn *r);
/* One time step of every layer on x [N, input_size]: h[l] (and for an LSTM
 * c[l]), l < num_layers, hold the states before the step ([N, H], -1:
 * zeros) and receive those after it. Returns the top layer's new h. Build a
 * sequence whose next input depends on this output by calling it again. */
dlt_t dlt_nn_rnn_step(dlt_graph *g, const dlt_rnn *r, dlt_t x, dlt_t *h, dlt_t *c);
/* The layers over a sequence x [T, N, I] (T static): returns the top layer's
 * outputs [T, N, H]; h0, c0: initial states [layers, N, H] or -1 (zeros);
 * *hn, *cn (may be NULL): the final states [layers, N, H]. */
dlt_t dlt_nn_lstm(dlt_graph *g, const char *name, dlt_t x, int hidden, int layers, dlt_t h0,
                  dlt_t c0, dlt_t *hn, dlt_t *cn);
dlt_t dlt_nn_gru(dlt_graph *g, const char *name, dlt_t x, int hidden, int layers, dlt_t h0,
                 dlt_t *hn);

#ifdef __cplusplus
}
#endif
#endif
