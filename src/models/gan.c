/* The GAN architectures (dlt_gen.h): their names and defaults, the
 * dispatch to each builder (gan-mlp here; dcgan, cgan, wgan and wgan-gp in
 * dcgan.c, whose header has their tables), and gan-mlp, the fully connected GAN of
 * Goodfellow et al. 2014 (ReLU generator with batch norm, LeakyReLU
 * discriminator; Mirza & Osindero 2014's conditioning when num_classes > 0:
 * a learned label embedding, as wide as the number of classes, concatenated
 * to the noise and to the flattened image).
 *
 * generator (w = g_width, 256; bn1/bn2 when g_norm is 'b'):
 *   [z | emb(y)]
 *   fc0: Linear(w)            ReLU
 *   fc1: Linear(2w)     bn1   ReLU
 *   fc2: Linear(4w)     bn2   ReLU
 *   fc3: Linear(C*H*W)        tanh  -> [N, C, H, W]
 * discriminator (w = d_width, 256):
 *   [flatten(x) | emb(y)]
 *   fc0: Linear(2w)           LeakyReLU(0.2)
 *   fc1: Linear(w)            LeakyReLU(0.2)
 *   fc2: Linear(1)                  -> logit [N]
 */
#include <stdio.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "gan_impl.h"

static const char *const gan_archs[] = {"gan-mlp", "dcgan", "cgan", "wgan", "wgan-gp"};

const char *dlt_gan_archs(void)
{
    return "gan-mlp, dcgan, cgan, wgan, wgan-gp";
}

/* The convolutional (DCGAN-family) architectures. */
static int is_conv(const char *arch)
{
    return strcmp(arch, "gan-mlp") != 0;
}

int dlt_gan_is_arch(const char *arch)
{
    for (size_t i = 0; i < sizeof gan_archs / sizeof gan_archs[0]; i++)
        if (strcmp(arch, gan_archs[i]) == 0)
            return 1;
    return 0;
}

dlt_status dlt_gan_spec_default(const char *arch, dlt_gan_spec *s)
{
    if (strlen(arch) >= sizeof s->arch || !dlt_gan_is_arch(arch))
        return dlt_seterr(DLT_ERR_INVALID, "unknown GAN model '%s' (known: %s)", arch,
                          dlt_gan_archs());
    memset(s, 0, sizeof *s);
    snprintf(s->arch, sizeof s->arch, "%s", arch);
    s->img_c = 1, s->img_h = 28, s->img_w = 28;
    s->z_dim = 100;
    s->g_width = 256, s->d_width = 256;
    s->g_norm = 'b', s->d_norm = 'n';
    s->leaky = 0.2f;
    s->bn_momentum = 0.1f, s->bn_eps = 1e-5f;
    if (is_conv(arch)) {
        /* Radford et al.: ngf = ndf = 64, batch norm in both networks (also
         * Arjovsky et al.'s WGAN critic); Gulrajani et al. take batch norm out
         * of the critic, layer norm being their suggested replacement. */
        s->g_width = 64, s->d_width = 64;
        s->d_norm = strcmp(arch, "wgan-gp") == 0 ? 'l' : 'b';
        if (strcmp(arch, "cgan") == 0)
            s->num_classes = 10;
    }
    return DLT_OK;
}

/* emb(label) [N, num_classes]: the label's learned embedding
 * (torch.nn.Embedding's N(0, 1) initialisation). */
dlt_t dlt_gan_label_emb(dlt_graph *g, const dlt_gan_spec *s, dlt_t label)
{
    if (label < 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "%s: a conditional model (num_classes %d) needs the label", s->arch,
                              s->num_classes);
    int64_t es[2] = {s->num_classes, s->num_classes};
    dlt_t table = dlt_param(g, "label_emb.weight", 2, es, dlt_init_normal(0, 1));
    return dlt_embedding(g, table, label);
}

/* [x | emb(label)] for x [N, F]. */
dlt_t dlt_gan_with_label(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label)
{
    if (s->num_classes <= 0)
        return x;
    dlt_t xs[2] = {x, dlt_gan_label_emb(g, s, label)};
    return dlt_concat(g, 2, xs, 1);
}

/* Batch norm over the features of x [N, F]. */
static dlt_t bn1d(dlt_graph *g, const dlt_gan_spec *s, const char *name, dlt_t x)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs || s->g_norm != 'b')
        return xs ? x : -1;
    return dlt_nn_batch_norm(g, name, x, s->bn_momentum, s->bn_eps, dlt_init_const(1));
}

static dlt_t mlp_generator(dlt_graph *g, const dlt_gan_spec *s, dlt_t z, dlt_t label)
{
    int w = s->g_width;
    dlt_t h = dlt_gan_with_label(g, s, z, label);
    h = dlt_relu(g, dlt_nn_linear(g, "fc0", h, w));
    h = dlt_relu(g, bn1d(g, s, "bn1", dlt_nn_linear(g, "fc1", h, 2 * w)));
    h = dlt_relu(g, bn1d(g, s, "bn2", dlt_nn_linear(g, "fc2", h, 4 * w)));
    h = dlt_tanh(g, dlt_nn_linear(g, "fc3", h, s->img_c * s->img_h * s->img_w));
    int64_t img[4] = {-1, s->img_c, s->img_h, s->img_w};
    return dlt_reshape(g, h, 4, img);
}

static dlt_t mlp_discriminator(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label)
{
    int w = s->d_width;
    dlt_t h = dlt_gan_with_label(g, s, dlt_flatten(g, x, 1, 3), label);
    h = dlt_leaky_relu(g, dlt_nn_linear(g, "fc0", h, 2 * w), s->leaky);
    h = dlt_leaky_relu(g, dlt_nn_linear(g, "fc1", h, w), s->leaky);
    h = dlt_nn_linear(g, "fc2", h, 1);
    int64_t n[1] = {-1};
    return dlt_reshape(g, h, 1, n);
}

/* z must be [N, z_dim] and x [N, C, H, W] of the spec, labels [N] i32. */
static int check_in(dlt_graph *g, const dlt_gan_spec *s, dlt_t v, int image, dlt_t label,
                    const char *who)
{
    const dlt_shape *vs = dlt_shape_of(g, v);
    if (!vs)
        return 0;
    char buf[96];
    int ok = image ? vs->ndim == 4 && vs->dim[1] == s->img_c && vs->dim[2] == s->img_h &&
                         vs->dim[3] == s->img_w
                   : vs->ndim == 2 && vs->dim[1] == s->z_dim;
    if (!ok) {
        if (image)
            dlt_graph_fail(g, DLT_ERR_SHAPE, "%s %s: input must be [N, %d, %d, %d] (got %s)",
                           s->arch, who, s->img_c, s->img_h, s->img_w,
                           dlt_shape_str(vs, buf, sizeof buf));
        else
            dlt_graph_fail(g, DLT_ERR_SHAPE, "%s %s: noise must be [N, %d] (got %s)", s->arch, who,
                           s->z_dim, dlt_shape_str(vs, buf, sizeof buf));
        return 0;
    }
    if (label >= 0) {
        const dlt_shape *ls = dlt_shape_of(g, label);
        if (!ls || ls->dtype != DLT_I32 || ls->ndim != 1 || ls->dim[0] != vs->dim[0]) {
            dlt_graph_fail(g, DLT_ERR_SHAPE, "%s %s: labels must be i32 [%lld]", s->arch, who,
                           (long long)vs->dim[0]);
            return 0;
        }
    }
    return 1;
}

dlt_t dlt_gan_generator(dlt_graph *g, const dlt_gan_spec *s, dlt_t z, dlt_t label)
{
    if (!dlt_gan_is_arch(s->arch))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "unknown GAN model '%s' (known: %s)", s->arch,
                              dlt_gan_archs());
    if (!check_in(g, s, z, 0, label, "generator"))
        return -1;
    if (strcmp(s->arch, "cgan") == 0 && s->num_classes <= 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "cgan: num_classes must be > 0 (got %d)",
                              s->num_classes);
    dlt_scope_push(g, "generator");
    dlt_t y =
        is_conv(s->arch) ? dlt_dcgan_generator(g, s, z, label) : mlp_generator(g, s, z, label);
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_gan_discriminator(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label)
{
    if (!dlt_gan_is_arch(s->arch))
        return dlt_graph_fail(g, DLT_ERR_INVALID, "unknown GAN model '%s' (known: %s)", s->arch,
                              dlt_gan_archs());
    if (!check_in(g, s, x, 1, label, "discriminator"))
        return -1;
    if (strcmp(s->arch, "cgan") == 0 && s->num_classes <= 0)
        return dlt_graph_fail(g, DLT_ERR_INVALID, "cgan: num_classes must be > 0 (got %d)",
                              s->num_classes);
    dlt_scope_push(g, "discriminator");
    dlt_t y = is_conv(s->arch) ? dlt_dcgan_discriminator(g, s, x, label)
                               : mlp_discriminator(g, s, x, label);
    dlt_scope_pop(g);
    return y;
}

void dlt_gan_describe(const dlt_gan_spec *s, dlt_kvlist *kv)
{
    dlt_kv_str(kv, "arch", s->arch);
    dlt_kv_int(kv, "image_channels", s->img_c);
    dlt_kv_int(kv, "image_height", s->img_h);
    dlt_kv_int(kv, "image_width", s->img_w);
    dlt_kv_int(kv, "z_dim", s->z_dim);
    dlt_kv_int(kv, "num_classes", s->num_classes);
    dlt_kv_int(kv, "g_width", s->g_width);
    dlt_kv_int(kv, "d_width", s->d_width);
    dlt_kv_str(kv, "g_norm", s->g_norm == 'b' ? "batch" : "none");
    dlt_kv_str(kv, "d_norm", s->d_norm == 'b' ? "batch" : s->d_norm == 'l' ? "layer" : "none");
    dlt_kv_float(kv, "leaky_relu_slope", s->leaky);
    dlt_kv_float(kv, "bn_momentum", s->bn_momentum);
    dlt_kv_float(kv, "bn_eps", s->bn_eps);
}
