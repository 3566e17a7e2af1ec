/* The variational autoencoder of Kingma & Welling 2014 with a convolutional
 * encoder and decoder (Bernoulli pixels: the decoder gives logits), for
 * img_c x H x W images with H and W divisible by 4 (1x28x28 Fashion-MNIST).
 * w = width, h = hidden, Z = z_dim, S = 2w * H/4 * W/4:
 *
 *   encoder.conv1      Conv(C, w, 4, s2, p1)   ReLU       H/2
 *   encoder.conv2      Conv(w, 2w, 4, s2, p1)  ReLU       H/4, flatten -> S
 *   encoder.fc         Linear(S, h)            ReLU
 *   encoder.fc_mu      Linear(h, Z) -> mu;  encoder.fc_logvar  Linear(h, Z) -> logvar
 *   z = mu + exp(logvar / 2) * eps            (dlt_vae_sample; eps from the caller)
 *   decoder.fc1        Linear(Z, h)            ReLU
 *   decoder.fc2        Linear(h, S)            ReLU       -> [N, 2w, H/4, W/4]
 *   decoder.deconv1    ConvT(2w, w, 4, s2, p1) ReLU       H/2
 *   decoder.deconv2    ConvT(w, C, 4, s2, p1)  -> logits  H
 *
 * Initialisation: PyTorch's defaults for every layer (weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in as torch computes it from the
 * weight's shape, so out_channels * k * k for a transposed conv). */
#include <math.h>

#include "dlt_gen.h"
#include "dlt_models.h"
#include "dlt_ops.h"

void dlt_vae_spec_default(dlt_vae_spec *s)
{
    s->img_c = 1, s->img_h = 28, s->img_w = 28;
    s->z_dim = 20;
    s->width = 32;
    s->hidden = 256;
}

/* Conv2d / ConvTranspose2d (4x4, stride 2, padding 1) with torch's default initialisation. */
static dlt_t conv(dlt_graph *g, const char *name, dlt_t x, int out_c, int transposed)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int64_t in_c = xs->dim[1];
    int64_t ws[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, 4, 4}, bs[1] = {out_c};
    dlt_shape wshape = dlt_shape_make(DLT_F32, 4, ws);
    double fan_in, fan_out;
    dlt_init_fans(&wshape, &fan_in, &fan_out);
    double bound = 1.0 / sqrt(fan_in);
    dlt_scope_push(g, name);
    dlt_t w = dlt_param(g, "weight", 4, ws, dlt_init_uniform(-bound, bound));
    dlt_t b = dlt_param(g, "bias", 1, bs, dlt_init_uniform(-bound, bound));
    dlt_scope_pop(g);
    dlt_conv2d_opts o = {.stride = {2, 2}, .padding = {1, 1}};
    return transposed ? dlt_conv_transpose2d(g, x, w, b, &o) : dlt_conv2d(g, x, w, b, &o);
}

static int check_spec(dlt_graph *g, const dlt_vae_spec *s)
{
    if (s->img_c <= 0 || s->img_h <= 0 || s->img_w <= 0 || s->img_h % 4 || s->img_w % 4 ||
        s->z_dim <= 0 || s->width <= 0 || s->hidden <= 0) {
        dlt_graph_fail(g, DLT_ERR_INVALID,
                       "vae: image sides must be multiples of 4 and img_c, z_dim, width, hidden "
                       "> 0 (got %dx%dx%d, %d, %d, %d)",
                       s->img_c, s->img_h, s->img_w, s->z_dim, s->width, s->hidden);
        return 0;
    }
    return 1;
}

/* v must be [N, d1, d2, d3] (or [N, d1] when nd is 2). */
static int check_shape(dlt_graph *g, dlt_t v, int nd, const int64_t *d, const char *what)
{
    const dlt_shape *vs = dlt_shape_of(g, v);
    if (!vs)
        return 0;
    int ok = vs->ndim == nd && vs->dtype == DLT_F32;
    for (int i = 1; ok && i < nd; i++)
        ok = vs->dim[i] == d[i - 1];
    if (!ok) {
        char buf[96];
        if (nd == 4)
            dlt_graph_fail(g, DLT_ERR_SHAPE, "vae: %s must be f32 [N, %lld, %lld, %lld] (got %s)",
                           what, (long long)d[0], (long long)d[1], (long long)d[2],
                           dlt_shape_str(vs, buf, sizeof buf));
        else
            dlt_graph_fail(g, DLT_ERR_SHAPE, "vae: %s must be f32 [N, %lld] (got %s)", what,
                           (long long)d[0], dlt_shape_str(vs, buf, sizeof buf));
        return 0;
    }
    return 1;
}

dlt_t dlt_vae_encoder(dlt_graph *g, const dlt_vae_spec *s, dlt_t x, dlt_t *mu, dlt_t *logvar)
{
    *mu = *logvar = -1;
    int64_t img[3] = {s->img_c, s->img_h, s->img_w};
    if (!check_spec(g, s) || !check_shape(g, x, 4, img, "the encoder's input"))
        return -1;
    dlt_scope_push(g, "encoder");
    dlt_t h = dlt_relu(g, conv(g, "conv1", x, s->width, 0));
    h = dlt_relu(g, conv(g, "conv2", h, 2 * s->width, 0));
    h = dlt_relu(g, dlt_nn_linear(g, "fc", dlt_flatten(g, h, 1, 3), s->hidden));
    *mu = dlt_nn_linear(g, "fc_mu", h, s->z_dim);
    *logvar = dlt_nn_linear(g, "fc_logvar", h, s->z_dim);
    dlt_scope_pop(g);
    return *logvar < 0 ? -1 : *mu;
}

dlt_t dlt_vae_sample(dlt_graph *g, dlt_t mu, dlt_t logvar, dlt_t eps)
{
    return dlt_add(g, mu, dlt_mul(g, dlt_exp(g, dlt_affine(g, logvar, 0.5f, 0.f)), eps));
}

dlt_t dlt_vae_decoder(dlt_graph *g, const dlt_vae_spec *s, dlt_t z)
{
    int64_t zd[1] = {s->z_dim};
    if (!check_spec(g, s) || !check_shape(g, z, 2, zd, "the decoder's input z"))
        return -1;
    int64_t c = 2 * s->width, h4 = s->img_h / 4, w4 = s->img_w / 4;
    dlt_scope_push(g, "decoder");
    dlt_t h = dlt_relu(g, dlt_nn_linear(g, "fc1", z, s->hidden));
    h = dlt_relu(g, dlt_nn_linear(g, "fc2", h, (int)(c * h4 * w4)));
    int64_t map[4] = {-1, c, h4, w4};
    h = dlt_relu(g, conv(g, "deconv1", dlt_reshape(g, h, 4, map), s->width, 1));
    h = conv(g, "deconv2", h, s->img_c, 1);
    dlt_scope_pop(g);
    return h;
}

/* sum(BCE) + sum(KL) over the whole batch, divided by N: the per-sample sums
 * averaged. */
dlt_t dlt_vae_loss(dlt_graph *g, const dlt_vae_spec *s, dlt_t x01, dlt_t logits, dlt_t mu,
                   dlt_t logvar)
{
    int64_t img[3] = {s->img_c, s->img_h, s->img_w}, zd[1] = {s->z_dim};
    if (!check_shape(g, x01, 4, img, "the loss's target") ||
        !check_shape(g, logits, 4, img, "the loss's logits") || !check_shape(g, mu, 2, zd, "mu") ||
        !check_shape(g, logvar, 2, zd, "logvar"))
        return -1;
    int64_t n = dlt_shape_of(g, x01)->dim[0];
    dlt_t bce = dlt_bce_with_logits(g, logits, x01, -1, DLT_REDUCE_SUM);
    /* KL(N(mu, exp(logvar)) || N(0, 1)) = -1/2 sum (1 + logvar - mu^2 - exp(logvar)) */
    dlt_t t = dlt_sub(g, dlt_sub(g, dlt_affine(g, logvar, 1.f, 1.f), dlt_square(g, mu)),
                      dlt_exp(g, logvar));
    dlt_t kl = dlt_affine(g, dlt_sum(g, t, 0, NULL, 0), -0.5f, 0.f);
    return dlt_affine(g, dlt_add(g, bce, kl), 1.f / (float)n, 0.f);
}

void dlt_vae_describe(const dlt_vae_spec *s, dlt_kvlist *kv)
{
    dlt_kv_int(kv, "image_channels", s->img_c);
    dlt_kv_int(kv, "image_height", s->img_h);
    dlt_kv_int(kv, "image_width", s->img_w);
    dlt_kv_int(kv, "z_dim", s->z_dim);
    dlt_kv_int(kv, "width", s->width);
    dlt_kv_int(kv, "hidden", s->hidden);
}
