/* Tiny BERT, GPT-2 and encoder-decoder models against PyTorch
 * (tests/fixtures/transformer_make_fixtures.py): the fixture's weights are
 * loaded by name (every dltrain parameter must be in the file and the other
 * way round), then logits, loss and every parameter gradient are compared. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_test.h"
#include "dlt_transformer.h"

static dlt_transformer_spec spec_of(hid_t gr, const char *arch)
{
    dlt_transformer_spec s;
    ck_assert(dlt_transformer_spec_default(arch, &s) == DLT_OK);
    s.vocab = dlt_test_h5_attr_int(gr, "vocab");
    s.max_len = dlt_test_h5_attr_int(gr, "max_len");
    s.type_vocab = dlt_test_h5_attr_int(gr, "type_vocab");
    s.layers = dlt_test_h5_attr_int(gr, "layers");
    s.dec_layers = dlt_test_h5_attr_int(gr, "dec_layers");
    s.hidden = dlt_test_h5_attr_int(gr, "hidden");
    s.heads = dlt_test_h5_attr_int(gr, "heads");
    s.intermediate = dlt_test_h5_attr_int(gr, "intermediate");
    s.hidden_dropout = s.attn_dropout = 0;
    return s;
}

typedef struct {
    const char *name;
    dlt_t v;
} named;

/* Builds loss + gradients, loads the fixture's parameters and inputs, runs,
 * and compares `outs` (fixture names) and every gradient. */
static void run_and_compare(dlt_graph *g, hid_t gr, const char *model, dlt_t loss, int nin,
                            const named *ins, int nout, const named *outs)
{
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_grad_params(g, loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    int nall = 1 + nout + np;
    dlt_t *all = malloc((size_t)nall * sizeof *all);
    all[0] = loss;
    for (int i = 0; i < nout; i++)
        all[1 + i] = outs[i].v;
    memcpy(all + 1 + nout, grads, (size_t)np * sizeof *grads);
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, nall, all, NULL, &p) == DLT_OK, "%s", dlt_errmsg());

    hid_t pg = H5Gopen2(gr, "params", H5P_DEFAULT);
    H5G_info_t info;
    H5Gget_info(pg, &info);
    ck_assert_msg((int)info.nlinks == dlt_num_params(g),
                  "%s: %d parameters in the fixture, %d in the model", model, (int)info.nlinks,
                  dlt_num_params(g));
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        dlt_test_h5_read(pg, pi->name, H5T_NATIVE_FLOAT, dlt_params_data(g) + pi->offset, pi->numel);
    }
    H5Gclose(pg);
    for (int i = 0; i < nin; i++) {
        const dlt_shape *s = dlt_shape_of(g, ins[i].v);
        dlt_test_h5_read(gr, ins[i].name, s->dtype == DLT_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT,
               dlt_plan_data(p, ins[i].v), (size_t)dlt_shape_numel(s));
    }
    dlt_exec_opts eo = {.training = 1}; /* dropouts are 0: training mode must match too */
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    float want_loss;
    dlt_test_h5_read(gr, "loss", H5T_NATIVE_FLOAT, &want_loss, 1);
    float got_loss = *(const float *)dlt_plan_data(p, loss);
    double el = fabs(got_loss - want_loss) / fabs(want_loss);
    printf("%s: loss %.7f (torch %.7f, rel err %.1e)\n", model, (double)got_loss, (double)want_loss,
           el);
    ck_assert_msg(el < 1e-5, "%s loss: %g vs %g", model, (double)got_loss, (double)want_loss);

    /* Forward: logits are O(1..10) sums of O(1) terms whose f32 rounding
     * leaves ~3e-6 absolute error (PyTorch itself in f32 is 3.1e-6 from these
     * double-precision goldens); entries below a tenth of the tensor's largest
     * are measured against that tenth (torch f32 then scores 2.6e-6). */
    for (int i = 0; i < nout; i++) {
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, outs[i].v));
        float *want = malloc(n * sizeof *want);
        dlt_test_h5_read(gr, outs[i].name, H5T_NATIVE_FLOAT, want, n);
        double mx = 0;
        for (size_t j = 0; j < n; j++)
            mx = fabs(want[j]) > mx ? fabs(want[j]) : mx;
        double e = dlt_test_max_relerr(dlt_plan_data(p, outs[i].v), want, n, 0.1 * mx);
        printf("%s: %-12s max rel err %.2e\n", model, outs[i].name, e);
        ck_assert_msg(e < 1e-5, "%s %s: max rel err %g", model, outs[i].name, e);
        free(want);
    }
    /* Gradients: f32 backward through softmax, LayerNorm and GELU chains with
     * cancelling sums (LayerNorm's mean-subtracting backward, softmax's
     * P (dP - D)) gives ~1e-6..1e-5 relative (PyTorch in f32: 3.5e-5 at a
     * floor of 1e-2 of each tensor's largest gradient). Hence 1e-4 with that
     * floor, and at least 1e-3 of the largest gradient of the whole model:
     * the key biases' true gradient is exactly 0 (softmax ignores a shift
     * shared by a row), so only f32 noise remains there. */
    hid_t gg = H5Gopen2(gr, "grads", H5P_DEFAULT);
    float **want = malloc((size_t)np * sizeof *want);
    double gmax = 0, worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < np; i++) {
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, params[i]));
        want[i] = malloc(n * sizeof **want);
        dlt_test_h5_read(gg, dlt_name_of(g, params[i]), H5T_NATIVE_FLOAT, want[i], n);
        for (size_t j = 0; j < n; j++)
            gmax = fabs(want[i][j]) > gmax ? fabs(want[i][j]) : gmax;
    }
    for (int i = 0; i < np; i++) {
        const char *name = dlt_name_of(g, params[i]);
        size_t n = (size_t)dlt_shape_numel(dlt_shape_of(g, params[i]));
        double mx = 0;
        for (size_t j = 0; j < n; j++)
            mx = fabs(want[i][j]) > mx ? fabs(want[i][j]) : mx;
        double fl = 1e-2 * mx > 1e-3 * gmax ? 1e-2 * mx : 1e-3 * gmax;
        double e = dlt_test_max_relerr(dlt_plan_data(p, grads[i]), want[i], n, fl);
        if (e >= worst)
            worst = e, worst_name = name;
        ck_assert_msg(e < 1e-4, "%s grad %s: max rel err %g", model, name, e);
        free(want[i]);
    }
    free(want);
    printf("%s: %d parameter gradients, worst max rel err %.2e (%s)\n", model, np, worst,
           worst_name);
    H5Gclose(gg);
    free(all), free(params), free(grads);
    dlt_plan_free(p);
}

START_TEST(bert_matches_torch)
{
    hid_t f = dlt_test_fixture_open("transformer_golden.h5"), gr = H5Gopen2(f, "bert", H5P_DEFAULT);
    dlt_transformer_spec s = spec_of(gr, "bert-tiny");
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {2, 8};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d), tt = dlt_input(g, "token_types", DLT_I32, 2, d);
    dlt_t mask = dlt_input(g, "mask", DLT_I32, 2, d),
          mlm_y = dlt_input(g, "mlm_labels", DLT_I32, 2, d);
    dlt_t nsp_y = dlt_input(g, "nsp_labels", DLT_I32, 1, d);
    dlt_bert_out o;
    dlt_bert(g, &s, ids, tt, mask, DLT_BERT_PRETRAIN, &o);
    dlt_t loss = dlt_add(g, dlt_mlm_loss(g, o.mlm_logits, mlm_y, DLT_REDUCE_MEAN),
                         dlt_nsp_loss(g, o.nsp_logits, nsp_y, DLT_REDUCE_MEAN));
    named ins[] = {{"ids", ids},
                   {"token_types", tt},
                   {"mask", mask},
                   {"mlm_labels", mlm_y},
                   {"nsp_labels", nsp_y}};
    named outs[] = {
        {"mlm_logits", o.mlm_logits}, {"nsp_logits", o.nsp_logits}, {"sequence", o.sequence}};
    run_and_compare(g, gr, "bert", loss, 5, ins, 3, outs);
    dlt_graph_free(g);
    H5Gclose(gr);
    H5Fclose(f);
}
END_TEST

START_TEST(gpt_matches_torch)
{
    hid_t f = dlt_test_fixture_open("transformer_golden.h5"), gr = H5Gopen2(f, "gpt", H5P_DEFAULT);
    dlt_transformer_spec s = spec_of(gr, "gpt-tiny");
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {2, 8};
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d);
    dlt_t logits = dlt_gpt(g, &s, ids, NULL);
    dlt_t loss = dlt_causal_lm_loss(g, logits, ids, DLT_REDUCE_MEAN);
    named ins[] = {{"ids", ids}}, outs[] = {{"logits", logits}};
    run_and_compare(g, gr, "gpt", loss, 1, ins, 1, outs);
    dlt_graph_free(g);
    H5Gclose(gr);
    H5Fclose(f);
}
END_TEST

START_TEST(seq2seq_matches_torch)
{
    hid_t f = dlt_test_fixture_open("transformer_golden.h5"), gr = H5Gopen2(f, "seq2seq", H5P_DEFAULT);
    dlt_transformer_spec s = spec_of(gr, "transformer-tiny");
    dlt_graph *g = dlt_graph_create(1);
    int64_t ds[2] = {2, 7}, dt[2] = {2, 6};
    dlt_t src = dlt_input(g, "src", DLT_I32, 2, ds), len = dlt_input(g, "src_len", DLT_I32, 1, ds);
    dlt_t tgt = dlt_input(g, "tgt", DLT_I32, 2, dt), lab = dlt_input(g, "labels", DLT_I32, 2, dt);
    dlt_t logits = dlt_seq2seq(g, &s, src, len, tgt);
    dlt_t loss = dlt_token_loss(g, logits, lab, DLT_REDUCE_MEAN);
    named ins[] = {{"src", src}, {"src_len", len}, {"tgt", tgt}, {"labels", lab}},
          outs[] = {{"logits", logits}};
    run_and_compare(g, gr, "seq2seq", loss, 4, ins, 1, outs);
    dlt_graph_free(g);
    H5Gclose(gr);
    H5Fclose(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("transformer_torch");
    TCase *t = tcase_create("transformer_torch");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, bert_matches_torch);
    tcase_add_test(t, gpt_matches_torch);
    tcase_add_test(t, seq2seq_matches_torch);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
