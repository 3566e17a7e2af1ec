/* Two unpaired image domains: dlprep two-domain on PNG folders written here
 * with libpng (read back pixel-exact; resize against PyTorch's bilinear values;
 * balanced shards and validation split), Fashion-MNIST class names, and the
 * two-domain loader: every image of the larger domain exactly once per epoch
 * over 2 simulated ranks, the smaller domain's independent passes against the
 * sampler's formula, [-1, 1] normalisation, resume from a cursor (also through
 * a checkpoint file) bitwise, and the error lines. */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_util.h"
#include "dlt_ckpt.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

static char *dir;
static char out[4200];
static dlt_convert_opts opts;

static void setup(void)
{
    dir = dt_tmpdir();
    snprintf(out, sizeof out, "%s/out", dir);
    dlt_convert_opts_default(&opts);
    opts.out_dir = out;
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

static void write_png(const char *p, int w, int h, int color, const uint8_t *px)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)w, pi.height = (png_uint_32)h;
    pi.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    ck_assert_int_ne(png_image_write_to_file(&pi, p, 0, px, 0, NULL), 0);
}

static char *path_of(char *buf, size_t n, const char *a, const char *b)
{
    int k = snprintf(buf, n, "%s/%s", a, b);
    ck_assert(k > 0 && (size_t)k < n);
    return buf;
}

static dlt_shard *open_out(const char *name)
{
    char p[4400];
    dlt_shard *s;
    OK(dlt_shard_open(path_of(p, sizeof p, out, name), NULL, &s));
    return s;
}

enum { PH = 5, PW = 4, NA = 3, NB = 2 };
static uint8_t pa[NA][PH * PW * 3], pb[NB][PH * PW * 3];

/* dir/a: NA RGB PNGs (written in reverse name order) and a text file; dir/b: NB. */
static void make_folders(void)
{
    char p[4400], q[4400];
    mkdir(path_of(p, sizeof p, dir, "a"), 0777);
    mkdir(path_of(p, sizeof p, dir, "b"), 0777);
    for (int i = NA - 1; i >= 0; i--) {
        for (int j = 0; j < PH * PW * 3; j++)
            pa[i][j] = (uint8_t)(j * 11 + i * 50);
        snprintf(q, sizeof q, "a/img%d.png", i);
        write_png(path_of(p, sizeof p, dir, q), PW, PH, 1, pa[i]);
    }
    for (int i = 0; i < NB; i++) {
        for (int j = 0; j < PH * PW * 3; j++)
            pb[i][j] = (uint8_t)(255 - j * 5 - i * 70);
        snprintf(q, sizeof q, "b/x%d.png", i);
        write_png(path_of(p, sizeof p, dir, q), PW, PH, 1, pb[i]);
    }
    fclose(fopen(path_of(p, sizeof p, dir, "a/notes.txt"), "w")); /* ignored */
}

static void convert_folders(int h, int w, int channels)
{
    char a[4400], b[4400];
    OK(dlt_convert_two_domain(path_of(a, sizeof a, dir, "a"), path_of(b, sizeof b, dir, "b"), h, w,
                              channels, &opts));
}

START_TEST(two_domain_png)
{
    make_folders();
    convert_folders(0, 0, 3);
    dlt_shard *s = open_out("train-00000-of-00001.h5");
    const dlt_shard_info *in = dlt_shard_get_info(s);
    ck_assert_int_eq(in->kind, DLT_KIND_IMAGE_PAIRS);
    ck_assert_int_eq(in->num_a, NA);
    ck_assert_int_eq(in->num_b, NB);
    ck_assert_int_eq(in->num_samples, NA + NB);
    ck_assert(in->h == PH && in->w == PW && in->c == 3);
    ck_assert(in->verified);
    uint8_t img[PH * PW * 3];
    for (int i = 0; i < NA; i++) { /* sorted names: img0, img1, img2 */
        OK(dlt_shard_read_pair_image(s, 0, i, img));
        ck_assert_mem_eq(img, pa[i], sizeof img);
    }
    for (int i = 0; i < NB; i++) {
        OK(dlt_shard_read_pair_image(s, 1, i, img));
        ck_assert_mem_eq(img, pb[i], sizeof img);
    }
    dlt_shard_close(s);

    /* two shards: shard k holds rows [k n / 2, (k + 1) n / 2) of each domain */
    opts.num_shards = 2;
    convert_folders(0, 0, 3);
    static const int rows[2][2][2] = {{{0, 1}, {0, 1}}, {{1, 3}, {1, 2}}};
    for (int k = 0; k < 2; k++) {
        char name[64];
        snprintf(name, sizeof name, "train-%05d-of-00002.h5", k);
        s = open_out(name);
        in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_a, rows[k][0][1] - rows[k][0][0]);
        ck_assert_int_eq(in->num_b, rows[k][1][1] - rows[k][1][0]);
        for (int d = 0; d < 2; d++)
            for (int r = rows[k][d][0]; r < rows[k][d][1]; r++) {
                OK(dlt_shard_read_pair_image(s, d, r - rows[k][d][0], img));
                ck_assert_mem_eq(img, d ? pb[r] : pa[r], sizeof img);
            }
        dlt_shard_close(s);
    }
}
END_TEST

START_TEST(two_domain_val_split)
{
    enum { MA = 10, MB = 6 };
    char p[4400], q[64];
    uint8_t px[4];
    mkdir(path_of(p, sizeof p, dir, "a"), 0777);
    mkdir(path_of(p, sizeof p, dir, "b"), 0777);
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < (d ? MB : MA); i++) {
            px[0] = (uint8_t)d, px[1] = (uint8_t)i, px[2] = px[3] = 7;
            snprintf(q, sizeof q, "%c/%02d.png", "ab"[d], i);
            write_png(path_of(p, sizeof p, dir, q), 2, 2, 0, px);
        }
    opts.val_fraction = 0.5;
    opts.seed = 3;
    convert_folders(0, 0, 1);
    /* each domain: half to val, and train + val hold every image once, in order */
    int seen[2][MA] = {{0}};
    const char *names[2] = {"train-00000-of-00001.h5", "val-00000-of-00001.h5"};
    for (int part = 0; part < 2; part++) {
        dlt_shard *s = open_out(names[part]);
        const dlt_shard_info *in = dlt_shard_get_info(s);
        ck_assert_int_eq(in->num_a, MA / 2);
        ck_assert_int_eq(in->num_b, MB / 2);
        for (int d = 0; d < 2; d++) {
            int last = -1;
            for (int64_t i = 0; i < (d ? in->num_b : in->num_a); i++) {
                OK(dlt_shard_read_pair_image(s, d, i, px));
                ck_assert_int_eq(px[0], d);
                ck_assert_int_gt(px[1], last);
                last = px[1];
                seen[d][px[1]]++;
            }
        }
        dlt_shard_close(s);
    }
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < (d ? MB : MA); i++)
            ck_assert_int_eq(seen[d][i], 1);
}
END_TEST

START_TEST(two_domain_resize)
{
    /* 2x2 gray [[0,100],[200,255]] -> 4x4 (PyTorch interpolate, bilinear,
     * align_corners=False, rounded); B is already 4x4 and stays as it is */
    const uint8_t src[4] = {0, 100, 200, 255};
    const uint8_t want[16] = {0,   25,  75,  100, 50,  72,  117, 139,
                              150, 167, 200, 216, 200, 214, 241, 255};
    uint8_t b4[16], img[16];
    char p[4400];
    for (int i = 0; i < 16; i++)
        b4[i] = (uint8_t)(i * 13);
    mkdir(path_of(p, sizeof p, dir, "a"), 0777);
    mkdir(path_of(p, sizeof p, dir, "b"), 0777);
    write_png(path_of(p, sizeof p, dir, "a/small.png"), 2, 2, 0, src);
    write_png(path_of(p, sizeof p, dir, "b/big.png"), 4, 4, 0, b4);
    char a[4400], b[4400];
    path_of(a, sizeof a, dir, "a"), path_of(b, sizeof b, dir, "b");
    /* mixed sizes need --size; the message names both images */
    ck_assert_int_eq(dlt_convert_two_domain(a, b, 0, 0, 1, &opts), DLT_ERR_SHAPE);
    ck_assert_msg(dt_contains(dlt_errmsg(), "big.png", "small.png", "4x4", "2x2", "--size", NULL),
                  "%s", dlt_errmsg());
    convert_folders(4, 4, 1);
    dlt_shard *s = open_out("train-00000-of-00001.h5");
    OK(dlt_shard_read_pair_image(s, 0, 0, img));
    for (int i = 0; i < 16; i++)
        ck_assert_msg(abs(img[i] - want[i]) <= 1, "pixel %d: %d, want %d", i, img[i], want[i]);
    OK(dlt_shard_read_pair_image(s, 1, 0, img));
    ck_assert_mem_eq(img, b4, 16);
    dlt_shard_close(s);
}
END_TEST

START_TEST(two_domain_errors)
{
    char a[4400], b[4400], e[4400];
    make_folders();
    path_of(a, sizeof a, dir, "a"), path_of(b, sizeof b, dir, "b");
    path_of(e, sizeof e, dir, "empty");
    ck_assert_int_eq(dlt_convert_two_domain(a, e, 0, 0, 3, &opts), DLT_ERR_NOTFOUND);
    ck_assert_msg(dt_contains(dlt_errmsg(), "domain B", e, "cannot open directory", NULL), "%s",
                  dlt_errmsg());
    mkdir(e, 0777);
    ck_assert_int_eq(dlt_convert_two_domain(e, b, 0, 0, 3, &opts), DLT_ERR_NOTFOUND);
    ck_assert_msg(dt_contains(dlt_errmsg(), "domain A", e, "no .png/.jpg/.jpeg files", NULL), "%s",
                  dlt_errmsg());
    ck_assert_int_eq(dlt_convert_two_domain(a, b, 0, 0, 2, &opts), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "channels", "1 or 3", NULL), "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_convert_two_domain(a, b, 8, 0, 3, &opts), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_convert_two_domain(a, NULL, 0, 0, 3, &opts), DLT_ERR_INVALID);
    opts.val_fraction = 0.2; /* 20 % of 2 B images rounds to none */
    ck_assert_int_eq(dlt_convert_two_domain(a, b, 0, 0, 3, &opts), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "domain B", "no validation images", NULL), "%s",
                  dlt_errmsg());
    struct stat sb;
    ck_assert_int_ne(stat(out, &sb), 0); /* nothing was written */
}
END_TEST

START_TEST(fmnist_class_names)
{
    static const struct {
        const char *name;
        int id;
    } ok[] = {{"7", 7},        {"0", 0},           {"sneaker", 7},    {"Sneaker", 7},
              {"sneakers", 7}, {"ankle-boot", 9},  {"Ankle boot", 9}, {"ankle boots", 9},
              {"t-shirt", 0},  {"T-shirt/top", 0}, {"shirt", 6},      {"bag", 8},
              {"trousers", 1}, {"coat", 4}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int id = -1;
        OK(dlt_fashion_mnist_class(ok[i].name, &id));
        ck_assert_msg(id == ok[i].id, "%s: %d, want %d", ok[i].name, id, ok[i].id);
    }
    int id;
    ck_assert_int_eq(dlt_fashion_mnist_class("boot", &id), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "unknown", "'boot'", "9 Ankle boot", NULL), "%s",
                  dlt_errmsg());
    ck_assert_int_eq(dlt_fashion_mnist_class("s", &id), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "ambiguous", NULL), "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_fashion_mnist_class("10", &id), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_fashion_mnist_class("", &id), DLT_ERR_INVALID);
    /* the converter checks the names before touching any file */
    ck_assert_int_eq(dlt_convert_fashion_mnist_pair("/nonexistent", "sneaker", "7", &opts),
                     DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "both class 7", "Sneaker", NULL), "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_convert_fashion_mnist_pair("/nonexistent", "sneaker", "hat", &opts),
                     DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "--b", "'hat'", NULL), "%s", dlt_errmsg());
}
END_TEST

/* ------------------------------------------------------------------ loader */

enum { LH = 3, LW = 4, LC = 1, IMG = LH * LW * LC };
static char glob_pat[4400];

/* Image i of domain d encodes i in bytes 0 and 1 and d in byte 2. */
static void pair_image(uint8_t *hwc, int d, int64_t i)
{
    dt_sample_image(hwc, IMG, i);
    hwc[2] = (uint8_t)(d * 100);
}

/* Image-pairs shards under dir/NAME-*: sizes[k][d] images of domain d in shard k. */
static void write_pairs(const char *name, int nshards, const int (*sizes)[2])
{
    int64_t first[2] = {0, 0};
    for (int k = 0; k < nshards; k++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s-%05d-of-%05d.h5", dir, name, k, nshards);
        dlt_shard_spec spec = {0};
        spec.kind = DLT_KIND_IMAGE_PAIRS;
        spec.h = LH, spec.w = LW, spec.c = LC;
        spec.source = "test";
        spec.chunk_samples = 4;
        dlt_shard_writer *w;
        OK(dlt_shard_writer_open(p, &spec, &w));
        uint8_t img[IMG];
        for (int d = 0; d < 2; d++)
            for (int i = 0; i < sizes[k][d]; i++) {
                pair_image(img, d, first[d]++);
                OK(dlt_shard_write_pair_image(w, d, img));
            }
        OK(dlt_shard_writer_close(w));
    }
    snprintf(glob_pat, sizeof glob_pat, "%s/%s-*.h5", dir, name);
}

/* 12 A images over shards of 7, 0 and 5; 7 B images over shards of 2, 3 and 2 */
enum { LA = 12, LB = 7 };
static void setup_pairs(void)
{
    static const int sizes[3][2] = {{7, 2}, {0, 3}, {5, 2}};
    setup();
    write_pairs("p", 3, sizes);
}

static dlt_loader_config lcfg(int rank, int world)
{
    dlt_loader_config c;
    dlt_pair_loader_config_default(&c);
    for (int i = 0; i < DLT_DATA_MAX_CHANNELS; i++)
        c.mean[i] = 0.0f, c.std[i] = 1.0f; /* pixels as x/255: the index can be decoded */
    c.paths = glob_pat;
    c.batch_size = 3;
    c.seed = 99;
    c.rank = rank, c.world_size = world;
    c.threads = rank + 1;
    return c;
}

static int64_t decode(const float *chw, int *domain)
{
    int b0 = (int)lroundf(chw[0] * 255.0f), b1 = (int)lroundf(chw[1] * 255.0f);
    *domain = (int)lroundf(chw[2] * 255.0f) / 100;
    return b0 | b1 << 8;
}

START_TEST(pair_loader_epochs)
{
    enum { W = 2, B = 3, EPOCHS = 3 };
    /* A (12) is the larger domain: 12 / (2 x 3) = 2 steps per epoch. B (7) has
     * 7 / 6 = 1 step per pass, each pass its own permutation (one image dropped). */
    dlt_pair_loader *l[W];
    for (int r = 0; r < W; r++) {
        dlt_loader_config c = lcfg(r, W);
        OK(dlt_pair_loader_open(&c, &l[r]));
        ck_assert_int_eq(dlt_pair_loader_steps_per_epoch(l[r]), 2);
        ck_assert_int_eq(dlt_pair_loader_epoch_domain(l[r]), 0);
        ck_assert_int_eq(dlt_pair_loader_num_images(l[r], 0), LA);
        ck_assert_int_eq(dlt_pair_loader_num_images(l[r], 1), LB);
    }
    int64_t perm[LB];
    int differs = 0;
    for (int e = 0; e < EPOCHS; e++) {
        int count_a[LA] = {0};
        for (int t = 0; t < 2; t++) {
            int64_t seq = e * 2 + t; /* B's pass number: seq / 1 */
            int count_b[LB] = {0};
            dlt_data_permutation(perm, LB, dlt_data_hash(99, 'B'), seq, 1);
            for (int r = 0; r < W; r++) {
                dlt_pair_batch b;
                OK(dlt_pair_loader_next(l[r], &b));
                ck_assert(b.epoch == e && b.step == t && b.last_in_epoch == (t == 1));
                ck_assert(b.size == B && b.valid_a == B && b.valid_b == B);
                for (int k = 0; k < B; k++) {
                    int d;
                    int64_t ia = decode(b.a + k * IMG, &d);
                    ck_assert_int_eq(d, 0);
                    ck_assert_int_eq(ia, b.indices_a[k]);
                    count_a[ia]++;
                    int64_t ib = decode(b.b + k * IMG, &d);
                    ck_assert_int_eq(d, 1);
                    ck_assert_int_eq(ib, b.indices_b[k]);
                    /* B follows its own seeded permutation: position (0 * W + r) * B + k */
                    ck_assert_int_eq(ib, perm[r * B + k]);
                    count_b[ib]++;
                    differs += ib != ia % LB;
                }
            }
            int sum = 0;
            for (int i = 0; i < LB; i++) {
                ck_assert_int_le(count_b[i], 1); /* disjoint across ranks within a pass */
                sum += count_b[i];
            }
            ck_assert_int_eq(sum, W * B);
        }
        for (int i = 0; i < LA; i++) /* every A image exactly once per epoch */
            ck_assert_msg(count_a[i] == 1, "epoch %d: A image %d seen %d times", e, i, count_a[i]);
    }
    ck_assert_int_gt(differs, 0);
    for (int r = 0; r < W; r++)
        dlt_pair_loader_close(l[r]);
}
END_TEST

START_TEST(pair_loader_pad_and_larger_b)
{
    /* pad mode: A = 12 over 2 ranks x 5 = 2 steps, positions 12..19 wrap */
    int count_a[LA] = {0}, valid = 0;
    for (int r = 0; r < 2; r++) {
        dlt_loader_config c = lcfg(r, 2);
        c.batch_size = 5, c.drop_last = 0;
        dlt_pair_loader *l;
        OK(dlt_pair_loader_open(&c, &l));
        ck_assert_int_eq(dlt_pair_loader_steps_per_epoch(l), 2);
        for (int t = 0; t < 2; t++) {
            dlt_pair_batch b;
            OK(dlt_pair_loader_next(l, &b));
            valid += b.valid_a;
            for (int k = 0; k < b.valid_a; k++)
                count_a[b.indices_a[k]]++;
        }
        dlt_pair_loader_close(l);
    }
    ck_assert_int_eq(valid, LA);
    for (int i = 0; i < LA; i++)
        ck_assert_int_eq(count_a[i], 1);

    /* B larger than A: B's passes are the epochs */
    static const int sizes[1][2] = {{4, 9}};
    write_pairs("q", 1, sizes);
    dlt_loader_config c = lcfg(0, 1);
    dlt_pair_loader *l;
    OK(dlt_pair_loader_open(&c, &l));
    ck_assert_int_eq(dlt_pair_loader_epoch_domain(l), 1);
    ck_assert_int_eq(dlt_pair_loader_steps_per_epoch(l), 3);
    int count_b[9] = {0};
    for (int t = 0; t < 3; t++) {
        dlt_pair_batch b;
        OK(dlt_pair_loader_next(l, &b));
        ck_assert(b.epoch == 0 && b.step == t && b.last_in_epoch == (t == 2));
        for (int k = 0; k < 3; k++)
            count_b[b.indices_b[k]]++;
    }
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(count_b[i], 1);
    dlt_pair_loader_close(l);
}
END_TEST

START_TEST(pair_loader_normalise)
{
    dlt_loader_config c;
    dlt_pair_loader_config_default(&c);
    c.paths = glob_pat;
    c.batch_size = 4;
    dlt_pair_loader *l;
    OK(dlt_pair_loader_open(&c, &l));
    int ch, h, w;
    dlt_pair_loader_sample_shape(l, &ch, &h, &w);
    ck_assert(ch == LC && h == LH && w == LW);
    dlt_pair_batch b;
    OK(dlt_pair_loader_next(l, &b));
    uint8_t img[IMG];
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 4; k++) {
            pair_image(img, d, d ? b.indices_b[k] : b.indices_a[k]);
            const float *x = (d ? b.b : b.a) + k * IMG;
            for (int p = 0; p < IMG; p++) { /* C = 1: HWC and CHW agree */
                ck_assert(x[p] >= -1.0f && x[p] <= 1.0f);
                ck_assert_msg(fabs(x[p] - (img[p] / 127.5 - 1.0)) < 1e-6, "%g vs byte %d", x[p],
                              img[p]);
            }
        }
    dlt_pair_loader_close(l);
}
END_TEST

static void same_batch(const dlt_pair_batch *x, const dlt_pair_batch *y)
{
    ck_assert(x->epoch == y->epoch && x->step == y->step);
    ck_assert_mem_eq(x->a, y->a, (size_t)x->size * IMG * sizeof(float));
    ck_assert_mem_eq(x->b, y->b, (size_t)x->size * IMG * sizeof(float));
    ck_assert_mem_eq(x->indices_a, y->indices_a, (size_t)x->size * sizeof(int64_t));
    ck_assert_mem_eq(x->indices_b, y->indices_b, (size_t)x->size * sizeof(int64_t));
}

START_TEST(pair_loader_resume)
{
    enum { STEPS = 7, CUT = 3 };
    dlt_loader_config c = lcfg(1, 2);
    c.flip = 1, c.crop_pad = 1; /* augmentation is part of what must repeat */
    dlt_pair_loader *l;
    OK(dlt_pair_loader_open(&c, &l));
    float *a = malloc(STEPS * 3 * IMG * sizeof(float)),
          *bb = malloc(STEPS * 3 * IMG * sizeof(float));
    int64_t ia[STEPS][3], ib[STEPS][3], ep[STEPS], stp[STEPS];
    dlt_loader_cursor cut = {0, 0};
    for (int t = 0; t < STEPS; t++) {
        if (t == CUT)
            cut = dlt_pair_loader_get_cursor(l);
        dlt_pair_batch b;
        OK(dlt_pair_loader_next(l, &b));
        memcpy(a + t * 3 * IMG, b.a, 3 * IMG * sizeof(float));
        memcpy(bb + t * 3 * IMG, b.b, 3 * IMG * sizeof(float));
        memcpy(ia[t], b.indices_a, sizeof ia[t]);
        memcpy(ib[t], b.indices_b, sizeof ib[t]);
        ep[t] = b.epoch, stp[t] = b.step;
    }
    ck_assert(cut.epoch == 1 && cut.step == 1); /* batch 3 of 2 per epoch */
    dlt_pair_loader_close(l);

    /* the cursor through a checkpoint file, as the trainer stores it: [world, 2] */
    char ckdir[4400], path[4600];
    dlt_ckpt_tensors t = {0};
    int64_t cur[4] = {0, 0, cut.epoch, cut.step};
    dlt_ckpt_state cs = {0};
    cs.step = CUT, cs.world_size = 2, cs.cursor_len = 2, cs.cursors = cur;
    cs.job_text = "";
    OK(dlt_ckpt_save(path_of(ckdir, sizeof ckdir, dir, "ck"), &t, &cs, path, sizeof path));
    dlt_ckpt_state back;
    memset(&back, 0, sizeof back);
    OK(dlt_ckpt_load(path, &t, &back));
    ck_assert_int_eq(back.cursor_len, 2);
    dlt_loader_cursor rc = {back.cursors[2], back.cursors[3]};
    dlt_ckpt_state_free(&back);

    for (int threads = 0; threads <= 2; threads += 2) {
        c.threads = threads;
        OK(dlt_pair_loader_open(&c, &l));
        dlt_pair_batch b;
        OK(dlt_pair_loader_next(l, &b)); /* somewhere else first */
        OK(dlt_pair_loader_set_cursor(l, rc));
        for (int k = CUT; k < STEPS; k++) {
            OK(dlt_pair_loader_next(l, &b));
            dlt_pair_batch want = {a + k * 3 * IMG, bb + k * 3 * IMG, ia[k], ib[k], 3, 3, 3,
                                   ep[k],           stp[k],           0};
            same_batch(&b, &want);
        }
        dlt_pair_loader_close(l);
    }
    free(a);
    free(bb);
}
END_TEST

START_TEST(pair_loader_errors)
{
    dlt_pair_loader *l;
    dlt_loader_config c = lcfg(0, 2);
    /* B's 7 images are fewer than one global batch of 2 x 4 */
    c.batch_size = 4;
    ck_assert_int_eq(dlt_pair_loader_open(&c, &l), DLT_ERR_INVALID);
    ck_assert_msg(
        dt_contains(dlt_errmsg(), "domain B", "7 samples", "fewer than one global batch", NULL),
        "%s", dlt_errmsg());
    /* a cursor past the epoch */
    c = lcfg(0, 2);
    OK(dlt_pair_loader_open(&c, &l));
    dlt_loader_cursor bad = {0, 2};
    ck_assert_int_eq(dlt_pair_loader_set_cursor(l, bad), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "two-domain loader cursor", "step 2", NULL), "%s",
                  dlt_errmsg());
    dlt_pair_loader_close(l);
    /* classification shards are not two domains, and pairs are not classification */
    char p[4400];
    dt_write_cls_shard(path_of(p, sizeof p, dir, "cls-00000-of-00001.h5"), 0, 8, LH, LW, LC, 2);
    c.paths = p;
    ck_assert_int_eq(dlt_pair_loader_open(&c, &l), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "cls-00000", "image-classification",
                              "two-domain loader needs image-pairs", NULL),
                  "%s", dlt_errmsg());
    dlt_loader *il;
    c.paths = glob_pat;
    ck_assert_int_eq(dlt_loader_open(&c, &il), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "image-pairs", "image loader needs", NULL), "%s",
                  dlt_errmsg());
    c.paths = "/nonexistent/x-*.h5";
    ck_assert_int_eq(dlt_pair_loader_open(&c, &l), DLT_ERR_NOTFOUND);
    ck_assert_msg(dt_contains(dlt_errmsg(), "no shard matches", NULL), "%s", dlt_errmsg());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pairs");
    TCase *tc = tcase_create("convert");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, two_domain_png);
    tcase_add_test(tc, two_domain_val_split);
    tcase_add_test(tc, two_domain_resize);
    tcase_add_test(tc, two_domain_errors);
    tcase_add_test(tc, fmnist_class_names);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("loader");
    tcase_add_checked_fixture(tl, setup_pairs, teardown);
    tcase_add_test(tl, pair_loader_epochs);
    tcase_add_test(tl, pair_loader_pad_and_larger_b);
    tcase_add_test(tl, pair_loader_normalise);
    tcase_add_test(tl, pair_loader_resume);
    tcase_add_test(tl, pair_loader_errors);
    suite_add_tcase(s, tl);
    return dlt_test_run(s);
}
