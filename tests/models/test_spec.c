/* Child networks from a spec (src/models/spec.c, spec_text.c,
 * src/train/spec_toml.c): the [model.spec] reader (a good spec to its
 * struct, each bad case to its one line), the shape checks, the parameter
 * count against a hand count, the output shapes, FLOPs against the convs'
 * multiply-adds, the writers read back, random specs, the job path
 * (model.arch = "spec" through the model registry) and 50 random children
 * built, planned, run forward and backward and freed (the suite runs under
 * ASan, which catches a leak). PyTorch numerics: test_spec_torch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_spec_toml.h"
#include "dlt_test.h"

/* Reads `text` (a job-file body holding [model.spec]) as file "job.toml". */
static dlt_status parse(const char *text, dlt_spec *s)
{
    dlt_toml_value *t = NULL;
    ck_assert_msg(dlt_toml_parse(text, strlen(text), &t) == DLT_OK, "%s", dlt_errmsg());
    dlt_status st = dlt_spec_from_toml(dlt_toml_find(t, "model.spec"), "job.toml", s);
    dlt_toml_free(t);
    return st;
}

/* The message of a refused spec: exactly `want`, one line. */
static void refused(const char *text, const char *want)
{
    dlt_spec s;
    ck_assert_msg(parse(text, &s) == DLT_ERR_INVALID, "accepted: %s", text);
    ck_assert_msg(!strchr(dlt_errmsg(), '\n'), "not one line: %s", dlt_errmsg());
    ck_assert_str_eq(dlt_errmsg(), want);
}

START_TEST(test_parse_good)
{
    static const char *const text =
        "[model.spec]\n"
        "stem_filters = 32\n"
        "layers = [\n"
        "  { kernel = 3, filters = 36 },\n"
        "  { kernel_h = 5, kernel_w = 1, filters = 48, stride = 2 },\n"
        "  { op = \"sepconv\", kernel = 7, filters = 24, skip = [0] },\n"
        "  { op = \"maxpool\", kernel = 3, filters = 64, skip = [1, 0] },\n"
        "]\n";
    dlt_spec s;
    ck_assert_msg(parse(text, &s) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(s.nlayers, 4);
    ck_assert_int_eq(s.stem_filters, 32);
    const dlt_spec_layer want[4] = {{DLT_SPEC_CONV, 3, 3, 36, 1, 0},
                                    {DLT_SPEC_CONV, 5, 1, 48, 2, 0},
                                    {DLT_SPEC_SEPCONV, 7, 7, 24, 1, 1},
                                    {DLT_SPEC_MAXPOOL, 3, 3, 64, 1, 3}};
    for (int i = 0; i < 4; i++) {
        const dlt_spec_layer *l = &s.layer[i];
        ck_assert_int_eq(l->op, want[i].op);
        ck_assert_int_eq(l->kernel_h, want[i].kernel_h);
        ck_assert_int_eq(l->kernel_w, want[i].kernel_w);
        ck_assert_int_eq(l->filters, want[i].filters);
        ck_assert_int_eq(l->stride, want[i].stride);
        ck_assert_uint_eq(l->skip, want[i].skip);
    }
    /* the same as an array of tables */
    static const char *const aot =
        "[model.spec]\nstem_filters = 32\n"
        "[[model.spec.layers]]\nkernel = 3\nfilters = 36\n"
        "[[model.spec.layers]]\nkernel_h = 5\nkernel_w = 1\nfilters = 48\nstride = 2\n"
        "[[model.spec.layers]]\nop = \"sepconv\"\nkernel = 7\nfilters = 24\nskip = [0]\n"
        "[[model.spec.layers]]\nop = \"maxpool\"\nkernel = 3\nfilters = 64\nskip = [0, 1]\n";
    dlt_spec s2;
    ck_assert_msg(parse(aot, &s2) == DLT_OK, "%s", dlt_errmsg());
    ck_assert(memcmp(&s, &s2, sizeof s) == 0);
}
END_TEST

START_TEST(test_parse_bad)
{
    /* line 1 is [model.spec]; the layers start on line 3 */
#define HEAD "[model.spec]\nlayers = [\n"
    refused(
        HEAD
        "{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8 },\n"
        "{ kernel = 3, filters = 8, skip = [5] }]\n",
        "job.toml:6: model.spec.layers[3].skip[0] = 5: a skip must name an earlier layer (0..1; "
        "the previous "
        "layer is always the input)");
    refused(HEAD "{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8 },\n"
                 "{ kernel = 3, filters = 8, skip = [0, 2] }]\n",
            "job.toml:5: model.spec.layers[2].skip[1] = 2: a skip must name an earlier layer "
            "(0..0; the previous "
            "layer is always the input)");
    refused(HEAD "{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8, skip = [0] }]\n",
            "job.toml:4: model.spec.layers[1].skip[0] = 0: layer 1 can skip from no layer (the "
            "previous layer is "
            "always the input)");
    refused(
        HEAD
        "{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8 },\n{ kernel = 3, filters = 8 },\n"
        "{ kernel = 3, filters = 8, skip = [1, 1] }]\n",
        "job.toml:6: model.spec.layers[3].skip[1] = 1: layer 1 is named twice");
    refused(HEAD "{ kernel = 0, filters = 8 }]\n",
            "job.toml:3: model.spec.layers[0].kernel = 0: must be odd, 1..15 (\"same\" padding)");
    refused(HEAD "{ kernel = 3, filters = 8 },\n{ kernel_h = 4, kernel_w = 3, filters = 8 }]\n",
            "job.toml:4: model.spec.layers[1].kernel_h = 4: must be odd, 1..15 (\"same\" padding)");
    refused(HEAD "{ kernel = 3, filters = 0 }]\n",
            "job.toml:3: model.spec.layers[0].filters = 0: must be 1..4096");
    refused(HEAD "{ kernel = 3, filters = 8, stride = 0 }]\n",
            "job.toml:3: model.spec.layers[0].stride = 0: must be 1..4");
    refused(HEAD "{ kernel = 3 }]\n", "job.toml:3: model.spec.layers[0]: missing filters");
    refused(HEAD "{ filters = 3 }]\n",
            "job.toml:3: model.spec.layers[0]: missing kernel (or kernel_h and kernel_w)");
    refused(HEAD "{ kernel = 3, kernel_w = 3, filters = 3 }]\n",
            "job.toml:3: model.spec.layers[0]: give kernel, or kernel_h and kernel_w, not both");
    refused(HEAD "{ kernel = 3, filter = 3 }]\n",
            "job.toml:3: model.spec.layers[0].filter: unknown key (a layer has op, kernel, "
            "kernel_h, kernel_w, "
            "filters, stride, skip)");
    refused(HEAD "{ op = \"conv7\", kernel = 3, filters = 3 }]\n",
            "job.toml:3: model.spec.layers[0].op must be one of conv, sepconv, maxpool, avgpool "
            "(got \"conv7\")");
    refused(HEAD "{ kernel = 3.0, filters = 3 }]\n",
            "job.toml:3: model.spec.layers[0].kernel must be an integer (got a float)");
    refused(HEAD "3]\n",
            "job.toml:3: model.spec.layers[0] must be a table such as { kernel = 3, filters = 36 } "
            "(got an integer)");
    refused("[model.spec]\nlayers = []\n",
            "job.toml:2: model.spec.layers: 0 layers; a spec has 1..64");
    refused("[model.spec]\nstem_filters = 8\n",
            "job.toml:1: model.spec.layers: missing (a list of layers, e.g. "
            "[{ kernel = 3, filters = 36 }])");
    refused("[model.spec]\nstem = 8\nlayers = []\n",
            "job.toml:2: model.spec.stem: unknown key (a spec has stem_filters, layers)");
    /* too many layers */
    char big[8192];
    size_t o = (size_t)snprintf(big, sizeof big, "[model.spec]\nlayers = [\n");
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "{ kernel = 1, filters = 2 },\n");
    snprintf(big + o, sizeof big - o, "]\n");
    refused(big, "job.toml:2: model.spec.layers: 65 layers; a spec has 1..64");
#undef HEAD
}
END_TEST

/* In-memory specs (the controller's) meet the same rules in dlt_spec_check,
 * and the shape rules in dlt_spec_check_shape. */
START_TEST(test_check_struct)
{
    dlt_spec s = {.nlayers = 3};
    for (int i = 0; i < 3; i++)
        s.layer[i] = (dlt_spec_layer){DLT_SPEC_CONV, 3, 3, 8, 2, 0};
    ck_assert_int_eq(dlt_spec_check(&s), DLT_OK);
    int oh, ow;
    ck_assert_int_eq(dlt_spec_check_shape(&s, 1, 28, 20, &oh, &ow), DLT_OK);
    ck_assert_int_eq(oh, 4); /* 28 -> 14 -> 7 -> 4 */
    ck_assert_int_eq(ow, 3); /* 20 -> 10 -> 5 -> 3 */
    /* 5x5 -> 3x3 -> 2x2 -> 1x1, and a fourth stride has nothing left */
    ck_assert_int_eq(dlt_spec_check_shape(&s, 1, 5, 5, NULL, NULL), DLT_OK);
    s.nlayers = 4;
    s.layer[3] = s.layer[0];
    ck_assert_int_eq(dlt_spec_check_shape(&s, 1, 5, 5, NULL, NULL), DLT_ERR_SHAPE);
    ck_assert_str_eq(
        dlt_errmsg(),
        "model.spec.layers[3].stride = 2: the image is 1x1 here (5x5 at the input); the "
        "strides would collapse it below 1x1");
    s.layer[3].stride = 1;
    s.layer[2].skip = 1ULL << 2; /* the same layer */
    ck_assert_int_eq(dlt_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(
        dlt_errmsg(),
        "model.spec.layers[2].skip names layer 2: a skip must name an earlier layer (0..0; "
        "the previous layer is always the input)");
    s.layer[2].skip = 0;
    s.layer[3].skip = 1ULL << 9; /* a later layer */
    ck_assert_int_eq(dlt_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(
        dlt_errmsg(),
        "model.spec.layers[3].skip names layer 9: a skip must name an earlier layer (0..1; "
        "the previous layer is always the input)");
    s.layer[3].skip = 0;
    s.layer[1].kernel_w = 0;
    ck_assert_int_eq(dlt_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(),
                     "model.spec.layers[1].kernel_w = 0: must be odd, 1..15 (\"same\" padding)");
    s.layer[1].kernel_w = 3;
    s.layer[0].filters = 0;
    ck_assert_int_eq(dlt_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "model.spec.layers[0].filters = 0: must be 1..4096");
    s.layer[0].filters = 8;
    s.nlayers = 65;
    ck_assert_int_eq(dlt_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "model.spec.layers: 65 layers; a spec has 1..64");
    /* the builder refuses with the same line, recorded in the graph */
    s.nlayers = 4;
    s.layer[3].stride = 2;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, 1, 5, 5};
    dlt_t y = dlt_spec_build(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), 10, 0.1f, 1e-5f, NULL);
    ck_assert_int_eq(y, -1);
    ck_assert_str_eq(dlt_graph_errmsg(g),
                     "model.spec.layers[3].stride = 2: the image is 1x1 here (5x5 at the input); "
                     "the strides would collapse it below 1x1");
    dlt_graph_free(g);
}
END_TEST

static int64_t count_params(const dlt_graph *g)
{
    int64_t n = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            n += dlt_shape_numel(dlt_shape_of(g, v));
    return n;
}

/* Parameters by hand, output shapes, FLOPs against the convs' multiply-adds. */
START_TEST(test_count_and_shapes)
{
    /* stem 8; L0 conv 3x3 -> 12 (28x28); L1 conv 5x3 -> 16, stride 2 (14x14);
     * L2 sepconv 3x3 -> 10 on [16 + 12] (14x14); L3 avgpool 3x3 -> 6, stride 2
     * on [10 + 16] (7x7); L4 conv 1x1 -> 20 on [6 + 12 + 10] (7x7) */
    dlt_spec s = {.nlayers = 5, .stem_filters = 8};
    s.layer[0] = (dlt_spec_layer){DLT_SPEC_CONV, 3, 3, 12, 1, 0};
    s.layer[1] = (dlt_spec_layer){DLT_SPEC_CONV, 5, 3, 16, 2, 0};
    s.layer[2] = (dlt_spec_layer){DLT_SPEC_SEPCONV, 3, 3, 10, 1, 1};
    s.layer[3] = (dlt_spec_layer){DLT_SPEC_AVGPOOL, 3, 3, 6, 2, 2};
    s.layer[4] = (dlt_spec_layer){DLT_SPEC_CONV, 1, 1, 20, 1, 1 | 4};
    int64_t bn = 0, want = 0;
    want += 8 * 1 * 9, bn += 8;         /* stem */
    want += 12 * 8 * 9, bn += 12;       /* L0 */
    want += 16 * 12 * 15, bn += 16;     /* L1 */
    want += 28 * 9 + 10 * 28, bn += 10; /* L2: depthwise on 28 channels, pointwise */
    want += 6 * 26, bn += 6;            /* L3: the 1x1 before the pool */
    want += 20 * 28, bn += 20;          /* L4 */
    want += 2 * bn + 10 * 20 + 10;      /* BN scale and shift; fc */
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {3, 1, 28, 28};
    dlt_t feat,
        y = dlt_spec_build(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), 10, 0.1f, 1e-5f, &feat);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(count_params(g), want);
    const dlt_shape *ys = dlt_shape_of(g, y), *fs = dlt_shape_of(g, feat);
    ck_assert_int_eq(ys->ndim, 2);
    ck_assert_int_eq(ys->dim[0], 3);
    ck_assert_int_eq(ys->dim[1], 10);
    ck_assert_int_eq(fs->dim[1], 20);
    dlt_t conv4 = dlt_param_lookup(g, "layers.4.conv.weight");
    ck_assert_int_ge(conv4, 0);
    ck_assert_int_eq(dlt_shape_of(g, conv4)->dim[1], 28);
    dlt_graph_free(g);

    int64_t params;
    double flops;
    ck_assert_int_eq(dlt_spec_measure(&s, 1, 28, 28, 10, &params, &flops), DLT_OK);
    ck_assert_int_eq(params, want);
    /* 2 x multiply-adds of the convs and the classifier; batch norm, ReLU,
     * pooling and concatenation add a little on top */
    double macs = 8 * 9.0 * 784 + 12 * 8 * 9.0 * 784 + 16 * 12 * 15.0 * 196 +
                  (28 * 9.0 + 28 * 10) * 196 + 6 * 26.0 * 196 + 20 * 28.0 * 49 + 200;
    printf("hand count %lld parameters; FLOPs %.0f (convs and fc: %.0f)\n", (long long)want, flops,
           2 * macs);
    ck_assert_msg(flops >= 2 * macs && flops < 2.5 * macs, "flops %.0f, convs %.0f", flops,
                  2 * macs);
}
END_TEST

/* The writers read back to the same spec: the job file, the inline table
 * (--set), and a base job with the spec put in. */
START_TEST(test_write_read)
{
    dlt_spec_space sp;
    dlt_spec_space_default(&sp);
    sp.enas_ops = 1, sp.stem_filters = 16, sp.nstrides = 2, sp.strides[1] = 2;
    dlt_spec s, back;
    ck_assert_int_eq(dlt_spec_random(&sp, 7, 28, 28, &s), DLT_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    ck_assert_int_eq(dlt_spec_write_toml(m, &s), DLT_OK);
    fclose(m);
    dlt_job *job;
    ck_assert_int_eq(dlt_job_new(&job), DLT_OK);
    ck_assert_msg(dlt_job_load(job, "best.toml", text, len) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_str_eq(dlt_job_string(job, "model.arch"), "spec");
    ck_assert_msg(dlt_spec_from_job(job, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert(memcmp(&s, &back, sizeof s) == 0);
    free(text);

    /* inline, through --set */
    char inl[4096], set[4200];
    ck_assert_int_lt(dlt_spec_snprint(inl, sizeof inl, &s), (int)sizeof inl);
    snprintf(set, sizeof set, "model.spec=%s", inl);
    dlt_job *j2;
    ck_assert_int_eq(dlt_job_new(&j2), DLT_OK);
    ck_assert_msg(dlt_job_set(j2, set) == DLT_OK, "%s", dlt_errmsg());
    memset(&back, 0, sizeof back);
    ck_assert_msg(dlt_spec_from_job(j2, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert(memcmp(&s, &back, sizeof s) == 0);
    /* a bad --set names no line */
    ck_assert_int_eq(dlt_job_set(j2, "model.spec={ layers = [{ kernel = 2, filters = 3 }] }"),
                     DLT_OK);
    ck_assert_int_eq(dlt_spec_from_job(j2, &back), DLT_ERR_INVALID);
    ck_assert_str_eq(
        dlt_errmsg(),
        "--set: model.spec.layers[0].kernel = 2: must be odd, 1..15 (\"same\" padding)");
    dlt_job_free(j2);

    /* a base job keeps its other keys */
    ck_assert_int_eq(dlt_job_set(job, "optim.lr=0.125"), DLT_OK);
    ck_assert_int_eq(dlt_job_set(job, "model.arch=resnet20"), DLT_OK);
    text = NULL;
    m = open_memstream(&text, &len);
    ck_assert_msg(dlt_spec_write_job(m, job, &s) == DLT_OK, "%s", dlt_errmsg());
    fclose(m);
    dlt_job *j3;
    ck_assert_int_eq(dlt_job_new(&j3), DLT_OK);
    ck_assert_msg(dlt_job_load(j3, "retrain.toml", text, len) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_str_eq(dlt_job_string(j3, "model.arch"), "spec");
    ck_assert(dlt_job_float(j3, "optim.lr") == 0.125);
    ck_assert_msg(dlt_spec_from_job(j3, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert(memcmp(&s, &back, sizeof s) == 0);
    free(text);
    dlt_job_free(j3);
    dlt_job_free(job);

    /* the longest layer line: 64 layers, the last skipping from all 62 it may */
    dlt_spec big = {.nlayers = 64};
    for (int i = 0; i < 64; i++)
        big.layer[i] = (dlt_spec_layer){DLT_SPEC_AVGPOOL, 15, 13, 4096, 1, 0};
    big.layer[63].skip = (1ULL << 62) - 1;
    text = NULL;
    m = open_memstream(&text, &len);
    ck_assert_int_eq(dlt_spec_write_toml(m, &big), DLT_OK);
    fclose(m);
    ck_assert_int_eq(dlt_job_new(&job), DLT_OK);
    ck_assert_msg(dlt_job_load(job, "big.toml", text, len) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_msg(dlt_spec_from_job(job, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert(memcmp(&big, &back, sizeof big) == 0);
    free(text);
    dlt_job_free(job);
}
END_TEST

/* A job's spec error names the file and line of the element. */
START_TEST(test_job_error_line)
{
    static const char *const text =
        "[model]\narch = \"spec\"\n\n[model.spec]\nlayers = [\n"
        "  { kernel = 3, filters = 8 },\n  { kernel = 3, filters = 8, skip = [1] },\n]\n";
    dlt_job *job;
    ck_assert_int_eq(dlt_job_new(&job), DLT_OK);
    ck_assert_msg(dlt_job_load(job, "jobs/x.toml", text, strlen(text)) == DLT_OK, "%s",
                  dlt_errmsg());
    dlt_spec s;
    ck_assert_int_eq(dlt_spec_from_job(job, &s), DLT_ERR_INVALID);
    ck_assert_str_eq(
        dlt_errmsg(),
        "jobs/x.toml:7: model.spec.layers[1].skip[0] = 1: layer 1 can skip from no layer "
        "(the previous layer is always the input)");
    /* a table is required: model.spec = 3 is the job's error */
    ck_assert_int_eq(dlt_job_load(job, "jobs/y.toml", "[model]\nspec = 3\n", 17), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "jobs/y.toml:2: model.spec must be a table (got 3)");
    dlt_job_free(job);
}
END_TEST

START_TEST(test_random)
{
    dlt_spec_space sp;
    dlt_spec_space_default(&sp);
    sp.nstrides = 2, sp.strides[1] = 2, sp.enas_ops = 1, sp.nlayers = 20;
    dlt_spec a, b;
    int differ = 0, skips = 0, strided = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        ck_assert_int_eq(dlt_spec_random(&sp, seed, 8, 8, &a), DLT_OK);
        ck_assert_int_eq(dlt_spec_random(&sp, seed, 8, 8, &b), DLT_OK);
        ck_assert(memcmp(&a, &b, sizeof a) == 0); /* the seed alone decides */
        ck_assert_int_eq(dlt_spec_check_shape(&a, 1, 8, 8, NULL, NULL), DLT_OK);
        dlt_spec c;
        dlt_spec_random(&sp, seed + 100, 8, 8, &c);
        differ += memcmp(&a, &c, sizeof a) != 0;
        for (int i = 0; i < a.nlayers; i++)
            skips += a.layer[i].skip != 0, strided += a.layer[i].stride > 1;
    }
    ck_assert_int_eq(differ, 20);
    ck_assert_int_gt(skips, 20);
    /* an 8x8 image has room for three halvings only */
    ck_assert_int_le(strided, 20 * 3);
    ck_assert_int_gt(strided, 20);
}
END_TEST

/* model.arch = "spec" through the model registry. */
START_TEST(test_registry)
{
    dlt_model_spec ms;
    ck_assert_int_eq(dlt_model_spec_default("spec", &ms), DLT_OK);
    ck_assert_str_eq(dlt_arch_families("spec"), "classifier spec");
    ms.net.nlayers = 2;
    ms.net.layer[0] = (dlt_spec_layer){DLT_SPEC_CONV, 3, 3, 4, 2, 0};
    ms.net.layer[1] = (dlt_spec_layer){DLT_SPEC_CONV, 3, 3, 6, 1, 0};
    ms.in_channels = 1, ms.in_h = 12, ms.in_w = 12, ms.num_classes = 7;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, 1, 12, 12};
    dlt_t feat, y = dlt_model_classifier_features(g, &ms, dlt_input(g, "x", DLT_F32, 4, xs), &feat);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(dlt_shape_of(g, y)->dim[1], 7);
    ck_assert_int_eq(dlt_shape_of(g, feat)->dim[1], 6);
    ck_assert_int_eq(count_params(g), 4 * 9 + 6 * 4 * 9 + 2 * (4 + 6) + 7 * 6 + 7);
    dlt_graph_free(g);
    /* an empty spec (the default) is refused, not built */
    dlt_model_spec_default("spec", &ms);
    ms.in_channels = 1, ms.in_h = 12, ms.in_w = 12;
    g = dlt_graph_create(1);
    ck_assert_int_eq(dlt_model_classifier(g, &ms, dlt_input(g, "x", DLT_F32, 4, xs)), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "model.spec.layers: 0 layers; a spec has 1..64");
    dlt_graph_free(g);
}
END_TEST

/* 50 random children: build, backward, plan, one training step, free. Under
 * ASan (the suite's default) any leak fails the test. */
START_TEST(test_children)
{
    dlt_spec_space sp;
    dlt_spec_space_default(&sp);
    sp.nlayers = 6, sp.nfilters = 3, sp.filters[0] = 4, sp.filters[1] = 6, sp.filters[2] = 8;
    sp.nstrides = 2, sp.strides[1] = 2, sp.enas_ops = 1;
    int64_t total = 0;
    for (uint64_t seed = 0; seed < 50; seed++) {
        dlt_spec s;
        ck_assert_int_eq(dlt_spec_random(&sp, seed, 12, 12, &s), DLT_OK);
        dlt_graph *g = dlt_graph_create(seed);
        int64_t xs[4] = {2, 1, 12, 12}, ls[1] = {2};
        dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs), lab = dlt_input(g, "labels", DLT_I32, 1, ls);
        dlt_t logits = dlt_spec_build(g, &s, x, 10, 0.1f, 1e-5f, NULL);
        dlt_t loss = dlt_cross_entropy(g, logits, lab, -100, 0.f, DLT_REDUCE_MEAN);
        ck_assert_msg(dlt_graph_status(g) == DLT_OK, "seed %d: %s", (int)seed, dlt_graph_errmsg(g));
        int np;
        dlt_t *params, *grads;
        ck_assert_int_eq(dlt_grad_params(g, loss, &np, &params, &grads), DLT_OK);
        dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
        dlt_plan *p;
        ck_assert_msg(dlt_plan_create(g, 1, &loss, &po, &p) == DLT_OK, "%s", dlt_errmsg());
        dlt_test_fill_uniform(dlt_plan_data(p, x), 2 * 144, -1, 1, seed);
        int32_t *l = dlt_plan_data(p, lab);
        l[0] = 3, l[1] = 7;
        dlt_exec_opts eo = {.training = 1};
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
        float L = *(float *)dlt_plan_data(p, loss);
        /* ln 10 at the start, give or take the random head */
        ck_assert_msg(L > 0.5f && L < 10.f, "seed %d: loss %g", (int)seed, L);
        total += count_params(g);
        free(params);
        free(grads);
        dlt_plan_free(p);
        dlt_graph_free(g);
    }
    ck_assert_int_gt(total, 50 * 100);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_check_struct);
    tcase_add_test(tc, test_count_and_shapes);
    tcase_add_test(tc, test_write_read);
    tcase_add_test(tc, test_job_error_line);
    tcase_add_test(tc, test_random);
    tcase_add_test(tc, test_registry);
    tcase_add_test(tc, test_children);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
