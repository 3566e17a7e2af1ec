/* The distributed loader: disjoint covers per epoch for 1..3 simulated ranks,
 * determinism, cursor resume, augmentation independent of threads and world
 * size, normalisation against hand-computed values, and validation errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_util.h"
#include "dlt_data.h"
#include "dlt_test.h"

#define OK(x) ck_assert_msg((x) == DLT_OK, "%s", dlt_errmsg())

enum { H = 4, W = 5, C = 3, K = 3, N = 23 };
static char *dir;
static char glob_pat[4200];

/* 23 samples over shards of 7, 0, 10 and 6; sample i encodes i in its first bytes */
static void setup(void)
{
    static const int sizes[4] = {7, 0, 10, 6};
    char p[4300];
    dir = dt_tmpdir();
    int64_t first = 0;
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/d-%05d-of-00004.h5", dir, k);
        dt_write_cls_shard(p, first, sizes[k], H, W, C, K);
        first += sizes[k];
    }
    snprintf(glob_pat, sizeof glob_pat, "%s/d-*.h5", dir);
}

static void teardown(void)
{
    dt_rmrf(dir);
    free(dir);
}

static dlt_loader_config base(void)
{
    dlt_loader_config c;
    dlt_loader_config_default(&c);
    c.paths = glob_pat;
    c.batch_size = 2;
    c.seed = 1234;
    return c;
}

static dlt_loader *open_loader(const dlt_loader_config *c)
{
    dlt_loader *l;
    OK(dlt_loader_open(c, &l));
    return l;
}

/* With mean 0, std 1 and no augmentation, pixel bytes come back as x/255. */
static int64_t decoded_index(const float *img)
{
    int b0 = (int)lroundf(img[0] * 255.0f), b1 = (int)lroundf(img[1 * H * W] * 255.0f);
    return b0 | b1 << 8; /* bytes 0 and 1 of HWC are (y0,x0,c0) and (y0,x0,c1) */
}

START_TEST(disjoint_cover)
{
    for (int drop = 0; drop < 2; drop++)
        for (int world = 1; world <= 3; world++) {
            int count[2][N];
            memset(count, 0, sizeof count);
            int64_t steps = -1;
            for (int r = 0; r < world; r++) {
                dlt_loader_config c = base();
                c.rank = r, c.world_size = world, c.drop_last = drop, c.threads = r % 2 + 1;
                dlt_loader *l = open_loader(&c);
                int64_t s = dlt_loader_steps_per_epoch(l);
                ck_assert(steps < 0 || s == steps); /* equal step counts on every rank */
                steps = s;
                ck_assert_int_eq(s, drop ? N / (2 * world) : (N + 2 * world - 1) / (2 * world));
                for (int e = 0; e < 2; e++)
                    for (int64_t t = 0; t < s; t++) {
                        dlt_batch b;
                        OK(dlt_loader_next(l, &b));
                        ck_assert_int_eq(b.epoch, e);
                        ck_assert_int_eq(b.step, t);
                        ck_assert_int_eq(b.last_in_epoch, t == s - 1);
                        if (drop)
                            ck_assert_int_eq(b.valid, 2);
                        for (int k = 0; k < b.size; k++) {
                            int64_t idx = b.indices[k];
                            ck_assert_int_eq(decoded_index(b.images + k * C * H * W), idx);
                            ck_assert_int_eq(b.labels[k], idx % K);
                            if (k < b.valid)
                                count[e][idx]++;
                        }
                    }
                dlt_loader_close(l);
            }
            int64_t used = drop ? steps * 2 * world : N;
            for (int e = 0; e < 2; e++) {
                int64_t total = 0;
                for (int i = 0; i < N; i++) {
                    ck_assert_int_le(count[e][i], 1); /* disjoint */
                    total += count[e][i];
                }
                ck_assert_int_eq(total, used); /* a cover (minus the dropped tail) */
            }
        }
}
END_TEST

/* The union of W ranks' batches at step t equals one rank's batch of W*b. */
START_TEST(ranks_match_big_batch)
{
    dlt_loader_config c = base();
    c.batch_size = 6;
    dlt_loader *one = open_loader(&c);
    dlt_batch big;
    OK(dlt_loader_next(one, &big));
    OK(dlt_loader_next(one, &big)); /* step 1 */
    for (int r = 0; r < 3; r++) {
        dlt_loader_config cr = base();
        cr.rank = r, cr.world_size = 3, cr.batch_size = 2;
        dlt_loader *l = open_loader(&cr);
        dlt_batch b;
        OK(dlt_loader_next(l, &b));
        OK(dlt_loader_next(l, &b));
        ck_assert_mem_eq(b.indices, big.indices + 2 * r, 2 * sizeof(int64_t));
        dlt_loader_close(l);
    }
    dlt_loader_close(one);
}
END_TEST

static void run_batches(dlt_loader *l, int n, float *img, int64_t *idx)
{
    for (int i = 0; i < n; i++) {
        dlt_batch b;
        OK(dlt_loader_next(l, &b));
        if (img)
            memcpy(img + (size_t)i * b.size * C * H * W, b.images,
                   (size_t)b.size * C * H * W * sizeof(float));
        memcpy(idx + (size_t)i * b.size, b.indices, (size_t)b.size * sizeof(int64_t));
    }
}

START_TEST(seeds_and_epochs)
{
    enum { S = 11 }; /* steps per epoch with b=2, drop_last */
    int64_t a[2 * S * 2], b[2 * S * 2], d[2 * S * 2];
    dlt_loader_config c = base();
    dlt_loader *l = open_loader(&c);
    ck_assert_int_eq(dlt_loader_steps_per_epoch(l), S);
    run_batches(l, 2 * S, NULL, a);
    dlt_loader_close(l);
    c.threads = 3, c.prefetch = 4;
    l = open_loader(&c);
    run_batches(l, 2 * S, NULL, b);
    dlt_loader_close(l);
    ck_assert_mem_eq(a, b, sizeof a); /* same seed, same batches */
    ck_assert(memcmp(a, a + 2 * S, 2 * S * sizeof(int64_t)) != 0); /* epochs differ */
    c.seed = 99;
    l = open_loader(&c);
    run_batches(l, 2 * S, NULL, d);
    dlt_loader_close(l);
    ck_assert(memcmp(a, d, sizeof a) != 0); /* seeds differ */
    /* shuffle off: dataset order */
    c.shuffle = 0;
    l = open_loader(&c);
    run_batches(l, S, NULL, d);
    dlt_loader_close(l);
    for (int i = 0; i < 2 * S; i++)
        ck_assert_int_eq(d[i], i);
}
END_TEST

START_TEST(cursor_resume)
{
    enum { S = 11, PRE = 7, POST = 9 };
    const size_t img = (size_t)2 * C * H * W;
    for (int threads = 0; threads <= 2; threads += 2) {
        dlt_loader_config c = base();
        c.crop_pad = 1, c.flip = 1, c.threads = threads, c.prefetch = 3;
        static float want[POST * 2 * C * H * W], got[POST * 2 * C * H * W];
        int64_t wi[POST * 2], gi[POST * 2], skip[2 * (PRE + S)];
        for (int start = 0; start < 2; start++) {
            int pre = start ? PRE + S : PRE; /* mid-epoch 0, and mid-epoch 1 */
            dlt_loader *l = open_loader(&c);
            run_batches(l, pre, NULL, skip);
            dlt_loader_cursor cur = dlt_loader_get_cursor(l);
            ck_assert_int_eq(cur.epoch, start);
            ck_assert_int_eq(cur.step, PRE);
            run_batches(l, POST, want, wi); /* crosses into the next epoch */
            dlt_loader_close(l);

            dlt_loader *r = open_loader(&c);
            run_batches(r, 3, NULL, skip); /* some other position first */
            OK(dlt_loader_set_cursor(r, cur));
            run_batches(r, POST, got, gi);
            ck_assert_mem_eq(gi, wi, sizeof wi);
            ck_assert_mem_eq(got, want, POST * img * sizeof(float));
            dlt_loader_cursor bad = {0, S};
            ck_assert_int_eq(dlt_loader_set_cursor(r, bad), DLT_ERR_INVALID);
            dlt_loader_close(r);
        }
    }
}
END_TEST

/* Augmented image of (epoch, index) per configuration, collected over an epoch. */
static void augmented_epoch(int world, int threads, int batch, float *out, int *filled)
{
    for (int r = 0; r < world; r++) {
        dlt_loader_config c = base();
        c.crop_pad = 2, c.flip = 1, c.threads = threads, c.prefetch = 2;
        c.world_size = world, c.rank = r, c.batch_size = batch, c.drop_last = 0;
        c.mean[0] = 0.5f, c.std[0] = 0.25f;
        dlt_loader *l = open_loader(&c);
        for (int64_t t = 0; t < dlt_loader_steps_per_epoch(l); t++) {
            dlt_batch b;
            OK(dlt_loader_next(l, &b));
            for (int k = 0; k < b.valid; k++) {
                memcpy(out + b.indices[k] * C * H * W, b.images + (size_t)k * C * H * W,
                       C * H * W * sizeof(float));
                filled[b.indices[k]] = 1;
            }
        }
        dlt_loader_close(l);
    }
}

START_TEST(augmentation_reproducible)
{
    static float ref[N * C * H * W], other[N * C * H * W];
    int f1[N] = {0}, f2[N] = {0};
    augmented_epoch(1, 0, 4, ref, f1);
    const int cfg[4][3] = {{1, 1, 4}, {1, 4, 4}, {2, 3, 3}, {3, 2, 1}};
    for (int i = 0; i < 4; i++) {
        memset(other, 0, sizeof other);
        augmented_epoch(cfg[i][0], cfg[i][1], cfg[i][2], other, f2);
        ck_assert_mem_eq(other, ref, sizeof ref);
    }
    for (int i = 0; i < N; i++)
        ck_assert(f1[i] && f2[i]);
    /* and it does something: most samples differ from the plain transform */
    int changed = 0;
    float plain[C * H * W];
    uint8_t px[C * H * W];
    float mean[4] = {0.5f, 0, 0, 0}, std[4] = {0.25f, 1, 1, 1};
    for (int i = 0; i < N; i++) {
        dt_sample_image(px, sizeof px, i);
        dlt_data_transform(px, H, W, C, plain, mean, std, 0, 0, 0, 0, i);
        changed += memcmp(plain, ref + i * C * H * W, sizeof plain) != 0;
    }
    ck_assert_int_ge(changed, N / 2);
}
END_TEST

/* Each output must be one of the (2p+1)^2 * 2 crops/flips of the zero-padded input. */
START_TEST(crop_flip_semantics)
{
    enum { P = 1, HH = 3, WW = 4, CC = 2 };
    uint8_t px[HH * WW * CC];
    for (int i = 0; i < HH * WW * CC; i++)
        px[i] = (uint8_t)(10 + i * 9);
    float mean[4] = {0, 0, 0, 0}, std[4] = {1, 1, 1, 1}, out[CC * HH * WW];
    int seen[2 * P + 1][2 * P + 1][2];
    memset(seen, 0, sizeof seen);
    for (int64_t idx = 0; idx < 400; idx++) {
        dlt_data_transform(px, HH, WW, CC, out, mean, std, P, 1, 7, 3, idx);
        int match = 0;
        for (int dy = -P; dy <= P && !match; dy++)
            for (int dx = -P; dx <= P && !match; dx++)
                for (int fl = 0; fl < 2 && !match; fl++) {
                    int ok = 1;
                    for (int c = 0; c < CC && ok; c++)
                        for (int y = 0; y < HH && ok; y++)
                            for (int x = 0; x < WW && ok; x++) {
                                int sy = y + dy, sx = (fl ? WW - 1 - x : x) + dx;
                                float v = sy < 0 || sy >= HH || sx < 0 || sx >= WW
                                              ? 0.0f
                                              : px[(sy * WW + sx) * CC + c] / 255.0f;
                                ok = fabsf(out[(c * HH + y) * WW + x] - v) < 1e-6f;
                            }
                    if (ok)
                        match = 1, seen[dy + P][dx + P][fl]++;
                }
        ck_assert_msg(match, "sample %lld is no crop/flip of the input", (long long)idx);
    }
    for (int i = 0; i < 2 * P + 1; i++)
        for (int j = 0; j < 2 * P + 1; j++)
            for (int f = 0; f < 2; f++)
                ck_assert_int_gt(seen[i][j][f], 5); /* 400 draws over 18 outcomes */
}
END_TEST

START_TEST(normalisation)
{
    /* (x/255 - mean[c]) / std[c] at a few hand-computed points */
    dlt_loader_config c = base();
    c.shuffle = 0;
    c.mean[0] = 0.5f, c.mean[1] = 0.25f, c.mean[2] = 0.0f;
    c.std[0] = 0.5f, c.std[1] = 0.2f, c.std[2] = 2.0f;
    c.batch_size = 1;
    dlt_loader *l = open_loader(&c);
    dlt_batch b;
    OK(dlt_loader_next(l, &b)); /* sample 0 */
    OK(dlt_loader_next(l, &b)); /* sample 1 */
    ck_assert_int_eq(b.indices[0], 1);
    int cc, hh, ww;
    dlt_loader_sample_shape(l, &cc, &hh, &ww);
    ck_assert(cc == C && hh == H && ww == W);
    uint8_t px[H * W * C];
    dt_sample_image(px, sizeof px, 1);
    /* pixel (0,0): bytes 1, 0, 17+... as written by dt_sample_image */
    ck_assert_int_eq(px[0], 1);
    ck_assert_float_eq_tol(b.images[0], (1 / 255.0 - 0.5) / 0.5, 1e-6);   /* -0.992157 */
    ck_assert_float_eq_tol(b.images[H * W], (0 / 255.0 - 0.25) / 0.2, 1e-6); /* -1.25 */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int k = 0; k < C; k++) {
                double want = (px[(y * W + x) * C + k] / 255.0 - c.mean[k]) / c.std[k];
                ck_assert_float_eq_tol(b.images[(k * H + y) * W + x], want, 1e-6);
            }
    dlt_loader_close(l);
}
END_TEST

START_TEST(validation_errors)
{
    dlt_loader *l = NULL;
    dlt_loader_config c = base();
    char p[4400];
    c.paths = "/nonexistent-dir/*.h5";
    ck_assert_int_eq(dlt_loader_open(&c, &l), DLT_ERR_NOTFOUND);
    ck_assert_msg(dt_contains(dlt_errmsg(), "no shard matches", "/nonexistent-dir/*.h5", NULL),
                  "%s", dlt_errmsg());
    /* a shard with another image shape */
    snprintf(p, sizeof p, "%s/d-00009-of-00004.h5", dir);
    dt_write_cls_shard(p, 0, 3, H + 1, W, C, K);
    c = base();
    ck_assert_int_eq(dlt_loader_open(&c, &l), DLT_ERR_SHAPE);
    ck_assert_msg(dt_contains(dlt_errmsg(), p, "5x5x3", "4x5x3", NULL), "%s", dlt_errmsg());
    /* a non-shard file */
    FILE *f = fopen(p, "w");
    fputs("not hdf5", f);
    fclose(f);
    ck_assert_int_eq(dlt_loader_open(&c, &l), DLT_ERR_IO);
    ck_assert_msg(dt_contains(dlt_errmsg(), p, "not an HDF5 file", NULL), "%s", dlt_errmsg());
    remove(p);
    /* another kind */
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_TEXT_TOKENS, spec.vocab_size = 2;
    dlt_shard_writer *w;
    OK(dlt_shard_writer_open(p, &spec, &w));
    OK(dlt_shard_writer_close(w));
    ck_assert_int_eq(dlt_loader_open(&c, &l), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), p, "text-tokens", NULL), "%s", dlt_errmsg());
    remove(p);
    /* too little data for one global batch with drop_last */
    c.world_size = 4, c.batch_size = 6;
    ck_assert_int_eq(dlt_loader_open(&c, &l), DLT_ERR_INVALID);
    ck_assert_msg(dt_contains(dlt_errmsg(), "23 samples", NULL), "%s", dlt_errmsg());
    c.drop_last = 0; /* padding works: one step, wrapped */
    c.rank = 3;
    l = open_loader(&c);
    dlt_batch b;
    OK(dlt_loader_next(l, &b));
    ck_assert_int_eq(b.valid, 5); /* positions 18..23: 18..22 real, 23 wraps to 0 */
    dlt_loader_close(l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("loader");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, disjoint_cover);
    tcase_add_test(tc, ranks_match_big_batch);
    tcase_add_test(tc, seeds_and_epochs);
    tcase_add_test(tc, cursor_resume);
    tcase_add_test(tc, augmentation_reproducible);
    tcase_add_test(tc, crop_flip_semantics);
    tcase_add_test(tc, normalisation);
    tcase_add_test(tc, validation_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
