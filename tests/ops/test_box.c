/* The box family against torchvision 0.14 (tests/fixtures/box.h5, made by
 * box_make_fixtures.py): box_iou, the BoxCoder's encode and decode (and the
 * gradient of decode w.r.t. the deltas, also against finite differences),
 * the AnchorGenerator's anchors, topk (values, indices, the values'
 * gradient), batched NMS (classes, a plain one, padding, ties, degenerate
 * boxes; fixed K with its validity mask) and the Matcher (low-quality
 * matches, padded ground truth). The sampler cannot match torch's RNG: its
 * invariants (counts, eligibility, determinism per seed and step, new draws
 * per step, global image keying). And errors for bad shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

static float *read_f32(hid_t f, const char *name, size_t n)
{
    float *x = malloc(n * sizeof *x);
    dlt_test_h5_read(f, name, H5T_NATIVE_FLOAT, x, n);
    return x;
}

static int32_t *read_i32(hid_t f, const char *name, size_t n)
{
    int32_t *x = malloc(n * sizeof *x);
    dlt_test_h5_read(f, name, H5T_NATIVE_INT32, x, n);
    return x;
}

static double attr_double(hid_t f, const char *obj, const char *name)
{
    double v = NAN;
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s of %s missing", name, obj);
    ck_assert(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

static dlt_t cf(dlt_graph *g, int ndim, const int64_t *d, const float *x)
{
    return dlt_constant(g, DLT_F32, ndim, d, x);
}

/* Plan and run outs (training, step), failing the test on an error. */
static dlt_plan *run(dlt_graph *g, int n, const dlt_t *outs, int64_t step)
{
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "build: %s", dlt_graph_errmsg(g));
    ck_assert_msg(dlt_plan_create(g, n, outs, NULL, &p) == DLT_OK, "plan: %s", dlt_errmsg());
    dlt_exec_opts eo = {.training = 1, .step = step};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "run: %s", dlt_errmsg());
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    return p;
}

static void assert_close(const char *what, const float *a, const float *b, size_t n, double tol)
{
    double e = dlt_test_max_relerr(a, b, n, 1.0);
    printf("%-28s max rel err %.3g\n", what, e);
    ck_assert_msg(e <= tol, "%s: error %g > %g", what, e, tol);
}

/* ---------------------------------------------------------------- iou, coder */
START_TEST(iou_matches_torchvision)
{
    hid_t f = dlt_test_fixture_open("box.h5");
    float *a = read_f32(f, "iou/a", 40), *b = read_f32(f, "iou/b", 56),
          *want = read_f32(f, "iou/iou", 70);
    dlt_graph *g = dlt_graph_create(1);
    int64_t da[3] = {2, 5, 4}, db[3] = {2, 7, 4};
    dlt_t y = dlt_box_iou(g, cf(g, 3, da, a), cf(g, 3, db, b));
    const dlt_shape *s = dlt_shape_of(g, y);
    ck_assert(s->ndim == 3 && s->dim[0] == 2 && s->dim[1] == 5 && s->dim[2] == 7);
    dlt_plan *p = run(g, 1, &y, 0);
    assert_close("box_iou [2,5,4]x[2,7,4]", dlt_plan_data(p, y), want, 70, 1e-6);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(a), free(b), free(want);
    H5Fclose(f);
}
END_TEST

START_TEST(encode_matches_torchvision)
{
    hid_t f = dlt_test_fixture_open("box.h5");
    float *r = read_f32(f, "encode/reference", 48), *pr = read_f32(f, "encode/proposals", 48),
          *want = read_f32(f, "encode/targets", 48);
    const float w[4] = {10.f, 10.f, 5.f, 5.f};
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {12, 4};
    dlt_t y = dlt_box_encode(g, cf(g, 2, d, r), cf(g, 2, d, pr), w);
    dlt_plan *p = run(g, 1, &y, 0);
    assert_close("box_encode (10,10,5,5)", dlt_plan_data(p, y), want, 48, 2e-6);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(r), free(pr), free(want);
    H5Fclose(f);
}
END_TEST

/* y = decode(deltas, boxes) and d sum(y r) / d deltas; then central finite
 * differences of the same on a copy of the deltas moved off the clip. */
START_TEST(decode_and_gradient_match_torchvision)
{
    const char *grp = _i ? "decode/w1" : "decode/w10";
    char name[64];
    hid_t f = dlt_test_fixture_open("box.h5");
    snprintf(name, sizeof name, "%s/deltas", grp);
    float *dl = read_f32(f, name, 72);
    snprintf(name, sizeof name, "%s/boxes", grp);
    float *bx = read_f32(f, name, 24);
    snprintf(name, sizeof name, "%s/r", grp);
    float *r = read_f32(f, name, 72);
    snprintf(name, sizeof name, "%s/y", grp);
    float *wy = read_f32(f, name, 72);
    snprintf(name, sizeof name, "%s/grad", grp);
    float *wg = read_f32(f, name, 72);
    float w[4] = {10.f, 10.f, 5.f, 5.f};
    if (_i)
        w[0] = w[1] = w[2] = w[3] = 1.f;
    const float clip = logf(1000.f / 16.f);

    dlt_graph *g = dlt_graph_create(1);
    int64_t dd[2] = {6, 12}, db[2] = {6, 4};
    dlt_t x = dlt_input(g, "deltas", DLT_F32, 2, dd);
    dlt_t y = dlt_box_decode(g, x, cf(g, 2, db, bx), w, clip);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, cf(g, 2, dd, r)), 0, NULL, 0), gx;
    ck_assert_int_eq(dlt_grad(g, loss, 1, &x, &gx), DLT_OK);
    dlt_t outs[2] = {y, gx};
    dlt_plan *p = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 2, outs, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, x), dl, sizeof(float) * 72);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    assert_close(_i ? "box_decode (1,1,1,1)" : "box_decode (10,10,5,5)", dlt_plan_data(p, y), wy,
                 72, 2e-6);
    assert_close(_i ? "  d/d deltas (1,1,1,1)" : "  d/d deltas (10,10,5,5)", dlt_plan_data(p, gx),
                 wg, 72, 2e-6);
    /* the fixture clipped two deltas: no gradient there */
    const float *gg = dlt_plan_data(p, gx);
    ck_assert_float_eq(gg[1 * 12 + 2], 0.f);
    ck_assert_float_eq(gg[2 * 12 + 7], 0.f);
    dlt_plan_free(p);

    /* finite differences away from the clip */
    for (int i = 0; i < 72; i++)
        if (i % 4 >= 2 && dl[i] / w[i % 4] > clip - 0.1f)
            dl[i] = 0.3f * w[i % 4];
    const void *data[1] = {dl};
    dlt_gc_feed feed = {.ninputs = 1, .inputs = &x, .in_data = data, .training = 1};
    double an, nu;
    dlt_test_gradcheck(g, y, 1, &x, &feed, 1e-3, 7, &an, &nu);
    printf("  finite differences: analytic %.6g numeric %.6g\n", an, nu);
    dlt_test_assert_close("box_decode directional derivative", an, nu, 2e-3, 1e-3);
    dlt_graph_free(g);
    free(dl), free(bx), free(r), free(wy), free(wg);
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- anchors */
START_TEST(anchors_match_torchvision)
{
    hid_t f = dlt_test_fixture_open("box.h5");
    const float s0[2] = {32.f, 40.f}, s1[1] = {64.f}, ratios[3] = {0.5f, 1.f, 2.f};
    int64_t n0 = dlt_anchor_count(2, 3, 5, 7), n1 = dlt_anchor_count(1, 3, 3, 4);
    ck_assert_int_eq(n0, 210);
    ck_assert_int_eq(n1, 36);
    float *w0 = read_f32(f, "anchors/level0", (size_t)n0 * 4),
          *w1 = read_f32(f, "anchors/level1", (size_t)n1 * 4);
    float *a0 = malloc((size_t)n0 * 4 * sizeof *a0), *a1 = malloc((size_t)n1 * 4 * sizeof *a1);
    ck_assert_int_eq(dlt_anchor_grid(2, s0, 3, ratios, 5, 7, 40, 56, a0), DLT_OK);
    ck_assert_int_eq(dlt_anchor_grid(1, s1, 3, ratios, 3, 4, 40, 56, a1), DLT_OK);
    ck_assert_msg(memcmp(a0, w0, (size_t)n0 * 4 * sizeof *a0) == 0, "level 0 anchors differ");
    ck_assert_msg(memcmp(a1, w1, (size_t)n1 * 4 * sizeof *a1) == 0, "level 1 anchors differ");
    printf("anchors: 210 + 36 equal to AnchorGenerator's, bit for bit\n");
    /* and as a graph constant */
    dlt_graph *g = dlt_graph_create(1);
    dlt_t c = dlt_anchors(g, 1, s1, 3, ratios, 3, 4, 40, 56);
    ck_assert(dlt_shape_of(g, c)->dim[0] == 36 && dlt_shape_of(g, c)->dim[1] == 4);
    dlt_plan *p = run(g, 1, &c, 0);
    ck_assert(memcmp(dlt_plan_data(p, c), w1, (size_t)n1 * 4 * sizeof *a1) == 0);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(w0), free(w1), free(a0), free(a1);
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- topk */
START_TEST(topk_matches_torch_and_scatters_gradient)
{
    hid_t f = dlt_test_fixture_open("box.h5");
    float *x = read_f32(f, "topk/x", 60), *wv = read_f32(f, "topk/values", 18);
    int32_t *wi = read_i32(f, "topk/indices", 18);
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {3, 20};
    float r[18];
    for (int i = 0; i < 18; i++)
        r[i] = (float)(i + 1);
    dlt_t xi = dlt_input(g, "x", DLT_F32, 2, d), idx, gx;
    dlt_t v = dlt_topk(g, xi, 6, &idx);
    int64_t dk[2] = {3, 6};
    dlt_t loss = dlt_sum(g, dlt_mul(g, v, cf(g, 2, dk, r)), 0, NULL, 0);
    ck_assert_int_eq(dlt_grad(g, loss, 1, &xi, &gx), DLT_OK);
    dlt_t outs[3] = {v, idx, gx};
    dlt_plan *p = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 3, outs, NULL, &p), DLT_OK);
    memcpy(dlt_plan_data(p, xi), x, sizeof(float) * 60);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    ck_assert(memcmp(dlt_plan_data(p, v), wv, sizeof(float) * 18) == 0);
    ck_assert(memcmp(dlt_plan_data(p, idx), wi, sizeof(int32_t) * 18) == 0);
    /* the gradient: r at the chosen positions, 0 elsewhere */
    const float *gg = dlt_plan_data(p, gx);
    float want[60] = {0};
    for (int row = 0; row < 3; row++)
        for (int j = 0; j < 6; j++)
            want[row * 20 + wi[row * 6 + j]] += r[row * 6 + j];
    ck_assert(memcmp(gg, want, sizeof want) == 0);
    printf("topk k=6 of [3,20] with ties: torch's values, stable indices, gradient scattered\n");
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(x), free(wv), free(wi);
    H5Fclose(f);
}
END_TEST

/* NaN is the largest, -0 and +0 tie (lower index first). */
START_TEST(topk_nan_and_signed_zero)
{
    float x[6] = {-0.f, 1.f, NAN, 0.f, -INFINITY, 1.f};
    const int32_t want[6] = {2, 1, 5, 0, 3, 4};
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[1] = {6};
    dlt_t idx;
    dlt_topk(g, cf(g, 1, d, x), 6, &idx);
    dlt_plan *p = run(g, 1, &idx, 0);
    ck_assert(memcmp(dlt_plan_data(p, idx), want, sizeof want) == 0);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- nms */
static const char *const nms_cases[] = {"by_class", "plain", "by_class_low"};

START_TEST(nms_matches_torchvision)
{
    char name[64];
    hid_t f = dlt_test_fixture_open("box.h5");
    float *bx = read_f32(f, "nms/boxes", 240), *sc = read_f32(f, "nms/scores", 60),
          *va = read_f32(f, "nms/valid", 60);
    int32_t *cl = read_i32(f, "nms/classes", 60);
    snprintf(name, sizeof name, "nms/%s/keep", nms_cases[_i]);
    int32_t *want = read_i32(f, name, 60);
    snprintf(name, sizeof name, "nms/%s", nms_cases[_i]);
    float thr = (float)attr_double(f, name, "thr");
    int by_class = _i != 1;
    for (int kk = 30; kk >= 5; kk -= 25) { /* all, and the first 5 */
        dlt_graph *g = dlt_graph_create(1);
        int64_t db[3] = {2, 30, 4}, ds[2] = {2, 30};
        dlt_t cls = by_class ? dlt_constant(g, DLT_I32, 2, ds, cl) : -1, mask;
        dlt_t keep =
            dlt_nms(g, cf(g, 3, db, bx), cf(g, 2, ds, sc), cls, cf(g, 2, ds, va), thr, kk, &mask);
        dlt_t outs[2] = {keep, mask};
        dlt_plan *p = run(g, 2, outs, 0);
        const int32_t *k = dlt_plan_data(p, keep);
        const float *m = dlt_plan_data(p, mask);
        int nk[2] = {0, 0};
        for (int b = 0; b < 2; b++)
            for (int j = 0; j < kk; j++) {
                int32_t w = want[b * 30 + j];
                ck_assert_msg(m[b * kk + j] == (w >= 0 ? 1.f : 0.f),
                              "%s K=%d image %d slot %d mask", nms_cases[_i], kk, b, j);
                ck_assert_msg(k[b * kk + j] == (w >= 0 ? w : 0),
                              "%s K=%d image %d slot %d: %d, torchvision %d", nms_cases[_i], kk, b,
                              j, k[b * kk + j], w);
                nk[b] += w >= 0;
            }
        printf("nms %-12s thr %.2g K=%d: kept %d and %d, torchvision's list\n", nms_cases[_i],
               (double)thr, kk, nk[0], nk[1]);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    free(bx), free(sc), free(va), free(cl), free(want);
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- matcher */
static const char *const match_cases[] = {"rpn", "roi", "mid"};

START_TEST(matcher_matches_torchvision)
{
    char name[64];
    hid_t f = dlt_test_fixture_open("box.h5");
    float *q = read_f32(f, "match/quality", 320);
    int32_t *cnt = read_i32(f, "match/count", 2);
    snprintf(name, sizeof name, "match/%s/matches", match_cases[_i]);
    int32_t *want = read_i32(f, name, 80);
    snprintf(name, sizeof name, "match/%s", match_cases[_i]);
    float high = (float)attr_double(f, name, "high"), low = (float)attr_double(f, name, "low");
    hid_t grp = H5Oopen(f, name, H5P_DEFAULT);
    int allow = dlt_test_h5_attr_int(grp, "allow");
    H5Oclose(grp);
    dlt_graph *g = dlt_graph_create(1);
    int64_t dq[3] = {2, 4, 40}, dc[1] = {2};
    dlt_t m =
        dlt_box_match(g, cf(g, 3, dq, q), dlt_constant(g, DLT_I32, 1, dc, cnt), high, low, allow);
    dlt_plan *p = run(g, 1, &m, 0);
    ck_assert(memcmp(dlt_plan_data(p, m), want, sizeof(int32_t) * 80) == 0);
    printf("matcher %s (%.2g, %.2g, low quality %d): torchvision's matches\n", match_cases[_i],
           (double)high, (double)low, allow);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(q), free(cnt), free(want);
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- sampler */
enum { SB = 3, SA = 500 };

static void sample(uint64_t seed, int64_t step, int nb, int64_t first, const int32_t *lab,
                   float *pos, float *neg)
{
    dlt_graph *g = dlt_graph_create(seed);
    int64_t d[2] = {nb, SA};
    dlt_t n, p0 = dlt_box_sample(g, dlt_constant(g, DLT_I32, 2, d, lab), 64, 0.25f, first, &n);
    dlt_t outs[2] = {p0, n};
    dlt_plan *p = run(g, 2, outs, step);
    memcpy(pos, dlt_plan_data(p, p0), sizeof(float) * (size_t)(nb * SA));
    memcpy(neg, dlt_plan_data(p, n), sizeof(float) * (size_t)(nb * SA));
    dlt_plan_free(p);
    dlt_graph_free(g);
}

START_TEST(sampler_invariants)
{
    static int32_t lab[SB * SA];
    static float pos[SB * SA], neg[SB * SA], pos2[SB * SA], neg2[SB * SA];
    /* image 0: many of each; image 1: 5 positives; image 2: 3 negatives only */
    for (int a = 0; a < SA; a++) {
        lab[a] = a % 7 == 0 ? 2 : a % 5 == 0 ? -1 : a % 3 == 0 ? 1 : 0;
        lab[SA + a] = a % 100 == 7 ? 1 : a % 2 ? 0 : -1;
        lab[2 * SA + a] = a < 3 ? 0 : -1;
    }
    sample(11, 4, SB, 0, lab, pos, neg);
    const int want_pos[SB] = {16, 5, 0}, want_neg[SB] = {48, 59, 3};
    for (int b = 0; b < SB; b++) {
        int np = 0, nn = 0;
        for (int a = 0; a < SA; a++) {
            float p = pos[b * SA + a], n = neg[b * SA + a];
            ck_assert(p == 0.f || p == 1.f);
            ck_assert(n == 0.f || n == 1.f);
            ck_assert_msg(p == 0.f || lab[b * SA + a] >= 1, "a positive sampled from label %d",
                          lab[b * SA + a]);
            ck_assert_msg(n == 0.f || lab[b * SA + a] == 0, "a negative sampled from label %d",
                          lab[b * SA + a]);
            np += p != 0.f, nn += n != 0.f;
        }
        printf("sampler image %d: %d positives, %d negatives (expected %d, %d)\n", b, np, nn,
               want_pos[b], want_neg[b]);
        ck_assert_int_eq(np, want_pos[b]);
        ck_assert_int_eq(nn, want_neg[b]);
    }
    /* the same seed and step: the same draw; another step or seed: another one */
    sample(11, 4, SB, 0, lab, pos2, neg2);
    ck_assert(memcmp(pos, pos2, sizeof pos) == 0 && memcmp(neg, neg2, sizeof neg) == 0);
    sample(11, 5, SB, 0, lab, pos2, neg2);
    ck_assert(memcmp(pos, pos2, SA * sizeof(float)) != 0);
    ck_assert(memcmp(neg, neg2, SA * sizeof(float)) != 0);
    sample(12, 4, SB, 0, lab, pos2, neg2);
    ck_assert(memcmp(pos, pos2, SA * sizeof(float)) != 0);
    /* keyed by global image: images 1, 2 of a batch of 3 = a batch of 2 from image 1 */
    sample(11, 4, 2, 1, lab + SA, pos2, neg2);
    ck_assert(memcmp(pos + SA, pos2, 2 * SA * sizeof(float)) == 0);
    ck_assert(memcmp(neg + SA, neg2, 2 * SA * sizeof(float)) == 0);
}
END_TEST

/* Over many steps every eligible negative of image 0 gets drawn about
 * equally often (48 of 231 per step): a uniform subset, not a fixed one. */
START_TEST(sampler_is_uniform)
{
    enum { STEPS = 400 };
    static int32_t lab[SA];
    static float pos[SA], neg[SA];
    static int hits[SA];
    int nelig = 0;
    for (int a = 0; a < SA; a++) {
        lab[a] = a % 7 == 0 ? 2 : a % 5 == 0 ? -1 : a % 3 == 0 ? 1 : 0;
        nelig += lab[a] == 0;
    }
    for (int s = 0; s < STEPS; s++) {
        sample(3, s, 1, 0, lab, pos, neg);
        for (int a = 0; a < SA; a++)
            hits[a] += neg[a] != 0.f;
    }
    /* each count is binomial(STEPS, p): sum (h - E)^2 / (E (1 - p)) is about
     * chi-square with nelig - 1 degrees of freedom (mean nelig - 1, sd
     * sqrt(2 (nelig - 1))) */
    double p = 48.0 / nelig, expect = STEPS * p, chi2 = 0;
    for (int a = 0; a < SA; a++)
        if (lab[a] == 0)
            chi2 += (hits[a] - expect) * (hits[a] - expect) / (expect * (1 - p));
    printf("sampler: %d eligible negatives, %d steps: chi2 %.1f (dof %d)\n", nelig, STEPS, chi2,
           nelig - 1);
    ck_assert(fabs(chi2 - (nelig - 1)) < 5 * sqrt(2.0 * nelig));
}
END_TEST

/* ---------------------------------------------------------------- losses */
/* Feed data to input x of plan p. */
static void feed(dlt_plan *p, dlt_t x, const void *data, size_t bytes)
{
    memcpy(dlt_plan_data(p, x), data, bytes);
}

static float scalar(dlt_plan *p, dlt_t v)
{
    return *(const float *)dlt_plan_data(p, v);
}

START_TEST(rpn_losses_match_torchvision)
{
    hid_t f = dlt_test_fixture_open("box.h5");
    float *obj = read_f32(f, "rpn_loss/objectness", 100), *dl = read_f32(f, "rpn_loss/deltas", 400),
          *tg = read_f32(f, "rpn_loss/targets", 400), *pos = read_f32(f, "rpn_loss/pos", 100),
          *neg = read_f32(f, "rpn_loss/neg", 100), *wo = read_f32(f, "rpn_loss/objectness_loss", 1),
          *wb = read_f32(f, "rpn_loss/box_loss", 1),
          *go = read_f32(f, "rpn_loss/grad_objectness", 100),
          *gd = read_f32(f, "rpn_loss/grad_deltas", 400);
    dlt_graph *g = dlt_graph_create(1);
    int64_t d2[2] = {2, 50}, d3[3] = {2, 50, 4};
    dlt_t o = dlt_input(g, "objectness", DLT_F32, 2, d2),
          d = dlt_input(g, "deltas", DLT_F32, 3, d3);
    dlt_t lb,
        lo = dlt_rpn_losses(g, o, d, cf(g, 3, d3, tg), cf(g, 2, d2, pos), cf(g, 2, d2, neg), &lb);
    dlt_t wrt[2] = {o, d}, gr[2];
    ck_assert_int_eq(dlt_grad(g, dlt_add(g, lo, lb), 2, wrt, gr), DLT_OK);
    dlt_t outs[4] = {lo, lb, gr[0], gr[1]};
    dlt_plan *p = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 4, outs, NULL, &p), DLT_OK);
    feed(p, o, obj, 100 * sizeof(float));
    feed(p, d, dl, 400 * sizeof(float));
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    float got[2] = {scalar(p, lo), scalar(p, lb)}, want[2] = {wo[0], wb[0]};
    assert_close("rpn objectness + box loss", got, want, 2, 1e-6);
    assert_close("  d/d objectness", dlt_plan_data(p, gr[0]), go, 100, 1e-6);
    assert_close("  d/d deltas", dlt_plan_data(p, gr[1]), gd, 400, 1e-6);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(obj), free(dl), free(tg), free(pos), free(neg), free(wo), free(wb), free(go), free(gd);
    H5Fclose(f);
}
END_TEST

START_TEST(roi_losses_match_torchvision)
{
    enum { R = 40, C = 5, M = 7 };
    hid_t f = dlt_test_fixture_open("box.h5");
    float *lg = read_f32(f, "roi_loss/class_logits", R * C),
          *rg = read_f32(f, "roi_loss/box_regression", R * C * 4),
          *tg = read_f32(f, "roi_loss/targets", R * 4), *sm = read_f32(f, "roi_loss/sampled", R),
          *ml = read_f32(f, "roi_loss/mask_logits", R * C * M * M),
          *mt = read_f32(f, "roi_loss/mask_targets", R * M * M),
          *wc = read_f32(f, "roi_loss/class_loss", 1), *wb = read_f32(f, "roi_loss/box_loss", 1),
          *wm = read_f32(f, "roi_loss/mask_loss", 1),
          *gl = read_f32(f, "roi_loss/grad_class_logits", R * C),
          *gb = read_f32(f, "roi_loss/grad_box_regression", R * C * 4),
          *gm = read_f32(f, "roi_loss/grad_mask_logits", R * C * M * M);
    int32_t *lab = read_i32(f, "roi_loss/labels", R);
    dlt_graph *g = dlt_graph_create(1);
    int64_t dl[2] = {R, C}, dr[2] = {R, 4 * C}, dt[2] = {R, 4}, ds[1] = {R}, dm[4] = {R, C, M, M},
            dmt[3] = {R, M, M};
    dlt_t l = dlt_input(g, "class_logits", DLT_F32, 2, dl), r = dlt_input(g, "reg", DLT_F32, 2, dr),
          m = dlt_input(g, "mask_logits", DLT_F32, 4, dm), lb, lm;
    dlt_t lc = dlt_roi_losses(g, l, r, dlt_constant(g, DLT_I32, 1, ds, lab), cf(g, 2, dt, tg),
                              cf(g, 1, ds, sm), m, cf(g, 3, dmt, mt), &lb, &lm);
    dlt_t wrt[3] = {l, r, m}, gr[3];
    ck_assert_int_eq(dlt_grad(g, dlt_add(g, dlt_add(g, lc, lb), lm), 3, wrt, gr), DLT_OK);
    dlt_t outs[6] = {lc, lb, lm, gr[0], gr[1], gr[2]};
    dlt_plan *p = NULL;
    ck_assert_int_eq(dlt_plan_create(g, 6, outs, NULL, &p), DLT_OK);
    feed(p, l, lg, sizeof(float) * R * C);
    feed(p, r, rg, sizeof(float) * R * C * 4);
    feed(p, m, ml, sizeof(float) * R * C * M * M);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    ck_assert_int_eq(dlt_plan_wait(p), DLT_OK);
    float got[3] = {scalar(p, lc), scalar(p, lb), scalar(p, lm)}, want[3] = {wc[0], wb[0], wm[0]};
    assert_close("roi class + box + mask loss", got, want, 3, 1e-6);
    assert_close("  d/d class logits", dlt_plan_data(p, gr[0]), gl, R * C, 1e-6);
    assert_close("  d/d box regression", dlt_plan_data(p, gr[1]), gb, R * C * 4, 1e-6);
    assert_close("  d/d mask logits", dlt_plan_data(p, gr[2]), gm, R * C * M * M, 1e-6);
    dlt_plan_free(p);
    dlt_graph_free(g);
    free(lg), free(rg), free(tg), free(sm), free(ml), free(mt), free(wc), free(wb), free(wm);
    free(gl), free(gb), free(gm), free(lab);
    H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- errors */
START_TEST(bad_shapes_are_reported)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t d3[2] = {5, 3}, d4[2] = {5, 4}, ds[2] = {2, 5};
    dlt_t a = dlt_input(g, "a", DLT_F32, 2, d3), b = dlt_input(g, "b", DLT_F32, 2, d4);
    ck_assert_int_lt(dlt_box_iou(g, a, b), 0);
    const char *msg = dlt_graph_errmsg(g);
    printf("error: %s\n", msg);
    ck_assert_msg(strstr(msg, "box_iou") && strstr(msg, "[..., 4]"), "%s", msg);
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    int64_t db[3] = {2, 5, 4}, dbad[2] = {2, 6};
    dlt_t bx = dlt_input(g, "boxes", DLT_F32, 3, db), sc = dlt_input(g, "scores", DLT_F32, 2, dbad);
    ck_assert_int_lt(dlt_nms(g, bx, sc, -1, -1, 0.5f, 3, NULL), 0);
    msg = dlt_graph_errmsg(g);
    printf("error: %s\n", msg);
    ck_assert_msg(strstr(msg, "box_nms") && strstr(msg, "scores [B, N]"), "%s", msg);
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t s = dlt_input(g, "s", DLT_F32, 2, ds);
    ck_assert_int_lt(dlt_topk(g, s, 6, NULL), 0);
    printf("error: %s\n", dlt_graph_errmsg(g));
    ck_assert(strstr(dlt_graph_errmsg(g), "k = 6"));
    dlt_graph_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("box");
    TCase *t = tcase_create("box");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, iou_matches_torchvision);
    tcase_add_test(t, encode_matches_torchvision);
    tcase_add_loop_test(t, decode_and_gradient_match_torchvision, 0, 2);
    tcase_add_test(t, anchors_match_torchvision);
    tcase_add_test(t, topk_matches_torch_and_scatters_gradient);
    tcase_add_test(t, topk_nan_and_signed_zero);
    tcase_add_loop_test(t, nms_matches_torchvision, 0, 3);
    tcase_add_loop_test(t, matcher_matches_torchvision, 0, 3);
    tcase_add_test(t, sampler_invariants);
    tcase_add_test(t, sampler_is_uniform);
    tcase_add_test(t, rpn_losses_match_torchvision);
    tcase_add_test(t, roi_losses_match_torchvision);
    tcase_add_test(t, bad_shapes_are_reported);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
