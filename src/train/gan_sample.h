/* The GAN sampler inside the library (gan_sample.c; what it draws:
 * dlt_gan_sample.h): a graph holding only the generator, its fixed noise and
 * (conditional models) the grid's labels, with an evaluation plan of the
 * generator's output. */
#ifndef DLT_TRAIN_GAN_SAMPLE_H
#define DLT_TRAIN_GAN_SAMPLE_H

#include "dlt_gan_sample.h"
#include "dlt_gen.h"
#include "dlt_logio.h"
#include "dlt_png.h"

typedef struct dlt_gan_sampler dlt_gan_sampler;

/* The generator of spec s (its image shape resolved) for n samples, graph
 * seed `seed`; label as dlt_gan_sample_opts.label (ignored by unconditional
 * models; the caller checks the range). */
dlt_status dlt_gan_sampler_create(const dlt_gan_spec *s, int n, int label, uint64_t seed,
                                  dlt_gan_sampler **out);
/* Copies every generator parameter and buffer from src (by name, from src's
 * host storage: download a device graph first). */
dlt_status dlt_gan_sampler_load(dlt_gan_sampler *sm, dlt_graph *src);
/* Runs the generator (evaluation mode) and lays its images out (8 columns). */
dlt_status dlt_gan_sampler_grid(dlt_gan_sampler *sm, dlt_image8 *grid);
/* The training hook's output: the grid at <run_dir>/samples/step-<8 digits>.png
 * and, when tb is not NULL, as TensorBoard image "samples" at `step`. */
dlt_status dlt_gan_sampler_write(dlt_gan_sampler *sm, const char *run_dir, int64_t step,
                                 dlt_tb_writer *tb);
void dlt_gan_sampler_free(dlt_gan_sampler *sm);

#endif
