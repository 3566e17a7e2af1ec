/* dlprep detection-synth on a tiny hand-made Fashion-MNIST-like IDX pair:
 * the same seed gives the same bytes (JSON) and the same samples and
 * checksums (shards), another seed other data; every box is the tight box of
 * its mask, masks of one image never share a pixel (occlusion), classes are
 * the source label + 1, and the COCO JSON says exactly what the shards say
 * (bbox, area, RLE counts decoded here, category, image ids). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

enum { S = 64, MAXB = 6 };

static char *dir;

static void put_be32(gzFile f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    gzwrite(f, b, 4);
}

/* n 28x28 items: item i is a filled ellipse-ish blob of value 120..250, label i % 10. */
static void write_idx(const char *stem, int n)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/src/%s-images-idx3-ubyte.gz", dir, stem);
    gzFile f = gzopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    put_be32(f, 0x803), put_be32(f, (uint32_t)n), put_be32(f, 28), put_be32(f, 28);
    for (int i = 0; i < n; i++) {
        uint8_t im[784] = {0};
        int ry = 6 + i % 8, rx = 4 + (i * 3) % 9;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                int dy = y - 14, dx = x - 14;
                if (dy * dy * rx * rx + dx * dx * ry * ry <= rx * rx * ry * ry)
                    im[y * 28 + x] = (uint8_t)(120 + (i * 13 + x + y) % 131);
            }
        gzwrite(f, im, 784);
    }
    gzclose(f);
    snprintf(p, sizeof p, "%s/src/%s-labels-idx1-ubyte.gz", dir, stem);
    f = gzopen(p, "wb");
    put_be32(f, 0x801), put_be32(f, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t l = (uint8_t)(i % 10);
        gzwrite(f, &l, 1);
    }
    gzclose(f);
}

static void setup(void)
{
    dir = dt_tmpdir();
    char p[4300];
    snprintf(p, sizeof p, "%s/src", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    write_idx("train", 30);
    write_idx("t10k", 20);
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

static void gen(const char *sub, uint64_t seed)
{
    char src[4300], out[4300];
    snprintf(src, sizeof src, "%s/src", dir);
    snprintf(out, sizeof out, "%s/%s", dir, sub);
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = out;
    o.seed = seed;
    o.val_fraction = 0.25;
    OK(dlt_convert_detection_synth(src, 12, S, &o));
}

static char *slurp(const char *sub, const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "missing %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static dlt_shard *open_split(const char *sub, const char *split)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s/%s-00000-of-00001.h5", dir, sub, split);
    dlt_shard *s;
    OK(dlt_shard_open(p, NULL, &s));
    return s;
}

typedef struct {
    uint8_t img[S * S * 3], masks[MAXB * S * S], crowd[MAXB];
    float boxes[MAXB * 4];
    int32_t cls[MAXB], sizes[4];
    int64_t id;
    int nb;
} sample;

static void read_sample(dlt_shard *s, int i, sample *x)
{
    OK(dlt_shard_read_detection(s, i, x->img, x->boxes, x->cls, x->masks, &x->nb));
    OK(dlt_shard_read_det_meta(s, i, x->sizes, &x->id, x->crowd));
}

START_TEST(same_seed_same_bytes)
{
    gen("a", 5);
    gen("b", 5);
    gen("c", 6);
    const char *split[2] = {"train", "val"};
    const int64_t count[2] = {9, 3};
    static sample x, y;
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "instances_%s.json", split[k]);
        char *ja = slurp("a", name), *jb = slurp("b", name), *jc = slurp("c", name);
        ck_assert_str_eq(ja, jb);
        ck_assert_str_ne(ja, jc);
        free(ja), free(jb), free(jc);
        dlt_shard *a = open_split("a", split[k]), *b = open_split("b", split[k]);
        dlt_shard *c = open_split("c", split[k]);
        ck_assert_int_eq(dlt_shard_get_info(a)->num_samples, count[k]);
        ck_assert_uint_eq(dlt_shard_get_info(a)->checksum, dlt_shard_get_info(b)->checksum);
        ck_assert_uint_ne(dlt_shard_get_info(a)->checksum, dlt_shard_get_info(c)->checksum);
        for (int i = 0; i < count[k]; i++) {
            read_sample(a, i, &x);
            read_sample(b, i, &y);
            ck_assert_mem_eq(&x, &y, sizeof x);
        }
        dlt_shard_close(a), dlt_shard_close(b), dlt_shard_close(c);
    }
}
END_TEST

/* The COCO RLE counts of one annotation decoded here: column-major runs. */
static void rle_decode(const cJSON *seg, uint8_t *m)
{
    const cJSON *cnt = cJSON_GetObjectItem(seg, "counts"), *v;
    const cJSON *size = cJSON_GetObjectItem(seg, "size");
    ck_assert_int_eq(cJSON_GetArrayItem(size, 0)->valueint, S);
    ck_assert_int_eq(cJSON_GetArrayItem(size, 1)->valueint, S);
    memset(m, 0, S * S);
    int pos = 0, on = 0;
    cJSON_ArrayForEach(v, cnt)
    {
        for (int k = 0; k < v->valueint; k++, pos++)
            if (on)
                m[(pos % S) * S + pos / S] = 1;
        on = !on;
    }
    ck_assert_int_eq(pos, S * S);
}

START_TEST(boxes_masks_json)
{
    gen("a", 11);
    const char *split[2] = {"train", "val"};
    static sample x;
    static uint8_t m[S * S];
    int seen_items = 0, multi = 0;
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "instances_%s.json", split[k]);
        char *txt = slurp("a", name);
        cJSON *root = cJSON_Parse(txt);
        free(txt);
        ck_assert_ptr_nonnull(root);
        const cJSON *anns = cJSON_GetObjectItem(root, "annotations");
        const cJSON *ims = cJSON_GetObjectItem(root, "images");
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(root, "categories")), 10);
        dlt_shard *s = open_split("a", split[k]);
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_classes, 11);
        ck_assert_str_eq(in->class_names[0], "background");
        ck_assert_str_eq(in->class_names[10], "Ankle boot");
        ck_assert_int_eq(cJSON_GetArraySize(ims), (int)in->num_samples);
        int a = 0;
        for (int i = 0; i < in->num_samples; i++) {
            read_sample(s, i, &x);
            ck_assert_int_eq(x.id, i + 1);
            ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ims, i), "id")->valueint,
                             i + 1);
            ck_assert(x.nb >= 1 && x.nb <= MAXB);
            ck_assert_int_eq(x.sizes[0], S);
            seen_items += x.nb, multi += x.nb > 1;
            for (int j = 0; j < x.nb; j++, a++) {
                const uint8_t *mj = x.masks + (size_t)j * S * S;
                /* the tight box, computed here */
                int x0 = S, y0 = S, x1 = -1, y1 = -1, area = 0;
                for (int yy = 0; yy < S; yy++)
                    for (int xx = 0; xx < S; xx++)
                        if (mj[yy * S + xx]) {
                            area++;
                            x0 = xx < x0 ? xx : x0, x1 = xx > x1 ? xx : x1;
                            y0 = yy < y0 ? yy : y0, y1 = yy > y1 ? yy : y1;
                        }
                ck_assert(area > 0);
                float want[4] = {(float)x0, (float)y0, (float)x1 + 1, (float)y1 + 1};
                ck_assert_mem_eq(x.boxes + 4 * j, want, sizeof want);
                ck_assert(x.cls[j] >= 1 && x.cls[j] <= 10);
                ck_assert_int_eq(x.crowd[j], 0);
                for (int t = 0; t < j; t++) /* occlusion: no pixel in two masks */
                    for (int p = 0; p < S * S; p++)
                        ck_assert(!(mj[p] && x.masks[(size_t)t * S * S + p]));
                const cJSON *an = cJSON_GetArrayItem(anns, a);
                ck_assert_ptr_nonnull(an);
                ck_assert_int_eq(cJSON_GetObjectItem(an, "image_id")->valueint, i + 1);
                ck_assert_int_eq(cJSON_GetObjectItem(an, "category_id")->valueint, x.cls[j]);
                ck_assert_int_eq(cJSON_GetObjectItem(an, "area")->valueint, area);
                ck_assert_int_eq(cJSON_GetObjectItem(an, "iscrowd")->valueint, 0);
                const cJSON *bb = cJSON_GetObjectItem(an, "bbox");
                ck_assert_int_eq(cJSON_GetArrayItem(bb, 0)->valueint, x0);
                ck_assert_int_eq(cJSON_GetArrayItem(bb, 1)->valueint, y0);
                ck_assert_int_eq(cJSON_GetArrayItem(bb, 2)->valueint, x1 + 1 - x0);
                ck_assert_int_eq(cJSON_GetArrayItem(bb, 3)->valueint, y1 + 1 - y0);
                rle_decode(cJSON_GetObjectItem(an, "segmentation"), m);
                ck_assert_mem_eq(m, mj, S * S);
            }
            for (int j = x.nb; j < MAXB; j++) /* padding slots */
                ck_assert(x.cls[j] == 0 && x.boxes[4 * j + 2] == 0);
        }
        ck_assert_int_eq(cJSON_GetArraySize(anns), a);
        dlt_shard_close(s);
        cJSON_Delete(root);
    }
    ck_assert(seen_items > 12 && multi > 3);
}
END_TEST

START_TEST(errors)
{
    char out[4300];
    snprintf(out, sizeof out, "%s/o", dir);
    dlt_convert_opts o;
    dlt_convert_opts_default(&o);
    o.out_dir = out;
    ck_assert_int_eq(dlt_convert_detection_synth("/nonexistent", 4, 64, &o), DLT_ERR_NOTFOUND);
    ck_assert(dt_contains(dlt_errmsg(), "/nonexistent/train-", "cannot open", NULL));
    ck_assert_int_eq(dlt_convert_detection_synth("/nonexistent", 4, 16, &o), DLT_ERR_INVALID);
    ck_assert(dt_contains(dlt_errmsg(), "--canvas", NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("detection-synth");
    TCase *tc = tcase_create("detection-synth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, same_seed_same_bytes);
    tcase_add_test(tc, boxes_masks_json);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
