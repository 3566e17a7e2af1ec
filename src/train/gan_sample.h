/* The GAN sampler inside the library (gan_sample.c; what it draws:
 * dlt_gan_sample.h): a graph holding only the generator, its fixed noise and
 * (conditional models) the grid's labels, with an evaluation plan of the
 * generator's output. */
#ifndef DLT_TRAIN_GAN_SAMPLE_H
#define DLT_TRAIN_GAN_SAMPLE_H

#include "dlt_comm.h"
#include "dlt_gan_sample.h"
#include "dlt_gen.h"
#include "dlt_logio.h"
#include "dlt_png.h"
#include "dlt_train.h"

typedef struct dlt_gan_sampler dlt_gan_sampler;

/* The generator of spec s (its image shape resolved) for n samples, graph
 * seed `seed`; label as dlt_gan_sample_opts.label (ignored by unconditional
 * models; the caller checks the range). */
dlt_status dlt_gan_sampler_create(const dlt_gan_spec *s, int n, int label, uint64_t seed,
                                  dlt_gan_sampler **out);
/* A VAE's sampler (vae.c's decoder; v's image shape resolved): z ~ N(0, I)
 * [n, z_dim] drawn as the GAN's noise is, decoded, and the sigmoid of the
 * logits (the Bernoulli means), images in [0, 1]; no labels. Everything
 * below works on it as on a GAN's. */
dlt_status dlt_vae_sampler_create(const dlt_vae_spec *v, int n, uint64_t seed,
                                  dlt_gan_sampler **out);
/* The range of the sampler's images: [-1, 1] (a GAN's tanh), [0, 1] (VAE). */
void dlt_gan_sampler_range(const dlt_gan_sampler *sm, float *lo, float *hi);
/* Copies every generator parameter and buffer from src (by name, from src's
 * host storage: download a device graph first). */
dlt_status dlt_gan_sampler_load(dlt_gan_sampler *sm, dlt_graph *src);
/* Runs the generator (evaluation mode) and lays its images out (8 columns). */
dlt_status dlt_gan_sampler_grid(dlt_gan_sampler *sm, dlt_image8 *grid);
/* The training hook's output: the grid at <run_dir>/samples/step-<8 digits>.png
 * and, when tb is not NULL, as TensorBoard image "samples" at `step`. */
dlt_status dlt_gan_sampler_write(dlt_gan_sampler *sm, const char *run_dir, int64_t step,
                                 dlt_tb_writer *tb);
/* One run of the generator (evaluation mode) with noise keyed by exec step
 * `key`: its images [n, C, H, W] (the plan's storage, valid until the next
 * run). Conditional models take the labels written into
 * dlt_gan_sampler_labels (NULL for unconditional ones) before the run. */
dlt_status dlt_gan_sampler_run(dlt_gan_sampler *sm, int64_t key, const float **images);
int32_t *dlt_gan_sampler_labels(dlt_gan_sampler *sm);
/* The generator it runs (image shape resolved). */
const dlt_gan_spec *dlt_gan_sampler_spec(const dlt_gan_sampler *sm);
void dlt_gan_sampler_free(dlt_gan_sampler *sm);
/* Loads checkpoint ckpt's parameters and buffers into g, a graph built with
 * exactly the checkpoint's tensors (finalized here; a graph error is
 * reported naming ckpt). */
dlt_status dlt_sampler_load_ckpt(dlt_graph *g, const char *ckpt);
/* The sampler of n samples for a GAN checkpoint (or a VAE's: its prior
 * samples): its job's generator, the
 * image shape from /model, the parameters and buffers from the file; graph
 * seed: the job's unless has_seed. label as above, checked against the
 * model (errors name the checkpoint or the label). */
dlt_status dlt_gan_sampler_from_ckpt(const char *ckpt, int n, int label, int has_seed,
                                     uint64_t seed, dlt_gan_sampler **out);

/* FID-FMNIST during training (gan_fid.c, docs/metrics.md): gan.fid_samples
 * generated images split over the ranks, their classifier features'
 * sums reduced over the ranks, against the real images' statistics (rank 0,
 * computed once). */
#define DLT_GAN_FID_CHUNK 100   /* generated images per chunk */
#define DLT_GAN_FID_KEY (-1000) /* chunk j: exec step key DLT_GAN_FID_KEY - j */
typedef struct dlt_gan_fid dlt_gan_fid;
/* Opens the classifier gan.fid_classifier for images of spec s. */
dlt_status dlt_gan_fid_open(const dlt_train_config *c, const dlt_gan_spec *s, dlt_gan_fid **out);
/* Before a run: with gan.fid_classifier set, real images must be named
 * (gan.fid_data or data.val) and the classifier must open; DLT_ERR_INVALID
 * in one message otherwise. */
dlt_status dlt_gan_fid_check(const dlt_train_config *c);
/* The same for a VAE's prior samples (v's image shape resolved). */
dlt_status dlt_vae_fid_open(const dlt_train_config *c, const dlt_vae_spec *v, dlt_gan_fid **out);
/* Collective: generates this rank's share with the generator of src (host
 * storage), sums the features over the ranks; *fid on rank 0 (NAN elsewhere). */
dlt_status dlt_gan_fid_compute(dlt_gan_fid *f, dlt_graph *src, dlt_comm *comm, int rank, int world,
                               double *fid);
void dlt_gan_fid_free(dlt_gan_fid *f);

#endif
