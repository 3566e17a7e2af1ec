/* CycleGAN's networks (Zhu et al. 2017, appendix 7.2), with the layer order
 * and parameter names of the authors' PyTorch implementation
 * (ResnetGenerator and NLayerDiscriminator in an nn.Sequential called
 * `model`), under a scope the caller names (G_AB, G_BA, D_A, D_B).
 *
 * Generator (ngf = g_width, n = n_blocks; IN = instance norm without affine
 * parameters, as the reference's default norm 'instance'; every conv has a
 * bias, as the reference gives one whenever the norm is instance norm):
 *   model.0        ReflectionPad(3)
 *   model.1..3     c7s1-ngf:  Conv(C_in, ngf, 7)               IN  ReLU
 *   model.4..6     d(2ngf):   Conv(ngf, 2ngf, 3, s2, p1)       IN  ReLU  H/2
 *   model.7..9     d(4ngf):   Conv(2ngf, 4ngf, 3, s2, p1)      IN  ReLU  H/4
 *   model.10 ..    R(4ngf) x n: x + [ReflectionPad(1) Conv(3) IN ReLU
 *                  ReflectionPad(1) Conv(3) IN] (conv_block.1, conv_block.5)
 *   model.10+n..   u(2ngf):   ConvT(4ngf, 2ngf, 3, s2, p1, output_padding 1)
 *                  IN ReLU  H/2;  u(ngf): ConvT(2ngf, ngf) IN ReLU  H
 *   model.16+n     ReflectionPad(3)
 *   model.17+n     c7s1-C:    Conv(ngf, img_c, 7)   model.18+n tanh
 * The paper's c7s1-64, d128, d256, R256 x 6 or 9, u128, u64, c7s1-3 at
 * ngf = 64. Sides must be divisible by 4 so the two stride-2 convs are
 * undone exactly (28 -> 14 -> 7 -> 14 -> 28).
 *
 * Discriminator, the PatchGAN (ndf = d_width, L = d_layers; LReLU slope
 * `leaky`; no norm on the first layer):
 *   model.0,1      Conv(C, ndf, 4, s2, p1)                           LReLU
 *   model.3k-1..3k+1 (k = 1..L-1): Conv(ndf m_(k-1), ndf m_k, 4, s2, p1) IN LReLU
 *   model.3L-1..3L+1             Conv(ndf m_(L-1), ndf m_L, 4, s1, p1) IN LReLU
 *   model.3L+2     Conv(ndf m_L, 1, 4, s1, p1) -> logits [N, 1, PH, PW]
 * with m_k = min(2^k, 8). L = 3 is the paper's C64-C128-C256-C512 70x70
 * PatchGAN (a 30x30 patch map at 256px, 1x1 at 28px, 2x2 at 32px).
 *
 * Initialisation: the reference's init_type 'normal': conv weights
 * N(0, 0.02), biases 0. */
#include <stdio.h>

#include "dlt_gen.h"
#include "dlt_ops.h"

void dlt_cyclegan_spec_default(dlt_cyclegan_spec *s, int img_c, int img_h, int img_w)
{
    s->img_c = img_c, s->img_h = img_h, s->img_w = img_w;
    s->g_width = 64, s->d_width = 64;
    s->n_blocks = img_h >= 256 && img_w >= 256 ? 9 : 6; /* the paper's rule */
    s->d_layers = 3;
    s->leaky = 0.2f;
    s->norm_eps = 1e-5f;
}

/* Conv2d or ConvTranspose2d (stride 2, padding 1, output_padding 1) named
 * model.<idx>, with bias; the reference's N(0, 0.02) initialisation. */
static dlt_t conv(dlt_graph *g, const char *name, dlt_t x, int out_c, int k, int stride, int pad,
                  int transposed)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int64_t in_c = xs->dim[1];
    int64_t ws[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, k, k}, bs[1] = {out_c};
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 4, ws, dlt_init_normal(0, 0.02));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_const(0));
    dlt_scope_pop(g);
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}};
    if (transposed) {
        o.output_padding[0] = o.output_padding[1] = 1;
        return dlt_conv_transpose2d(g, x, w, b, &o);
    }
    return dlt_conv2d(g, x, w, b, &o);
}

static dlt_t convi(dlt_graph *g, int idx, dlt_t x, int out_c, int k, int stride, int pad,
                   int transposed)
{
    char name[32];
    snprintf(name, sizeof name, "model.%d", idx);
    return conv(g, name, x, out_c, k, stride, pad, transposed);
}

static dlt_t reflect(dlt_graph *g, dlt_t x, int p)
{
    int64_t pad[4] = {0, 0, p, p};
    return dlt_pad(g, x, pad, pad, DLT_PAD_REFLECT, 0.f);
}

static dlt_t inorm(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x)
{
    return dlt_instance_norm(g, x, -1, -1, s->norm_eps);
}

/* x + [pad conv IN ReLU pad conv IN](x), the reference's ResnetBlock without dropout. */
static dlt_t res_block(dlt_graph *g, const dlt_cyclegan_spec *s, int idx, dlt_t x, int c)
{
    dlt_scope_pushf(g, "model.%d.conv_block", idx);
    dlt_t h = dlt_relu(g, inorm(g, s, conv(g, "1", reflect(g, x, 1), c, 3, 1, 0, 0)));
    h = inorm(g, s, conv(g, "5", reflect(g, h, 1), c, 3, 1, 0, 0));
    dlt_scope_pop(g);
    return dlt_add(g, x, h);
}

static int check_spec(dlt_graph *g, const dlt_cyclegan_spec *s, const char *scope)
{
    if (s->img_c <= 0 || s->g_width <= 0 || s->d_width <= 0 || s->n_blocks < 0 || s->d_layers < 1) {
        dlt_graph_fail(g, DLT_ERR_INVALID,
                       "cyclegan %s: img_c, g_width, d_width and d_layers must be > 0, n_blocks "
                       ">= 0 (got %d, %d, %d, %d, %d)",
                       scope, s->img_c, s->g_width, s->d_width, s->d_layers, s->n_blocks);
        return 0;
    }
    return 1;
}

/* x must be [N, C, img_h, img_w] (C = img_c unless any_c). */
static int check_input(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x, int any_c,
                       const char *scope)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return 0;
    if (xs->ndim != 4 || xs->dim[2] != s->img_h || xs->dim[3] != s->img_w ||
        (!any_c && xs->dim[1] != s->img_c)) {
        char buf[96];
        char c[16] = "C";
        if (!any_c)
            snprintf(c, sizeof c, "%d", s->img_c);
        dlt_graph_fail(g, DLT_ERR_SHAPE, "cyclegan %s: input must be [N, %s, %d, %d] (got %s)",
                       scope, c, s->img_h, s->img_w, dlt_shape_str(xs, buf, sizeof buf));
        return 0;
    }
    return 1;
}

dlt_t dlt_cyclegan_generator(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x,
                             const char *scope_name)
{
    if (!check_spec(g, s, scope_name) || !check_input(g, s, x, 1, scope_name))
        return -1;
    if (s->img_h % 4 || s->img_w % 4 || s->img_h < 8 || s->img_w < 8)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "cyclegan %s: the generator's image sides must be multiples of 4, "
                              "at least 8 (got %dx%d)",
                              scope_name, s->img_h, s->img_w);
    int w = s->g_width, b = 10 + s->n_blocks;
    dlt_scope_push(g, scope_name);
    dlt_t h = dlt_relu(g, inorm(g, s, convi(g, 1, reflect(g, x, 3), w, 7, 1, 0, 0)));
    h = dlt_relu(g, inorm(g, s, convi(g, 4, h, 2 * w, 3, 2, 1, 0)));
    h = dlt_relu(g, inorm(g, s, convi(g, 7, h, 4 * w, 3, 2, 1, 0)));
    for (int i = 0; i < s->n_blocks; i++)
        h = res_block(g, s, 10 + i, h, 4 * w);
    h = dlt_relu(g, inorm(g, s, convi(g, b, h, 2 * w, 3, 2, 1, 1)));
    h = dlt_relu(g, inorm(g, s, convi(g, b + 3, h, w, 3, 2, 1, 1)));
    h = dlt_tanh(g, convi(g, b + 7, reflect(g, h, 3), s->img_c, 7, 1, 0, 0));
    dlt_scope_pop(g);
    return h;
}

dlt_t dlt_cyclegan_discriminator(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x,
                                 const char *scope_name)
{
    if (!check_spec(g, s, scope_name) || !check_input(g, s, x, 0, scope_name))
        return -1;
    /* each stride-2 conv (k4, p1) floors the side to half, the two stride-1
     * convs (k4, p1) take one off each */
    int ph = s->img_h, pw = s->img_w;
    for (int i = 0; i < s->d_layers; i++)
        ph /= 2, pw /= 2;
    if (ph - 2 < 1 || pw - 2 < 1)
        return dlt_graph_fail(g, DLT_ERR_INVALID,
                              "cyclegan %s: %dx%d images are too small for a %d-layer PatchGAN "
                              "(the patch map would be %dx%d)",
                              scope_name, s->img_h, s->img_w, s->d_layers, ph - 2, pw - 2);
    int w = s->d_width, mult = 1;
    dlt_scope_push(g, scope_name);
    dlt_t h = dlt_leaky_relu(g, convi(g, 0, x, w, 4, 2, 1, 0), s->leaky);
    for (int k = 1; k <= s->d_layers; k++) {
        mult = (1 << k) < 8 ? 1 << k : 8;
        int stride = k < s->d_layers ? 2 : 1;
        h = convi(g, 3 * k - 1, h, w * mult, 4, stride, 1, 0);
        h = dlt_leaky_relu(g, inorm(g, s, h), s->leaky);
    }
    h = convi(g, 3 * s->d_layers + 2, h, 1, 4, 1, 1, 0);
    dlt_scope_pop(g);
    return h;
}

void dlt_cyclegan_describe(const dlt_cyclegan_spec *s, dlt_kvlist *kv)
{
    dlt_kv_int(kv, "image_channels", s->img_c);
    dlt_kv_int(kv, "image_height", s->img_h);
    dlt_kv_int(kv, "image_width", s->img_w);
    dlt_kv_int(kv, "g_width", s->g_width);
    dlt_kv_int(kv, "d_width", s->d_width);
    dlt_kv_int(kv, "n_blocks", s->n_blocks);
    dlt_kv_int(kv, "d_layers", s->d_layers);
    dlt_kv_float(kv, "leaky_relu_slope", s->leaky);
    dlt_kv_float(kv, "norm_eps", s->norm_eps);
}
