/* Internal interface between gan.c (the GAN registry and dispatcher) and the
 * builders of each GAN family. */
#ifndef DLT_GAN_IMPL_H
#define DLT_GAN_IMPL_H

#include "dlt_gen.h"

/* DCGAN-family networks (dcgan.c) for dcgan, cgan, wgan and wgan-gp. Called
 * inside the "generator"/"discriminator" scope once gan.c has checked the
 * shapes of z / x and label; they check what only they know (image sizes,
 * normalisation). */
dlt_t dlt_dcgan_generator(dlt_graph *g, const dlt_gan_spec *s, dlt_t z, dlt_t label);
dlt_t dlt_dcgan_discriminator(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label);

/* The label's learned embedding [N, num_classes] (N(0, 1), as
 * torch.nn.Embedding), named label_emb.weight in the current scope; fails
 * when label is -1. */
dlt_t dlt_gan_label_emb(dlt_graph *g, const dlt_gan_spec *s, dlt_t label);
/* [x | emb(label)] for x [N, F]; x itself when the spec is unconditional. */
dlt_t dlt_gan_with_label(dlt_graph *g, const dlt_gan_spec *s, dlt_t x, dlt_t label);

#endif
