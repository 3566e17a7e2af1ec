/* The recurrent layers and REINFORCE against PyTorch (tests/fixtures/rnn.h5,
 * made by tests/fixtures/rnn_make_fixtures.py): torch.nn.LSTM(5, 6, 2 layers)
 * over T = 4 steps and torch.nn.GRU(4, 5, 2 layers) over T = 5, with initial
 * states, their outputs and final states and the gradients of a fixed
 * random projection of them w.r.t. the inputs, the initial states and every
 * parameter (torch's names: lstm.weight_ih_l0, ...); and a small LSTM
 * controller unrolled step by step (dlt_nn_rnn_step, the input of step t
 * the embedding of action t - 1) whose REINFORCE loss
 * sum_t log p(a_t) (R - b) + beta sum_t entropy_t for a fixed action
 * sequence is compared, with its gradients, to torch.autograd's. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_test.h"

/* The reference is PyTorch in float64 from the same f32 values, rounded
 * once; we compute in f32 through up to 5 steps x 2 layers. Errors are
 * measured against each tensor's largest magnitude (as in
 * test_second_order_torch.c): |ours - ref| <= TOL max_j |ref_j|. f32
 * rounding gives ~1e-7 here; a wrong gate order, sign or missing term is
 * O(1) of the scale. */
#define TOL 2e-5

static size_t numel(dlt_graph *g, dlt_t v)
{
    return (size_t)dlt_shape_numel(dlt_shape_of(g, v));
}

static dlt_t constant_from(dlt_graph *g, hid_t grp, const char *path, int ndim, const int64_t *dims)
{
    dlt_shape s = dlt_shape_make(DLT_F32, ndim, dims);
    size_t n = (size_t)dlt_shape_numel(&s);
    float *d = malloc(n * sizeof *d);
    dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, d, n);
    dlt_t v = dlt_constant(g, DLT_F32, ndim, dims, d);
    free(d);
    return v;
}

/* sum(v * r) for a constant r of v's shape read from the fixture. */
static dlt_t project(dlt_graph *g, hid_t grp, dlt_t v, const char *rname)
{
    const dlt_shape *s = dlt_shape_of(g, v);
    ck_assert_ptr_nonnull(s);
    dlt_t r = constant_from(g, grp, rname, s->ndim, s->dim);
    return dlt_sum(g, dlt_mul(g, v, r), 0, NULL, 0);
}

static void compare(const char *what, const float *ours, hid_t grp, const char *path, size_t n)
{
    float *ref = malloc(n * sizeof *ref);
    dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, ref, n);
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)ref[i]));
    double err = dlt_test_max_relerr(ours, ref, n, scale > 0 ? scale : 1);
    printf("  %-24s max|ref| %-9.4g err %.2e\n", what, scale, err);
    ck_assert_msg(err <= TOL, "%s: error %g (max |ref| %g)", what, err, scale);
    free(ref);
}

/* Differentiates loss w.r.t. every f32 input and parameter, loads the
 * fixture's inputs (f32 and i32, by name) and parameters, runs, and compares
 * the loss, the named outputs and every gradient. */
static void run_and_compare(dlt_graph *g, hid_t grp, dlt_t loss, int nout, const dlt_t *outs,
                            const char *const *out_names)
{
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    int nv = dlt_graph_num_values(g), nwrt = 0;
    dlt_t *wrt = malloc((size_t)nv * sizeof *wrt),
          *all = malloc((size_t)(2 * nv + 8) * sizeof *all);
    for (dlt_t v = 0; v < nv; v++) {
        dlt_value_kind k = dlt_kind_of(g, v);
        if ((k == DLT_VAL_INPUT && dlt_shape_of(g, v)->dtype == DLT_F32) || k == DLT_VAL_PARAM)
            wrt[nwrt++] = v;
    }
    all[0] = loss;
    memcpy(all + 1, outs, (size_t)nout * sizeof *all);
    ck_assert_msg(dlt_grad(g, loss, nwrt, wrt, all + 1 + nout) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1 + nout + nwrt, all, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    char path[256];
    for (dlt_t v = 0; v < nv; v++) {
        dlt_value_kind k = dlt_kind_of(g, v);
        const dlt_shape *s = dlt_shape_of(g, v);
        if (k == DLT_VAL_PARAM) {
            snprintf(path, sizeof path, "params/%s", dlt_name_of(g, v));
            dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, dlt_param_data(g, v), numel(g, v));
        } else if (k == DLT_VAL_INPUT) {
            snprintf(path, sizeof path, "inputs/%s", dlt_name_of(g, v));
            dlt_test_h5_read(grp, path, s->dtype == DLT_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT,
                             dlt_plan_data(p, v), numel(g, v));
        }
    }
    ck_assert_msg(dlt_plan_run(p, NULL) == DLT_OK, "%s", dlt_errmsg());
    compare("loss", dlt_plan_data(p, loss), grp, "loss", 1);
    for (int i = 0; i < nout; i++) {
        snprintf(path, sizeof path, "out/%s", out_names[i]);
        compare(path, dlt_plan_data(p, outs[i]), grp, path, numel(g, outs[i]));
    }
    for (int i = 0; i < nwrt; i++) {
        snprintf(path, sizeof path, "grad/%s", dlt_name_of(g, wrt[i]));
        compare(path, dlt_plan_data(p, all[1 + nout + i]), grp, path, numel(g, wrt[i]));
    }
    dlt_plan_free(p);
    free(wrt);
    free(all);
}

static void check_recurrent(const char *name, dlt_rnn_mode mode)
{
    hid_t f = dlt_test_fixture_open("rnn.h5");
    hid_t grp = H5Gopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no group %s", name);
    int64_t T = dlt_test_h5_attr_int(grp, "T"), N = dlt_test_h5_attr_int(grp, "N");
    int64_t I = dlt_test_h5_attr_int(grp, "I"), H = dlt_test_h5_attr_int(grp, "H");
    int L = dlt_test_h5_attr_int(grp, "L");
    dlt_graph *g = dlt_graph_create(7);
    int64_t dx[3] = {T, N, I}, ds[3] = {L, N, H};
    dlt_t x = dlt_input(g, "x", DLT_F32, 3, dx), h0 = dlt_input(g, "h0", DLT_F32, 3, ds);
    dlt_t outs[3], hn, cn = -1, y;
    if (mode == DLT_RNN_LSTM) {
        dlt_t c0 = dlt_input(g, "c0", DLT_F32, 3, ds);
        y = dlt_nn_lstm(g, name, x, (int)H, L, h0, c0, &hn, &cn);
    } else {
        y = dlt_nn_gru(g, name, x, (int)H, L, h0, &hn);
    }
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    dlt_t loss = dlt_add(g, project(g, grp, y, "inputs/r_y"), project(g, grp, hn, "inputs/r_hn"));
    if (cn >= 0)
        loss = dlt_add(g, loss, project(g, grp, cn, "inputs/r_cn"));
    outs[0] = y, outs[1] = hn, outs[2] = cn;
    static const char *const names[] = {"y", "hn", "cn"};
    printf("%s (T=%lld, N=%lld, I=%lld, H=%lld, %d layers):\n", name, (long long)T, (long long)N,
           (long long)I, (long long)H, L);
    run_and_compare(g, grp, loss, cn >= 0 ? 3 : 2, outs, names);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Fclose(f);
}

START_TEST(lstm_matches_torch)
{
    check_recurrent("lstm", DLT_RNN_LSTM);
}
END_TEST

START_TEST(gru_matches_torch)
{
    check_recurrent("gru", DLT_RNN_GRU);
}
END_TEST

START_TEST(reinforce_matches_torch)
{
    hid_t f = dlt_test_fixture_open("rnn.h5");
    hid_t grp = H5Gopen2(f, "reinforce", H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no group reinforce");
    int T = dlt_test_h5_attr_int(grp, "T"), N = dlt_test_h5_attr_int(grp, "N");
    int I = dlt_test_h5_attr_int(grp, "I"), H = dlt_test_h5_attr_int(grp, "H");
    int K = dlt_test_h5_attr_int(grp, "K");
    ck_assert_int_le(T, 8);
    float R[8], b, beta, adv[8];
    ck_assert_int_le(N, 8);
    dlt_test_h5_read(grp, "rewards", H5T_NATIVE_FLOAT, R, (size_t)N);
    dlt_test_h5_read(grp, "baseline", H5T_NATIVE_FLOAT, &b, 1);
    dlt_test_h5_read(grp, "beta", H5T_NATIVE_FLOAT, &beta, 1);
    for (int n = 0; n < N; n++)
        adv[n] = R[n] - b;

    dlt_graph *g = dlt_graph_create(7);
    dlt_t x = dlt_input(g, "x0", DLT_F32, 2, (const int64_t[]){N, I});
    dlt_t acts = dlt_input(g, "actions", DLT_I32, 2, (const int64_t[]){T, N});
    dlt_t a[8], lps[8], hs[1] = {-1}, cs[1] = {-1}, loss = -1;
    dlt_split(g, acts, 0, T, NULL, a);
    dlt_rnn r;
    ck_assert_int_eq(dlt_nn_rnn_create(g, "lstm", DLT_RNN_LSTM, I, H, 1, &r), DLT_OK);
    dlt_t fw = dlt_param(g, "fc.weight", 2, (const int64_t[]){K, H}, dlt_init_const(0));
    dlt_t fb = dlt_param(g, "fc.bias", 1, (const int64_t[]){K}, dlt_init_const(0));
    dlt_t emb = dlt_param(g, "embed.weight", 2, (const int64_t[]){K, I}, dlt_init_const(0));
    dlt_t advc = dlt_constant(g, DLT_F32, 1, (const int64_t[]){N}, adv);
    for (int t = 0; t < T; t++) {
        dlt_t at = dlt_reshape(g, a[t], 1, (const int64_t[]){N});
        dlt_t logits = dlt_linear(g, dlt_nn_rnn_step(g, &r, x, hs, cs), fw, fb);
        lps[t] = dlt_categorical_log_prob(g, logits, at);
        dlt_t term = dlt_add(
            g, dlt_sum(g, dlt_mul(g, lps[t], advc), 0, NULL, 0),
            dlt_affine(g, dlt_sum(g, dlt_categorical_entropy(g, logits), 0, NULL, 0), beta, 0.f));
        loss = loss < 0 ? term : dlt_add(g, loss, term);
        x = dlt_embedding(g, emb, at); /* the next step's input: the choice just made */
    }
    for (int t = 0; t < T; t++)
        lps[t] = dlt_reshape(g, lps[t], 2, (const int64_t[]){1, N});
    dlt_t lp = dlt_concat(g, T, lps, 0);
    static const char *const names[] = {"log_probs"};
    printf("reinforce (LSTM controller, T=%d, N=%d, I=%d, H=%d, K=%d):\n", T, N, I, H, K);
    run_and_compare(g, grp, loss, 1, &lp, names);
    dlt_graph_free(g);
    H5Gclose(grp);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rnn_torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lstm_matches_torch);
    tcase_add_test(tc, gru_matches_torch);
    tcase_add_test(tc, reinforce_matches_torch);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
