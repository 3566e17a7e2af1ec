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
/* Batch norm of x [N, C, ...] with its parameters (scale from gamma_init, bias
 * zero) and running statistics (0 and 1) under the scope `name` (NULL: the
 * current scope); dlt_nn_bn is this with the spec's momentum and eps. */
dlt_t dlt_nn_batch_norm(dlt_graph *g, const char *name, dlt_t x, float momentum, float eps,
                        dlt_init gamma_init);
dlt_t dlt_nn_linear(dlt_graph *g, const char *name, dlt_t x, int out);

#ifdef __cplusplus
}
#endif
#endif
