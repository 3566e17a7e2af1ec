/* The model zoo's names and defaults. */
#include <stdio.h>
#include <string.h>

#include "dlt_models.h"
#include "resnet.h"

static const char *const archs[] = {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
                                    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                    "vgg11",    "vgg16",    "mlp"};

const char *dlt_model_archs(void)
{
    return "resnet20, resnet32, resnet44, resnet56, resnet110, resnet18, resnet34, resnet50, "
           "resnet101, resnet152, vgg11, vgg16, mlp";
}

dlt_status dlt_model_spec_default(const char *arch, dlt_model_spec *s)
{
    int known = 0;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        known |= strcmp(arch, archs[i]) == 0;
    if (!known)
        return dlt_seterr(DLT_ERR_INVALID, "unknown model '%s' (known: %s)", arch, dlt_model_archs());
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "%s", arch);
    s->in_channels = 3, s->in_h = 32, s->in_w = 32, s->num_classes = 10;
    s->shortcut = 'A';
    s->mlp_hidden = 256, s->mlp_layers = 2;
    s->bn_momentum = 0.1f, s->bn_eps = 1e-5f;
    return DLT_OK;
}

dlt_t dlt_model_classifier(dlt_graph *g, const dlt_model_spec *s, dlt_t x)
{
    int depth = 0;
    if (sscanf(s->arch, "resnet%d", &depth) == 1) {
        if (depth == 18 || depth == 34 || depth == 50 || depth == 101 || depth == 152)
            return dlt_resnet_imagenet(g, s, depth, x);
        return dlt_resnet_cifar(g, s, depth, x);
    }
    if (sscanf(s->arch, "vgg%d", &depth) == 1)
        return dlt_vgg(g, s, depth, x);
    if (strcmp(s->arch, "mlp") == 0)
        return dlt_mlp(g, s, x);
    return dlt_graph_fail(g, DLT_ERR_INVALID, "unknown model '%s' (known: %s)", s->arch, dlt_model_archs());
}
