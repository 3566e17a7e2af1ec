/* Builders behind dlt_model_classifier (internal to src/models). Each returns
 * the logits; features (may be NULL) receives the value its last linear layer
 * reads (dlt_model_classifier_features). */
#ifndef DLT_MODELS_RESNET_H
#define DLT_MODELS_RESNET_H
#include "dlt_models.h"
dlt_t dlt_resnet_cifar(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
dlt_t dlt_resnet_imagenet(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
dlt_t dlt_vgg(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
dlt_t dlt_mlp(dlt_graph *g, const dlt_model_spec *s, dlt_t x, dlt_t *features);
#endif
