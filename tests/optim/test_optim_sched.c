/* Learning-rate schedules: the lr of each of 20 steps against PyTorch's
 * schedulers (HF transformers' lambdas for the warm-up ones) and the
 * resulting SGD+momentum trajectories; closed-form properties and errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlt_test.h"
#include "optim_testlib.h"

static mlp_problem pb;

typedef struct {
    const char *fixture, *kind;
    void (*set)(dlt_schedule *s);
} sched_case;

static void s_step(dlt_schedule *s) { s->step_size = 5, s->gamma = 0.5; }
static void s_multistep(dlt_schedule *s)
{
    s->milestones[0] = 3, s->milestones[1] = 8, s->milestones[2] = 15;
    s->nmilestones = 3, s->gamma = 0.3;
}
static void s_exponential(dlt_schedule *s) { s->gamma = 0.9; }
static void s_cosine(dlt_schedule *s) { s->t_max = 8, s->eta_min = 0.01; }
static void s_restarts(dlt_schedule *s) { s->t_0 = 3, s->t_mult = 2, s->eta_min = 0.001; }
static void s_restarts1(dlt_schedule *s) { s->t_0 = 4; }
static void s_warmup(dlt_schedule *s) { s->warmup_steps = 5, s->total_steps = 20; }
static void s_warmup_poly(dlt_schedule *s)
{
    s->warmup_steps = 5, s->total_steps = 20, s->lr_end = 1e-4, s->power = 2;
}
static void s_multistep_warmup(dlt_schedule *s)
{
    s_multistep(s);
    s->warmup_steps = 5; /* warmup_start: the default 0.001 */
}
static void s_exponential_warmup(dlt_schedule *s)
{
    s_exponential(s);
    s->warmup_steps = 4, s->warmup_start = 0.25;
}
static void s_one_cycle(dlt_schedule *s) { s->max_lr = 0.5, s->total_steps = 20; }

static const sched_case cases[] = {
    {"sched_constant", "constant", NULL},
    {"sched_step", "step", s_step},
    {"sched_multistep", "multistep", s_multistep},
    {"sched_exponential", "exponential", s_exponential},
    {"sched_cosine", "cosine", s_cosine},
    {"sched_cosine_restarts", "cosine_restarts", s_restarts},
    {"sched_cosine_restarts1", "cosine_restarts", s_restarts1},
    {"sched_warmup_linear", "warmup_linear", s_warmup},
    {"sched_warmup_cosine", "warmup_cosine", s_warmup},
    {"sched_warmup_poly", "warmup_poly", s_warmup_poly},
    {"sched_multistep_warmup", "multistep", s_multistep_warmup},
    {"sched_exponential_warmup", "exponential", s_exponential_warmup},
    {"sched_one_cycle", "one_cycle", s_one_cycle},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

START_TEST(schedule_vs_pytorch)
{
    const sched_case *sc = &cases[_i];
    dlt_schedule s;
    ck_assert_int_eq(dlt_schedule_init(&s, sc->kind, 0.1), DLT_OK);
    if (sc->set)
        sc->set(&s);
    ck_assert_msg(dlt_schedule_validate(&s) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_str_eq(dlt_schedule_kind_name(s.kind), sc->kind);

    dlt_optim_config cfg;
    dlt_optim_config_default("sgd", &cfg);
    cfg.momentum = 0.9;
    dlt_optim *o;
    ck_assert_int_eq(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o), DLT_OK);
    static float traj[MLP_NSTEPS * MLP_TOTAL];
    double lrs[MLP_NSTEPS], ref[MLP_NSTEPS], losses[MLP_NSTEPS];
    mlp_run(&pb, o, &s, 0, 0, traj, lrs, losses);
    ck_assert(dlt_optim_last_lr(o) == lrs[MLP_NSTEPS - 1]);
    char path[128];
    snprintf(path, sizeof path, "/cases/%s/lr", sc->fixture);
    fixture_read_f64(path, ref, MLP_NSTEPS);
    /* PyTorch updates some schedules recursively (lr *= factor); the closed
     * forms agree to rounding. Absolute floor: warm-up starts at lr 0. */
    double lr_err = relerr_f64(lrs, ref, MLP_NSTEPS, 1e-12);
    printf("%-26s lr rel err %.2e\n", sc->fixture, lr_err);
    ck_assert_msg(lr_err <= 1e-12, "%s: lr rel err %g", sc->fixture, lr_err);
    check_case(sc->fixture, traj, losses);
    dlt_optim_free(o);
}
END_TEST

START_TEST(closed_forms)
{
    dlt_schedule s;
    /* Warm restarts with T_mult = 2: cycles of 3, 6, 12 ... start at 0, 3, 9, 21. */
    dlt_schedule_init(&s, "cosine_restarts", 1.0);
    s.t_0 = 3, s.t_mult = 2;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_OK);
    const int64_t starts[] = {0, 3, 9, 21, 45, 93, 189};
    for (int i = 0; i < 7; i++) {
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, starts[i]), 1.0, 1e-15);
        ck_assert(dlt_schedule_lr(&s, starts[i] - 1) < 0.3 || i == 0);
    }
    /* Halfway through the fourth cycle (length 24, from 21): lr = 0.5. */
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 21 + 12), 0.5, 1e-15);
    /* Cosine beyond t_max goes back up (PyTorch's CosineAnnealingLR). */
    dlt_schedule_init(&s, "cosine", 1.0);
    s.t_max = 10;
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 10), 0.0, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 20), 1.0, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 5), 0.5, 1e-15);
    /* One-cycle: starts at max/div, peaks at max at step pct*T-1, ends at
     * max/div/final_div; stays there past total_steps. */
    dlt_schedule_init(&s, "one_cycle", 0);
    s.max_lr = 1.0, s.total_steps = 100;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_OK);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 0), 1.0 / 25, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 29), 1.0, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 99), 1.0 / 25 / 1e4, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 1000), 1.0 / 25 / 1e4, 1e-15);
    /* HF linear warm-up: 0 at step 0, the base lr at the end of warm-up, 0 at the end. */
    dlt_schedule_init(&s, "warmup_linear", 2.0);
    s.warmup_steps = 10, s.total_steps = 110;
    ck_assert_double_eq(dlt_schedule_lr(&s, 0), 0.0);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 5), 1.0, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 10), 2.0, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 60), 1.0, 1e-15);
    ck_assert_double_eq(dlt_schedule_lr(&s, 200), 0.0);
    /* Pure function of the step: asking out of order changes nothing. */
    double a = dlt_schedule_lr(&s, 37);
    dlt_schedule_lr(&s, 99);
    ck_assert(dlt_schedule_lr(&s, 37) == a);
    /* hold_linear, the CycleGAN reference's LambdaLR with n_epochs = 3 held
     * and n_epochs_decay = 4 (steps for epochs): 1 - max(0, e + 1 - 3) / 5,
     * by hand: 1, 1, 1, 0.8, 0.6, 0.4, 0.2, then 0 past the end. */
    dlt_schedule_init(&s, "hold_linear", 2.0);
    s.hold_steps = 3, s.total_steps = 7;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_OK);
    const double hold_want[] = {1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0, 0};
    for (int e = 0; e < 9; e++)
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, e), 2.0 * hold_want[e], 1e-15);
    s.hold_steps = 0; /* decays from the first step: 1 - (e + 1) / 8 */
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 0), 2.0 * 7 / 8, 1e-15);
    /* Multistep: a milestone applies from its own step on. */
    dlt_schedule_init(&s, "multistep", 1.0);
    s.milestones[0] = 2, s.milestones[1] = 2, s.nmilestones = 2;
    ck_assert_double_eq(dlt_schedule_lr(&s, 1), 1.0);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 2), 0.01, 1e-16);
}
END_TEST

START_TEST(errors)
{
    dlt_schedule s;
    ck_assert_int_eq(dlt_schedule_init(&s, "cosinus", 0.1), DLT_ERR_NOTFOUND);
    ck_assert(strstr(dlt_errmsg(), "cosinus") != NULL);
    dlt_schedule_init(&s, "step", 0.1);
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID); /* step_size 0 */
    dlt_schedule_init(&s, "cosine", 0.1);
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID); /* t_max 0 */
    dlt_schedule_init(&s, "cosine_restarts", 0.1);
    s.t_0 = 2, s.t_mult = 0;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    dlt_schedule_init(&s, "multistep", 0.1);
    s.milestones[0] = 5, s.milestones[1] = 3, s.nmilestones = 2;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    dlt_schedule_init(&s, "warmup_poly", 1e-8);
    s.warmup_steps = 1, s.total_steps = 10;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID); /* lr_end >= lr */
    dlt_schedule_init(&s, "one_cycle", 0.1);
    s.total_steps = 10, s.pct_start = 1.5;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    dlt_schedule_init(&s, "hold_linear", 0.1);
    s.total_steps = 10, s.hold_steps = 11;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "hold_linear schedule: total_steps must be > 0 and hold_steps "
                                   "within [0, total_steps] (got 11 of 10)");
    /* schedules with a warm-up of their own refuse schedule.warmup_steps */
    dlt_schedule_init(&s, "one_cycle", 0.1);
    s.total_steps = 10, s.warmup_steps = 3;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    ck_assert_str_eq(dlt_errmsg(), "one_cycle schedule: warmup_steps does not apply (its warm-up is pct_start)");
    dlt_schedule_init(&s, "multistep", 0.1);
    s.warmup_steps = 3, s.warmup_start = 1.5;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_ERR_INVALID);
    /* by hand: cosine over 10 steps from 1 with a warm-up of 4 steps from 0.5 */
    dlt_schedule_init(&s, "cosine", 1.0);
    s.t_max = 10, s.warmup_steps = 4, s.warmup_start = 0.5;
    ck_assert_int_eq(dlt_schedule_validate(&s), DLT_OK);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 0), 0.5, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 2), 0.75 * (1 + cos(M_PI * 0.2)) / 2, 1e-15);
    ck_assert_double_eq_tol(dlt_schedule_lr(&s, 4), (1 + cos(M_PI * 0.4)) / 2, 1e-15);
}
END_TEST

/* schedule.min_lr (eta_min) floors the decay of the warm-up schedules, by hand:
 * base 1, floor 0.1, warm-up 2, total 10. */
START_TEST(warmup_schedules_respect_the_floor)
{
    static const char *const kinds[] = {"warmup_linear", "warmup_cosine"};
    for (int i = 0; i < 2; i++) {
        dlt_schedule s;
        ck_assert_int_eq(dlt_schedule_init(&s, kinds[i], 1.0), DLT_OK);
        s.warmup_steps = 2, s.total_steps = 10, s.eta_min = 0.1;
        ck_assert_int_eq(dlt_schedule_validate(&s), DLT_OK);
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, 1), 0.5, 1e-12);  /* warm-up: no floor */
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, 2), 1.0, 1e-12);
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, 6), 0.55, 1e-12); /* 0.1 + 0.9 * 0.5 */
        ck_assert_double_eq_tol(dlt_schedule_lr(&s, 10), 0.1, 1e-12);
    }
}
END_TEST

int main(void)
{
    mlp_load(&pb);
    Suite *s = suite_create("optim_sched");
    TCase *tc = tcase_create("schedules");
    tcase_add_loop_test(tc, schedule_vs_pytorch, 0, NCASES);
    tcase_add_test(tc, closed_forms);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, warmup_schedules_respect_the_floor);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
