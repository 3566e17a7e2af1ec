/* DCGAN-family networks (Radford et al. 2016) for 28x28, 32x32 and 64x64
 * images: the dcgan, cgan, wgan and wgan-gp architectures of dlt_gen.h.
 *
 * Generator (ngf = g_width; BN + ReLU after every layer but the last, whose
 * output goes through tanh). z [N, Z] is seen as a 1x1 image of Z channels
 * and a stride-1 ConvTranspose with a kernel as large as the first feature
 * map makes that map; stride-2 4x4 ConvTransposes (padding 1) then double
 * its size and halve its channels:
 *
 *   64x64 (PyTorch's dcgan example exactly):
 *     main.0  ConvT(Z, 8ngf, 4, 1, 0)   1 -> 4    main.1 BN  main.2 ReLU
 *     main.3  ConvT(8ngf, 4ngf, 4, 2, 1) -> 8     main.4 BN  main.5 ReLU
 *     main.6  ConvT(4ngf, 2ngf) -> 16             main.7 BN  main.8 ReLU
 *     main.9  ConvT(2ngf, ngf) -> 32              main.10 BN main.11 ReLU
 *     main.12 ConvT(ngf, C) -> 64                 main.13 tanh
 *   32x32: main.0 ConvT(Z, 4ngf, 4, 1, 0) -> 4, then 4ngf -> 2ngf -> ngf -> C
 *     at 8, 16, 32 (main.3, main.6, main.9; tanh main.10)
 *   28x28: main.0 ConvT(Z, 4ngf, 7, 1, 0) -> 7 (the 7x7 start: one
 *     transposed conv from 1x1, as the others start), then 4ngf -> 2ngf -> C
 *     at 14, 28 (main.3, main.6; tanh main.7)
 *
 * Discriminator (ndf = d_width): the mirror image. Stride-2 4x4 convs
 * (padding 1) halve the size and double the channels, LeakyReLU(leaky)
 * after each, normalisation after each but the first; a last conv with a
 * kernel as large as the remaining map (4 or 7, stride 1, no padding) gives
 * one logit per sample, [N] (no sigmoid: the task's loss takes logits):
 *
 *   64x64 (the example's, less its Sigmoid):
 *     main.0 Conv(C, ndf) -> 32          main.1 LReLU
 *     main.2 Conv(ndf, 2ndf) -> 16       main.3 norm  main.4 LReLU
 *     main.5 Conv(2ndf, 4ndf) -> 8       main.6 norm  main.7 LReLU
 *     main.8 Conv(4ndf, 8ndf) -> 4       main.9 norm  main.10 LReLU
 *     main.11 Conv(8ndf, 1, 4, 1, 0) -> 1
 *   32x32: ndf, 2ndf, 4ndf at 16, 8, 4; main.8 Conv(4ndf, 1, 4, 1, 0)
 *   28x28: ndf, 2ndf at 14, 7; main.5 Conv(2ndf, 1, 7, 1, 0)
 *
 * Normalisation: g_norm / d_norm 'b' is batch norm, 'l' layer norm over
 * [C, H, W] of each sample with an elementwise affine (Gulrajani et al.'s
 * replacement for batch norm in a WGAN-GP critic), 'n' none. The indices
 * number the layers present, as an nn.Sequential built the same way would
 * (without normalisation each stage has two layers instead of three).
 *
 * Biases: a network with batch norm has none (PyTorch's example: bias=False
 * everywhere); without batch norm every conv that no normalisation follows
 * has one (the first and last; all of them with 'n').
 *
 * Initialisation (the DCGAN paper's, the example's weights_init): conv
 * weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0; layer norm
 * keeps torch's 1 and 0.
 *
 * Conditioning (cgan, or any of these with num_classes > 0; Mirza &
 * Osindero 2014 applied to DCGAN): a learned label embedding num_classes
 * wide (label_emb.weight, N(0, 1) as torch.nn.Embedding) in each network.
 * The generator concatenates it to z (Z = z_dim + num_classes above); the
 * discriminator broadcasts it to num_classes constant HxW planes
 * concatenated to the image's channels (C = img_c + num_classes above).
 *
 * wgan / wgan-gp are the same networks; the critic's output is unbounded and
 * the task decides the loss. */
#include <stdio.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "gan_impl.h"

/* The geometry of one image size: first (generator) / last (discriminator)
 * feature map side, number of stride-2 stages, widest stage as a multiple of
 * the base width. */
typedef struct {
    int start, stages, widest;
} dcgan_geom;

static int geom_of(dlt_graph *g, const dlt_gan_spec *s, dcgan_geom *q)
{
    int h = s->img_h;
    if (s->img_w != h || (h != 28 && h != 32 && h != 64)) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: images must be 28x28, 32x32 or 64x64 (got %dx%d)",
                       s->arch, s->img_h, s->img_w);
        return 0;
    }
    if (s->g_width <= 0 || s->d_width <= 0) {
        dlt_graph_fail(g, DLT_ERR_INVALID, "%s: g_width and d_width must be > 0 (got %d, %d)",
                       s->arch, s->g_width, s->d_width);
        return 0;
    }
    q->start = h == 28 ? 7 : 4;
    q->stages = h == 28 ? 2 : h == 32 ? 3 : 4;
    q->widest = h == 64 ? 8 : 4;
    return 1;
}

/* norm must be one of the letters in allowed ('b'atch, 'l'ayer, 'n'one). */
static int check_norm(dlt_graph *g, const dlt_gan_spec *s, char norm, const char *field,
                      const char *allowed)
{
    if (norm && strchr(allowed, norm))
        return 1;
    dlt_graph_fail(g, DLT_ERR_INVALID, "%s: %s must be %s (got code %d)", s->arch, field,
                   strchr(allowed, 'l') ? "'b' (batch), 'l' (layer) or 'n' (none)"
                                        : "'b' (batch) or 'n' (none)",
                   norm);
    return 0;
}

/* ConvTranspose2d (transposed) or Conv2d named main.<idx>, DCGAN init. */
static dlt_t conv_layer(dlt_graph *g, int idx, dlt_t x, int transposed, int out_c, int k,
                        int stride, int pad, int bias)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs)
        return -1;
    int64_t in_c = xs->dim[1];
    int64_t ws[4] = {transposed ? in_c : out_c, transposed ? out_c : in_c, k, k}, bs[1] = {out_c};
    dlt_scope_pushf(g, "main.%d", idx);
    dlt_t w = dlt_param(g, "weight", 4, ws, dlt_init_normal(0, 0.02));
    dlt_t b = bias ? dlt_param(g, "bias", 1, bs, dlt_init_const(0)) : -1;
    dlt_scope_pop(g);
    dlt_conv2d_opts o = {.stride = {stride, stride}, .padding = {pad, pad}};
    return transposed ? dlt_conv_transpose2d(g, x, w, b, &o) : dlt_conv2d(g, x, w, b, &o);
}

/* Batch norm ('b', DCGAN init) or layer norm over [C, H, W] ('l') named
 * main.<idx>; 'n' returns x. */
static dlt_t norm_layer(dlt_graph *g, const dlt_gan_spec *s, char norm, int idx, dlt_t x)
{
    const dlt_shape *xs = dlt_shape_of(g, x);
    if (!xs || norm == 'n')
        return xs ? x : -1;
    dlt_scope_pushf(g, "main.%d", idx);
    dlt_t y;
    if (norm == 'b') {
        y = dlt_nn_batch_norm(g, NULL, x, s->bn_momentum, s->bn_eps, dlt_init_normal(1, 0.02));
    } else {
        const int64_t *chw = xs->dim + 1;
        dlt_t gamma = dlt_param(g, "weight", 3, chw, dlt_init_const(1));
        dlt_t beta = dlt_param(g, "bias", 3, chw, dlt_init_const(0));
        y = dlt_layer_norm(g, x, 3, chw, gamma, beta, s->bn_eps);
    }
    dlt_scope_pop(g);
    return y;
}

dlt_t dlt_dcgan_generator(dlt_graph *g, const dlt_gan_spec *s, dlt_t z, dlt_t label)
{
    dcgan_geom q;
    if (!geom_of(g, s, &q) || !check_norm(g, s, s->g_norm, "g_norm", "bn"))
        return -1;
    dlt_t h = dlt_gan_with_label(g, s, z, label);
    const dlt_shape *hs = dlt_shape_of(g, h);
    if (!hs)
        return -1;
    int64_t col[4] = {hs->dim[0], hs->dim[1], 1, 1};
    h = dlt_reshape(g, h, 4, col);
    int bias = s->g_norm != 'b', idx = 0, c = q.widest * s->g_width;
    for (int i = 0; i <= q.stages; i++) {
        int last = i == q.stages;
        h = i == 0 ? conv_layer(g, idx++, h, 1, c, q.start, 1, 0, bias)
                   : conv_layer(g, idx++, h, 1, last ? s->img_c : c, 4, 2, 1, bias);
        if (last)
            break;
        if (s->g_norm != 'n')
            h = norm_layer(g, s, s->g_norm, idx++, h);
        h = dlt_relu(g, h);
        idx++; /* the ReLU's slot in the Sequential */
        c /= 2;
    }
    return dlt_tanh(g, h);
}

dlt_t dlt_dcgan_discriminator(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label)
{
    dcgan_geom q;
    if (!geom_of(g, s, &q) || !check_norm(g, s, s->d_norm, "d_norm", "bln"))
        return -1;
    dlt_t h = x;
    if (s->num_classes > 0) {
        /* the embedding as constant planes: [N, K] -> [N, K, 1, 1] -> [N, K, H, W] */
        dlt_t e = dlt_gan_label_emb(g, s, label);
        const dlt_shape *es = dlt_shape_of(g, e);
        if (!es)
            return -1;
        int64_t col[4] = {es->dim[0], es->dim[1], 1, 1};
        dlt_shape planes = dlt_shape_make(
            DLT_F32, 4, (const int64_t[]){es->dim[0], es->dim[1], s->img_h, s->img_w});
        dlt_t xs[2] = {x, dlt_broadcast_to(g, dlt_reshape(g, e, 4, col), &planes)};
        h = dlt_concat(g, 2, xs, 1);
    }
    int idx = 0, c = s->d_width;
    for (int i = 0; i < q.stages; i++, c *= 2) {
        int normed = i > 0 && s->d_norm != 'n';
        h = conv_layer(g, idx++, h, 0, c, 4, 2, 1, s->d_norm != 'b' && !normed);
        if (normed)
            h = norm_layer(g, s, s->d_norm, idx++, h);
        h = dlt_leaky_relu(g, h, s->leaky);
        idx++; /* the LeakyReLU's slot */
    }
    h = conv_layer(g, idx, h, 0, 1, q.start, 1, 0, s->d_norm != 'b');
    int64_t n[1] = {-1};
    return dlt_reshape(g, h, 1, n);
}
