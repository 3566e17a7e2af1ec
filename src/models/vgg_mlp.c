/* VGG-11/16 with batch norm (CIFAR-style head: global average pool, one linear
 * layer) and an MLP baseline. */
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "resnet.h"

dlt_t dlt_vgg(dlt_graph *g, const dlt_model_spec *s, int depth, dlt_t x, dlt_t *features)
{
    /* channel counts; 0 = max pooling (torchvision cfg "A" and "D") */
    static const int cfg11[] = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0, -1};
    static const int cfg16[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0,
                                512, 512, 512, 0, -1};
    const int *cfg = depth == 11 ? cfg11 : depth == 16 ? cfg16 : NULL;
    if (!cfg)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "VGG depth must be 11 or 16 (got %d)", depth);
    dlt_t h = x;
    int idx = 0;
    dlt_scope_push(g, "features");
    for (int i = 0; cfg[i] >= 0; i++) {
        const dlt_shape *hs = dlt_shape_of(g, h);
        char name[16];
        if (cfg[i] == 0) {
            /* skip pooling once the map is 1x1 (small inputs) */
            if (hs && hs->dim[2] >= 2 && hs->dim[3] >= 2) {
                dlt_pool2d_opts po = {.kernel = {2, 2}};
                h = dlt_maxpool2d(g, h, &po);
            }
            idx++;
            continue;
        }
        snprintf(name, sizeof name, "%d", idx);
        h = dlt_nn_conv(g, name, h, cfg[i], 3, 1, 1, 1);
        snprintf(name, sizeof name, "%d", idx + 1);
        h = dlt_nn_batch_norm_act(g, name, h, s->bn_momentum, s->bn_eps, dlt_init_const(1), -1, 1); /* bn + relu */
        idx += 3;
    }
    dlt_scope_pop(g);
    h = dlt_global_avgpool2d(g, h);
    if (features) /* before dropout: what evaluation's linear layer reads */
        *features = h;
    if (s->dropout > 0)
        h = dlt_dropout(g, h, s->dropout);
    return dlt_nn_linear(g, "classifier", h, s->num_classes);
}

dlt_t dlt_mlp(dlt_graph *g, const dlt_model_spec *s, dlt_t x, dlt_t *features)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    if (s->mlp_layers < 0 || (s->mlp_layers > 0 && s->mlp_hidden < 1))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "mlp: needs layers >= 0 and hidden >= 1 (got %d, %d)",
                              s->mlp_layers, s->mlp_hidden);
    int64_t flat[2] = {xs->dim[0], dlt_shape_numel(xs) / xs->dim[0]};
    dlt_t h = dlt_reshape(g, x, 2, flat);
    if (features) /* no hidden layer: the flattened input */
        *features = h;
    for (int i = 0; i < s->mlp_layers; i++) {
        char name[16];
        snprintf(name, sizeof name, "fc%d", i + 1);
        h = dlt_relu(g, dlt_nn_linear(g, name, h, s->mlp_hidden));
        if (features) /* the last hidden layer's activations, before dropout */
            *features = h;
        if (s->dropout > 0)
            h = dlt_dropout(g, h, s->dropout);
    }
    return dlt_nn_linear(g, "head", h, s->num_classes);
}
