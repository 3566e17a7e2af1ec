/* Builders behind dlt_model_classifier (internal to src/models). */
#ifndef DLT_MODELS_RESNET_H
#define DLT_MODELS_RESNET_H
#include "dlt_models.h"
dlt_t dlt_resnet_cifar(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x);
dlt_t dlt_resnet_imagenet(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x);
dlt_t dlt_vgg(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x);
dlt_t dlt_mlp(dlt_graph *g, const dlt_model_spec *s, dlt_t x);
#endif
