/* Dropout's attributes and mask stream (dropout.c), shared with the CUDA kernel
 * (src/gpu/k_dropout.cu) so that both draw the same mask. Internal to
 * libdltrain. */
#ifndef DLT_DROPOUT_IMPL_H
#define DLT_DROPOUT_IMPL_H

#include "dlt_opdef.h"

typedef struct {
    float p;
    uint64_t id; /* per-node stream id, shared with the backward node */
} dropout_attr;

/* The RNG stream of a dropout node at a training step: element i is kept when
 * dlt_rng_uniform(seed, stream, i) >= p. */
static inline DLT_HD uint64_t dlt_dropout_stream(uint64_t id, int64_t step)
{
    return dlt_rng_mix(id * 0x9e3779b97f4a7c15ull ^ dlt_rng_mix((uint64_t)step + 0x632be59bd9b4e019ull));
}

#endif
