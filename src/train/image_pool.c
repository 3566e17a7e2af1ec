/* CycleGAN's image pool (image_pool.h): the reference's ImagePool rule with
 * its random choices from the counter-based RNG. */
#include <stdlib.h>
#include <string.h>

#include "dlt_opdef.h"
#include "image_pool.h"

dlt_status dlt_image_pool_init(dlt_image_pool *p, int capacity, int64_t numel)
{
    memset(p, 0, sizeof *p);
    if (capacity < 0 || numel <= 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "image pool: capacity must be >= 0 and images non-empty (got %d, %lld)",
                          capacity, (long long)numel);
    p->capacity = capacity;
    p->numel = numel;
    if (capacity > 0 && !(p->images = calloc((size_t)capacity * (size_t)numel, sizeof(float))))
        return dlt_seterr(DLT_ERR_NOMEM, "image pool: out of memory for %d images", capacity);
    return DLT_OK;
}

void dlt_image_pool_free(dlt_image_pool *p)
{
    free(p->images);
    memset(p, 0, sizeof *p);
}

uint64_t dlt_image_pool_stream(int64_t key, int rank, int domain)
{
    /* distinct for every (key, rank, domain): mixed so nearby keys share nothing */
    return dlt_rng_mix((uint64_t)key * 0x9e3779b97f4a7c15ull ^
                       dlt_rng_mix(((uint64_t)(uint32_t)rank << 1) | (uint64_t)(domain & 1)));
}

void dlt_image_pool_query(dlt_image_pool *p, const float *in, int n, float *out, uint64_t seed,
                          uint64_t stream)
{
    size_t sz = (size_t)p->numel * sizeof(float);
    for (int i = 0; i < n; i++) {
        const float *img = in + (size_t)i * p->numel;
        float *o = out + (size_t)i * p->numel;
        if (p->count < p->capacity) { /* filling: store and return the new image */
            memcpy(p->images + (size_t)p->count * p->numel, img, sz);
            p->count++;
            memcpy(o, img, sz);
            continue;
        }
        if (p->capacity > 0 && dlt_rng_uniform(seed, stream, 2 * (uint64_t)i) >= 0.5f) {
            /* return a stored image, keep the new one in its slot */
            size_t slot =
                (size_t)(dlt_rng_u64(seed, stream, 2 * (uint64_t)i + 1) % (uint64_t)p->capacity);
            float *s = p->images + slot * p->numel;
            memcpy(o, s, sz);
            memcpy(s, img, sz);
        } else {
            memcpy(o, img, sz);
        }
    }
}

dlt_status dlt_image_pool_restore(dlt_image_pool *p, int count, int64_t numel, const float *images,
                                  const char *what)
{
    if (count < 0 || count > p->capacity || (count > 0 && numel != p->numel))
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: %d images of %lld floats do not fit a pool of %d images of %lld "
                          "(cyclegan.pool_size or the image size changed?)",
                          what, count, (long long)numel, p->capacity, (long long)p->numel);
    if (count > 0)
        memcpy(p->images, images, (size_t)count * (size_t)numel * sizeof(float));
    p->count = count;
    return DLT_OK;
}
