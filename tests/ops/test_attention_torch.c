/* The attention op against PyTorch golden values (double-precision reference
 * with matmul/softmax, tests/fixtures/attention_make_fixtures.py): output,
 * log-sum-exp and the gradients of sum(o r1) + sum(lse r2). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

static double attr(hid_t g, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen(g, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "no attribute %s", name);
    ck_assert(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

static const char *const names[] = {"plain", "causal_keep", "additive_blocks", "causal_lengths"};

START_TEST(matches_torch)
{
    hid_t f = dlt_test_fixture_open("attention_golden.h5"), gr = H5Gopen2(f, names[_i], H5P_DEFAULT);
    int64_t B = (int64_t)attr(gr, "B"), H = (int64_t)attr(gr, "H"), Tq = (int64_t)attr(gr, "Tq");
    int64_t Tk = (int64_t)attr(gr, "Tk"), D = (int64_t)attr(gr, "D"), Dv = (int64_t)attr(gr, "Dv");
    int mk = (int)attr(gr, "mask"), bthd = (int)attr(gr, "layout") == 1;
    dlt_attention_opts o = {(float)attr(gr, "scale"), (int)attr(gr, "causal"), 0,
                            bthd ? DLT_ATTN_BTHD : DLT_ATTN_BHTD};
    int64_t dq[4] = {B, bthd ? Tq : H, bthd ? H : Tq, D},
            dk[4] = {B, bthd ? Tk : H, bthd ? H : Tk, D};
    int64_t dv[4] = {B, dk[1], dk[2], Dv}, dout[4] = {B, dq[1], dq[2], Dv}, dl[3] = {B, H, Tq};
    size_t nq = (size_t)(B * H * Tq * D), nk = (size_t)(B * H * Tk * D),
           nv = (size_t)(B * H * Tk * Dv);
    size_t no = (size_t)(B * H * Tq * Dv), nl = (size_t)(B * H * Tq),
           nm = mk == 1 ? (size_t)B : (size_t)(B * Tk);

    dlt_graph *g = dlt_graph_create(3);
    dlt_t q = dlt_input(g, "q", DLT_F32, 4, dq), k = dlt_input(g, "k", DLT_F32, 4, dk);
    dlt_t v = dlt_input(g, "v", DLT_F32, 4, dv), m = -1;
    int64_t md[2] = {B, Tk};
    if (mk)
        m = dlt_input(g, "mask", mk == 3 ? DLT_F32 : DLT_I32, mk == 1 ? 1 : 2, md);
    float *r1 = malloc(no * sizeof *r1), *r2 = malloc(nl * sizeof *r2);
    dlt_test_h5_read(gr, "r1", H5T_NATIVE_FLOAT, r1, no);
    dlt_test_h5_read(gr, "r2", H5T_NATIVE_FLOAT, r2, nl);
    dlt_t lse, y = dlt_attention(g, q, k, v, m, &o, &lse);
    dlt_t loss =
        dlt_add(g, dlt_sum(g, dlt_mul(g, y, dlt_constant(g, DLT_F32, 4, dout, r1)), 0, NULL, 0),
                dlt_sum(g, dlt_mul(g, lse, dlt_constant(g, DLT_F32, 3, dl, r2)), 0, NULL, 0));
    dlt_t wrt[3] = {q, k, v}, outs[5];
    ck_assert_msg(dlt_grad(g, loss, 3, wrt, outs + 2) == DLT_OK, "%s", dlt_errmsg());
    outs[0] = y, outs[1] = lse;
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 5, outs, NULL, &p) == DLT_OK, "%s", dlt_errmsg());
    dlt_test_h5_read(gr, "q", H5T_NATIVE_FLOAT, dlt_plan_data(p, q), nq);
    dlt_test_h5_read(gr, "k", H5T_NATIVE_FLOAT, dlt_plan_data(p, k), nk);
    dlt_test_h5_read(gr, "v", H5T_NATIVE_FLOAT, dlt_plan_data(p, v), nv);
    if (mk)
        dlt_test_h5_read(gr, "mask", mk == 3 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, dlt_plan_data(p, m), nm);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    const char *ds[5] = {"o", "lse", "dq", "dk", "dv"};
    size_t sz[5] = {no, nl, nq, nk, nv};
    for (int i = 0; i < 5; i++) {
        float *want = malloc(sz[i] * sizeof *want);
        dlt_test_h5_read(gr, ds[i], H5T_NATIVE_FLOAT, want, sz[i]);
        /* f32 against a double reference: ~1e-6 relative. Entries are sums of
         * O(1) terms; where they cancel to near zero the f32 rounding of the
         * terms (~1e-7 absolute) dominates, hence the floor of 1e-2 (1e-5
         * relative above it, 1e-7 absolute below) */
        double e = dlt_test_max_relerr(dlt_plan_data(p, outs[i]), want, sz[i], 1e-2);
        printf("attention torch %-16s %-3s max rel err %.2e\n", names[_i], ds[i], e);
        ck_assert_msg(e < 1e-5, "%s %s: max rel err %g", names[_i], ds[i], e);
        free(want);
    }
    free(r1), free(r2);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(gr);
    H5Fclose(f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("attention_torch");
    TCase *t = tcase_create("attention_torch");
    tcase_add_loop_test(t, matches_torch, 0, (int)(sizeof names / sizeof names[0]));
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return dlt_test_run(suite());
}
