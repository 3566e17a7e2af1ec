/* The NAS controller's REINFORCE loss against PyTorch
 * (tests/fixtures/nas_controller.h5, made by nas_controller_make_fixtures.py
 * from the controller's description): the exact structure of
 * src/train/nas_controller.c (a 2-layer LSTM stepped per decision, per-kind
 * heads and embeddings, anchors and the skip attention, the entropy bonus)
 * for a fixed decision sequence (replay), with the fixture's parameters: the
 * per-child log-probabilities and entropies, the loss and every parameter's
 * gradient. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_nas.h"
#include "dlt_test.h"

/* torch in float64 rounded once against our f32 through 16 LSTM steps x 2
 * layers: |ours - ref| <= TOL max |ref| per tensor (a wrong gate, head or
 * skip term is O(1) of the scale) */
#define TOL 2e-5

static void compare(const char *what, const float *ours, const float *ref, size_t n)
{
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)ref[i]));
    double err = dlt_test_max_relerr(ours, ref, n, scale > 0 ? scale : 1);
    printf("  %-28s max|ref| %-9.4g err %.2e\n", what, scale, err);
    ck_assert_msg(err <= TOL, "%s: error %g (max |ref| %g)", what, err, scale);
}

START_TEST(controller_matches_torch)
{
    hid_t f = dlt_test_fixture_open("nas_controller.h5");
    dlt_nas_config c;
    dlt_nas_config_default(&c);
    c.nlayers = dlt_test_h5_attr_int(f, "layers");
    c.hidden = dlt_test_h5_attr_int(f, "hidden");
    c.lstm_layers = dlt_test_h5_attr_int(f, "lstm_layers");
    c.children = dlt_test_h5_attr_int(f, "children");
    float beta;
    hid_t at = H5Aopen(f, "beta", H5P_DEFAULT);
    ck_assert(at >= 0 && H5Aread(at, H5T_NATIVE_FLOAT, &beta) >= 0);
    H5Aclose(at);
    c.entropy_weight = beta;
    c.nkernels = 3, c.kernels[0] = 1, c.kernels[1] = 3, c.kernels[2] = 5;
    c.nfilters = 2, c.filters[0] = 4, c.filters[1] = 8;
    c.nstrides = 2, c.strides[0] = 1, c.strides[1] = 2;
    c.in_h = c.in_w = 16;
    c.replay = 1;
    int D = dlt_test_h5_attr_int(f, "decisions"), N = c.children;
    ck_assert_int_eq(dlt_nas_count_decisions(&c), D);
    dlt_nas_controller *k;
    ck_assert_msg(dlt_nas_controller_create(&c, 1, &k) == DLT_OK, "%s", dlt_errmsg());
    dlt_graph *g = dlt_nas_graph(k);
    char path[160];
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        snprintf(path, sizeof path, "params/%s", pi->name);
        dlt_test_h5_read(f, path, H5T_NATIVE_FLOAT, dlt_params_data(g) + pi->offset, pi->numel);
    }
    int32_t *acts = malloc((size_t)D * (size_t)N * sizeof *acts);
    float adv[8], ref[8], loss_ref, ours[8];
    ck_assert_int_le(N, 8);
    dlt_test_h5_read(f, "actions", H5T_NATIVE_INT32, acts, (size_t)D * (size_t)N);
    dlt_test_h5_read(f, "advantage", H5T_NATIVE_FLOAT, adv, (size_t)N);
    ck_assert_int_eq(dlt_nas_set_actions(k, acts), DLT_OK);

    double logp[8], ent[8], loss;
    ck_assert_int_eq(dlt_nas_sample(k, 0, NULL, logp, ent), DLT_OK);
    printf("nas controller (%d layers, LSTM %d x %d, %d children, %d decisions each):\n", c.nlayers,
           c.lstm_layers, c.hidden, N, D);
    dlt_test_h5_read(f, "logp", H5T_NATIVE_FLOAT, ref, (size_t)N);
    for (int n = 0; n < N; n++)
        ours[n] = (float)logp[n];
    compare("logp", ours, ref, (size_t)N);
    dlt_test_h5_read(f, "entropy", H5T_NATIVE_FLOAT, ref, (size_t)N);
    for (int n = 0; n < N; n++)
        ours[n] = (float)ent[n];
    compare("entropy", ours, ref, (size_t)N);
    ck_assert_int_eq(dlt_nas_grad(k, 0, adv, &loss), DLT_OK);
    dlt_test_h5_read(f, "loss", H5T_NATIVE_FLOAT, &loss_ref, 1);
    float lf = (float)loss;
    compare("loss", &lf, &loss_ref, 1);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        float *r = malloc(pi->numel * sizeof *r);
        snprintf(path, sizeof path, "grad/%s", pi->name);
        dlt_test_h5_read(f, path, H5T_NATIVE_FLOAT, r, pi->numel);
        compare(path, dlt_grads_data(g) + pi->offset, r, pi->numel);
        free(r);
    }
    free(acts);
    dlt_nas_controller_free(k);
    H5Fclose(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nas_torch");
    TCase *tc = tcase_create("torch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, controller_matches_torch);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
