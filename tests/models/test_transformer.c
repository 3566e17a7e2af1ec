/* Transformer builders: parameter counts against closed-form formulas (and
 * the published GPT-2 / BERT numbers), output shapes, parameter names,
 * spec and input errors, a few SGD steps lowering the loss with dropout on, and
 * BERT's MLM head at the masked positions only against the all-positions one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_test.h"
#include "dlt_transformer.h"

/* Per layer of BERT or GPT-2: four C x C attention projections, the C x 4C
 * and 4C x C MLP and two LayerNorms: 12 C^2 + 13 C (with intermediate 4C). */
static int64_t block_params(int64_t C, int64_t F)
{
    return 4 * C * C + 4 * C + 2 * C * F + F + C + 4 * C;
}

static int64_t gpt_formula(const dlt_transformer_spec *s)
{
    int64_t C = s->hidden;
    return (int64_t)s->vocab * C + (int64_t)s->max_len * C +
           s->layers * block_params(C, s->intermediate) + 2 * C;
}

static int64_t bert_formula(const dlt_transformer_spec *s, int heads)
{
    int64_t C = s->hidden, V = s->vocab;
    int64_t n = V * C + (int64_t)s->max_len * C + (int64_t)s->type_vocab * C + 2 * C;
    n += s->layers * block_params(C, s->intermediate);
    if (heads & (DLT_BERT_POOLER | DLT_BERT_NSP))
        n += C * C + C;
    if (heads & DLT_BERT_MLM)
        n += C * C + C + 2 * C + V; /* transform dense + LayerNorm + decoder bias */
    if (heads & DLT_BERT_NSP)
        n += 2 * C + 2;
    return n;
}

static int64_t seq2seq_formula(const dlt_transformer_spec *s)
{
    int64_t C = s->hidden, F = s->intermediate;
    int64_t enc = 4 * C * C + 4 * C + 2 * C * F + F + C + 4 * C;
    int64_t dec = 8 * C * C + 8 * C + 2 * C * F + F + C + 6 * C;
    return (int64_t)s->vocab * C + s->layers * enc + s->dec_layers * dec;
}

/* Builds the model on [1, 8] ids (parameters are not allocated before a plan). */
static int64_t count(const char *arch, int heads)
{
    dlt_transformer_spec s;
    ck_assert(dlt_transformer_spec_default(arch, &s) == DLT_OK);
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {1, 8};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d);
    dlt_bert_out o;
    if (s.family == DLT_TF_BERT)
        dlt_bert(g, &s, ids, -1, -1, heads, &o);
    else if (s.family == DLT_TF_GPT)
        dlt_gpt(g, &s, ids, NULL);
    else
        dlt_seq2seq(g, &s, ids, -1, ids);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    int64_t n = dlt_count_params(g);
    int64_t want = s.family == DLT_TF_BERT  ? bert_formula(&s, heads)
                   : s.family == DLT_TF_GPT ? gpt_formula(&s)
                                            : seq2seq_formula(&s);
    printf("%-18s heads %d: %lld parameters\n", arch, heads, (long long)n);
    ck_assert_msg(n == want, "%s: %lld parameters, formula %lld", arch, (long long)n,
                  (long long)want);
    dlt_graph_free(g);
    return n;
}

START_TEST(parameter_counts)
{
    /* published: GPT-2 small 124,439,808 (tied); Hugging Face BertModel
     * (with pooler) 109,482,240, BertForPreTraining 110,106,428 */
    ck_assert_int_eq(count("gpt2", 0), 124439808);
    ck_assert_int_eq(count("gpt2-medium", 0), 354823168);
    ck_assert_int_eq(count("bert-base", DLT_BERT_POOLER), 109482240);
    ck_assert_int_eq(count("bert-base", DLT_BERT_PRETRAIN), 110106428);
    ck_assert_int_eq(count("bert-base", 0), 109482240 - 768 * 768 - 768);
    ck_assert_int_eq(count("bert-large", DLT_BERT_POOLER), 335141888);
    const char *others[] = {"bert-tiny",        "bert-mini",      "bert-small", "bert-medium",
                            "gpt-tiny",         "gpt-mini",       "gpt-small",  "transformer-tiny",
                            "transformer-base", "transformer-big"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        count(others[i], DLT_BERT_PRETRAIN);
}
END_TEST

START_TEST(shapes_and_names)
{
    dlt_transformer_spec s;
    ck_assert(dlt_transformer_spec_default("bert-tiny", &s) == DLT_OK);
    ck_assert_int_eq(s.heads, 2);
    ck_assert(s.layer_norm_eps == 1e-12f);
    s.vocab = 40, s.max_len = 12;
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {3, 10};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d), len = dlt_input(g, "len", DLT_I32, 1, d);
    dlt_bert_out o;
    dlt_bert(g, &s, ids, -1, len, DLT_BERT_PRETRAIN, &o);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    char buf[64];
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, o.sequence), buf, sizeof buf), "f32[3,10,128]");
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, o.pooled), buf, sizeof buf), "f32[3,128]");
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, o.mlm_logits), buf, sizeof buf), "f32[3,10,40]");
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, o.nsp_logits), buf, sizeof buf), "f32[3,2]");
    ck_assert(dlt_param_lookup(g, "bert.encoder.layer.1.attention.self.query.weight") >= 0);
    ck_assert(dlt_param_lookup(g, "cls.predictions.transform.LayerNorm.bias") >= 0);
    dlt_graph_free(g);

    ck_assert(dlt_transformer_spec_default("gpt-tiny", &s) == DLT_OK);
    s.vocab = 30, s.max_len = 16;
    g = dlt_graph_create(1);
    ids = dlt_input(g, "ids", DLT_I32, 2, d);
    dlt_t h, logits = dlt_gpt(g, &s, ids, &h);
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, logits), buf, sizeof buf), "f32[3,10,30]");
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, h), buf, sizeof buf), "f32[3,10,128]");
    int64_t cw[2] = {128, 384};
    dlt_t w = dlt_param_lookup(g, "transformer.h.0.attn.c_attn.weight");
    ck_assert(w >= 0 && dlt_shape_of(g, w)->dim[0] == cw[0] && dlt_shape_of(g, w)->dim[1] == cw[1]);
    dlt_graph_free(g);

    ck_assert(dlt_transformer_spec_default("transformer-tiny", &s) == DLT_OK);
    s.vocab = 30;
    g = dlt_graph_create(1);
    int64_t dt[2] = {3, 4};
    ids = dlt_input(g, "src", DLT_I32, 2, d);
    dlt_t tgt = dlt_input(g, "tgt", DLT_I32, 2, dt);
    logits = dlt_seq2seq(g, &s, ids, -1, tgt);
    ck_assert_str_eq(dlt_shape_str(dlt_shape_of(g, logits), buf, sizeof buf), "f32[3,4,30]");
    ck_assert(dlt_param_lookup(g, "decoder.layers.1.multihead_attn.in_proj_weight") >= 0);
    dlt_graph_free(g);
}
END_TEST

START_TEST(errors_are_reported)
{
    dlt_transformer_spec s;
    ck_assert_int_eq(dlt_transformer_spec_default("bert-huge", &s), DLT_ERR_INVALID);
    ck_assert_msg(
        strstr(dlt_errmsg(), "unknown transformer architecture 'bert-huge' (known: bert-tiny,"),
        "%s", dlt_errmsg());
    ck_assert(dlt_transformer_spec_default("gpt-tiny", &s) == DLT_OK);
    s.heads = 3;
    ck_assert_int_eq(dlt_transformer_spec_check(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "gpt-tiny: hidden 128 is not a multiple of heads 3");

    s.heads = 2, s.max_len = 4;
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {2, 5};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d);
    ck_assert_int_eq(dlt_gpt(g, &s, ids, NULL), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "gpt-tiny: sequence length 5 exceeds max_len 4");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    s.max_len = 8;
    dlt_t f = dlt_input(g, "ids", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_gpt(g, &s, f, NULL), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "gpt-tiny: ids 'ids' must be i32 [B, T]");
    dlt_graph_free(g);

    g = dlt_graph_create(1);
    dlt_t lab = dlt_input(g, "labels", DLT_I32, 1, d);
    dlt_t logits = dlt_input(g, "logits", DLT_F32, 2, d);
    ck_assert_int_eq(dlt_causal_lm_loss(g, logits, lab, DLT_REDUCE_MEAN), -1);
    ck_assert_str_eq(dlt_graph_errmsg(g), "causal LM loss: labels must be [B, T] with T >= 2");
    dlt_graph_free(g);
}
END_TEST

/* Plain SGD on one fixed batch with dropout active: the loss must fall.
 * Checks that every builder's gradients train, in training mode. */
static void sgd_lowers_loss(const char *arch)
{
    dlt_transformer_spec s;
    ck_assert(dlt_transformer_spec_default(arch, &s) == DLT_OK);
    s.vocab = 23, s.max_len = 16, s.layers = 1, s.dec_layers = 1, s.hidden = 32, s.heads = 2;
    s.intermediate = 64;
    dlt_graph *g = dlt_graph_create(5);
    int64_t d[2] = {2, 9};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d), loss;
    if (s.family == DLT_TF_BERT) {
        dlt_bert_out o;
        dlt_bert(g, &s, ids, -1, -1, DLT_BERT_MLM, &o);
        loss = dlt_mlm_loss(g, o.mlm_logits, ids, DLT_REDUCE_MEAN);
    } else if (s.family == DLT_TF_GPT) {
        loss = dlt_causal_lm_loss(g, dlt_gpt(g, &s, ids, NULL), ids, DLT_REDUCE_MEAN);
    } else {
        loss = dlt_token_loss(g, dlt_seq2seq(g, &s, ids, -1, ids), ids, DLT_REDUCE_MEAN);
    }
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1, &loss, &po, &p) == DLT_OK, "%s", dlt_errmsg());
    int32_t *x = dlt_plan_data(p, ids);
    for (int i = 0; i < 18; i++)
        x[i] = (i * 7 + 3) % 23;
    float first = 0, last = 0;
    float *w = dlt_params_data(g), *gw = dlt_grads_data(g);
    size_t n = dlt_params_numel(g);
    for (int step = 0; step < 30; step++) {
        dlt_exec_opts eo = {.training = 1, .step = step};
        ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
        last = *(const float *)dlt_plan_data(p, loss);
        if (step == 0)
            first = last;
        for (size_t i = 0; i < n; i++)
            w[i] -= 0.05f * gw[i];
    }
    printf("%s: loss %.3f -> %.3f after 30 SGD steps\n", arch, (double)first, (double)last);
    ck_assert_msg(isfinite(last) && last < 0.7f * first, "%s: loss %g -> %g", arch, (double)first,
                  (double)last);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
}

START_TEST(training_lowers_the_loss)
{
    sgd_lowers_loss("bert-tiny");
    sgd_lowers_loss("gpt-tiny");
    sgd_lowers_loss("transformer-tiny");
}
END_TEST

/* One BERT-tiny MLM + NSP step without dropout on a fixed batch, the MLM
 * head at every position (labels [B, T]) or at P gathered slots (labels
 * [B, P]); the loss, the parameter gradients and the gathered logits
 * returned, all allocated here. */
enum { MB = 2, MT = 10, MP = 4, MV = 37 };
static const int32_t mlm_pos[MB][MP] = {{1, 6, 3, 0}, {2, 9, 0, 0}};
static const int32_t mlm_lab[MB][MP] = {{7, 19, 0, -100}, {42 % MV, 5, -100, -100}};

static float mlm_step(int gathered, float **grads, size_t *ngrads, float *logits)
{
    dlt_transformer_spec s;
    ck_assert(dlt_transformer_spec_default("bert-tiny", &s) == DLT_OK);
    s.vocab = MV, s.max_len = 16, s.hidden_dropout = s.attn_dropout = 0.f;
    dlt_graph *g = dlt_graph_create(3);
    int64_t d[2] = {MB, MT}, dp[2] = {MB, MP};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d), nsp = dlt_input(g, "nsp", DLT_I32, 1, d);
    dlt_t pos = gathered ? dlt_input(g, "pos", DLT_I32, 2, dp) : -1;
    dlt_t lab = dlt_input(g, "labels", DLT_I32, 2, gathered ? dp : d);
    dlt_bert_out o;
    dlt_bert_at(g, &s, ids, -1, -1, DLT_BERT_PRETRAIN, pos, &o);
    dlt_t loss = dlt_add(g, dlt_mlm_loss(g, o.mlm_logits, lab, DLT_REDUCE_MEAN),
                         dlt_nsp_loss(g, o.nsp_logits, nsp, DLT_REDUCE_MEAN));
    int np;
    dlt_t *params, *gr;
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &gr) == DLT_OK, "%s",
                  dlt_graph_status(g) ? dlt_graph_errmsg(g) : dlt_errmsg());
    dlt_t outs[2] = {loss, o.mlm_logits};
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = gr};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 2, outs, &po, &p) == DLT_OK, "%s", dlt_errmsg());
    int32_t *x = dlt_plan_data(p, ids), *y = dlt_plan_data(p, lab), *ns = dlt_plan_data(p, nsp);
    for (int i = 0; i < MB * MT; i++)
        x[i] = (i * 11 + 5) % MV;
    for (int i = 0; !gathered && i < MB * MT; i++)
        y[i] = -100;
    ns[0] = 0, ns[1] = 1;
    for (int b = 0; b < MB; b++)
        for (int j = 0; j < MP; j++) {
            if (gathered) {
                ((int32_t *)dlt_plan_data(p, pos))[b * MP + j] = mlm_pos[b][j];
                y[b * MP + j] = mlm_lab[b][j];
            } else if (mlm_lab[b][j] != -100) {
                y[b * MT + mlm_pos[b][j]] = mlm_lab[b][j];
            }
        }
    dlt_exec_opts eo = {.training = 1, .step = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    const float *ml = dlt_plan_data(p, o.mlm_logits);
    for (int b = 0; b < MB; b++)
        for (int j = 0; j < MP; j++)
            memcpy(logits + (b * MP + j) * MV,
                   ml + (gathered ? b * MP + j : b * MT + mlm_pos[b][j]) * MV, MV * sizeof *ml);
    float l = *(const float *)dlt_plan_data(p, loss);
    *ngrads = dlt_params_numel(g);
    *grads = malloc(*ngrads * sizeof **grads);
    memcpy(*grads, dlt_grads_data(g), *ngrads * sizeof **grads);
    if (gathered) { /* a position outside [0, T) fails the step, naming it */
        ((int32_t *)dlt_plan_data(p, pos))[3] = MT;
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_ERR_INVALID);
        ck_assert_msg(strstr(dlt_errmsg(), "index 10 at position"), "%s", dlt_errmsg());
    }
    free(params), free(gr);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return l;
}

/* The MLM head at the masked positions only gives the all-positions loss,
 * gradients and (at those positions) logits, to rounding. */
START_TEST(mlm_head_at_masked_positions)
{
    float *ga, *gm, la[MB * MP * MV], lm[MB * MP * MV];
    size_t na, nm;
    float all = mlm_step(0, &ga, &na, la), at = mlm_step(1, &gm, &nm, lm);
    printf("MLM + NSP loss: all positions %.7f, masked positions %.7f\n", (double)all, (double)at);
    ck_assert_msg(fabsf(all - at) <= 1e-6f * fabsf(all), "loss %.9g vs %.9g", (double)all, (double)at);
    ck_assert_uint_eq(na, nm);
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < na; i++) {
        gmax = fmax(gmax, fabs(ga[i]));
        dmax = fmax(dmax, fabs((double)ga[i] - gm[i]));
    }
    printf("gradients: max |g| %.3g, max difference %.3g\n", gmax, dmax);
    ck_assert_msg(gmax > 0 && dmax <= 1e-5 * gmax, "gradients differ by %g (max %g)", dmax, gmax);
    for (int i = 0; i < MB * MP * MV; i++)
        ck_assert_msg(fabsf(la[i] - lm[i]) <= 1e-5f * (1 + fabsf(la[i])), "logit %d: %g vs %g", i,
                      (double)la[i], (double)lm[i]);
    free(ga), free(gm);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("transformer");
    TCase *t = tcase_create("transformer");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, parameter_counts);
    tcase_add_test(t, shapes_and_names);
    tcase_add_test(t, errors_are_reported);
    tcase_add_test(t, training_lowers_the_loss);
    tcase_add_test(t, mlm_head_at_masked_positions);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
