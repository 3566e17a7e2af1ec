/* The model zoo's names and defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "resnet.h"

static const char *const archs[] = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                    "vgg11",    "vgg16",    "mlp",
                                    "spec"};

const char *dlt_model_archs(void)
{
    return "resnet20, resnet32, resnet44, resnet56, resnet110 (CIFAR-style: any depth 6n+2), resnet18, "
           "resnet34, resnet50, resnet101, resnet152, vgg11, vgg16, mlp, spec (a network from a [model.spec] description)";
}

static int imagenet_depth(int d) { return d == 18 || d == 34 || d == 50 || d == 101 || d == 152; }

/* "resnet<depth>" with nothing after the number; 0 otherwise. */
static int resnet_depth(const char *arch)
{
    int depth = 0, len = 0;
    if (sscanf(arch, "resnet%d%n", &depth, &len) != 1 || arch[len] != '\0' || depth <= 0)
        return 0;
    return depth;
}

static int known_arch(const char *arch)
{
    int d = resnet_depth(arch);
    if (d)
        return imagenet_depth(d) || (d >= 8 && (d - 2) % 6 == 0);
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(arch, archs[i]) == 0)
            return 1;
    return 0;
}

dlt_status dlt_model_spec_default(const char *arch, dlt_model_spec *s)
{
    if (strlen(arch) >= sizeof s->arch || !known_arch(arch))
        return dlt_seterr(DLT_ERR_INVALID, "unknown model '%s' (known: %s)", arch, dlt_model_archs());
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "%s", arch);
    s->in_channels = 3, s->in_h = 32, s->in_w = 32, s->num_classes = 10;
    s->shortcut = 'A';
    s->mlp_hidden = 256, s->mlp_layers = 2;
    s->bn_momentum = 0.1f, s->bn_eps = 1e-5f;
    return DLT_OK;
}

/* The spec's input fields (when set) must describe x, so a job that names an
 * input size learns at build time that its shards differ. */
static int check_input(dlt_graph *g, const dlt_model_spec *s, dlt_t x)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return 0;
    if (s->num_classes < 1) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: num_classes must be at least 1 (got %d)", s->arch, s->num_classes);
        return 0;
    }
    int conv = strcmp(s->arch, "mlp") != 0;
    if (conv && xs->ndim != 4) {
        char buf[96];
        dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: input must be [N, C, H, W] (got %s)", s->arch,
                       dlt_shape_str(xs, buf, sizeof buf));
        return 0;
    }
    if (xs->ndim == 4 && ((s->in_channels > 0 && xs->dim[1] != s->in_channels) ||
                          (s->in_h > 0 && xs->dim[2] != s->in_h) || (s->in_w > 0 && xs->dim[3] != s->in_w))) {
        char buf[96];
        dlt_graph_fail(g, DLT_ERR_SHAPE, "%s: input %s does not match the spec's %dx%dx%d", s->arch,
                       dlt_shape_str(xs, buf, sizeof buf), s->in_channels, s->in_h, s->in_w);
        return 0;
    }
    return 1;
}

dlt_t dlt_model_classifier(dlt_graph *g, const dlt_model_spec *s, dlt_t x)
{
    return dlt_model_classifier_features(g, s, x, NULL);
}

dlt_t dlt_model_classifier_features(dlt_graph *g, const dlt_model_spec *s, dlt_t x, dlt_t *features)
{
    if (features)
        *features = -1;
    if (!known_arch(s->arch))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "unknown model '%s' (known: %s)", s->arch, dlt_model_archs());
    if (!check_input(g, s, x))
        return -1;
    int depth = resnet_depth(s->arch);
    dlt_t y;
    if (depth)
        y = imagenet_depth(depth) ? dlt_resnet_imagenet(g, s, depth, x, features)
                                  : dlt_resnet_cifar(g, s, depth, x, features);
    else if (strcmp(s->arch, "mlp") == 0)
        y = dlt_mlp(g, s, x, features);
    else if (strcmp(s->arch, "spec") == 0)
        y = dlt_spec_build(g, &s->net, x, s->num_classes, s->bn_momentum, s->bn_eps, features);
    else
        y = dlt_vgg(g, s, atoi(s->arch + 3), x, features);
    if (features && (y < 0 || dlt_graph_status(g) != DLT_OK))
        *features = -1; /* the graph's first error says why */
    return y;
}
