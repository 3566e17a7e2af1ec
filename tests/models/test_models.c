/* The model zoo: parameter counts (torchvision's figures and hand formulas),
 * parameter names and shapes against torchvision's state_dict keys, output
 * shapes, zero-init of residual BN scales, build errors, and forward/backward
 * goldens against PyTorch (tests/fixtures/models_golden.h5, made by
 * tests/fixtures/models_make_fixtures.py, which documents the layout). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_test.h"

#ifndef MODELS_SRCDIR
#define MODELS_SRCDIR "."
#endif

/* ---------------------------------------------------------------- helpers */

/* A classifier on a [batch, c, h, w] input; the graph is not finalized. */
static dlt_graph *build(const char *arch, int batch, int c, int h, int w, int classes, char shortcut,
                        dlt_t *x, dlt_t *logits)
{
    dlt_model_spec s;
    ck_assert_msg(dlt_model_spec_default(arch, &s) == DLT_OK, "%s", dlt_errmsg());
    s.in_channels = c, s.in_h = h, s.in_w = w, s.num_classes = classes, s.shortcut = shortcut;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {batch, c, h, w};
    *x = dlt_input(g, "x", DLT_F32, 4, xs);
    *logits = dlt_model_classifier(g, &s, *x);
    ck_assert_msg(*logits >= 0, "%s: %s", arch, dlt_graph_errmsg(g));
    return g;
}

/* Trainable elements, counted from the graph's values (no finalize: no memory). */
static int64_t count_params(const dlt_graph *g)
{
    int64_t n = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            n += dlt_shape_numel(dlt_shape_of(g, v));
    return n;
}

static int64_t params_of(const char *arch, int c, int hw, int classes, char shortcut)
{
    dlt_t x, y;
    dlt_graph *g = build(arch, 1, c, hw, hw, classes, shortcut, &x, &y);
    int64_t n = count_params(g);
    dlt_graph_free(g);
    return n;
}

/* He et al. 2015 §4.2 by hand: 3x3 convs without bias, BN (2 per channel),
 * option B adds a 1x1 projection + BN at the two widening blocks. */
static int64_t cifar_formula(int depth, int c_in, int classes, char shortcut)
{
    int n = (depth - 2) / 6;
    int64_t p = 9LL * c_in * 16 + 2 * 16, in = 16;
    for (int s = 0; s < 3; s++) {
        int64_t c = 16 << s;
        for (int b = 0; b < n; b++) {
            p += 9 * in * c + 9 * c * c + 4 * c;
            if (in != c && shortcut == 'B')
                p += in * c + 2 * c;
            in = c;
        }
    }
    return p + 64 * classes + classes;
}

/* VGG with BN: 3x3 convs with bias, BN, one linear head on 512 features. */
static int64_t vgg_formula(int depth, int c_in, int classes)
{
    static const int c11[] = {64, 128, 256, 256, 512, 512, 512, 512, 0};
    static const int c16[] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512, 0};
    const int *cfg = depth == 11 ? c11 : c16;
    int64_t p = 0, in = c_in;
    for (int i = 0; cfg[i]; in = cfg[i++])
        p += 9 * in * cfg[i] + cfg[i] + 2 * cfg[i];
    return p + 512 * classes + classes;
}

START_TEST(param_counts)
{
    /* torchvision 0.14: sum(p.numel() for p in resnetNN().parameters()) */
    ck_assert_int_eq(params_of("resnet18", 3, 224, 1000, 'A'), 11689512);
    ck_assert_int_eq(params_of("resnet34", 3, 224, 1000, 'A'), 21797672);
    ck_assert_int_eq(params_of("resnet50", 3, 224, 1000, 'A'), 25557032);
    ck_assert_int_eq(params_of("resnet101", 3, 224, 1000, 'A'), 44549160);
    ck_assert_int_eq(params_of("resnet152", 3, 224, 1000, 'A'), 60192808);
    /* He et al. (and the usual reimplementations): ResNet-20 has 0.27M */
    ck_assert_int_eq(params_of("resnet20", 3, 32, 10, 'A'), 269722);
    static const int depths[] = {8, 20, 32, 44, 56, 110};
    for (int i = 0; i < 6; i++)
        for (int sc = 0; sc < 2; sc++) {
            char arch[32];
            snprintf(arch, sizeof arch, "resnet%d", depths[i]);
            char shortcut = sc ? 'B' : 'A';
            int64_t got = params_of(arch, sc ? 1 : 3, 28, 10, shortcut);
            ck_assert_msg(got == cifar_formula(depths[i], sc ? 1 : 3, 10, shortcut), "%s%c: %lld vs %lld", arch,
                          shortcut, (long long)got, (long long)cifar_formula(depths[i], sc ? 1 : 3, 10, shortcut));
        }
    printf("resnet20/32/44/56/110 (A): %lld %lld %lld %lld %lld\n", (long long)cifar_formula(20, 3, 10, 'A'),
           (long long)cifar_formula(32, 3, 10, 'A'), (long long)cifar_formula(44, 3, 10, 'A'),
           (long long)cifar_formula(56, 3, 10, 'A'), (long long)cifar_formula(110, 3, 10, 'A'));
    ck_assert_int_eq(params_of("vgg11", 3, 32, 10, 'A'), vgg_formula(11, 3, 10));
    ck_assert_int_eq(params_of("vgg16", 1, 28, 100, 'A'), vgg_formula(16, 1, 100));
    /* ImageNet nets with other inputs and classes: only the stem and fc change */
    ck_assert_int_eq(params_of("resnet18", 1, 28, 10, 'A'), 11689512 - 64 * 2 * 49 - 512 * 990 - 990);
    ck_assert_int_eq(params_of("resnet50", 3, 64, 10, 'A'), 25557032 - 2048 * 990 - 990);
    /* mlp: 784 -> 256 -> 256 -> 10 */
    ck_assert_int_eq(params_of("mlp", 1, 28, 10, 'A'), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
}
END_TEST

/* ---------------------------------------------------------------- fixture access */

static hid_t open_fixture(void)
{
    char path[1024];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/tests/fixtures/models_golden.h5", top ? top : MODELS_SRCDIR);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "cannot open %s", path);
    return f;
}

static int has(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

/* A whole dataset converted to `type`; element count through *n. */
static void *read_ds(hid_t loc, const char *name, hid_t type, size_t esize, size_t *n)
{
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "no dataset %s", name);
    hid_t sp = H5Dget_space(ds);
    size_t cnt = (size_t)H5Sget_simple_extent_npoints(sp);
    char *buf = calloc(cnt + 1, esize); /* + 1: text stays terminated */
    ck_assert_int_ge(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Sclose(sp);
    H5Dclose(ds);
    if (n)
        *n = cnt;
    return buf;
}
static float *read_f32(hid_t loc, const char *name, size_t *n)
{
    return read_ds(loc, name, H5T_NATIVE_FLOAT, sizeof(float), n);
}
static char *read_text(hid_t loc, const char *name) { return read_ds(loc, name, H5T_NATIVE_UCHAR, 1, NULL); }

/* ---------------------------------------------------------------- names */

/* "name d0,d1,..." lines of torchvision's state_dict; 1 if `name` is there with `s`'s dims. */
static int key_matches(const char *keys, const char *name, const dlt_shape *s)
{
    size_t len = strlen(name);
    for (const char *p = keys; *p; p = strchr(p, '\n') + 1) {
        if (strncmp(p, name, len) != 0 || p[len] != ' ')
            continue;
        const char *d = p + len + 1;
        for (int i = 0; i < s->ndim; i++) {
            char *end;
            if (strtoll(d, &end, 10) != s->dim[i])
                return 0;
            d = end + (*end == ',');
        }
        return *d == '\n';
    }
    return 0;
}

static int count_lines_with(const char *keys, const char *prefix)
{
    int n = 0;
    for (const char *p = keys; *p; p = strchr(p, '\n') + 1)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

static const struct {
    const char *arch, *tv;
} name_cases[] = {{"resnet18", "resnet18"},   {"resnet34", "resnet34"},   {"resnet50", "resnet50"},
                  {"resnet101", "resnet101"}, {"resnet152", "resnet152"}, {"vgg11", "vgg11_bn"},
                  {"vgg16", "vgg16_bn"}};

/* Every parameter and buffer is a torchvision state_dict key of the same shape
 * and, for the resnets, all keys are there (VGG: all of features.*; our head is
 * one linear layer named classifier, torchvision's is three). */
START_TEST(names_match_torchvision)
{
    hid_t f = open_fixture(), kg = H5Gopen2(f, "keys", H5P_DEFAULT);
    char *keys = read_text(kg, name_cases[_i].tv);
    dlt_t x, y;
    dlt_graph *g = build(name_cases[_i].arch, 1, 3, 224, 224, 1000, 'A', &x, &y);
    int vgg = strncmp(name_cases[_i].arch, "vgg", 3) == 0, n = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++) {
        dlt_value_kind k = dlt_kind_of(g, v);
        if (k != DLT_VAL_PARAM && k != DLT_VAL_BUFFER)
            continue;
        const char *name = dlt_name_of(g, v);
        if (vgg && strncmp(name, "classifier.", 11) == 0) {
            ck_assert_int_eq(dlt_shape_of(g, v)->dim[0], 1000);
            continue;
        }
        ck_assert_msg(key_matches(keys, name, dlt_shape_of(g, v)), "%s: '%s' is not a torchvision key of that shape",
                      name_cases[_i].arch, name);
        n++;
    }
    int want = vgg ? count_lines_with(keys, "features.") : count_lines_with(keys, "");
    ck_assert_msg(n == want, "%s: %d parameters and buffers, torchvision has %d", name_cases[_i].arch, n, want);
    dlt_graph_free(g);
    free(keys);
    H5Gclose(kg), H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- shapes, init, errors */

START_TEST(output_shapes)
{
    static const struct {
        const char *arch;
        int c, h, w, classes;
    } cases[] = {{"resnet20", 1, 28, 28, 10}, {"resnet8", 3, 17, 23, 7}, {"resnet18", 3, 64, 48, 5},
                 {"resnet50", 1, 32, 32, 3},  {"vgg11", 1, 28, 28, 10},  {"vgg16", 3, 32, 32, 100},
                 {"mlp", 2, 5, 7, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlt_t x, y;
        dlt_graph *g = build(cases[i].arch, 3, cases[i].c, cases[i].h, cases[i].w, cases[i].classes, 'B', &x, &y);
        const dlt_shape *s = dlt_shape_of(g, y);
        ck_assert_int_eq(s->ndim, 2);
        ck_assert_int_eq(s->dim[0], 3);
        ck_assert_int_eq(s->dim[1], cases[i].classes);
        dlt_graph_free(g);
    }
}
END_TEST

/* The small-input stem: resnet18 on 28x28 keeps 28x28 into layer1 (no stride, no pool). */
START_TEST(small_input_stem)
{
    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default("resnet18", &s), DLT_OK);
    s.small_input = 1, s.in_channels = 1, s.in_h = 28, s.in_w = 28;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, 1, 28, 28};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    ck_assert_int_ge(dlt_model_classifier(g, &s, x), 0);
    dlt_t w = dlt_param_lookup(g, "conv1.weight");
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(dlt_shape_of(g, w)->dim[2], 3);
    /* 1 + 64*2*... : smaller than the 7x7 stem by 64*(49-9) weights */
    ck_assert_int_eq(count_params(g), 11689512 - 64 * 3 * 49 + 64 * 1 * 9 - 512 * 990 - 990);
    dlt_graph_free(g);
}
END_TEST

static void check_zero_init(const char *arch, const char *last_bn)
{
    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default(arch, &s), DLT_OK);
    s.zero_init_residual = 1, s.small_input = 1, s.in_channels = 1, s.in_h = 8, s.in_w = 8;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, 1, 8, 8};
    ck_assert_int_ge(dlt_model_classifier(g, &s, dlt_input(g, "x", DLT_F32, 4, xs)), 0);
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    int zero = 0, one = 0;
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *p = dlt_param_at(g, i);
        if (!strstr(p->name, "bn") || !strstr(p->name, ".weight"))
            continue;
        float *d = dlt_param_data(g, p->value);
        int is_last = strstr(p->name, last_bn) != NULL;
        for (size_t j = 0; j < p->numel; j++)
            ck_assert_msg(d[j] == (is_last ? 0.f : 1.f), "%s %s[%zu] = %g", arch, p->name, j, d[j]);
        is_last ? zero++ : one++;
    }
    ck_assert_int_gt(zero, 0);
    ck_assert_int_gt(one, 0);
    dlt_graph_free(g);
}

START_TEST(zero_init_residual)
{
    check_zero_init("resnet20", "bn2");
    check_zero_init("resnet18", "bn2");
    check_zero_init("resnet50", "bn3");
}
END_TEST

static void expect_error(const char *arch, int c, int h, int w, int classes, char shortcut, const char *msg)
{
    dlt_model_spec s;
    dlt_status st = dlt_model_spec_default("resnet20", &s);
    ck_assert_int_eq(st, DLT_OK);
    snprintf(s.arch, sizeof s.arch, "%s", arch);
    s.num_classes = classes, s.shortcut = shortcut;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, c, h, w};
    ck_assert_int_lt(dlt_model_classifier(g, &s, dlt_input(g, "x", DLT_F32, 4, xs)), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), msg), "'%s' lacks '%s'", dlt_graph_errmsg(g), msg);
    dlt_graph_free(g);
}

START_TEST(errors)
{
    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default("resnet21", &s), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "resnet18"));
    ck_assert_int_eq(dlt_model_spec_default("resnet20x", &s), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_model_spec_default("vgg13", &s), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_model_spec_default("resnet1202", &s), DLT_OK);
    expect_error("resnet21", 3, 32, 32, 10, 'A', "unknown model 'resnet21'");
    expect_error("resnet20", 1, 32, 32, 10, 'A', "does not match the spec's 3x32x32");
    expect_error("resnet20", 3, 32, 32, 0, 'A', "num_classes must be at least 1");
    expect_error("resnet20", 3, 32, 32, 10, 'C', "shortcut must be 'A' or 'B'");
}
END_TEST

/* ---------------------------------------------------------------- goldens */

/* Worst |a - b| over the scale of b (its largest magnitude): errors of f32
 * sums are relative to the magnitudes summed, not to each (possibly tiny) result. */
static double scaled_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return dlt_test_max_relerr(a, b, n, m > 0 ? m : 1);
}

/* Tolerances, justified in the golden test's comment. */
#define TOL_OUT 1e-4
#define TOL_GRAD 1e-4
#define TORCH_F32_FACTOR 4.0

static const char *const golden_cases[] = {"cifar8_A", "cifar8_B", "resnet18", "resnet18_small", "resnet50"};

typedef struct {
    double logits, loss, eval, grad, gradsq, buffers, ratio;
} golden_err;

/* Samples k * numel / S of a flat tensor, as the fixture stores them. */
static void take_samples(const float *d, size_t numel, float *out, int S)
{
    for (int k = 0; k < S; k++)
        out[k] = d[(size_t)k * numel / (size_t)S];
}

/* Checks each named tensor's S samples (rows of `want`); returns the worst
 * error. Gradients: error over the gradient's RMS, within TOL_GRAD or within
 * TORCH_F32_FACTOR times PyTorch's own worst float32 error in the case,
 * whichever is larger; *ratio gets the worst ours / PyTorch f32's. */
static double compare_samples(dlt_graph *g, hid_t grp, const char *names_ds, const float *want, int S, int grads,
                              double *sumsq_err, double *ratio)
{
    char *names = read_text(grp, names_ds);
    double *sq = NULL, *t32 = NULL, *t32sq = NULL;
    if (grads) {
        sq = read_ds(grp, "grad_sumsq", H5T_NATIVE_DOUBLE, sizeof(double), NULL);
        t32 = read_ds(grp, "torch_f32_grad_err", H5T_NATIVE_DOUBLE, sizeof(double), NULL);
        t32sq = read_ds(grp, "torch_f32_sumsq_err", H5T_NATIVE_DOUBLE, sizeof(double), NULL);
    }
    /* the case's conditioning: PyTorch f32's worst error over all its parameters
     * (per parameter it is too noisy: chaotic errors may miss one by luck) */
    double case32 = 0, case32sq = 0;
    for (int i = 0; grads && i < dlt_num_params(g); i++)
        case32 = fmax(case32, t32[i]), case32sq = fmax(case32sq, t32sq[i]);
    double worst = 0;
    float got[256];
    ck_assert_int_le(S, 256);
    int row = 0;
    for (char *p = names, *nl; (nl = strchr(p, '\n')); p = nl + 1, row++) {
        *nl = '\0';
        dlt_t v = dlt_param_lookup(g, p);
        ck_assert_msg(v >= 0, "no parameter or buffer '%s' in the dltrain graph", p);
        const float *d = grads ? dlt_param_grad(g, v) : dlt_param_data(g, v);
        size_t numel = (size_t)dlt_shape_numel(dlt_shape_of(g, v));
        take_samples(d, numel, got, S);
        const float *w = want + (size_t)row * S;
        double scale = 0, tol = TOL_OUT;
        if (grads) {
            double s2 = 0;
            for (size_t i = 0; i < numel; i++)
                s2 += (double)d[i] * d[i];
            scale = sqrt(sq[row] / (double)numel);
            double e = fabs(s2 - sq[row]) / sq[row], tsq = fmax(TOL_GRAD, TORCH_F32_FACTOR * case32sq);
            *sumsq_err = fmax(*sumsq_err, e);
            ck_assert_msg(e < tsq, "%s: sum of squared gradients %.9g vs torch %.9g (tolerance %.2g)", p, s2, sq[row],
                          tsq);
            tol = fmax(TOL_GRAD, TORCH_F32_FACTOR * case32);
        } else {
            for (int k = 0; k < S; k++)
                scale = fmax(scale, fabs(w[k]));
        }
        double e = dlt_test_max_relerr(got, w, (size_t)S, scale > 0 ? scale : 1);
        ck_assert_msg(e < tol, "%s: %s error %.3g (tolerance %.2g)", p, grads ? "gradient" : "buffer", e, tol);
        if (grads)
            *ratio = fmax(*ratio, e / case32);
        worst = fmax(worst, e);
    }
    free(names);
    free(sq), free(t32), free(t32sq);
    return worst;
}

/* Forward (train and eval mode), loss, gradients and BN running statistics of
 * whole networks against PyTorch in float64 (with torchvision's own ResNet-18/50).
 * Tolerance: dltrain sums in f32 in another order (im2col GEMMs split over
 * threads); each conv output carries ~1e-7..1e-6 relative rounding, and 8-50
 * layers with batch norm leave the logits within ~1e-5 of their scale, so 1e-4
 * of a tensor's scale (its largest magnitude; for a gradient the RMS of the
 * whole tensor, since its sampled elements may all be small) has margin, while
 * a wrong architecture, name or BN semantic shows up as O(1) errors. Gradients
 * of deep nets in train-mode BN on small batches are ill-conditioned: the
 * fixture records how far PyTorch's own float32 run lands from float64, and
 * gradients pass within 4x its worst when that exceeds 1e-4 (ResNet-50 here,
 * where f32 PyTorch misses some sampled gradients by 0.3 of their RMS and sums
 * of squares by 3%: that case checks the forward tightly, gradients loosely). */
START_TEST(golden_vs_pytorch)
{
    const char *cname = golden_cases[_i];
    hid_t f = open_fixture(), grp = H5Gopen2(f, cname, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no case %s", cname);
    char arch[32], shortcut[4];
    dlt_test_h5_attr_str(grp, "arch", arch, sizeof arch);
    dlt_test_h5_attr_str(grp, "shortcut", shortcut, sizeof shortcut);
    int batch = dlt_test_h5_attr_int(grp, "batch"), c = dlt_test_h5_attr_int(grp, "in_c"), h = dlt_test_h5_attr_int(grp, "in_h"),
        w = dlt_test_h5_attr_int(grp, "in_w"), classes = dlt_test_h5_attr_int(grp, "classes");

    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default(arch, &s), DLT_OK);
    s.in_channels = c, s.in_h = h, s.in_w = w, s.num_classes = classes, s.shortcut = shortcut[0];
    s.small_input = dlt_test_h5_attr_int(grp, "small_input");
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {batch, c, h, w}, ls[1] = {batch};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), lab = dlt_input(g, "labels", DLT_I32, 1, ls);
    dlt_t logits = dlt_model_classifier(g, &s, x);
    dlt_t loss = dlt_cross_entropy(g, logits, lab, -100, 0.f, DLT_REDUCE_MEAN);
    ck_assert_msg(loss >= 0, "%s", dlt_graph_errmsg(g));
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_t outs[2] = {loss, logits};
    dlt_plan *train = NULL, *eval = NULL;
    ck_assert_msg(dlt_plan_create(g, 2, outs, &po, &train) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_plan_create(g, 1, &logits, NULL, &eval) == DLT_OK, "%s", dlt_errmsg());

    /* weights: the fixture's state dict where it has one, else the hash */
    int stored = has(grp, "params");
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *p = dlt_param_at(g, i);
        float *d = dlt_param_data(g, p->value);
        dlt_test_hash_param(p->name, &p->shape, d);
        if (stored) {
            char path[256];
            size_t n;
            snprintf(path, sizeof path, "params/%s", p->name);
            float *sd = read_f32(grp, path, &n);
            ck_assert_int_eq(n, p->numel);
            ck_assert_msg(memcmp(sd, d, n * sizeof *d) == 0, "%s: the C hash differs from the fixture's", p->name);
            memcpy(d, sd, n * sizeof *d);
            free(sd);
        }
    }
    size_t nx = (size_t)batch * c * h * w, n;
    float *xd = dlt_plan_data(train, x);
    dlt_test_hash_uniform("input", xd, nx);
    if (stored) {
        float *fx = read_f32(grp, "x", &n);
        ck_assert_int_eq(n, nx);
        ck_assert(memcmp(fx, xd, nx * sizeof *xd) == 0);
        free(fx);
    }
    int32_t *labels = read_ds(grp, "labels", H5T_NATIVE_INT32, sizeof(int32_t), &n);
    ck_assert_int_eq(n, batch);
    memcpy(dlt_plan_data(train, lab), labels, (size_t)batch * sizeof *labels);

    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(train, &eo) == DLT_OK, "%s", dlt_errmsg());
    golden_err err = {0};
    float *want = read_f32(grp, "logits_train", &n);
    ck_assert_int_eq(n, (size_t)batch * classes);
    err.logits = scaled_err(dlt_plan_data(train, logits), want, n);
    free(want);
    want = read_f32(grp, "loss", &n);
    err.loss = fabs(*(float *)dlt_plan_data(train, loss) - want[0]) / fabs(want[0]);
    free(want);

    want = read_f32(grp, "grad_samples", &n);
    err.grad = compare_samples(g, grp, "param_names", want, (int)(n / (size_t)np), 1, &err.gradsq,
                               &err.ratio);
    ck_assert_int_eq(n % (size_t)np, 0);
    free(want);
    want = read_f32(grp, "buffer_samples", &n);
    err.buffers = compare_samples(g, grp, "buffer_names", want, 64, 0, NULL, NULL);
    free(want);
    if (stored) { /* whole gradients and statistics by name */
        for (int i = 0; i < np; i++) {
            char path[256];
            snprintf(path, sizeof path, "grad/%s", dlt_name_of(g, params[i]));
            want = read_f32(grp, path, &n);
            double e = scaled_err(dlt_param_grad(g, params[i]), want, n);
            ck_assert_msg(e < TOL_GRAD, "%s: whole gradient error %.3g", path, e);
            err.grad = fmax(err.grad, e);
            free(want);
        }
        for (int i = 0; i < dlt_num_buffers(g); i++) {
            const dlt_param_info *b = dlt_buffer_at(g, i);
            char path[256];
            snprintf(path, sizeof path, "buffers/%s", b->name);
            want = read_f32(grp, path, &n);
            ck_assert_int_eq(n, b->numel);
            double e = scaled_err(dlt_param_data(g, b->value), want, n);
            ck_assert_msg(e < TOL_OUT, "%s: error %.3g", path, e);
            free(want);
        }
    }

    dlt_exec_opts ev = {.training = 0};
    memcpy(dlt_plan_data(eval, x), xd, nx * sizeof *xd);
    ck_assert_msg(dlt_plan_run(eval, &ev) == DLT_OK, "%s", dlt_errmsg());
    want = read_f32(grp, "logits_eval", &n);
    err.eval = scaled_err(dlt_plan_data(eval, logits), want, n);
    free(want);
    printf("%-15s max errors: logits train %.2g eval %.2g, loss %.2g, gradients %.2g (sum of squares %.2g), "
           "running stats %.2g; gradient error / PyTorch f32's <= %.2g\n",
           cname, err.logits, err.eval, err.loss, err.grad, err.gradsq, err.buffers, err.ratio);
    double *t32 = read_ds(grp, "torch_f32_logits_err", H5T_NATIVE_DOUBLE, sizeof(double), NULL);
    double tol_logits = fmax(TOL_OUT, TORCH_F32_FACTOR * t32[0]);
    free(t32);
    ck_assert_msg(err.logits < tol_logits, "logits (train) error %.3g (tolerance %.2g)", err.logits, tol_logits);
    ck_assert_msg(err.eval < TOL_OUT, "logits (eval) error %.3g", err.eval);
    ck_assert_msg(err.loss < TOL_OUT, "loss error %.3g", err.loss);

    free(labels);
    free(params), free(grads);
    dlt_plan_free(train), dlt_plan_free(eval);
    dlt_graph_free(g);
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("zoo");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, param_counts);
    tcase_add_loop_test(tc, names_match_torchvision, 0, (int)(sizeof name_cases / sizeof name_cases[0]));
    tcase_add_test(tc, output_shapes);
    tcase_add_test(tc, small_input_stem);
    tcase_add_test(tc, zero_init_residual);
    tcase_add_test(tc, errors);
    tcase_add_loop_test(tc, golden_vs_pytorch, 0, (int)(sizeof golden_cases / sizeof golden_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return dlt_test_run(suite()); }
