/* The loader's deterministic pieces: seeds, epoch permutations, and the
 * sample transform (augment + normalise). Each depends only on its arguments,
 * so batches do not depend on thread timing, thread count or world size. */
#include "dlt_data.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t dlt_data_hash(uint64_t a, uint64_t b)
{
    return mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ull));
}

/* splitmix64: one state word, fine for shuffles and coin flips */
static uint64_t next_u64(uint64_t *s) { return mix64(*s += 0x9e3779b97f4a7c15ull); }

/* Uniform in [0, n): multiply-high keeps it cheap; the bias is below 2^-32 for
 * any dataset size we will meet. */
static uint64_t below(uint64_t *s, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)next_u64(s) * n) >> 64);
}

void dlt_data_permutation(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch, int shuffle)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    if (!shuffle)
        return;
    uint64_t s = dlt_data_hash(seed, (uint64_t)epoch);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)below(&s, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void dlt_data_transform(const uint8_t *hwc, int h, int w, int c, float *chw, const float *mean,
                        const float *std, int crop_pad, int flip, uint64_t seed,
                        int64_t epoch, int64_t index)
{
    /* the sample's own stream: (seed, epoch, index) */
    uint64_t s = dlt_data_hash(dlt_data_hash(seed ^ 0x6a09e667f3bcc908ull, (uint64_t)epoch),
                               (uint64_t)index);
    int dy = 0, dx = 0, fl = 0;
    if (crop_pad > 0) {
        dy = (int)below(&s, 2 * (uint64_t)crop_pad + 1) - crop_pad;
        dx = (int)below(&s, 2 * (uint64_t)crop_pad + 1) - crop_pad;
    }
    if (flip)
        fl = (int)(next_u64(&s) >> 63);
    float scale[DLT_DATA_MAX_CHANNELS], bias[DLT_DATA_MAX_CHANNELS];
    for (int k = 0; k < c; k++) {
        scale[k] = 1.0f / (255.0f * std[k]);
        bias[k] = -mean[k] / std[k];
    }
    size_t plane = (size_t)h * (size_t)w;
    if (!dy && !dx && !fl) {
        for (size_t p = 0; p < plane; p++)
            for (int k = 0; k < c; k++)
                chw[(size_t)k * plane + p] = (float)hwc[p * (size_t)c + (size_t)k] * scale[k] + bias[k];
        return;
    }
    /* crop of the zero-padded image: output (y, x) reads input (y + dy, x' + dx)
     * where x' is x mirrored when flipped; outside the image the pixel is 0 */
    for (int y = 0; y < h; y++) {
        int sy = y + dy;
        for (int x = 0; x < w; x++) {
            int sx = (fl ? w - 1 - x : x) + dx;
            size_t o = (size_t)y * (size_t)w + (size_t)x;
            if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
                for (int k = 0; k < c; k++)
                    chw[(size_t)k * plane + o] = bias[k];
            } else {
                const uint8_t *px = hwc + ((size_t)sy * (size_t)w + (size_t)sx) * (size_t)c;
                for (int k = 0; k < c; k++)
                    chw[(size_t)k * plane + o] = (float)px[k] * scale[k] + bias[k];
            }
        }
    }
}
