/* 20-step trajectories of every optimizer (and a few option variants) on the
 * MLP problem against PyTorch 1.13 (tests/fixtures/optim.h5). */
#include <stdio.h>
#include <string.h>

#include "dlt_test.h"
#include "optim_testlib.h"

static mlp_problem pb;

typedef struct {
    const char *name, *opt;
    double lr;
    void (*tweak)(dlt_optim_config *c);
} traj_case;

static void t_sgd_momentum(dlt_optim_config *c) { c->momentum = 0.9, c->dampening = 0.1; }
static void t_sgd_nesterov(dlt_optim_config *c) { c->momentum = 0.9, c->nesterov = 1, c->weight_decay = 0.01; }
static void t_sgd_wd(dlt_optim_config *c) { c->weight_decay = 0.05; }
static void t_sgd_maximize(dlt_optim_config *c) { c->momentum = 0.5, c->maximize = 1; }
static void t_adam_amsgrad(dlt_optim_config *c) { c->amsgrad = 1, c->weight_decay = 0.01; }
static void t_adamw(dlt_optim_config *c) { c->weight_decay = 0.1; }
static void t_adamw_amsgrad(dlt_optim_config *c) { c->beta1 = 0.8, c->beta2 = 0.99, c->amsgrad = 1; }
static void t_rmsprop_cm(dlt_optim_config *c) { c->centered = 1, c->momentum = 0.9, c->weight_decay = 0.01; }
static void t_adadelta_wd(dlt_optim_config *c) { c->rho = 0.95, c->weight_decay = 0.01; }
static void t_adagrad_decay(dlt_optim_config *c)
{
    c->lr_decay = 0.05, c->initial_accumulator_value = 0.1, c->weight_decay = 0.01;
}
static void t_lamb_nowd(dlt_optim_config *c) { c->beta1 = 0.8, c->beta2 = 0.99, c->weight_decay = 0; }

static const traj_case cases[] = {
    {"sgd_plain", "sgd", 0.1, NULL},
    {"sgd_momentum", "sgd", 0.1, t_sgd_momentum},
    {"sgd_nesterov", "sgd", 0.1, t_sgd_nesterov},
    {"sgd_wd", "sgd", 0.1, t_sgd_wd},
    {"sgd_maximize", "sgd", 0.01, t_sgd_maximize},
    {"adam", "adam", 0.01, NULL},
    {"adam_amsgrad", "adam", 0.01, t_adam_amsgrad},
    {"adamw", "adamw", 0.01, t_adamw},
    {"adamw_amsgrad", "adamw", 0.01, t_adamw_amsgrad},
    {"rmsprop", "rmsprop", 0.01, NULL},
    {"rmsprop_centered_momentum", "rmsprop", 0.01, t_rmsprop_cm},
    {"adadelta", "adadelta", 1.0, NULL},
    {"adadelta_wd", "adadelta", 0.5, t_adadelta_wd},
    {"adagrad", "adagrad", 0.1, NULL},
    {"adagrad_decay", "adagrad", 0.1, t_adagrad_decay},
    {"lamb", "lamb", 0.05, NULL},
    {"lamb_nowd", "lamb", 0.05, t_lamb_nowd},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(trajectory)
{
    const traj_case *tc = &cases[_i];
    dlt_optim_config cfg;
    ck_assert_int_eq(dlt_optim_config_default(tc->opt, &cfg), DLT_OK);
    if (tc->tweak)
        tc->tweak(&cfg);
    dlt_optim *o;
    ck_assert_msg(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o) == DLT_OK,
                  "%s", dlt_errmsg());
    static float traj[MLP_NSTEPS * MLP_TOTAL];
    double losses[MLP_NSTEPS];
    mlp_run(&pb, o, NULL, tc->lr, 0, traj, NULL, losses);
    ck_assert_int_eq(dlt_optim_get_step(o), MLP_NSTEPS);
    check_case(tc->name, traj, losses);
    dlt_optim_free(o);
}
END_TEST

/* clip_grad_norm_(0.5) before every step of SGD with momentum. */
START_TEST(sgd_clip)
{
    dlt_optim_config cfg;
    dlt_optim_config_default("sgd", &cfg);
    cfg.momentum = 0.9;
    dlt_optim *o;
    ck_assert_int_eq(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o), DLT_OK);
    static float traj[MLP_NSTEPS * MLP_TOTAL];
    double losses[MLP_NSTEPS];
    mlp_run(&pb, o, NULL, 0.1, 0.5, traj, NULL, losses);
    check_case("sgd_clip", traj, losses);
    dlt_optim_free(o);
}
END_TEST

/* Groups by pattern against PyTorch param groups: fc1.bias frozen (first
 * rule wins over "*.bias"), no decay on other biases, fc1.* at half the lr. */
START_TEST(groups_adamw)
{
    static const dlt_param_group_rule rules[] = {
        {.pattern = "fc1.bias", .frozen = 1},
        {.pattern = "*.bias", .set_weight_decay = 1, .weight_decay = 0},
        {.pattern = "fc?.*", .lr_mult = 0.5, .set_weight_decay = 0},
    };
    dlt_optim_config cfg;
    dlt_optim_config_default("adamw", &cfg);
    cfg.weight_decay = 0.1;
    dlt_optim *o;
    ck_assert_int_eq(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, rules, 3, &o), DLT_OK);
    double m, wd;
    int fr;
    ck_assert_int_eq(dlt_optim_param_group(o, 0, &m, &wd, &fr), DLT_OK);
    ck_assert(m == 0.5 && wd == 0.1 && !fr);
    ck_assert_int_eq(dlt_optim_param_group(o, 1, &m, &wd, &fr), DLT_OK);
    ck_assert(fr);
    ck_assert_int_eq(dlt_optim_param_group(o, 3, &m, &wd, &fr), DLT_OK);
    ck_assert(m == 1 && wd == 0 && !fr);
    /* fc2.weight matches "fc?.*" too; PyTorch's case gives it the full lr,
     * so rebuild with a rule list where only fc1.* is halved. */
    dlt_optim_free(o);
    static const dlt_param_group_rule rules2[] = {
        {.pattern = "fc1.bias", .frozen = 1},
        {.pattern = "*.bias", .set_weight_decay = 1, .weight_decay = 0},
        {.pattern = "fc1.*", .lr_mult = 0.5},
    };
    ck_assert_int_eq(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, rules2, 3, &o), DLT_OK);
    static float traj[MLP_NSTEPS * MLP_TOTAL];
    double losses[MLP_NSTEPS];
    mlp_run(&pb, o, NULL, 0.01, 0, traj, NULL, losses);
    check_case("groups_adamw", traj, losses);
    /* The frozen parameter did not move and has no state. */
    const dlt_param_view *fb = &mlp_views[1];
    for (size_t i = 0; i < fb->numel; i++) {
        ck_assert(traj[(MLP_NSTEPS - 1) * MLP_TOTAL + fb->offset + i] == pb.init[fb->offset + i]);
        for (int s = 0; s < dlt_optim_num_slots(o); s++)
            ck_assert(dlt_optim_slot(o, s)[fb->offset + i] == 0);
    }
    dlt_optim_free(o);
}
END_TEST

int main(void)
{
    mlp_load(&pb);
    Suite *s = suite_create("optim_traj");
    TCase *tc = tcase_create("pytorch");
    tcase_add_loop_test(tc, trajectory, 0, NCASES);
    tcase_add_test(tc, sgd_clip);
    tcase_add_test(tc, groups_adamw);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
