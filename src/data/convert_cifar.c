/* CIFAR-10 / CIFAR-100 binary version: fixed-size records of label byte(s)
 * followed by a 32x32 image stored as R, G, B planes. */
#include "convert_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PIX 3072

static const char *const cifar10_classes[10] = {"airplane", "automobile", "bird",  "cat",
                                                "deer",     "dog",        "frog",  "horse",
                                                "ship",     "truck"};

typedef struct {
    int cifar100;
    int k;
    char **names; /* k names read from the meta file, or NULL */
} cifar_meta;

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* One class name per line; blank lines are skipped. */
static void read_names(const char *path, cifar_meta *m)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int n = 0;
    if (!f)
        return;
    char **names = calloc((size_t)m->k, sizeof *names);
    while (names && n < m->k && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            names[n++] = strdup(line);
    }
    fclose(f);
    if (names && n == m->k) {
        m->names = names;
        return;
    }
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

static dlt_status file_records(const char *path, int64_t rec, int64_t *n)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open", path);
    if (sb.st_size % rec != 0)
        return dlt_seterr(DLT_ERR_SHAPE, "%s: size %lld is not a multiple of the %lld-byte "
                          "CIFAR record (truncated?)", path, (long long)sb.st_size,
                          (long long)rec);
    *n = sb.st_size / rec;
    return DLT_OK;
}

static dlt_status convert_split(const char *dir, char files[][64], int nfiles, const char *prefix,
                                const cifar_meta *m, const dlt_convert_opts *o)
{
    int64_t rec = CIFAR_PIX + 1 + m->cifar100, total = 0, cnt = 0;
    char path[4200];
    dlt_status st = DLT_OK;
    for (int i = 0; i < nfiles && !st; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (!(st = file_records(path, rec, &cnt)))
            total += cnt;
    }
    if (st)
        return st;
    char source[64];
    snprintf(source, sizeof source, "cifar-%d binary %s", m->k, prefix);
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_CLASSIFICATION;
    spec.h = spec.w = 32, spec.c = 3;
    spec.num_classes = m->k;
    spec.class_names = m->names ? (const char *const *)m->names
                                : m->cifar100 ? NULL : cifar10_classes;
    spec.source = source;
    spec.deflate = o->deflate;
    dlt_sink *sink = NULL;
    if ((st = dlt_sink_open(&sink, o, prefix, &spec, total)))
        return st;
    uint8_t r[CIFAR_PIX + 2], hwc[CIFAR_PIX];
    for (int i = 0; i < nfiles && !st; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            st = dlt_seterr(DLT_ERR_IO, "%s: cannot open", path);
            break;
        }
        while (!st && fread(r, 1, (size_t)rec, f) == (size_t)rec) {
            int label = r[m->cifar100]; /* CIFAR-100: the fine label */
            const uint8_t *px = r + 1 + m->cifar100;
            if (label >= m->k) {
                st = dlt_seterr(DLT_ERR_INVALID, "%s: label %d outside 0..%d", path, label,
                                m->k - 1);
                break;
            }
            for (int p = 0; p < 1024; p++)
                for (int c = 0; c < 3; c++)
                    hwc[p * 3 + c] = px[c * 1024 + p];
            st = dlt_sink_add(sink, hwc, label);
        }
        fclose(f);
    }
    if (st) {
        dlt_sink_abort(sink);
        return st;
    }
    return dlt_sink_close(sink);
}

dlt_status dlt_convert_cifar(const char *dir, const dlt_convert_opts *o)
{
    char path[4200];
    char train[5][64], test[1][64];
    int ntrain = 0;
    cifar_meta m = {0, 10, NULL};
    snprintf(path, sizeof path, "%s/train.bin", dir);
    if (exists(path)) {
        m.cifar100 = 1, m.k = 100;
        snprintf(train[ntrain++], 64, "train.bin");
        snprintf(test[0], 64, "test.bin");
        snprintf(path, sizeof path, "%s/fine_label_names.txt", dir);
    } else {
        for (int i = 1; i <= 5; i++) {
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, i);
            if (exists(path))
                snprintf(train[ntrain++], 64, "data_batch_%d.bin", i);
        }
        snprintf(test[0], 64, "test_batch.bin");
        snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    }
    if (ntrain == 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: no CIFAR binary files (data_batch_N.bin of "
                          "CIFAR-10 or train.bin of CIFAR-100)", dir);
    read_names(path, &m);
    dlt_status st = DLT_OK;
    int any = 0;
    if (!o->split || strcmp(o->split, "train") == 0) {
        st = convert_split(dir, train, ntrain, "train", &m, o);
        any = 1;
    }
    if (!st && (!o->split || strcmp(o->split, "test") == 0)) {
        dlt_convert_opts ot = *o;
        ot.val_fraction = 0;
        st = convert_split(dir, test, 1, "test", &m, &ot);
        any = 1;
    }
    if (!st && !any)
        st = dlt_seterr(DLT_ERR_INVALID, "unknown split '%s' (expected train or test)", o->split);
    for (int i = 0; m.names && i < m.k; i++)
        free(m.names[i]);
    free(m.names);
    return st;
}
