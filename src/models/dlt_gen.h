/* Generative models: GAN generators and discriminators (gan.c: the
 * registry and gan-mlp; dcgan.c: DCGAN-family convolutional models, used by
 * dcgan, cgan, wgan and wgan-gp), CycleGAN (cyclegan.c) and the VAE (vae.c).
 * Like every model builder they only add nodes and parameters; the GAN task
 * (src/train/task_gan.c) draws the noise, calls these and writes the losses.
 *
 * A generator's parameters live under the scope "generator", a
 * discriminator's (critic's) under "discriminator", so a phase of training
 * can own one contiguous range of the flat buffers. A discriminator is
 * applied to several batches (real images, fakes, WGAN-GP's interpolates):
 * the first call creates its parameters, later calls run inside
 * dlt_graph_set_reuse(g, 1) and share them, batch norm computing each call's
 * own batch statistics (as calling a torch module twice). */
#ifndef DLT_GEN_H
#define DLT_GEN_H

#include "dlt_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char arch[32];           /* gan-mlp, dcgan, cgan, wgan, wgan-gp */
    int img_c, img_h, img_w; /* generated image shape (the shards'); the conv models
                              * take 28x28, 32x32 or 64x64 */
    int z_dim;               /* noise features (100) */
    int num_classes;         /* > 0: both networks see the class label (CGAN) */
    int g_width, d_width;    /* base widths: ngf/ndf of DCGAN (64), gan-mlp's first
                              * hidden layer (256) */
    char g_norm;             /* generator normalisation: 'b'atch (the papers'), 'n'one */
    char d_norm;             /* discriminator normalisation: 'b'atch, 'l'ayer, 'n'one */
    float leaky;             /* LeakyReLU slope in the discriminator (0.2) */
    float bn_momentum, bn_eps;
} dlt_gan_spec;

/* Comma-separated list of the GAN architectures. */
const char *dlt_gan_archs(void);
/* Non-zero when arch is one of them. */
int dlt_gan_is_arch(const char *arch);
/* Defaults for arch (1x28x28 images, z 100, unconditional, widths and
 * normalisation per arch). DLT_ERR_INVALID names the known ones otherwise. */
dlt_status dlt_gan_spec_default(const char *arch, dlt_gan_spec *s);
/* z [N, z_dim] f32 (label [N] i32 when s->num_classes > 0, else -1) ->
 * images [N, img_c, img_h, img_w] in (-1, 1) (tanh). */
dlt_t dlt_gan_generator(dlt_graph *g, const dlt_gan_spec *s, dlt_t z, dlt_t label);
/* x [N, img_c, img_h, img_w] (label as above) -> one logit (or critic value)
 * per sample, [N]. */
dlt_t dlt_gan_discriminator(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label);
/* The resolved settings as key/values (docs/models.md). */
void dlt_gan_describe(const dlt_gan_spec *s, dlt_kvlist *kv);

#ifdef __cplusplus
}
#endif
#endif
