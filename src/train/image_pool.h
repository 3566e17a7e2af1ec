/* CycleGAN's history of generated images (Shrivastava et al. 2017, as the
 * CycleGAN reference's ImagePool): the discriminators see a mix of the
 * newest fakes and older ones, which damps oscillation.
 *
 * The rule, per image of a batch, in order:
 *   - while the pool holds fewer than `capacity` images: store the new image
 *     and return it;
 *   - else, with probability 1/2 (u >= 0.5 for u uniform in [0, 1)): return
 *     a stored image chosen uniformly and put the new image in its place;
 *     otherwise return the new image and leave the pool as it is.
 * capacity 0 turns the pool off (every new image is returned).
 *
 * Randomness. The choices for image i of a query come from the project's
 * counter-based RNG (dlt_rng_u64, dlt_opdef.h), a pure function of
 * (seed, stream, counter): the coin from counter 2i, the slot from 2i + 1.
 * The caller derives the stream from the step key, the rank and the domain,
 * so a resumed run (pool contents restored from the checkpoint) draws the
 * same choices and returns the same images. */
#ifndef DLT_IMAGE_POOL_H
#define DLT_IMAGE_POOL_H

#include <stdint.h>

#include "dlt_core.h"

typedef struct {
    int capacity;  /* images the pool holds at most */
    int count;     /* images stored so far (<= capacity) */
    int64_t numel; /* floats per image */
    float *images; /* capacity x numel, the first `count` valid (owned) */
} dlt_image_pool;

/* An empty pool of `capacity` images of `numel` floats. */
dlt_status dlt_image_pool_init(dlt_image_pool *p, int capacity, int64_t numel);
void dlt_image_pool_free(dlt_image_pool *p);

/* The rule above over the n images of `in` (n x numel): writes n images to
 * `out` (n x numel, not overlapping `in`) and updates the pool. */
void dlt_image_pool_query(dlt_image_pool *p, const float *in, int n, float *out, uint64_t seed,
                          uint64_t stream);

/* The stream of a query: the step key, the rank and the domain (0 = A, 1 = B). */
uint64_t dlt_image_pool_stream(int64_t key, int rank, int domain);

/* Restores the contents from a checkpoint: count images of numel floats
 * (count <= capacity, numel the pool's; otherwise DLT_ERR_INVALID naming
 * `what`). */
dlt_status dlt_image_pool_restore(dlt_image_pool *p, int count, int64_t numel, const float *images,
                                  const char *what);

#endif
