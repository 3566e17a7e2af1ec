/* dlprep info: a human summary of one shard. */
#include "shard_internal.h"

static void print_names(FILE *out, const char *what, char **names, int n)
{
    fprintf(out, "  %-12s %d:", what, n);
    for (int i = 0; i < n && i < 20; i++)
        fprintf(out, "%s'%s'", i ? ", " : " ", names[i]);
    fprintf(out, "%s\n", n > 20 ? ", ..." : "");
}

dlt_status dlt_shard_describe(FILE *out, const char *path, int verify)
{
    dlt_shard_open_opts o = {256ll << 20, verify ? 2 : 0};
    dlt_shard *s;
    dlt_status st = dlt_shard_open(path, &o, &s);
    if (st)
        return st;
    const dlt_shard_info *in = dlt_shard_get_info(s);
    long long n = (long long)in->num_samples;
    fprintf(out, "%s\n", path);
    fprintf(out, "  %-12s %s (format %s v%d)\n", "kind", dlt_shard_kind_name(in->kind),
            DLT_SHARD_FORMAT, in->version);
    fprintf(out, "  %-12s %lld\n", "samples", n);
    fprintf(out, "  %-12s %s\n", "source", in->source);
    switch (in->kind) {
    case DLT_KIND_IMAGE_CLASSIFICATION:
        fprintf(out, "  %-12s uint8 [%lld, %d, %d, %d]\n", "images", n, in->h, in->w, in->c);
        fprintf(out, "  %-12s int32 [%lld]\n", "labels", n);
        print_names(out, "classes", in->class_names, in->num_classes);
        break;
    case DLT_KIND_TEXT_TOKENS:
        fprintf(out, "  %-12s int32 [%lld]\n", "tokens", (long long)in->num_tokens);
        fprintf(out, "  %-12s int64 [%lld]\n", "offsets", n + 1);
        print_names(out, "vocab", in->vocab, in->vocab_size);
        break;
    case DLT_KIND_BERT_PRETRAINING:
        fprintf(out, "  %-12s int32 [%lld, %d]\n", "input_ids", n, in->seq_len);
        fprintf(out, "  %-12s uint8 [%lld, %d]\n", "token_type_ids", n, in->seq_len);
        fprintf(out, "  %-12s int32 [%lld]\n", "lengths", n);
        fprintf(out, "  %-12s int32/int32/float32 [%lld, %d]\n", "masked_lm", n,
                in->max_predictions);
        fprintf(out, "  %-12s int32 [%lld]\n", "next_sentence_labels", n);
        print_names(out, "vocab", in->vocab, in->vocab_size);
        break;
    case DLT_KIND_DETECTION:
        fprintf(out, "  %-12s uint8 [%lld, %d, %d, %d]\n", "images", n, in->h, in->w, in->c);
        fprintf(out, "  %-12s float32 [%lld, %d, 4]\n", "boxes", n, in->max_boxes);
        fprintf(out, "  %-12s int32 [%lld, %d]\n", "classes", n, in->max_boxes);
        fprintf(out, "  %-12s uint8 [%lld, %d, %d, %d]\n", "masks", n, in->max_boxes,
                in->mask_h, in->mask_w);
        fprintf(out, "  %-12s int32 [%lld] (max_boxes %d)\n", "num_boxes", n, in->max_boxes);
        fprintf(out, "  %-12s uint8 [%lld, %d]\n", "iscrowd", n, in->max_boxes);
        fprintf(out, "  %-12s int32 [%lld, 2]\n", "image_sizes", n);
        fprintf(out, "  %-12s int32 [%lld, 2]\n", "orig_sizes", n);
        fprintf(out, "  %-12s int64 [%lld]\n", "image_ids", n);
        print_names(out, "classes", in->class_names, in->num_classes);
        break;
    case DLT_KIND_IMAGE_PAIRS:
        fprintf(out, "  %-12s uint8 [%lld, %d, %d, %d]\n", "images_a", (long long)in->num_a,
                in->h, in->w, in->c);
        fprintf(out, "  %-12s uint8 [%lld, %d, %d, %d]\n", "images_b", (long long)in->num_b,
                in->h, in->w, in->c);
        break;
    default: break;
    }
    if (in->tokenizer || in->num_merges)
        fprintf(out, "  %-12s %s, %d merges\n", "tokenizer", in->tokenizer ? in->tokenizer : "?",
                in->num_merges);
    fprintf(out, "  %-12s crc32 %08x over %lld bytes: %s\n", "checksum", in->checksum,
            (long long)in->data_bytes, in->verified ? "ok" : "not verified");
    dlt_shard_close(s);
    return DLT_OK;
}
