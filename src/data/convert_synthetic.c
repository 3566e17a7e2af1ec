/* Synthetic, learnable image classification data for tests and benchmarks:
 * class k has a fixed random template; a sample is its template plus noise. */
#include "convert_internal.h"

#include <stdlib.h>

static uint64_t rnd(uint64_t *s)
{
    return dlt_data_hash(*s += 0x9e3779b97f4a7c15ull, 0x5eed);
}

dlt_status dlt_convert_synthetic(int64_t num, int h, int w, int c, int classes,
                                 const dlt_convert_opts *o)
{
    if (num <= 0 || h <= 0 || w <= 0 || c <= 0 || c > DLT_DATA_MAX_CHANNELS || classes <= 0 ||
        classes > 65536)
        return dlt_seterr(DLT_ERR_INVALID, "synthetic: bad --num %lld, --size %dx%dx%d or "
                          "--classes %d", (long long)num, h, w, c, classes);
    size_t sz = (size_t)h * (size_t)w * (size_t)c;
    uint8_t *tmpl = malloc(sz * (size_t)classes), *img = malloc(sz);
    dlt_status st = DLT_OK;
    if (!tmpl || !img)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    uint64_t s = dlt_data_hash(o->seed, 0x73796e);
    for (size_t i = 0; !st && i < sz * (size_t)classes; i++)
        tmpl[i] = (uint8_t)(32 + rnd(&s) % 192);
    char source[128];
    snprintf(source, sizeof source, "synthetic seed %llu: %d class templates + uniform noise +-32",
             (unsigned long long)o->seed, classes);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.h = h, spec.w = w, spec.c = c, spec.num_classes = classes;
    spec.source = source;
    spec.deflate = o->deflate;
    dlt_sink *sink = NULL;
    if (!st)
        st = dlt_sink_open(&sink, o, o->prefix ? o->prefix : "train", &spec, num);
    for (int64_t n = 0; !st && n < num; n++) {
        int label = (int)(rnd(&s) % (uint64_t)classes);
        const uint8_t *t = tmpl + (size_t)label * sz;
        for (size_t i = 0; i < sz; i++) {
            int v = t[i] + (int)(rnd(&s) % 65) - 32;
            img[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        st = dlt_sink_add(sink, img, label);
    }
    if (st)
        dlt_sink_abort(sink);
    else
        st = dlt_sink_close(sink);
    free(tmpl);
    free(img);
    return st;
}
