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
    int num_classes;         /* > 0: both networks see the class label (CGAN; cgan
                              * requires it, 10 by default) */
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

/* ---- CycleGAN (Zhu et al. 2017; cyclegan.c). Two generators (G_AB, G_BA)
 * and two discriminators (D_A, D_B): the caller names each one's scope, and
 * applies a discriminator again in reuse mode as above. */
typedef struct {
    int img_c, img_h, img_w; /* images of the domains: the generator's output
                              * channels and the discriminator's input; sides
                              * divisible by 4 (28, 32, 128, 256, ...) */
    int g_width, d_width;    /* ngf, ndf (64) */
    int n_blocks;            /* residual blocks: 9 for 256px, 6 for 128px and less */
    int d_layers;            /* PatchGAN stride-2 convs (3: the 70x70 PatchGAN) */
    float leaky;             /* discriminator LeakyReLU slope (0.2) */
    float norm_eps;          /* instance norm epsilon (1e-5) */
} dlt_cyclegan_spec;

/* Images img_c x img_h x img_w, widths 64, 9 residual blocks for 256x256
 * and larger, 6 below, 3 discriminator layers, slope 0.2, eps 1e-5. */
void dlt_cyclegan_spec_default(dlt_cyclegan_spec *s, int img_c, int img_h, int img_w);
/* x [N, C, H, W] (any C; H, W the spec's) -> [N, img_c, H, W] in (-1, 1),
 * parameters under scope_name (e.g. "G_AB"). */
dlt_t dlt_cyclegan_generator(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x,
                             const char *scope_name);
/* x [N, img_c, H, W] -> patch logits [N, 1, PH, PW] (PH = H / 2^d_layers - 2
 * for the usual sizes: 30x30 at 256px), parameters under scope_name. */
dlt_t dlt_cyclegan_discriminator(dlt_graph *g, const dlt_cyclegan_spec *s, dlt_t x,
                                 const char *scope_name);
void dlt_cyclegan_describe(const dlt_cyclegan_spec *s, dlt_kvlist *kv);

/* ---- VAE (Kingma & Welling 2014; vae.c): a conv encoder and decoder.
 * Parameters under the scopes "encoder" and "decoder". */
typedef struct {
    int img_c, img_h, img_w; /* 1x28x28; sides divisible by 4 */
    int z_dim;               /* latent size (20) */
    int width;               /* conv channels: width, 2 width (32) */
    int hidden;              /* fully connected hidden layer (256) */
} dlt_vae_spec;

void dlt_vae_spec_default(dlt_vae_spec *s);
/* x [N, img_c, H, W] -> *mu, *logvar [N, z_dim]; returns *mu (-1 on error). */
dlt_t dlt_vae_encoder(dlt_graph *g, const dlt_vae_spec *s, dlt_t x, dlt_t *mu, dlt_t *logvar);
/* The reparameterisation z = mu + exp(logvar / 2) * eps; eps [N, z_dim] is
 * drawn by the caller (N(0, 1), e.g. dlt_random_normal). */
dlt_t dlt_vae_sample(dlt_graph *g, dlt_t mu, dlt_t logvar, dlt_t eps);
/* z [N, z_dim] -> pixel logits [N, img_c, H, W] (Bernoulli decoder). */
dlt_t dlt_vae_decoder(dlt_graph *g, const dlt_vae_spec *s, dlt_t z);
/* The negative ELBO per sample averaged over the batch (a scalar):
 * mean_n [ sum_pixels BCE_with_logits(logits, x01) + KL(q(z|x) || N(0, I)) ],
 * KL = -1/2 sum_j (1 + logvar - mu^2 - exp(logvar)); x01: targets in [0, 1]. */
dlt_t dlt_vae_loss(dlt_graph *g, const dlt_vae_spec *s, dlt_t x01, dlt_t logits, dlt_t mu,
                   dlt_t logvar);
void dlt_vae_describe(const dlt_vae_spec *s, dlt_kvlist *kv);

#ifdef __cplusplus
}
#endif
#endif
