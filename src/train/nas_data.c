/* The NAS reward's validation split (dlt_nas_search.h): the image shards of
 * data.train are cut into two new shards, a training part and a held-out
 * validation part (nas.val_fraction of the samples, at least one), by a
 * permutation keyed by the search's seed. The children train on the first
 * and are scored on the second; the job's data.val (the test set) is never
 * read by a search. Written once per search (rank 0), kept for a resume. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_data.h"
#include "nas_search.h"

/* Every sample of the shards matching glob `pattern`, in shard order. */
typedef struct {
    int n;
    dlt_shard **s;
    int64_t total;
} shard_list;

static void list_close(shard_list *l)
{
    for (int i = 0; i < l->n; i++)
        dlt_shard_close(l->s[i]);
    free(l->s);
}

static dlt_status list_open(const char *pattern, shard_list *l)
{
    memset(l, 0, sizeof *l);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "data.train = \"%s\": no shard matches", pattern);
    dlt_status st = DLT_OK;
    l->s = calloc(g.gl_pathc, sizeof *l->s);
    if (!l->s)
        st = dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory");
    for (size_t i = 0; st == DLT_OK && i < g.gl_pathc; i++) {
        if ((st = dlt_shard_open(g.gl_pathv[i], NULL, &l->s[l->n])) != DLT_OK)
            break;
        const dlt_shard_info *in = dlt_shard_get_info(l->s[l->n]);
        const dlt_shard_info *first = dlt_shard_get_info(l->s[0]);
        l->n++;
        if (in->kind != DLT_KIND_IMAGE_CLASSIFICATION || in->h != first->h || in->w != first->w ||
            in->c != first->c || in->num_classes != first->num_classes)
            st = dlt_seterr(DLT_ERR_INVALID,
                            "%s: a NAS search needs image-classification shards of one shape",
                            g.gl_pathv[i]);
        l->total += in->num_samples;
    }
    globfree(&g);
    if (st != DLT_OK)
        list_close(l);
    return st;
}

static dlt_status copy_part(shard_list *l, const int64_t *perm, int64_t lo, int64_t hi,
                            const char *path)
{
    const dlt_shard_info *in = dlt_shard_get_info(l->s[0]);
    dlt_shard_spec sp = {.kind = DLT_KIND_IMAGE_CLASSIFICATION,
                         .h = in->h,
                         .w = in->w,
                         .c = in->c,
                         .num_classes = in->num_classes,
                         .class_names = (const char *const *)in->class_names,
                         .source = "nas validation split of data.train"};
    dlt_shard_writer *w;
    dlt_status st = dlt_shard_writer_open(path, &sp, &w);
    if (st != DLT_OK)
        return st;
    size_t bytes = (size_t)in->h * (size_t)in->w * (size_t)in->c;
    uint8_t *img = malloc(bytes);
    if (!img)
        st = dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory");
    for (int64_t k = lo; st == DLT_OK && k < hi; k++) {
        int64_t i = perm[k];
        int s = 0;
        while (i >= dlt_shard_get_info(l->s[s])->num_samples)
            i -= dlt_shard_get_info(l->s[s++])->num_samples;
        int32_t label;
        if ((st = dlt_shard_read_image(l->s[s], i, img, &label)) == DLT_OK)
            st = dlt_shard_write_image(w, img, label);
    }
    free(img);
    if (st != DLT_OK) {
        dlt_shard_writer_abort(w);
        return st;
    }
    return dlt_shard_writer_close(w);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

dlt_status dlt_nas_split_data(const char *train_glob, double val_fraction, uint64_t seed,
                              const char *dir, char *train_out, char *val_out, size_t n)
{
    if (snprintf(train_out, n, "%s/train-00000-of-00001.h5", dir) >= (int)n ||
        snprintf(val_out, n, "%s/val-00000-of-00001.h5", dir) >= (int)n)
        return dlt_seterr(DLT_ERR_INVALID, "%s: the path is too long", dir);
    if (exists(train_out) && exists(val_out)) /* a resumed search keeps its split */
        return DLT_OK;
    if (mkdir(dir, 0777) != 0 && !exists(dir))
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create the folder", dir);
    shard_list l;
    dlt_status st = list_open(train_glob, &l);
    if (st != DLT_OK)
        return st;
    int64_t nval = (int64_t)(val_fraction * (double)l.total);
    if (nval < 1)
        nval = 1;
    if (nval >= l.total)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "nas.val_fraction = %g leaves no training samples of %lld in %s",
                        val_fraction, (long long)l.total, train_glob);
    int64_t *perm = st == DLT_OK ? malloc((size_t)l.total * sizeof *perm) : NULL;
    if (st == DLT_OK && !perm)
        st = dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory");
    if (st == DLT_OK) {
        dlt_data_permutation(perm, l.total, seed, 0, 1);
        st = copy_part(&l, perm, 0, l.total - nval, train_out);
    }
    if (st == DLT_OK)
        st = copy_part(&l, perm, l.total - nval, l.total, val_out);
    free(perm);
    list_close(&l);
    return st;
}
