/* Shard writer: appends samples to chunked, deflated, extendible datasets and
 * writes the root attributes (with the CRC-32) when closed. */
#include "shard_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dlt_ds_desc *desc;
    int rank;
    hsize_t dims[4]; /* dims[0]: rows written so far */
    size_t row_bytes;
    hid_t ds;
    uint8_t *buf;
    int64_t nbuf, cap;
    uint32_t crc;
    int64_t bytes;
} out_ds;

struct dlt_shard_writer {
    char *path, *tmp, *source;
    dlt_shard_spec spec;
    char **names; /* class names or vocab */
    int64_t nnames;
    hid_t file;
    out_ds d[DLT_MAX_DATASETS];
    int nd;
    char **merges;
    int64_t nmerges;
    int64_t nsamples, ntokens, num_a, num_b;
};

static out_ds *find_ds(dlt_shard_writer *w, const char *name)
{
    for (int i = 0; i < w->nd; i++)
        if (strcmp(w->d[i].desc->name, name) == 0)
            return &w->d[i];
    return NULL;
}

/* Fills the per-row dims (after the sample axis) of a dataset of this spec. */
static void row_dims(const dlt_shard_spec *s, const char *name, hsize_t *dims)
{
    if (strncmp(name, "images", 6) == 0) {
        dims[1] = (hsize_t)s->h, dims[2] = (hsize_t)s->w, dims[3] = (hsize_t)s->c;
    } else if (strcmp(name, "boxes") == 0) {
        dims[1] = (hsize_t)s->max_boxes, dims[2] = 4;
    } else if (strcmp(name, "classes") == 0 || strcmp(name, "iscrowd") == 0) {
        dims[1] = (hsize_t)s->max_boxes;
    } else if (strcmp(name, "image_sizes") == 0 || strcmp(name, "orig_sizes") == 0) {
        dims[1] = 2;
    } else if (strcmp(name, "input_ids") == 0 || strcmp(name, "token_type_ids") == 0) {
        dims[1] = (hsize_t)s->seq_len;
    } else if (strncmp(name, "masked_lm_", 10) == 0) {
        dims[1] = (hsize_t)s->max_predictions;
    } else if (strcmp(name, "masks") == 0) {
        dims[1] = (hsize_t)s->max_boxes, dims[2] = (hsize_t)s->mask_h, dims[3] = (hsize_t)s->mask_w;
    }
}

static dlt_status create_ds(dlt_shard_writer *w, out_ds *d, const dlt_ds_desc *desc)
{
    hsize_t maxd[4], chunk[4];
    d->ds = -1;
    d->desc = desc;
    d->rank = desc->rank;
    d->dims[0] = 0;
    row_dims(&w->spec, desc->name, d->dims);
    d->row_bytes = dlt_data_ds_elem_size(desc->type);
    for (int i = 1; i < d->rank; i++)
        d->row_bytes *= d->dims[i];
    int64_t rows = (int64_t)(65536 / d->row_bytes);
    if (rows < 1)
        rows = 1;
    if (w->spec.chunk_samples > 0 && (strncmp(desc->name, "images", 6) == 0 ||
                                      strcmp(desc->name, "masks") == 0))
        rows = w->spec.chunk_samples;
    for (int i = 0; i < d->rank; i++) {
        maxd[i] = i == 0 ? H5S_UNLIMITED : d->dims[i];
        chunk[i] = i == 0 ? (hsize_t)rows : d->dims[i];
    }
    /* buffer whole chunks, about 1 MiB, so each H5Dwrite fills chunks */
    int64_t per_mib = (int64_t)((1 << 20) / d->row_bytes);
    d->cap = per_mib > rows ? per_mib / rows * rows : rows;
    d->buf = malloc((size_t)d->cap * d->row_bytes);
    if (!d->buf)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    hid_t sp = H5Screate_simple(d->rank, d->dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, d->rank, chunk);
    H5Pset_shuffle(dcpl);
    H5Pset_deflate(dcpl, (unsigned)(w->spec.deflate > 0 ? w->spec.deflate : 4));
    d->ds = H5Dcreate2(w->file, desc->name, dlt_data_ds_file_type(desc->type), sp, H5P_DEFAULT,
                       dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (d->ds < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot create dataset '%s'", desc->name);
    return DLT_OK;
}

static dlt_status flush_ds(out_ds *d)
{
    if (d->nbuf == 0)
        return DLT_OK;
    hsize_t start[4] = {d->dims[0], 0, 0, 0}, count[4];
    d->dims[0] += (hsize_t)d->nbuf;
    for (int i = 0; i < d->rank; i++)
        count[i] = i == 0 ? (hsize_t)d->nbuf : d->dims[i];
    herr_t e = H5Dset_extent(d->ds, d->dims);
    hid_t fs = H5Dget_space(d->ds), ms = H5Screate_simple(d->rank, count, NULL);
    if (e >= 0)
        e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0)
        e = H5Dwrite(d->ds, dlt_data_ds_mem_type(d->desc->type), ms, fs, H5P_DEFAULT, d->buf);
    H5Sclose(ms);
    H5Sclose(fs);
    d->nbuf = 0;
    return e < 0 ? dlt_seterr(DLT_ERR_IO, "cannot write dataset '%s'", d->desc->name) : DLT_OK;
}

static dlt_status append(out_ds *d, const void *rows, int64_t n)
{
    const uint8_t *p = rows;
    size_t nb = (size_t)n * d->row_bytes;
    d->crc = dlt_crc32(d->crc, p, nb);
    d->bytes += (int64_t)nb;
    while (n > 0) {
        int64_t k = d->cap - d->nbuf < n ? d->cap - d->nbuf : n;
        memcpy(d->buf + (size_t)d->nbuf * d->row_bytes, p, (size_t)k * d->row_bytes);
        d->nbuf += k, n -= k, p += (size_t)k * d->row_bytes;
        if (d->nbuf == d->cap) {
            dlt_status st = flush_ds(d);
            if (st)
                return st;
        }
    }
    return DLT_OK;
}

static dlt_status check_spec(const dlt_shard_spec *s)
{
    int text = s->kind == DLT_KIND_TEXT_TOKENS || s->kind == DLT_KIND_BERT_PRETRAINING;
    int img = !text;
    if ((unsigned)s->kind >= DLT_NKINDS)
        return dlt_seterr(DLT_ERR_INVALID, "unknown shard kind %d", (int)s->kind);
    if (img && (s->h <= 0 || s->w <= 0 || s->c <= 0 || s->c > DLT_DATA_MAX_CHANNELS))
        return dlt_seterr(DLT_ERR_INVALID, "bad image shape %dx%dx%d (C must be 1..%d)", s->h,
                          s->w, s->c, DLT_DATA_MAX_CHANNELS);
    if ((s->kind == DLT_KIND_IMAGE_CLASSIFICATION || s->kind == DLT_KIND_DETECTION) &&
        s->num_classes <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "num_classes must be positive");
    if (s->kind == DLT_KIND_DETECTION && (s->max_boxes <= 0 || s->mask_h <= 0 || s->mask_w <= 0))
        return dlt_seterr(DLT_ERR_INVALID, "detection needs max_boxes, mask_h and mask_w > 0");
    if (text && s->vocab_size <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "%s needs vocab_size > 0", dlt_shard_kind_name(s->kind));
    if (s->kind == DLT_KIND_BERT_PRETRAINING &&
        (s->seq_len < 3 || s->max_predictions < 1 || s->max_predictions > s->seq_len))
        return dlt_seterr(DLT_ERR_INVALID, "bert-pretraining needs seq_len >= 3 and "
                          "max_predictions in 1..seq_len (got %d and %d)", s->seq_len,
                          s->max_predictions);
    if (s->num_merges < 0 || (s->num_merges > 0 && !s->merges))
        return dlt_seterr(DLT_ERR_INVALID, "num_merges %d without merges", s->num_merges);
    return DLT_OK;
}

static dlt_status copy_names(dlt_shard_writer *w)
{
    const char *const *src = NULL;
    if (w->spec.kind == DLT_KIND_TEXT_TOKENS || w->spec.kind == DLT_KIND_BERT_PRETRAINING)
        w->nnames = w->spec.vocab_size, src = w->spec.vocab;
    else if (w->spec.kind != DLT_KIND_IMAGE_PAIRS)
        w->nnames = w->spec.num_classes, src = w->spec.class_names;
    w->names = calloc((size_t)w->nnames + 1, sizeof *w->names);
    if (!w->names)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < w->nnames; i++) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)i);
        if (!(w->names[i] = strdup(src ? src[i] : num)))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    w->nmerges = w->spec.num_merges;
    w->merges = calloc((size_t)w->nmerges + 1, sizeof *w->merges);
    if (!w->merges)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < w->nmerges; i++)
        if (!(w->merges[i] = strdup(w->spec.merges[i])))
            return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    /* the spec's pointers are the caller's: keep only our copies */
    w->spec.vocab = NULL, w->spec.class_names = NULL, w->spec.merges = NULL;
    if (w->spec.tokenizer && !(w->spec.tokenizer = strdup(w->spec.tokenizer)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    return DLT_OK;
}

static dlt_status writer_init(dlt_shard_writer *w, const char *path, const dlt_shard_spec *spec)
{
    dlt_status st;
    w->spec = *spec;
    w->file = -1;
    w->path = strdup(path);
    w->source = strdup(spec->source ? spec->source : "");
    w->tmp = malloc(strlen(path) + 5);
    if (!w->path || !w->tmp || !w->source)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    sprintf(w->tmp, "%s.tmp", path);
    if ((st = copy_names(w)))
        return st;
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0)
        return dlt_seterr(DLT_ERR_IO, "cannot create file");
    const dlt_ds_desc *desc;
    int n = dlt_data_kind_datasets(spec->kind, &desc);
    for (int i = 0; i < n; i++)
        if (desc[i].type != DS_STR && (st = create_ds(w, &w->d[w->nd++], &desc[i])))
            return st;
    if (spec->kind == DLT_KIND_TEXT_TOKENS) {
        int64_t zero = 0;
        return append(find_ds(w, "offsets"), &zero, 1);
    }
    return DLT_OK;
}

static void writer_free(dlt_shard_writer *w)
{
    for (int i = 0; i < w->nd; i++) {
        if (w->d[i].ds >= 0)
            H5Dclose(w->d[i].ds);
        free(w->d[i].buf);
    }
    if (w->file >= 0)
        H5Fclose(w->file);
    dlt_data_strings_free(w->names, w->nnames);
    dlt_data_strings_free(w->merges, w->nmerges);
    free((char *)w->spec.tokenizer);
    free(w->path);
    free(w->tmp);
    free(w->source);
    free(w);
}

dlt_status dlt_shard_writer_open(const char *path, const dlt_shard_spec *spec,
                                 dlt_shard_writer **out)
{
    dlt_h5_quiet q;
    dlt_status st = check_spec(spec);
    *out = NULL;
    if (st)
        return dlt_adderr(st, "%s", path);
    dlt_shard_writer *w = calloc(1, sizeof *w);
    if (!w)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_h5_quiet_begin(&q);
    st = writer_init(w, path, spec);
    dlt_h5_quiet_end(&q);
    if (st) {
        if (w->tmp)
            remove(w->tmp);
        writer_free(w);
        return dlt_adderr(st, "%s", path);
    }
    *out = w;
    return DLT_OK;
}

static dlt_status wrong_kind(dlt_shard_writer *w, const char *what)
{
    return dlt_seterr(DLT_ERR_INVALID, "%s: cannot write %s to a %s shard", w->path, what,
                      dlt_shard_kind_name(w->spec.kind));
}

static dlt_status done(dlt_shard_writer *w, dlt_status st, dlt_h5_quiet *q)
{
    dlt_h5_quiet_end(q);
    return st ? dlt_adderr(st, "%s", w->path) : DLT_OK;
}

dlt_status dlt_shard_write_image(dlt_shard_writer *w, const uint8_t *hwc, int32_t label)
{
    dlt_h5_quiet q;
    if (w->spec.kind != DLT_KIND_IMAGE_CLASSIFICATION)
        return wrong_kind(w, "a labelled image");
    if (label < 0 || label >= w->spec.num_classes)
        return dlt_seterr(DLT_ERR_INVALID, "%s: label %d outside 0..%d", w->path, label,
                          w->spec.num_classes - 1);
    dlt_h5_quiet_begin(&q);
    dlt_status st = append(&w->d[0], hwc, 1);
    if (!st)
        st = append(&w->d[1], &label, 1);
    w->nsamples += !st;
    return done(w, st, &q);
}

dlt_status dlt_shard_write_document(dlt_shard_writer *w, const int32_t *tokens, int64_t n)
{
    dlt_h5_quiet q;
    if (w->spec.kind != DLT_KIND_TEXT_TOKENS)
        return wrong_kind(w, "a document");
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= w->spec.vocab_size)
            return dlt_seterr(DLT_ERR_INVALID, "%s: token %d outside the vocabulary 0..%d",
                              w->path, tokens[i], w->spec.vocab_size - 1);
    dlt_h5_quiet_begin(&q);
    int64_t end = w->ntokens + n;
    dlt_status st = append(&w->d[0], tokens, n);
    if (!st)
        st = append(&w->d[1], &end, 1);
    if (!st)
        w->ntokens = end, w->nsamples++;
    return done(w, st, &q);
}

/* Appends one row to d: the first n items of src (item bytes each), then zeros,
 * so that every row is whole for the checksum's sake. */
static dlt_status append_padded(out_ds *d, const void *src, int n, size_t item)
{
    uint8_t *row = calloc(1, d->row_bytes);
    if (!row)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (n > 0 && src)
        memcpy(row, src, (size_t)n * item);
    dlt_status st = append(d, row, 1);
    free(row);
    return st;
}

static dlt_status check_det(const dlt_shard_writer *w, const dlt_det_sample *x)
{
    const dlt_shard_spec *s = &w->spec;
    if (x->nboxes < 0 || x->nboxes > s->max_boxes)
        return dlt_seterr(DLT_ERR_INVALID, "%s: %d boxes, the shard holds at most %d", w->path,
                          x->nboxes, s->max_boxes);
    if (x->h < 0 || x->h > s->h || x->w < 0 || x->w > s->w || x->orig_h < 0 || x->orig_w < 0)
        return dlt_seterr(DLT_ERR_INVALID, "%s: image size %dx%d (source %dx%d) does not fit "
                          "the %dx%d canvas", w->path, x->h, x->w, x->orig_h, x->orig_w, s->h,
                          s->w);
    for (int i = 0; i < x->nboxes; i++) {
        if (x->classes[i] < 0 || x->classes[i] >= s->num_classes)
            return dlt_seterr(DLT_ERR_INVALID, "%s: box class %d outside 0..%d", w->path,
                              x->classes[i], s->num_classes - 1);
        if (x->iscrowd && x->iscrowd[i] > 1)
            return dlt_seterr(DLT_ERR_INVALID, "%s: iscrowd %d of box %d is not 0 or 1",
                              w->path, x->iscrowd[i], i);
    }
    return DLT_OK;
}

dlt_status dlt_shard_write_det(dlt_shard_writer *w, const dlt_det_sample *x)
{
    dlt_h5_quiet q;
    const dlt_shard_spec *s = &w->spec;
    if (s->kind != DLT_KIND_DETECTION)
        return wrong_kind(w, "a detection sample");
    dlt_status st = check_det(w, x);
    if (st)
        return st;
    int n = x->nboxes;
    int32_t nb = n, sizes[2] = {x->h ? x->h : s->h, x->w ? x->w : s->w};
    int32_t orig[2] = {x->orig_h ? x->orig_h : sizes[0], x->orig_w ? x->orig_w : sizes[1]};
    int64_t id = x->image_id;
    dlt_h5_quiet_begin(&q);
    st = append(find_ds(w, "images"), x->hwc, 1);
    if (!st)
        st = append_padded(find_ds(w, "boxes"), x->boxes, n, 4 * sizeof(float));
    if (!st)
        st = append_padded(find_ds(w, "classes"), x->classes, n, sizeof(int32_t));
    if (!st)
        st = append_padded(find_ds(w, "masks"), x->masks, n,
                           (size_t)s->mask_h * (size_t)s->mask_w);
    if (!st)
        st = append(find_ds(w, "num_boxes"), &nb, 1);
    if (!st)
        st = append_padded(find_ds(w, "iscrowd"), x->iscrowd, n, 1);
    if (!st)
        st = append(find_ds(w, "image_sizes"), sizes, 1);
    if (!st)
        st = append(find_ds(w, "orig_sizes"), orig, 1);
    if (!st)
        st = append(find_ds(w, "image_ids"), &id, 1);
    w->nsamples += !st;
    return done(w, st, &q);
}

dlt_status dlt_shard_write_detection(dlt_shard_writer *w, const uint8_t *hwc, int nboxes,
                                     const float *boxes, const int32_t *classes,
                                     const uint8_t *masks)
{
    dlt_det_sample x = {0};
    x.hwc = hwc, x.nboxes = nboxes, x.boxes = boxes, x.classes = classes, x.masks = masks;
    x.image_id = w->nsamples; /* the row: no better id is known */
    return dlt_shard_write_det(w, &x);
}

dlt_status dlt_shard_write_pair_image(dlt_shard_writer *w, int domain, const uint8_t *hwc)
{
    dlt_h5_quiet q;
    if (w->spec.kind != DLT_KIND_IMAGE_PAIRS)
        return wrong_kind(w, "a domain image");
    if (domain != 0 && domain != 1)
        return dlt_seterr(DLT_ERR_INVALID, "%s: domain must be 0 (A) or 1 (B)", w->path);
    dlt_h5_quiet_begin(&q);
    dlt_status st = append(&w->d[domain], hwc, 1);
    if (!st) {
        w->nsamples++;
        if (domain)
            w->num_b++;
        else
            w->num_a++;
    }
    return done(w, st, &q);
}

dlt_status dlt_shard_write_bert(dlt_shard_writer *w, const int32_t *input_ids,
                                const uint8_t *token_type_ids, int32_t length,
                                const int32_t *mlm_positions, const int32_t *mlm_ids,
                                const float *mlm_weights, int32_t next_sentence_label)
{
    dlt_h5_quiet q;
    const dlt_shard_spec *s = &w->spec;
    if (s->kind != DLT_KIND_BERT_PRETRAINING)
        return wrong_kind(w, "a BERT instance");
    if (length < 1 || length > s->seq_len)
        return dlt_seterr(DLT_ERR_INVALID, "%s: length %d outside 1..%d", w->path, length,
                          s->seq_len);
    if (next_sentence_label != 0 && next_sentence_label != 1)
        return dlt_seterr(DLT_ERR_INVALID, "%s: next_sentence_label %d is not 0 or 1", w->path,
                          next_sentence_label);
    for (int i = 0; i < s->seq_len; i++)
        if (input_ids[i] < 0 || input_ids[i] >= s->vocab_size || token_type_ids[i] > 1)
            return dlt_seterr(DLT_ERR_INVALID, "%s: input_ids[%d] = %d / token_type_ids = %d "
                              "outside the vocabulary 0..%d / 0..1", w->path, i, input_ids[i],
                              token_type_ids[i], s->vocab_size - 1);
    for (int i = 0; i < s->max_predictions; i++)
        if (mlm_weights[i] != 0 && (mlm_positions[i] < 0 || mlm_positions[i] >= length ||
                                    mlm_ids[i] < 0 || mlm_ids[i] >= s->vocab_size))
            return dlt_seterr(DLT_ERR_INVALID, "%s: masked LM prediction %d (position %d, id "
                              "%d) outside the sequence or the vocabulary", w->path, i,
                              mlm_positions[i], mlm_ids[i]);
    dlt_h5_quiet_begin(&q);
    dlt_status st = append(find_ds(w, "input_ids"), input_ids, 1);
    if (!st)
        st = append(find_ds(w, "token_type_ids"), token_type_ids, 1);
    if (!st)
        st = append(find_ds(w, "lengths"), &length, 1);
    if (!st)
        st = append(find_ds(w, "masked_lm_positions"), mlm_positions, 1);
    if (!st)
        st = append(find_ds(w, "masked_lm_ids"), mlm_ids, 1);
    if (!st)
        st = append(find_ds(w, "masked_lm_weights"), mlm_weights, 1);
    if (!st)
        st = append(find_ds(w, "next_sentence_labels"), &next_sentence_label, 1);
    w->nsamples += !st;
    return done(w, st, &q);
}

static dlt_status finish(dlt_shard_writer *w)
{
    dlt_status st = DLT_OK;
    const dlt_ds_desc *desc;
    int n = dlt_data_kind_datasets(w->spec.kind, &desc);
    uint32_t crc = 0;
    int64_t total = 0;
    for (int i = 0; i < n && !st; i++) {
        if (desc[i].type == DS_STR) {
            int64_t b = 0;
            uint32_t c = dlt_data_strings_crc(0, (const char *const *)w->names, w->nnames, &b);
            crc = dlt_data_crc_combine(crc, c, b);
            total += b;
            st = dlt_data_strings_write(w->file, desc[i].name, (const char *const *)w->names,
                                        w->nnames);
        } else {
            out_ds *d = find_ds(w, desc[i].name);
            crc = dlt_data_crc_combine(crc, d->crc, d->bytes);
            total += d->bytes;
            st = flush_ds(d);
        }
    }
    if (!st && w->nmerges > 0) { /* optional, after the kind's datasets in the checksum */
        int64_t b = 0;
        uint32_t c = dlt_data_strings_crc(0, (const char *const *)w->merges, w->nmerges, &b);
        crc = dlt_data_crc_combine(crc, c, b);
        total += b;
        st = dlt_data_strings_write(w->file, "merges", (const char *const *)w->merges,
                                    w->nmerges);
    }
    hid_t f = w->file;
    if (!st && w->spec.tokenizer)
        st = dlt_data_attr_write_str(f, "tokenizer", w->spec.tokenizer);
    if (!st)
        st = dlt_data_attr_write_str(f, "format", DLT_SHARD_FORMAT);
    if (!st)
        st = dlt_data_attr_write_i64(f, "version", H5T_STD_I32LE, DLT_SHARD_VERSION);
    if (!st)
        st = dlt_data_attr_write_str(f, "kind", dlt_shard_kind_name(w->spec.kind));
    if (!st)
        st = dlt_data_attr_write_i64(f, "num_samples", H5T_STD_I64LE, w->nsamples);
    if (!st)
        st = dlt_data_attr_write_str(f, "source", w->source);
    if (!st)
        st = dlt_data_attr_write_str(f, "checksum_algorithm", "crc32");
    if (!st)
        st = dlt_data_attr_write_i64(f, "checksum", H5T_STD_U32LE, crc);
    if (!st && w->spec.kind == DLT_KIND_DETECTION)
        st = dlt_data_attr_write_i64(f, "max_boxes", H5T_STD_I32LE, w->spec.max_boxes);
    if (!st && w->spec.kind == DLT_KIND_IMAGE_PAIRS)
        st = dlt_data_attr_write_i64(f, "num_a", H5T_STD_I64LE, w->num_a);
    if (!st && w->spec.kind == DLT_KIND_IMAGE_PAIRS)
        st = dlt_data_attr_write_i64(f, "num_b", H5T_STD_I64LE, w->num_b);
    for (int i = 0; i < w->nd; i++) {
        if (H5Dclose(w->d[i].ds) < 0 && !st)
            st = dlt_seterr(DLT_ERR_IO, "cannot close dataset '%s'", w->d[i].desc->name);
        w->d[i].ds = -1;
    }
    if (H5Fclose(w->file) < 0 && !st)
        st = dlt_seterr(DLT_ERR_IO, "cannot close the file");
    w->file = -1;
    if (!st && rename(w->tmp, w->path) != 0)
        st = dlt_seterr(DLT_ERR_IO, "cannot rename %s to the final name", w->tmp);
    return st;
}

dlt_status dlt_shard_writer_close(dlt_shard_writer *w)
{
    dlt_h5_quiet q;
    dlt_h5_quiet_begin(&q);
    dlt_status st = finish(w);
    dlt_h5_quiet_end(&q);
    if (st) {
        dlt_adderr(st, "%s", w->path);
        remove(w->tmp);
    }
    writer_free(w);
    return st;
}

void dlt_shard_writer_abort(dlt_shard_writer *w)
{
    dlt_h5_quiet q;
    if (!w)
        return;
    dlt_h5_quiet_begin(&q);
    for (int i = 0; i < w->nd; i++) {
        if (w->d[i].ds >= 0)
            H5Dclose(w->d[i].ds);
        w->d[i].ds = -1;
    }
    if (w->file >= 0)
        H5Fclose(w->file);
    w->file = -1;
    dlt_h5_quiet_end(&q);
    remove(w->tmp);
    writer_free(w);
}
