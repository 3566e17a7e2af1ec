/* The NAS controller (src/train/nas_controller.c): every sampled child passes
 * dlt_spec_check_shape (strides that would collapse the image included), in
 * both spaces; the same seed and round sample the same children and another
 * round others; the REINFORCE gradient of the controller for the sampled
 * sequence against central finite differences of its loss; a policy step
 * moves the log-probability of a rewarded child up. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_nas.h"
#include "dlt_test.h"

static void small(dlt_nas_config *c, dlt_nas_space space)
{
    dlt_nas_config_default(c);
    c->space = space;
    c->nlayers = 6;
    c->hidden = 16;
    c->children = 5;
    c->nstrides = 2;
    c->strides[0] = 1, c->strides[1] = 2;
    c->in_h = c->in_w = 8; /* 3 strides reach 1x1: a 4th collapses */
}

static void check_valid(dlt_nas_space space)
{
    dlt_nas_config c;
    small(&c, space);
    dlt_nas_controller *k;
    ck_assert_msg(dlt_nas_controller_create(&c, 11, &k) == DLT_OK, "%s", dlt_errmsg());
    dlt_spec s[5];
    int strided = 0, skips = 0, ops[DLT_SPEC_NOPS] = {0};
    for (int r = 0; r < 40; r++) {
        ck_assert_msg(dlt_nas_sample(k, r, s, NULL, NULL) == DLT_OK, "%s", dlt_errmsg());
        for (int n = 0; n < 5; n++) {
            ck_assert_int_eq(dlt_spec_check_shape(&s[n], c.in_c, c.in_h, c.in_w, NULL, NULL),
                             DLT_OK);
            ck_assert_int_eq(s[n].nlayers, 6);
            for (int i = 0; i < 6; i++) {
                strided += s[n].layer[i].stride == 2;
                skips += s[n].layer[i].skip != 0;
                ops[s[n].layer[i].op]++;
                ck_assert(s[n].layer[i].skip >> (i > 1 ? i - 1 : 0) == 0);
            }
        }
    }
    /* 1200 layers, about half drawing stride 2: far more than the 3 an 8x8
     * image takes, so the collapse rule acted */
    ck_assert_int_gt(strided, 3);
    ck_assert_int_gt(skips, 100);
    if (space == DLT_NAS_ENAS)
        for (int o = 0; o < DLT_SPEC_NOPS; o++)
            ck_assert_int_gt(ops[o], 0);
    printf("%s: 200 children valid, %d strided layers, %d layers with skips, %d decisions per "
           "child\n",
           space == DLT_NAS_ENAS ? "enas" : "macro", strided, skips, dlt_nas_num_decisions(k));
    dlt_nas_controller_free(k);
}

START_TEST(samples_are_valid)
{
    check_valid(DLT_NAS_MACRO);
    check_valid(DLT_NAS_ENAS);
}
END_TEST

START_TEST(same_seed_same_children)
{
    dlt_nas_config c;
    small(&c, DLT_NAS_MACRO);
    dlt_nas_controller *a, *b;
    ck_assert_int_eq(dlt_nas_controller_create(&c, 5, &a), DLT_OK);
    ck_assert_int_eq(dlt_nas_controller_create(&c, 5, &b), DLT_OK);
    dlt_spec sa[5], sb[5], sc[5];
    double la[5], lb[5];
    ck_assert_int_eq(dlt_nas_sample(a, 3, sa, la, NULL), DLT_OK);
    ck_assert_int_eq(dlt_nas_sample(b, 7, sc, NULL, NULL), DLT_OK);
    ck_assert_int_eq(dlt_nas_sample(b, 3, sb, lb, NULL), DLT_OK);
    ck_assert(memcmp(sa, sb, sizeof sa) == 0);
    ck_assert(memcmp(la, lb, sizeof la) == 0);
    ck_assert(memcmp(sa, sc, sizeof sa) != 0);
    /* the rows differ from each other too */
    ck_assert(memcmp(&sa[0], &sa[1], sizeof sa[0]) != 0);
    dlt_nas_controller_free(a);
    dlt_nas_controller_free(b);
}
END_TEST

/* d loss / d theta for a few parameter elements: central differences of the
 * loss with the draws held (a draw that flips under the perturbation is
 * detected by comparing the sampled specs, and that element skipped). */
START_TEST(reinforce_gradient_matches_finite_differences)
{
    dlt_nas_config c;
    small(&c, DLT_NAS_MACRO);
    c.entropy_weight = 0.5; /* the entropy term visible in the gradient */
    dlt_nas_controller *k;
    ck_assert_int_eq(dlt_nas_controller_create(&c, 3, &k), DLT_OK);
    dlt_graph *g = dlt_nas_graph(k);
    const float adv[5] = {0.7f, -0.4f, 1.1f, -0.9f, 0.3f};
    const int64_t round = 2;
    dlt_spec s0[5], s1[5];
    double loss;
    ck_assert_int_eq(dlt_nas_sample(k, round, s0, NULL, NULL), DLT_OK);
    ck_assert_int_eq(dlt_nas_grad(k, round, adv, &loss), DLT_OK);
    size_t total = dlt_params_numel(g);
    float *grad = malloc(total * sizeof *grad), *w = dlt_params_data(g);
    memcpy(grad, dlt_grads_data(g), total * sizeof *grad);
    const double eps = 1e-2;
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        for (int e = 0; e < 3; e++) {
            size_t at = pi->offset + (size_t)((e * 7919) % (int)pi->numel);
            float keep = w[at];
            double lpm[2];
            int flipped = 0;
            for (int sgn = 0; sgn < 2; sgn++) {
                w[at] = keep + (float)(sgn ? eps : -eps);
                ck_assert_int_eq(dlt_nas_sample(k, round, s1, NULL, NULL), DLT_OK);
                flipped |= memcmp(s0, s1, sizeof s0) != 0;
                ck_assert_int_eq(dlt_nas_grad(k, round, adv, &lpm[sgn]), DLT_OK);
            }
            w[at] = keep;
            if (flipped)
                continue;
            double num =
                (lpm[1] - lpm[0]) / ((double)(keep + (float)eps) - (double)(keep - (float)eps));
            /* f32 loss of magnitude ~30: a few ulps over 2 eps is ~5e-4 of noise */
            double an = grad[at], err = fabs(num - an) / (fabs(an) + 2e-2);
            worst = fmax(worst, err);
            ck_assert_msg(err < 0.05 || fabs(num - an) < 1e-3,
                          "%s[%zu]: analytic %g, finite differences %g", pi->name, at - pi->offset,
                          an, num);
            checked++;
        }
    }
    ck_assert_int_gt(checked, 20);
    printf("reinforce: loss %.6f, %d parameter elements against central differences, worst "
           "relative error %.2e\n",
           loss, checked, worst);
    free(grad);
    dlt_nas_controller_free(k);
}
END_TEST

/* Rewarding child 0 alone (advantage +1, others 0) and stepping raises child
 * 0's log-probability: the sign of the policy gradient. */
START_TEST(policy_step_raises_rewarded_child)
{
    dlt_nas_config c;
    small(&c, DLT_NAS_MACRO);
    c.optim.lr = 1e-2;
    c.entropy_weight = 0;
    dlt_nas_controller *k;
    ck_assert_int_eq(dlt_nas_controller_create(&c, 9, &k), DLT_OK);
    dlt_spec s[5];
    double before[5], after[5], loss;
    const float adv[5] = {1, 0, 0, 0, 0};
    ck_assert_int_eq(dlt_nas_sample(k, 0, s, before, NULL), DLT_OK);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(dlt_nas_step(k, 0, adv, c.optim.lr, &loss), DLT_OK);
    ck_assert_int_eq(dlt_nas_sample(k, 0, NULL, after, NULL), DLT_OK);
    printf("policy step: log p(child 0) %.4f -> %.4f\n", before[0], after[0]);
    ck_assert(after[0] > before[0] + 0.5);
    dlt_nas_controller_free(k);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nas");
    TCase *tc = tcase_create("controller");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, samples_are_valid);
    tcase_add_test(tc, same_seed_same_children);
    tcase_add_test(tc, reinforce_gradient_matches_finite_differences);
    tcase_add_test(tc, policy_step_raises_rewarded_child);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
