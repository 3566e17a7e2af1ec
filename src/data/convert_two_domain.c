/* Two image folders as two unpaired domains (dlprep two-domain): the PNG and
 * JPEG files directly in each folder, in sorted name order, decoded and resized
 * by image_io.c as the image-folder converter does, written as image-pairs
 * shards by pair_sink.c. */
#include "convert_internal.h"
#include "image_io.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *dir[2];
    dlt_strlist files[2];
    int h, w, c;      /* the shards' image size */
    int resize;       /* --size given: resize every image to h x w */
    char first[8400]; /* the image that fixed the size when not resizing */
} folders;

static dlt_status fetch(void *user, int d, int64_t i, uint8_t *hwc)
{
    folders *f = user;
    char path[8400];
    dlt_image im;
    snprintf(path, sizeof path, "%s/%s", f->dir[d], f->files[d].v[i]);
    dlt_status st = dlt_image_load(path, f->c, &im);
    if (st)
        return st;
    if (im.h == f->h && im.w == f->w)
        memcpy(hwc, im.px, (size_t)f->h * (size_t)f->w * (size_t)f->c);
    else if (f->resize)
        dlt_image_resize_bilinear(im.px, im.h, im.w, f->c, hwc, f->h, f->w);
    else
        st = dlt_seterr(DLT_ERR_SHAPE, "%s: %dx%d, but %s is %dx%d (give --size HxW to resize)",
                        path, im.h, im.w, f->first, f->h, f->w);
    dlt_image_free(&im);
    return st;
}

static dlt_status list(folders *f, int d)
{
    dlt_status st = dlt_data_list_dir(f->dir[d], 0, &f->files[d]);
    if (st)
        return dlt_adderr(st, "domain %c", 'A' + d);
    if (f->files[d].n == 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "domain %c: %s: no .png/.jpg/.jpeg files", 'A' + d,
                          f->dir[d]);
    return DLT_OK;
}

dlt_status dlt_convert_two_domain(const char *dir_a, const char *dir_b, int size_h, int size_w,
                                  int channels, const dlt_convert_opts *o)
{
    if (!dir_a || !dir_b)
        return dlt_seterr(DLT_ERR_INVALID, "two-domain: needs both folders (--a DIR --b DIR)");
    if (channels != 1 && channels != 3)
        return dlt_seterr(DLT_ERR_INVALID, "two-domain: channels must be 1 or 3, not %d", channels);
    if ((size_h > 0) != (size_w > 0) || size_h < 0 || size_w < 0)
        return dlt_seterr(DLT_ERR_INVALID, "two-domain: --size needs both H and W > 0");
    folders f;
    memset(&f, 0, sizeof f);
    f.dir[0] = dir_a, f.dir[1] = dir_b;
    f.c = channels;
    dlt_status st = list(&f, 0);
    if (!st)
        st = list(&f, 1);
    if (!st && size_h > 0) {
        f.h = size_h, f.w = size_w, f.resize = 1;
    } else if (!st) { /* the first image of A fixes the size */
        dlt_image im;
        snprintf(f.first, sizeof f.first, "%s/%s", dir_a, f.files[0].v[0]);
        if (!(st = dlt_image_load(f.first, channels, &im)))
            f.h = im.h, f.w = im.w;
        dlt_image_free(&im);
    }
    if (!st) {
        char source[8400];
        snprintf(source, sizeof source, "two-domain A=%s B=%s", dir_a, dir_b);
        dlt_shard_spec spec = {0};
        spec.kind = DLT_KIND_IMAGE_PAIRS;
        spec.h = f.h, spec.w = f.w, spec.c = channels;
        spec.source = source;
        spec.deflate = o->deflate;
        int64_t num[2] = {f.files[0].n, f.files[1].n};
        st = dlt_pairs_write(o, o->prefix ? o->prefix : "train", &spec, num, fetch, &f);
    }
    dlt_strlist_free(&f.files[0]);
    dlt_strlist_free(&f.files[1]);
    return st;
}
