/* Two Fashion-MNIST classes as two unpaired domains (dlprep fashion-mnist-pair),
 * by default sneakers (7) <-> ankle boots (9): each split's IDX files are
 * scanned once, the two classes' images kept in memory (6000 + 6000 of 28x28
 * for train), then written as image-pairs shards by pair_sink.c. */
#include "convert_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Lower-case letters and digits only: "Ankle boot" and "ankle-boot" -> "ankleboot". */
static void squash(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if (isalnum((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
}

/* Classes whose squashed name is want (exact, returns 1) or starts with it. */
static int match(const char *want, int *found)
{
    char have[64];
    int matches = 0;
    for (int k = 0; k < 10 && want[0]; k++) {
        squash(dlt_fmnist_class_names[k], have, sizeof have);
        if (!strcmp(have, want)) { /* an exact name beats prefixes */
            *found = k;
            return 1;
        }
        if (!strncmp(have, want, strlen(want)))
            *found = k, matches++;
    }
    return matches;
}

dlt_status dlt_fashion_mnist_class(const char *name, int *id)
{
    char want[64], all[256] = "";
    size_t len = strlen(name);
    if (len > 0 && len <= 2 && strspn(name, "0123456789") == len) {
        *id = atoi(name);
        if (*id <= 9)
            return DLT_OK;
    }
    squash(name, want, sizeof want);
    int matches = match(want, id);
    size_t n = strlen(want);
    if (matches == 0 && n > 1 && want[n - 1] == 's') { /* plurals: "sneakers", "ankle boots" */
        want[n - 1] = '\0';
        matches = match(want, id);
    }
    if (matches == 1)
        return DLT_OK;
    for (int k = 0; k < 10; k++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%d %s", k ? ", " : "", k,
                 dlt_fmnist_class_names[k]);
    return dlt_seterr(DLT_ERR_INVALID,
                      "%s Fashion-MNIST class '%s' (expected an id or a name: "
                      "%s)",
                      matches ? "ambiguous" : "unknown", name, all);
}

typedef struct {
    int cls[2];
    dlt_idx_shape shape;
    size_t sz;       /* bytes per image */
    uint8_t *img[2]; /* the kept images per domain, in file order */
    int64_t n[2], cap[2];
} picked;

static dlt_status keep(void *user, const dlt_idx_shape *shape, int64_t i, const uint8_t *hwc,
                       int label)
{
    picked *p = user;
    (void)i;
    p->shape = *shape;
    p->sz = (size_t)shape->h * (size_t)shape->w * (size_t)shape->c;
    for (int d = 0; d < 2; d++) {
        if (label != p->cls[d])
            continue;
        if (p->n[d] == p->cap[d]) {
            int64_t cap = p->cap[d] ? 2 * p->cap[d] : 1024;
            uint8_t *m = realloc(p->img[d], (size_t)cap * p->sz);
            if (!m)
                return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
            p->img[d] = m, p->cap[d] = cap;
        }
        memcpy(p->img[d] + (size_t)p->n[d]++ * p->sz, hwc, p->sz);
    }
    return DLT_OK;
}

static dlt_status fetch(void *user, int d, int64_t i, uint8_t *hwc)
{
    const picked *p = user;
    memcpy(hwc, p->img[d] + (size_t)i * p->sz, p->sz);
    return DLT_OK;
}

static dlt_status convert_split(const char *src_dir, const char *split, const char *stem,
                                const int cls[2], const dlt_convert_opts *o)
{
    char im[4096], lb[4096], source[256];
    snprintf(im, sizeof im, "%s/%s-images-idx3-ubyte.gz", src_dir, stem);
    snprintf(lb, sizeof lb, "%s/%s-labels-idx1-ubyte.gz", src_dir, stem);
    picked p;
    memset(&p, 0, sizeof p);
    p.cls[0] = cls[0], p.cls[1] = cls[1];
    dlt_status st = dlt_idx_scan(im, lb, keep, &p);
    for (int d = 0; d < 2 && !st; d++)
        if (p.n[d] == 0)
            st = dlt_seterr(DLT_ERR_INVALID, "%s: no images of class %d (%s)", lb, cls[d],
                            dlt_fmnist_class_names[cls[d]]);
    if (!st) {
        snprintf(source, sizeof source, "fashion-mnist %s (IDX): A = %s (%d), B = %s (%d)", split,
                 dlt_fmnist_class_names[cls[0]], cls[0], dlt_fmnist_class_names[cls[1]], cls[1]);
        dlt_shard_spec spec = {0};
        spec.kind = DLT_KIND_IMAGE_PAIRS;
        spec.h = p.shape.h, spec.w = p.shape.w, spec.c = p.shape.c;
        spec.source = source;
        spec.deflate = o->deflate;
        st = dlt_pairs_write(o, split, &spec, p.n, fetch, &p);
    }
    free(p.img[0]);
    free(p.img[1]);
    return st;
}

dlt_status dlt_convert_fashion_mnist_pair(const char *src_dir, const char *class_a,
                                          const char *class_b, const dlt_convert_opts *o)
{
    static const char *const split[2] = {"train", "test"}, *const stem[2] = {"train", "t10k"};
    int cls[2];
    dlt_status st = dlt_fashion_mnist_class(class_a ? class_a : "sneaker", &cls[0]);
    if (st)
        return dlt_adderr(st, "--a");
    if ((st = dlt_fashion_mnist_class(class_b ? class_b : "ankle-boot", &cls[1])))
        return dlt_adderr(st, "--b");
    if (cls[0] == cls[1])
        return dlt_seterr(DLT_ERR_INVALID,
                          "--a and --b are both class %d (%s): the two "
                          "domains need two different classes",
                          cls[0], dlt_fmnist_class_names[cls[0]]);
    int any = 0;
    for (int i = 0; i < 2; i++) {
        if (o->split && strcmp(o->split, split[i]) != 0)
            continue;
        dlt_convert_opts oi = *o;
        if (i == 1)
            oi.val_fraction = 0; /* validation is carved from train only */
        if ((st = convert_split(src_dir, split[i], stem[i], cls, &oi)))
            return st;
        any = 1;
    }
    if (!any)
        return dlt_seterr(DLT_ERR_INVALID, "unknown split '%s' (expected train or test)", o->split);
    return DLT_OK;
}
