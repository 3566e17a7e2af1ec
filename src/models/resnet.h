/* Builders behind dlt_model_classifier (internal to src/models). Each returns
 * the logits; features (may be NULL) receives the value its last linear layer
 * reads (dlt_model_classifier_features). */
#ifndef DLT_MODELS_RESNET_H
#define DLT_MODELS_RESNET_H
#include "dlt_models.h"
dlt_t dlt_resnet_cifar(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
dlt_t dlt_resnet_imagenet(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
/* The ImageNet ResNet without its pooling and classifier (a detection
 * backbone): c[0..3] (may be NULL) receive the outputs of layer1..layer4
 * (strides 4, 8, 16, 32); returns layer4's, or -1. s->norm and s->frozen_stages
 * apply. */
dlt_t dlt_resnet_imagenet_stages(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t c[4]);
dlt_t dlt_vgg(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features);
dlt_t dlt_mlp(dlt_graph *g, const dlt_model_spec *s, dlt_t x, dlt_t *features);
#endif
