/* Image folders: DIR/<class>/<image>.{png,jpg,jpeg}, classes in sorted order. */
#include "convert_internal.h"
#include "image_io.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(dlt_strlist *l, const char *s)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v, l->cap = cap;
    }
    return (l->v[l->n] = strdup(s)) ? l->n++, 0 : -1;
}

void dlt_strlist_free(dlt_strlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

dlt_status dlt_data_list_dir(const char *dir, int want_dirs, dlt_strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return dlt_seterr(errno == ENOENT ? DLT_ERR_NOTFOUND : DLT_ERR_IO,
                          "%s: cannot open directory (%s)", dir, strerror(errno));
    struct dirent *e;
    char path[4200];
    while ((e = readdir(d))) {
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0)
            continue;
        int ok = want_dirs ? S_ISDIR(sb.st_mode)
                           : S_ISREG(sb.st_mode) && dlt_image_is_supported(e->d_name);
        if (ok && push(out, e->d_name) != 0) {
            closedir(d);
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        }
    }
    closedir(d);
    if (out->n > 1) /* qsort's base may not be NULL, even for no elements */
        qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return DLT_OK;
}

static dlt_status convert(const char *dir, const dlt_strlist *classes, dlt_strlist *files,
                          int64_t total, int rh, int rw, int channels, const dlt_convert_opts *o)
{
    char path[8400], source[4200];
    dlt_image im;
    dlt_status st;
    uint8_t *buf = NULL;
    dlt_sink *sink = NULL;
    snprintf(source, sizeof source, "image-folder %s", dir);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.c = channels;
    spec.num_classes = classes->n;
    spec.class_names = (const char *const *)classes->v;
    spec.source = source;
    spec.deflate = o->deflate;
    for (int k = 0; k < classes->n; k++) {
        for (int i = 0; i < files[k].n; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, classes->v[k], files[k].v[i]);
            if ((st = dlt_image_load(path, channels, &im)))
                goto out;
            if (!sink) { /* the first image fixes the size unless resizing */
                spec.h = rh > 0 ? rh : im.h;
                spec.w = rw > 0 ? rw : im.w;
                buf = malloc((size_t)spec.h * (size_t)spec.w * (size_t)channels);
                if (!buf)
                    st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
                else
                    st = dlt_sink_open(&sink, o, o->prefix ? o->prefix : "train", &spec, total);
            }
            if (!st && rh <= 0 && (im.h != spec.h || im.w != spec.w))
                st = dlt_seterr(DLT_ERR_SHAPE, "%s: %dx%d, but earlier images are %dx%d "
                                "(use --resize HxW)", path, im.h, im.w, spec.h, spec.w);
            if (!st) {
                const uint8_t *px = im.px;
                if (im.h != spec.h || im.w != spec.w) {
                    dlt_image_resize_bilinear(im.px, im.h, im.w, channels, buf, spec.h, spec.w);
                    px = buf;
                }
                st = dlt_sink_add(sink, px, k);
            }
            dlt_image_free(&im);
            if (st)
                goto out;
        }
    }
out:
    if (st)
        dlt_sink_abort(sink);
    else
        st = dlt_sink_close(sink);
    free(buf);
    return st;
}

dlt_status dlt_convert_image_folder(const char *dir, int resize_h, int resize_w, int channels,
                                    const dlt_convert_opts *o)
{
    if (channels != 1 && channels != 3)
        return dlt_seterr(DLT_ERR_INVALID, "image-folder: channels must be 1 or 3, not %d",
                          channels);
    if ((resize_h > 0) != (resize_w > 0))
        return dlt_seterr(DLT_ERR_INVALID, "image-folder: --resize needs both H and W");
    dlt_strlist classes = {0};
    dlt_status st = dlt_data_list_dir(dir, 1, &classes);
    if (!st && classes.n == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "%s: no class subfolders", dir);
    dlt_strlist *files = st ? NULL : calloc((size_t)classes.n, sizeof *files);
    if (!st && !files)
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t total = 0;
    char sub[4200];
    for (int k = 0; !st && k < classes.n; k++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, classes.v[k]);
        st = dlt_data_list_dir(sub, 0, &files[k]);
        total += files[k].n;
    }
    if (!st && total == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "%s: no .png/.jpg/.jpeg files in the class folders",
                        dir);
    if (!st)
        st = convert(dir, &classes, files, total, resize_h, resize_w, channels, o);
    for (int k = 0; files && k < classes.n; k++)
        dlt_strlist_free(&files[k]);
    free(files);
    dlt_strlist_free(&classes);
    return st;
}
