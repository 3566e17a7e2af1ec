/* Shard reader: opens and validates a v1 shard, then serves samples from
 * memory (small shards) or by hyperslab through a small chunk cache. */
#include "shard_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const dlt_ds_desc *desc;
    hid_t ds; /* open while the data is not in memory */
    int rank;
    hsize_t dims[4];
    size_t row_bytes;
    uint8_t *mem;
} in_ds;

struct dlt_shard {
    char *path;
    hid_t file;
    dlt_shard_info info;
    in_ds d[DLT_MAX_DATASETS];
    int nd;
    int32_t *labels;    /* classification: always loaded */
    int64_t *offsets;   /* text-tokens: always loaded */
    int32_t *num_boxes; /* detection: always loaded */
    int32_t *lengths;   /* bert-pretraining: always loaded */
};

static in_ds *get_ds(dlt_shard *s, const char *name)
{
    for (int i = 0; i < s->nd; i++)
        if (strcmp(s->d[i].desc->name, name) == 0)
            return &s->d[i];
    return NULL;
}

/* Reads rows [r0, r0+n) of d into dst (memory or hyperslab). */
static dlt_status read_rows(in_ds *d, int64_t r0, int64_t n, void *dst)
{
    if (d->mem) {
        memcpy(dst, d->mem + (size_t)r0 * d->row_bytes, (size_t)n * d->row_bytes);
        return DLT_OK;
    }
    hsize_t start[4] = {(hsize_t)r0, 0, 0, 0}, count[4];
    for (int i = 0; i < d->rank; i++)
        count[i] = i == 0 ? (hsize_t)n : d->dims[i];
    hid_t fs = H5Dget_space(d->ds), ms = H5Screate_simple(d->rank, count, NULL);
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0)
        e = H5Dread(d->ds, dlt_data_ds_mem_type(d->desc->type), ms, fs, H5P_DEFAULT, dst);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot read rows %lld..%lld of dataset '%s' (corrupt?)",
                          (long long)r0, (long long)(r0 + n - 1), d->desc->name);
    return DLT_OK;
}

static dlt_status read_whole(in_ds *d, void **out)
{
    size_t nb = (size_t)d->dims[0] * d->row_bytes;
    *out = malloc(nb ? nb : 1);
    if (!*out)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory reading dataset '%s'", d->desc->name);
    if (nb == 0)
        return DLT_OK;
    return read_rows(d, 0, (int64_t)d->dims[0], *out);
}

static dlt_status open_dataset(dlt_shard *s, const dlt_ds_desc *desc, in_ds *d)
{
    char tn[32];
    d->desc = desc;
    d->ds = -1;
    if (H5Lexists(s->file, desc->name, H5P_DEFAULT) <= 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "missing dataset '%s' (required by kind %s)",
                          desc->name, dlt_shard_kind_name(s->info.kind));
    hid_t ds = H5Dopen2(s->file, desc->name, H5P_DEFAULT);
    if (ds < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot open dataset '%s'", desc->name);
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    int ok = dlt_data_h5_type_is(t, desc->type);
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank == desc->rank)
        H5Sget_simple_extent_dims(sp, d->dims, NULL);
    H5Sclose(sp);
    dlt_status st = DLT_OK;
    if (!ok)
        st = dlt_seterr(DLT_ERR_DTYPE, "dataset '%s' has type %s, expected %s", desc->name,
                        dlt_data_h5_type_name(t, tn, sizeof tn),
                        dlt_data_ds_type_name(desc->type));
    else if (rank != desc->rank)
        st = dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' has %d dimensions, expected %d",
                        desc->name, rank, desc->rank);
    H5Tclose(t);
    if (st) {
        H5Dclose(ds);
        return st;
    }
    d->ds = ds;
    d->rank = rank;
    d->row_bytes = dlt_data_ds_elem_size(desc->type);
    for (int i = 1; i < rank; i++)
        d->row_bytes *= d->dims[i];
    return DLT_OK;
}

static dlt_status expect_rows(const in_ds *d, int64_t n, const char *what)
{
    if ((int64_t)d->dims[0] != n)
        return dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' has %lld rows, expected %lld (%s)",
                          d->desc->name, (long long)d->dims[0], (long long)n, what);
    return DLT_OK;
}

static dlt_status image_shape(dlt_shard *s, const in_ds *d)
{
    int h = (int)d->dims[1], w = (int)d->dims[2], c = (int)d->dims[3];
    if (c < 1 || c > DLT_DATA_MAX_CHANNELS || h < 1 || w < 1)
        return dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' has images %dx%dx%d, expected HxWxC with "
                          "C in 1..%d", d->desc->name, h, w, c, DLT_DATA_MAX_CHANNELS);
    if (s->info.h && (s->info.h != h || s->info.w != w || s->info.c != c))
        return dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' has images %dx%dx%d, others %dx%dx%d",
                          d->desc->name, h, w, c, s->info.h, s->info.w, s->info.c);
    s->info.h = h, s->info.w = w, s->info.c = c;
    return DLT_OK;
}

/* Shapes that tie the datasets of a kind together. */
static dlt_status check_shapes(dlt_shard *s)
{
    dlt_shard_info *in = &s->info;
    int64_t n = in->num_samples;
    dlt_status st = DLT_OK;
    switch (in->kind) {
    case DLT_KIND_IMAGE_CLASSIFICATION:
        if (!(st = image_shape(s, get_ds(s, "images"))) &&
            !(st = expect_rows(get_ds(s, "images"), n, "num_samples")))
            st = expect_rows(get_ds(s, "labels"), n, "num_samples");
        break;
    case DLT_KIND_TEXT_TOKENS:
        in->num_tokens = (int64_t)get_ds(s, "tokens")->dims[0];
        st = expect_rows(get_ds(s, "offsets"), n + 1, "num_samples + 1");
        break;
    case DLT_KIND_DETECTION: {
        int64_t m;
        if ((st = dlt_data_attr_read_i64(s->file, "max_boxes", &m)))
            return st;
        in->max_boxes = (int)m;
        in_ds *bx = get_ds(s, "boxes"), *cl = get_ds(s, "classes"), *mk = get_ds(s, "masks");
        in_ds *cr = get_ds(s, "iscrowd"), *sz = get_ds(s, "image_sizes");
        in_ds *osz = get_ds(s, "orig_sizes");
        in->mask_h = (int)mk->dims[2], in->mask_w = (int)mk->dims[3];
        if ((int64_t)bx->dims[1] != m || bx->dims[2] != 4 || (int64_t)cl->dims[1] != m ||
            (int64_t)mk->dims[1] != m || (int64_t)cr->dims[1] != m || m < 1)
            return dlt_seterr(DLT_ERR_SHAPE, "boxes/classes/masks/iscrowd do not match "
                              "max_boxes = %lld (expected [N,M,4], [N,M], [N,M,h,w], [N,M])",
                              (long long)m);
        if (sz->dims[1] != 2 || osz->dims[1] != 2)
            return dlt_seterr(DLT_ERR_SHAPE, "image_sizes/orig_sizes must be [N,2]");
        const char *names[] = {"images",  "boxes",       "classes",    "masks",    "num_boxes",
                               "iscrowd", "image_sizes", "orig_sizes", "image_ids"};
        st = image_shape(s, get_ds(s, "images"));
        for (int i = 0; i < 9 && !st; i++)
            st = expect_rows(get_ds(s, names[i]), n, "num_samples");
        break;
    }
    case DLT_KIND_BERT_PRETRAINING: {
        in_ds *ids = get_ds(s, "input_ids"), *mp = get_ds(s, "masked_lm_positions");
        in->seq_len = (int)ids->dims[1], in->max_predictions = (int)mp->dims[1];
        if (in->seq_len < 1 || in->max_predictions < 1)
            return dlt_seterr(DLT_ERR_SHAPE, "input_ids [N,%d] / masked_lm_positions [N,%d]: "
                              "expected non-empty rows", in->seq_len, in->max_predictions);
        for (int i = 0; i < s->nd && !st; i++) {
            in_ds *d = &s->d[i];
            int want = strncmp(d->desc->name, "masked_lm_", 10) == 0 ? in->max_predictions
                                                                      : in->seq_len;
            if (d->rank == 2 && (int)d->dims[1] != want)
                st = dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' has rows of %d, expected %d",
                                d->desc->name, (int)d->dims[1], want);
            if (!st)
                st = expect_rows(d, n, "num_samples");
        }
        break;
    }
    case DLT_KIND_IMAGE_PAIRS:
        if ((st = dlt_data_attr_read_i64(s->file, "num_a", &in->num_a)) ||
            (st = dlt_data_attr_read_i64(s->file, "num_b", &in->num_b)) ||
            (st = image_shape(s, get_ds(s, "images_a"))) ||
            (st = image_shape(s, get_ds(s, "images_b"))) ||
            (st = expect_rows(get_ds(s, "images_a"), in->num_a, "attribute num_a")) ||
            (st = expect_rows(get_ds(s, "images_b"), in->num_b, "attribute num_b")))
            return st;
        if (in->num_a + in->num_b != n)
            st = dlt_seterr(DLT_ERR_SHAPE, "num_a + num_b = %lld, but num_samples = %lld",
                            (long long)(in->num_a + in->num_b), (long long)n);
        break;
    default: break;
    }
    return st;
}

static dlt_status read_attrs(dlt_shard *s)
{
    dlt_shard_info *in = &s->info;
    char *str = NULL;
    int64_t v;
    dlt_status st = dlt_data_attr_read_str(s->file, "format", &str);
    if (st == DLT_ERR_NOTFOUND)
        return dlt_seterr(st, "missing root attribute 'format' (not a dltrain shard)");
    if (st)
        return st;
    if (strcmp(str, DLT_SHARD_FORMAT) != 0) {
        st = dlt_seterr(DLT_ERR_INVALID, "attribute 'format' is '%s', expected '%s'", str,
                        DLT_SHARD_FORMAT);
        free(str);
        return st;
    }
    free(str);
    if ((st = dlt_data_attr_read_i64(s->file, "version", &v)))
        return st;
    if (v != DLT_SHARD_VERSION)
        return dlt_seterr(DLT_ERR_UNSUPPORTED, "unsupported shard version %lld (expected %d)",
                          (long long)v, DLT_SHARD_VERSION);
    in->version = (int)v;
    if ((st = dlt_data_attr_read_str(s->file, "kind", &str)))
        return st;
    st = dlt_shard_kind_parse(str, &in->kind);
    free(str);
    if (st)
        return dlt_adderr(st, "attribute 'kind'");
    if ((st = dlt_data_attr_read_i64(s->file, "num_samples", &in->num_samples)))
        return st;
    if (in->num_samples < 0)
        return dlt_seterr(DLT_ERR_INVALID, "attribute 'num_samples' is negative (%lld)",
                          (long long)in->num_samples);
    if ((st = dlt_data_attr_read_i64(s->file, "checksum", &v)))
        return st;
    if (v < 0 || v > 0xffffffffll)
        return dlt_seterr(DLT_ERR_INVALID, "attribute 'checksum' (%lld) is not a uint32",
                          (long long)v);
    in->checksum = (uint32_t)v;
    if (dlt_data_attr_read_str(s->file, "checksum_algorithm", &str) == DLT_OK) {
        int ok = strcmp(str, "crc32") == 0;
        free(str);
        if (!ok)
            return dlt_seterr(DLT_ERR_UNSUPPORTED, "unknown checksum_algorithm (expected crc32)");
    }
    return dlt_data_attr_read_str(s->file, "source", &in->source);
}

static dlt_status read_strings(dlt_shard *s, const dlt_ds_desc *desc)
{
    in_ds tmp;
    dlt_status st = open_dataset(s, desc, &tmp);
    if (st)
        return st;
    int64_t n;
    char **v;
    st = dlt_data_strings_read(tmp.ds, &v, &n);
    H5Dclose(tmp.ds);
    if (st)
        return dlt_adderr(st, "dataset '%s'", desc->name);
    if (strcmp(desc->name, "vocab") == 0)
        s->info.vocab = v, s->info.vocab_size = (int)n;
    else if (strcmp(desc->name, "merges") == 0) {
        s->info.merges = v, s->info.num_merges = (int)n;
        return DLT_OK;
    }
    else
        s->info.class_names = v, s->info.num_classes = (int)n;
    if (n < 1)
        return dlt_seterr(DLT_ERR_SHAPE, "dataset '%s' is empty", desc->name);
    return DLT_OK;
}

/* CRC-32 in the order of docs/formats.md, reading from disk in ~4 MiB blocks when needed. */
static dlt_status compute_crc(dlt_shard *s, uint32_t *out)
{
    const dlt_ds_desc *desc;
    int n = dlt_data_kind_datasets(s->info.kind, &desc);
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        if (desc[i].type == DS_STR) {
            int64_t b = 0;
            char **v = strcmp(desc[i].name, "vocab") == 0 ? s->info.vocab : s->info.class_names;
            int64_t k = strcmp(desc[i].name, "vocab") == 0 ? s->info.vocab_size
                                                            : s->info.num_classes;
            crc = dlt_data_strings_crc(crc, (const char *const *)v, k, &b);
            continue;
        }
        in_ds *d = get_ds(s, desc[i].name);
        int64_t rows = (int64_t)d->dims[0];
        if (d->mem) {
            crc = dlt_crc32(crc, d->mem, (size_t)rows * d->row_bytes);
            continue;
        }
        int64_t blk = (int64_t)((4 << 20) / d->row_bytes) + 1;
        uint8_t *buf = malloc((size_t)blk * d->row_bytes);
        if (!buf)
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
        for (int64_t r = 0; r < rows; r += blk) {
            int64_t k = rows - r < blk ? rows - r : blk;
            dlt_status st = read_rows(d, r, k, buf);
            if (st) {
                free(buf);
                return st;
            }
            crc = dlt_crc32(crc, buf, (size_t)k * d->row_bytes);
        }
        free(buf);
    }
    if (s->info.merges) {
        int64_t b = 0;
        crc = dlt_data_strings_crc(crc, (const char *const *)s->info.merges, s->info.num_merges,
                                   &b);
    }
    *out = crc;
    return DLT_OK;
}

static dlt_status check_values(dlt_shard *s)
{
    const dlt_shard_info *in = &s->info;
    for (int64_t i = 0; s->labels && i < in->num_samples; i++)
        if (s->labels[i] < 0 || s->labels[i] >= in->num_classes)
            return dlt_seterr(DLT_ERR_INVALID, "label %d of sample %lld is outside 0..%d",
                              s->labels[i], (long long)i, in->num_classes - 1);
    for (int64_t i = 0; s->offsets && i <= in->num_samples; i++)
        if ((i == 0 && s->offsets[0] != 0) || (i > 0 && s->offsets[i] < s->offsets[i - 1]) ||
            (i == in->num_samples && s->offsets[i] != in->num_tokens))
            return dlt_seterr(DLT_ERR_INVALID, "offsets[%lld] = %lld: offsets must rise from 0 "
                              "to the token count %lld", (long long)i,
                              (long long)s->offsets[i], (long long)in->num_tokens);
    for (int64_t i = 0; s->num_boxes && i < in->num_samples; i++)
        if (s->num_boxes[i] < 0 || s->num_boxes[i] > in->max_boxes)
            return dlt_seterr(DLT_ERR_INVALID, "num_boxes[%lld] = %d is outside 0..%d",
                              (long long)i, s->num_boxes[i], in->max_boxes);
    for (int64_t i = 0; s->lengths && i < in->num_samples; i++)
        if (s->lengths[i] < 1 || s->lengths[i] > in->seq_len)
            return dlt_seterr(DLT_ERR_INVALID, "lengths[%lld] = %d is outside 1..%d",
                              (long long)i, s->lengths[i], in->seq_len);
    return DLT_OK;
}

/* Reopens a dataset with a chunk cache of a few chunks (hyperslab mode). */
static dlt_status reopen_cached(dlt_shard *s, in_ds *d)
{
    hsize_t chunk[4] = {1, 1, 1, 1};
    hid_t dcpl = H5Dget_create_plist(d->ds);
    size_t cbytes = d->row_bytes;
    if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, d->rank, chunk) >= 0)
        cbytes = (size_t)chunk[0] * d->row_bytes;
    H5Pclose(dcpl);
    H5Dclose(d->ds);
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 521, 4 * cbytes, 1.0);
    d->ds = H5Dopen2(s->file, d->desc->name, dapl);
    H5Pclose(dapl);
    return d->ds < 0 ? dlt_seterr(DLT_ERR_IO, "cannot reopen dataset '%s'", d->desc->name)
                     : DLT_OK;
}

static dlt_status shard_load(dlt_shard *s, const dlt_shard_open_opts *o)
{
    dlt_status st;
    if ((st = dlt_check_regular_file(s->path)) != DLT_OK)
        return st;
    if (access(s->path, R_OK) != 0)
        return dlt_seterr(errno == ENOENT ? DLT_ERR_NOTFOUND : DLT_ERR_IO, "cannot open: %s",
                          strerror(errno));
    if (H5Fis_hdf5(s->path) <= 0)
        return dlt_seterr(DLT_ERR_IO, "not an HDF5 file (truncated or corrupt?)");
    s->file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot open as HDF5 (truncated or corrupt?)");
    if ((st = read_attrs(s)))
        return st;
    const dlt_ds_desc *desc;
    int n = dlt_data_kind_datasets(s->info.kind, &desc);
    for (int i = 0; i < n; i++) {
        if (desc[i].type == DS_STR)
            st = read_strings(s, &desc[i]);
        else
            st = open_dataset(s, &desc[i], &s->d[s->nd++]);
        if (st)
            return st;
    }
    if ((st = check_shapes(s)))
        return st;
    static const dlt_ds_desc merges_desc = {"merges", DS_STR, 1};
    if (H5Lexists(s->file, "merges", H5P_DEFAULT) > 0 && (st = read_strings(s, &merges_desc)))
        return st;
    if (H5Aexists(s->file, "tokenizer") > 0 &&
        (st = dlt_data_attr_read_str(s->file, "tokenizer", &s->info.tokenizer)))
        return st;
    int64_t bytes = 0;
    for (int i = 0; i < s->nd; i++)
        bytes += (int64_t)s->d[i].dims[0] * (int64_t)s->d[i].row_bytes;
    s->info.data_bytes = bytes;
    s->info.in_memory = bytes < o->inmem_threshold;
    for (int i = 0; i < s->nd && !st; i++) {
        in_ds *d = &s->d[i];
        if (s->info.in_memory) {
            void *p = NULL;
            st = read_whole(d, &p);
            d->mem = p;
            H5Dclose(d->ds);
            d->ds = -1;
        } else {
            st = reopen_cached(s, d);
        }
    }
    void *lab = NULL, *off = NULL, *nb = NULL, *len = NULL;
    if (!st && s->info.kind == DLT_KIND_BERT_PRETRAINING)
        st = read_whole(get_ds(s, "lengths"), &len);
    s->lengths = len;
    if (!st && s->info.kind == DLT_KIND_IMAGE_CLASSIFICATION)
        st = read_whole(get_ds(s, "labels"), &lab);
    if (!st && s->info.kind == DLT_KIND_TEXT_TOKENS)
        st = read_whole(get_ds(s, "offsets"), &off);
    if (!st && s->info.kind == DLT_KIND_DETECTION)
        st = read_whole(get_ds(s, "num_boxes"), &nb);
    s->labels = lab, s->offsets = off, s->num_boxes = nb;
    if (s->info.in_memory) {
        H5Fclose(s->file);
        s->file = -1;
    }
    if (!st && (o->verify >= 2 || (o->verify == 1 && s->info.in_memory)))
        st = dlt_shard_verify(s);
    if (!st)
        st = check_values(s);
    return st;
}

dlt_status dlt_shard_open(const char *path, const dlt_shard_open_opts *opts, dlt_shard **out)
{
    dlt_shard_open_opts o = {256ll << 20, 1};
    dlt_h5_quiet q;
    if (opts)
        o = *opts;
    *out = NULL;
    dlt_shard *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    s->file = -1;
    dlt_h5_quiet_begin(&q);
    dlt_status st = shard_load(s, &o);
    dlt_h5_quiet_end(&q);
    if (st) {
        dlt_adderr(st, "%s", path);
        dlt_shard_close(s);
        return st;
    }
    *out = s;
    return DLT_OK;
}

const dlt_shard_info *dlt_shard_get_info(const dlt_shard *s) { return &s->info; }
const char *dlt_shard_path(const dlt_shard *s) { return s->path; }

dlt_status dlt_shard_verify(dlt_shard *s)
{
    dlt_h5_quiet q;
    uint32_t crc = 0;
    dlt_h5_quiet_begin(&q);
    dlt_status st = compute_crc(s, &crc);
    dlt_h5_quiet_end(&q);
    if (st)
        return st;
    if (crc != s->info.checksum)
        return dlt_seterr(DLT_ERR_IO, "checksum mismatch (stored crc32 %08x, computed %08x): "
                          "the file is corrupt", s->info.checksum, crc);
    s->info.verified = 1;
    return DLT_OK;
}

void dlt_shard_close(dlt_shard *s)
{
    dlt_h5_quiet q;
    if (!s)
        return;
    dlt_h5_quiet_begin(&q);
    for (int i = 0; i < s->nd; i++) {
        if (s->d[i].ds >= 0)
            H5Dclose(s->d[i].ds);
        free(s->d[i].mem);
    }
    if (s->file >= 0)
        H5Fclose(s->file);
    dlt_h5_quiet_end(&q);
    dlt_data_strings_free(s->info.class_names, s->info.num_classes);
    dlt_data_strings_free(s->info.vocab, s->info.vocab_size);
    dlt_data_strings_free(s->info.merges, s->info.num_merges);
    free(s->info.tokenizer);
    free(s->lengths);
    free(s->info.source);
    free(s->labels);
    free(s->offsets);
    free(s->num_boxes);
    free(s->path);
    free(s);
}

static dlt_status sample_range(const dlt_shard *s, dlt_shard_kind k, int64_t i, int64_t n)
{
    if (s->info.kind != k)
        return dlt_seterr(DLT_ERR_INVALID, "%s: is a %s shard, not %s", s->path,
                          dlt_shard_kind_name(s->info.kind), dlt_shard_kind_name(k));
    if (i < 0 || i >= n)
        return dlt_seterr(DLT_ERR_INVALID, "%s: sample %lld out of range 0..%lld", s->path,
                          (long long)i, (long long)n - 1);
    return DLT_OK;
}

static dlt_status rows_of(dlt_shard *s, const char *name, int64_t i, void *dst)
{
    dlt_h5_quiet q;
    dlt_h5_quiet_begin(&q);
    dlt_status st = read_rows(get_ds(s, name), i, 1, dst);
    dlt_h5_quiet_end(&q);
    return st ? dlt_adderr(st, "%s", s->path) : DLT_OK;
}

dlt_status dlt_shard_read_image(dlt_shard *s, int64_t i, uint8_t *hwc, int32_t *label)
{
    dlt_status st = sample_range(s, DLT_KIND_IMAGE_CLASSIFICATION, i, s->info.num_samples);
    if (!st && label)
        *label = s->labels[i];
    return st || !hwc ? st : rows_of(s, "images", i, hwc);
}

dlt_status dlt_shard_peek_image(const dlt_shard *s, int64_t i, const uint8_t **hwc)
{
    const in_ds *d = &s->d[0]; /* "images" comes first in both image kinds */
    dlt_status st = sample_range(s, DLT_KIND_IMAGE_CLASSIFICATION, i, s->info.num_samples);
    if (st)
        return st;
    if (!d->mem)
        return DLT_ERR_UNSUPPORTED;
    *hwc = d->mem + (size_t)i * d->row_bytes;
    return DLT_OK;
}

int32_t dlt_shard_label(const dlt_shard *s, int64_t i) { return s->labels ? s->labels[i] : -1; }

dlt_status dlt_shard_read_document(dlt_shard *s, int64_t i, int32_t *buf, int64_t cap,
                                   int64_t *n)
{
    dlt_status st = sample_range(s, DLT_KIND_TEXT_TOKENS, i, s->info.num_samples);
    if (st)
        return st;
    int64_t a = s->offsets[i], len = s->offsets[i + 1] - a, k = len < cap ? len : cap;
    *n = len;
    if (!buf || k <= 0)
        return DLT_OK;
    in_ds *d = get_ds(s, "tokens");
    dlt_h5_quiet q;
    dlt_h5_quiet_begin(&q);
    st = read_rows(d, a, k, buf);
    dlt_h5_quiet_end(&q);
    return st ? dlt_adderr(st, "%s", s->path) : DLT_OK;
}

dlt_status dlt_shard_read_tokens(dlt_shard *s, int64_t start, int64_t n, int32_t *buf)
{
    if (s->info.kind != DLT_KIND_TEXT_TOKENS)
        return dlt_seterr(DLT_ERR_INVALID, "%s: is a %s shard, not text-tokens", s->path,
                          dlt_shard_kind_name(s->info.kind));
    if (start < 0 || n < 0 || start + n > s->info.num_tokens)
        return dlt_seterr(DLT_ERR_INVALID, "%s: tokens %lld..%lld outside 0..%lld", s->path,
                          (long long)start, (long long)(start + n),
                          (long long)s->info.num_tokens);
    if (n == 0)
        return DLT_OK;
    dlt_h5_quiet q;
    dlt_h5_quiet_begin(&q);
    dlt_status st = read_rows(get_ds(s, "tokens"), start, n, buf);
    dlt_h5_quiet_end(&q);
    return st ? dlt_adderr(st, "%s", s->path) : DLT_OK;
}

dlt_status dlt_shard_read_bert(dlt_shard *s, int64_t i, int32_t *input_ids,
                               uint8_t *token_type_ids, int32_t *length,
                               int32_t *mlm_positions, int32_t *mlm_ids, float *mlm_weights,
                               int32_t *next_sentence_label)
{
    dlt_status st = sample_range(s, DLT_KIND_BERT_PRETRAINING, i, s->info.num_samples);
    if (!st && length)
        *length = s->lengths[i];
    if (!st && input_ids)
        st = rows_of(s, "input_ids", i, input_ids);
    if (!st && token_type_ids)
        st = rows_of(s, "token_type_ids", i, token_type_ids);
    if (!st && mlm_positions)
        st = rows_of(s, "masked_lm_positions", i, mlm_positions);
    if (!st && mlm_ids)
        st = rows_of(s, "masked_lm_ids", i, mlm_ids);
    if (!st && mlm_weights)
        st = rows_of(s, "masked_lm_weights", i, mlm_weights);
    if (!st && next_sentence_label)
        st = rows_of(s, "next_sentence_labels", i, next_sentence_label);
    return st;
}

dlt_status dlt_shard_read_detection(dlt_shard *s, int64_t i, uint8_t *hwc, float *boxes,
                                    int32_t *classes, uint8_t *masks, int *nboxes)
{
    dlt_status st = sample_range(s, DLT_KIND_DETECTION, i, s->info.num_samples);
    if (!st && nboxes)
        *nboxes = s->num_boxes[i];
    if (!st && hwc)
        st = rows_of(s, "images", i, hwc);
    if (!st && boxes)
        st = rows_of(s, "boxes", i, boxes);
    if (!st && classes)
        st = rows_of(s, "classes", i, classes);
    if (!st && masks)
        st = rows_of(s, "masks", i, masks);
    return st;
}

dlt_status dlt_shard_read_det_meta(dlt_shard *s, int64_t i, int32_t sizes[4],
                                   int64_t *image_id, uint8_t *iscrowd)
{
    dlt_status st = sample_range(s, DLT_KIND_DETECTION, i, s->info.num_samples);
    if (!st && sizes)
        st = rows_of(s, "image_sizes", i, sizes);
    if (!st && sizes)
        st = rows_of(s, "orig_sizes", i, sizes + 2);
    if (!st && image_id)
        st = rows_of(s, "image_ids", i, image_id);
    if (!st && iscrowd)
        st = rows_of(s, "iscrowd", i, iscrowd);
    return st;
}

dlt_status dlt_shard_read_pair_image(dlt_shard *s, int domain, int64_t i, uint8_t *hwc)
{
    int64_t n = domain ? s->info.num_b : s->info.num_a;
    dlt_status st = sample_range(s, DLT_KIND_IMAGE_PAIRS, i, n);
    if (!st && domain != 0 && domain != 1)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: domain must be 0 (A) or 1 (B)", s->path);
    return st ? st : rows_of(s, domain ? "images_b" : "images_a", i, hwc);
}

dlt_status dlt_shard_peek_pair_image(const dlt_shard *s, int domain, int64_t i,
                                     const uint8_t **hwc)
{
    int64_t n = domain ? s->info.num_b : s->info.num_a;
    dlt_status st = sample_range(s, DLT_KIND_IMAGE_PAIRS, i, n);
    if (!st && domain != 0 && domain != 1)
        st = dlt_seterr(DLT_ERR_INVALID, "%s: domain must be 0 (A) or 1 (B)", s->path);
    if (st)
        return st;
    const in_ds *d = &s->d[domain]; /* "images_a", then "images_b" (the kind's table) */
    if (!d->mem)
        return DLT_ERR_UNSUPPORTED;
    *hwc = d->mem + (size_t)i * d->row_bytes;
    return DLT_OK;
}
