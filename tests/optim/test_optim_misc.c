/* Clipping (against clip_grad_norm_ / clip_grad_value_), non-finite
 * detection and policies, parameter groups, gradient accumulation, ZeRO-style
 * range steps, exact resume, the loss scaler, and argument errors. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_test.h"
#include "optim_testlib.h"

static mlp_problem pb;

static dlt_optim *make(const char *name, void (*tweak)(dlt_optim_config *),
                       const dlt_param_group_rule *rules, int nrules)
{
    dlt_optim_config cfg;
    ck_assert_int_eq(dlt_optim_config_default(name, &cfg), DLT_OK);
    if (tweak)
        tweak(&cfg);
    dlt_optim *o = NULL;
    ck_assert_msg(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, rules, nrules, &o) ==
                      DLT_OK, "%s", dlt_errmsg());
    return o;
}

static double normrel(const float *a, const float *b, size_t n)
{
    double m = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs((double)b[i]));
        d = fmax(d, fabs((double)a[i] - (double)b[i]));
    }
    return d / m;
}

/* ---------------------------------------------------------------- clipping */

START_TEST(clip_norm_vs_pytorch)
{
    float g[MLP_TOTAL], gc[MLP_TOTAL];
    double ref[MLP_TOTAL], got[MLP_TOTAL], refnorm;
    mlp_loss_grad(pb.init, &pb, 0, MLP_BATCH, g);
    /* The test's own backward first: it feeds every other test. */
    fixture_read_f64("/clip/grad", ref, MLP_TOTAL);
    for (int i = 0; i < MLP_TOTAL; i++)
        got[i] = g[i];
    double gerr = relerr_f64(got, ref, MLP_TOTAL, 1e-30);
    printf("MLP gradient vs PyTorch: max rel err %.2e\n", gerr);
    ck_assert(gerr <= 1e-6);

    memcpy(gc, g, sizeof g);
    double norm = dlt_clip_grad_norm(gc, MLP_TOTAL, 0.5);
    fixture_read_f64("/clip/norm", &refnorm, 1);
    fixture_read_f64("/clip/clipped", ref, MLP_TOTAL);
    for (int i = 0; i < MLP_TOTAL; i++)
        got[i] = gc[i];
    double nerr = fabs(norm - refnorm) / refnorm, cerr = relerr_f64(got, ref, MLP_TOTAL, 1e-30);
    printf("clip_grad_norm: norm %.9g (torch %.9g, rel err %.2e), clipped max rel err %.2e\n",
           norm, refnorm, nerr, cerr);
    ck_assert(refnorm > 0.5); /* the case does clip */
    ck_assert(nerr <= 1e-7);
    ck_assert(cerr <= 1e-6);

    /* A max_norm above the norm leaves the gradient exactly as it was. */
    memcpy(gc, g, sizeof g);
    ck_assert_double_eq_tol(dlt_clip_grad_norm(gc, MLP_TOTAL, 100.0), norm, 1e-15);
    ck_assert_int_eq(memcmp(gc, g, sizeof g), 0);

    memcpy(gc, g, sizeof g);
    dlt_clip_grad_value(gc, MLP_TOTAL, 0.05);
    fixture_read_f64("/clip/value_clipped", ref, MLP_TOTAL);
    for (int i = 0; i < MLP_TOTAL; i++)
        got[i] = gc[i];
    ck_assert(relerr_f64(got, ref, MLP_TOTAL, 1e-30) <= 1e-6);
}
END_TEST

START_TEST(clip_by_hand)
{
    float g[4] = {3, 0, -4, 0};
    double n = dlt_clip_grad_norm(g, 4, 1.0);
    ck_assert_double_eq(n, 5.0);
    float coef = (float)(1.0 / (5.0 + 1e-6));
    ck_assert_float_eq(g[0], 3 * coef);
    ck_assert_float_eq(g[2], -4 * coef);
    float v[4] = {0.5f, -2.0f, NAN, 1.0f};
    dlt_clip_grad_value(v, 4, 1.0);
    ck_assert(v[0] == 0.5f && v[1] == -1.0f && isnan(v[2]) && v[3] == 1.0f);
    /* Non-finite gradients give a non-finite norm (logged, then caught). */
    float h[2] = {1, INFINITY};
    ck_assert(!isfinite(dlt_clip_grad_norm(h, 2, 1.0)));
}
END_TEST

START_TEST(sumsq_thread_independent)
{
    const size_t n = 1000003;
    float *x = malloc(n * sizeof *x);
    dlt_test_fill_uniform(x, n, -1, 1, 42);
    long double ref = 0;
    for (size_t i = 0; i < n; i++)
        ref += (long double)x[i] * x[i];
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double s1 = dlt_grad_sumsq(x, n);
    omp_set_num_threads(3);
    double s3 = dlt_grad_sumsq(x, n);
    omp_set_num_threads(saved);
    ck_assert(s1 == s3); /* bitwise */
    ck_assert(fabs(s1 - (double)ref) / (double)ref < 1e-11); /* n*eps bound: 1e-10 */
    free(x);
}
END_TEST

/* ---------------------------------------------------------------- non-finite */

static char last_log[512];
static void sink(dlt_log_level lvl, const char *line, void *user)
{
    (void)lvl, (void)user;
    snprintf(last_log, sizeof last_log, "%s", line);
}

START_TEST(nonfinite)
{
    float g[MLP_TOTAL];
    mlp_loss_grad(pb.init, &pb, 0, MLP_BATCH, g);
    int bad = -1, skip = -1;
    size_t elem = 0;
    ck_assert_int_eq(dlt_grad_check_finite(g, mlp_views, MLP_NPARAMS, &bad, &elem), 1);
    ck_assert_int_eq(dlt_grad_nonfinite_guard(g, mlp_views, MLP_NPARAMS, 7, DLT_NONFINITE_STOP, &skip), DLT_OK);
    ck_assert_int_eq(skip, 0);

    g[mlp_views[3].offset + 1] = INFINITY;
    g[mlp_views[2].offset + 5] = NAN;
    ck_assert_int_eq(dlt_grad_check_finite(g, mlp_views, MLP_NPARAMS, &bad, &elem), 0);
    ck_assert_int_eq(bad, 2);
    ck_assert_uint_eq(elem, 5);

    ck_assert_int_eq(dlt_grad_nonfinite_guard(g, mlp_views, MLP_NPARAMS, 7, DLT_NONFINITE_STOP, &skip),
                     DLT_ERR_NONFINITE);
    ck_assert_str_eq(dlt_errmsg(), "step 7: non-finite gradient (nan) in parameter 'fc2.weight' (element 5)");

    dlt_log_set_sink(sink, NULL);
    last_log[0] = 0;
    ck_assert_int_eq(dlt_grad_nonfinite_guard(g, mlp_views, MLP_NPARAMS, 8, DLT_NONFINITE_SKIP_STEP, &skip),
                     DLT_OK);
    dlt_log_set_sink(NULL, NULL);
    ck_assert_int_eq(skip, 1);
    ck_assert_msg(strstr(last_log, "step 8") && strstr(last_log, "'fc2.weight'"), "log: %s", last_log);

    g[mlp_views[2].offset + 5] = 0;
    ck_assert_int_eq(dlt_grad_nonfinite_guard(g, mlp_views, MLP_NPARAMS, 9, DLT_NONFINITE_STOP, &skip),
                     DLT_ERR_NONFINITE);
    ck_assert(strstr(dlt_errmsg(), "(inf) in parameter 'fc2.bias' (element 1)"));
}
END_TEST

/* ---------------------------------------------------------------- groups */

START_TEST(glob)
{
    ck_assert(dlt_glob_match("*.bias", "fc1.bias"));
    ck_assert(!dlt_glob_match("*.bias", "fc1.bias2"));
    ck_assert(dlt_glob_match("*norm*.weight", "layer1.0.norm2.weight"));
    ck_assert(!dlt_glob_match("*norm*.weight", "layer1.0.norm2.bias"));
    ck_assert(dlt_glob_match("layer1.*", "layer1.0.conv.weight"));
    ck_assert(!dlt_glob_match("layer1.*", "layer10.weight"));
    ck_assert(dlt_glob_match("?c1.*", "fc1.weight"));
    ck_assert(!dlt_glob_match("fc1", "fc1.weight"));
    ck_assert(dlt_glob_match("*", ""));
    ck_assert(dlt_glob_match("a*b*c", "aXbYbZc"));
    ck_assert(!dlt_glob_match("a*b", "a"));
    ck_assert(!dlt_glob_match("?", ""));
}
END_TEST

/* With zero gradients only weight decay moves parameters: AdamW multiplies
 * by 1 - lr*wd where decay is configured, nothing elsewhere; SGD with L2
 * subtracts lr*wd*p. Frozen parameters and their state stay untouched. */
START_TEST(groups_decay_and_frozen)
{
    static const dlt_param_group_rule rules[] = {
        {.pattern = "*.bias", .set_weight_decay = 1, .weight_decay = 0},
        {.pattern = "fc2.*", .frozen = 1},
        {.pattern = "fc1.*", .lr_mult = 2},
    };
    const float zero[MLP_TOTAL] = {0};
    const char *names[] = {"adamw", "sgd"};
    for (int k = 0; k < 2; k++) {
        dlt_optim_config cfg;
        dlt_optim_config_default(names[k], &cfg);
        cfg.weight_decay = 0.5;
        dlt_optim *o;
        ck_assert_int_eq(dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, rules, 3, &o), DLT_OK);
        float p[MLP_TOTAL];
        memcpy(p, pb.init, sizeof p);
        ck_assert_int_eq(dlt_optim_step(o, p, zero, 0.1), DLT_OK);
        for (int v = 0; v < MLP_NPARAMS; v++) {
            const dlt_param_view *w = &mlp_views[v];
            for (size_t i = w->offset; i < w->offset + w->numel; i++) {
                float want = pb.init[i];
                if (v == 0) /* fc1.weight: lr 0.1*2, wd 0.5 */
                    want = k == 0 ? (float)((double)pb.init[i] * (1 - 0.2 * 0.5))
                                  : (float)((double)pb.init[i] - 0.2 * 0.5 * (double)pb.init[i]);
                ck_assert_msg(p[i] == want, "%s %s[%zu]: %g != %g", names[k], w->name,
                              i - w->offset, p[i], want);
            }
        }
        int frozen;
        dlt_optim_param_group(o, 2, NULL, NULL, &frozen);
        ck_assert(frozen); /* fc2.weight: "*.bias" does not match, "fc2.*" does */
        dlt_optim_param_group(o, 3, NULL, NULL, &frozen);
        ck_assert(!frozen); /* fc2.bias: the first match, "*.bias", decides */
        dlt_optim_free(o);
    }
}
END_TEST

/* ---------------------------------------------------------------- accumulation */

START_TEST(accumulation)
{
    dlt_accum acc;
    ck_assert_int_eq(dlt_accum_init(&acc, 0), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_accum_init(&acc, 4), DLT_OK);
    for (int m = 0; m < 8; m++) {
        ck_assert_int_eq(dlt_accum_is_first(&acc), m % 4 == 0);
        ck_assert_int_eq(dlt_accum_is_final(&acc), m % 4 == 3);
        dlt_accum_next(&acc);
    }
    /* 5 steps of Adam: 4 micro-batches of 5 accumulated vs the 20-batch. */
    dlt_optim *a = make("adam", NULL, NULL, 0), *b = make("adam", NULL, NULL, 0);
    float pa[MLP_TOTAL], pb4[MLP_TOTAL], g[MLP_TOTAL], acc_g[MLP_TOTAL], gm[MLP_TOTAL];
    memcpy(pa, pb.init, sizeof pa);
    memcpy(pb4, pb.init, sizeof pb4);
    dlt_accum_init(&acc, 4);
    double worst = 0;
    for (int step = 0; step < 5; step++) {
        mlp_loss_grad(pa, &pb, 0, 4 * MLP_BATCH, g);
        ck_assert_int_eq(dlt_optim_step(a, pa, g, 0.01), DLT_OK);
        for (int m = 0; m < 4; m++) {
            if (dlt_accum_is_first(&acc))
                memset(acc_g, 0, sizeof acc_g);
            mlp_loss_grad(pb4, &pb, m * MLP_BATCH, MLP_BATCH, gm);
            for (int i = 0; i < MLP_TOTAL; i++)
                acc_g[i] += gm[i];
            int final = dlt_accum_is_final(&acc);
            dlt_accum_next(&acc);
            if (final) {
                dlt_accum_average(&acc, acc_g, MLP_TOTAL);
                ck_assert_int_eq(dlt_optim_step(b, pb4, acc_g, 0.01), DLT_OK);
            }
        }
        ck_assert_int_eq(dlt_optim_get_step(b), step + 1);
        worst = fmax(worst, normrel(pb4, pa, MLP_TOTAL));
    }
    printf("accumulation 4x5 vs batch 20, Adam, 5 steps: normwise rel err %.2e\n", worst);
    ck_assert(worst <= 1e-6);
    dlt_optim_free(a);
    dlt_optim_free(b);
}
END_TEST

/* ---------------------------------------------------------------- ranges */


/* The split at 30 cuts fc1.weight (0..32): ZeRO shards ignore parameter
 * boundaries. Element-wise optimizers must agree bitwise; LAMB's norms are
 * summed in another order, so it agrees to rounding. */
START_TEST(step_range_halves)
{
    const char *name = optim_tweaked[_i].name;
    dlt_optim *full = make(name, optim_tweaked[_i].tweak, NULL, 0);
    dlt_optim *half = make(name, optim_tweaked[_i].tweak, NULL, 0);
    const size_t mid = 30;
    float p1[MLP_TOTAL], p2[MLP_TOTAL], g[MLP_TOTAL];
    memcpy(p1, pb.init, sizeof p1);
    memcpy(p2, pb.init, sizeof p2);
    int lamb = strcmp(name, "lamb") == 0;
    for (int s = 0; s < 5; s++) {
        mlp_loss_grad(p1, &pb, 0, MLP_BATCH, g);
        ck_assert_int_eq(dlt_optim_step(full, p1, g, 0.01), DLT_OK);
        mlp_loss_grad(p2, &pb, 0, MLP_BATCH, g);
        if (!lamb) {
            ck_assert_int_eq(dlt_optim_step_range(half, p2, g, 0.01, mid, MLP_TOTAL), DLT_OK);
            ck_assert_int_eq(dlt_optim_step_range(half, p2, g, 0.01, 0, mid), DLT_OK);
        } else {
            ck_assert_int_eq(dlt_optim_step_range(half, p2, g, 0.01, 0, mid), DLT_ERR_UNSUPPORTED);
            ck_assert(strstr(dlt_errmsg(), "fc1.weight"));
            double sa[2 * MLP_NPARAMS], sb[2 * MLP_NPARAMS];
            ck_assert_int_eq(dlt_optim_lamb_phase1(half, p2, g, 0, mid, sa), DLT_OK);
            ck_assert_int_eq(dlt_optim_lamb_phase1(half, p2, g, mid, MLP_TOTAL, sb), DLT_OK);
            ck_assert(sa[2 * 3] == 0 && sb[2 * 1] != 0); /* fc2.bias only in b; fc1.bias too */
            for (int i = 0; i < 2 * MLP_NPARAMS; i++)
                sa[i] += sb[i];
            ck_assert_int_eq(dlt_optim_lamb_phase2(half, p2, 0.01, mid, MLP_TOTAL, sa), DLT_OK);
            ck_assert_int_eq(dlt_optim_lamb_phase2(half, p2, 0.01, 0, mid, sa), DLT_OK);
        }
        ck_assert_int_eq(dlt_optim_get_step(half), s);
        dlt_optim_advance(half);
    }
    double err = normrel(p2, p1, MLP_TOTAL);
    printf("step_range halves, %-8s normwise rel err %.2e\n", name, err);
    if (lamb)
        ck_assert(err <= 1e-6);
    else
        ck_assert_int_eq(memcmp(p1, p2, sizeof p1), 0);
    for (int i = 0; i < dlt_optim_num_slots(full); i++)
        ck_assert(normrel(dlt_optim_slot(half, i), dlt_optim_slot(full, i), MLP_TOTAL) <= (lamb ? 1e-6 : 0));
    dlt_optim_free(full);
    dlt_optim_free(half);
}
END_TEST

/* LAMB through step_range with a norm reducer, two "ranks" simulated in
 * turn: rank 1 runs phase 1 first, rank 0's reducer adds rank 1's partial
 * sums (as an all-reduce would), rank 1 applies with the same totals. */
static double other[2 * MLP_NPARAMS], totals[2 * MLP_NPARAMS];
static int reducer_calls;
static dlt_status add_other(double *sums, int n, void *user)
{
    ck_assert_int_eq(n, 2 * MLP_NPARAMS);
    ck_assert_ptr_eq(user, other);
    for (int i = 0; i < n; i++)
        totals[i] = sums[i] += other[i];
    reducer_calls++;
    return DLT_OK;
}

START_TEST(lamb_reducer)
{
    dlt_optim *full = make("lamb", NULL, NULL, 0);
    dlt_optim *r0 = make("lamb", NULL, NULL, 0), *r1 = make("lamb", NULL, NULL, 0);
    dlt_optim_set_norm_reducer(r0, add_other, other);
    const size_t mid = 37; /* cuts fc2.weight */
    float p1[MLP_TOTAL], p2[MLP_TOTAL], g[MLP_TOTAL];
    memcpy(p1, pb.init, sizeof p1);
    memcpy(p2, pb.init, sizeof p2);
    for (int s = 0; s < 5; s++) {
        mlp_loss_grad(p1, &pb, 0, MLP_BATCH, g);
        ck_assert_int_eq(dlt_optim_step(full, p1, g, 0.02), DLT_OK);
        mlp_loss_grad(p2, &pb, 0, MLP_BATCH, g);
        ck_assert_int_eq(dlt_optim_lamb_phase1(r1, p2, g, mid, MLP_TOTAL, other), DLT_OK);
        ck_assert_int_eq(dlt_optim_step_range(r0, p2, g, 0.02, 0, mid), DLT_OK);
        ck_assert_int_eq(dlt_optim_lamb_phase2(r1, p2, 0.02, mid, MLP_TOTAL, totals), DLT_OK);
        dlt_optim_advance(r0);
        dlt_optim_advance(r1);
    }
    ck_assert_int_eq(reducer_calls, 5);
    double err = normrel(p2, p1, MLP_TOTAL);
    printf("lamb with norm reducer, split at %zu: normwise rel err %.2e\n", mid, err);
    ck_assert(err <= 1e-6);
    dlt_optim_free(full);
    dlt_optim_free(r0);
    dlt_optim_free(r1);
}
END_TEST

/* ---------------------------------------------------------------- resume */

START_TEST(resume_exact)
{
    dlt_optim *a = make("adam", optim_tweak_ams, NULL, 0), *b = make("adam", optim_tweak_ams, NULL, 0);
    float p[MLP_TOTAL], q[MLP_TOTAL], g[MLP_TOTAL];
    memcpy(p, pb.init, sizeof p);
    for (int s = 0; s < 20; s++) {
        if (s == 10) { /* "checkpoint": parameters, slots by name, step */
            memcpy(q, p, sizeof q);
            for (int i = 0; i < dlt_optim_num_slots(a); i++)
                memcpy(dlt_optim_slot_by_name(b, dlt_optim_slot_name(a, i)), dlt_optim_slot(a, i),
                       MLP_TOTAL * sizeof(float));
            dlt_optim_set_step(b, dlt_optim_get_step(a));
        }
        mlp_loss_grad(p, &pb, 0, MLP_BATCH, g);
        dlt_optim_step(a, p, g, 0.01);
        if (s >= 10) {
            mlp_loss_grad(q, &pb, 0, MLP_BATCH, g);
            dlt_optim_step(b, q, g, 0.01);
        }
    }
    ck_assert_int_eq(memcmp(p, q, sizeof p), 0);
    ck_assert_int_eq(dlt_optim_get_step(b), 20);
    dlt_optim_free(a);
    dlt_optim_free(b);
}
END_TEST

/* ---------------------------------------------------------------- loss scaler */

START_TEST(loss_scaler)
{
    dlt_loss_scaler s;
    dlt_loss_scaler_init(&s);
    ck_assert(s.scale == 65536 && s.growth_factor == 2 && s.backoff_factor == 0.5 &&
              s.growth_interval == 2000 && s.growth_tracker == 0);
    dlt_optim *o = make("sgd", NULL, NULL, 0);
    float p[MLP_TOTAL], g[MLP_TOTAL], g0[MLP_TOTAL];
    memcpy(p, pb.init, sizeof p);
    mlp_loss_grad(p, &pb, 0, MLP_BATCH, g0);
    /* A scaled backward gives scale*g; a power-of-two scale unscales exactly. */
    for (int i = 0; i < MLP_TOTAL; i++)
        g[i] = g0[i] * (float)dlt_loss_scaler_get(&s);
    int skipped = -1;
    ck_assert_int_eq(dlt_loss_scaler_step(&s, o, p, g, 0.1, &skipped), DLT_OK);
    ck_assert_int_eq(skipped, 0);
    ck_assert_int_eq(memcmp(g, g0, sizeof g), 0);
    ck_assert_int_eq(dlt_optim_get_step(o), 1);
    ck_assert_int_eq(s.growth_tracker, 1);
    ck_assert(s.scale == 65536);

    /* An overflowed gradient: step skipped, parameters untouched, scale halved. */
    float before[MLP_TOTAL];
    memcpy(before, p, sizeof p);
    for (int i = 0; i < MLP_TOTAL; i++)
        g[i] = g0[i] * 65536.0f;
    g[40] = INFINITY;
    ck_assert_int_eq(dlt_loss_scaler_step(&s, o, p, g, 0.1, &skipped), DLT_OK);
    ck_assert_int_eq(skipped, 1);
    ck_assert_int_eq(memcmp(p, before, sizeof p), 0);
    ck_assert_int_eq(dlt_optim_get_step(o), 1);
    ck_assert(s.scale == 32768 && s.growth_tracker == 0);
    g[0] = NAN;
    ck_assert_int_eq(dlt_loss_scaler_unscale(&s, g, MLP_TOTAL), 1);

    /* Growth after growth_interval consecutive good steps. */
    s.growth_interval = 3;
    for (int k = 0; k < 3; k++)
        dlt_loss_scaler_update(&s, 0);
    ck_assert(s.scale == 65536 && s.growth_tracker == 0);
    dlt_loss_scaler_update(&s, 0);
    dlt_loss_scaler_update(&s, 0);
    dlt_loss_scaler_update(&s, 1); /* an inf resets the count */
    ck_assert(s.scale == 32768 && s.growth_tracker == 0);
    /* Growth that would overflow float is not applied (GradScaler keeps a float scale). */
    s.scale = 2e38, s.growth_tracker = 2;
    dlt_loss_scaler_update(&s, 0);
    ck_assert(s.scale == 2e38 && s.growth_tracker == 0);
    /* Disabled: scale 1, nothing changes. */
    s.enabled = 0;
    ck_assert(dlt_loss_scaler_get(&s) == 1.0);
    dlt_loss_scaler_update(&s, 1);
    ck_assert(s.scale == 2e38);
    dlt_optim_free(o);
}
END_TEST

/* ---------------------------------------------------------------- API */

START_TEST(slots_and_errors)
{
    static const struct {
        const char *name;
        void (*tweak)(dlt_optim_config *);
        const char *slots;
    } want[] = {
        {"sgd", NULL, ""},
        {"sgd", optim_tweak_sgdm, "momentum_buffer,"},
        {"adam", NULL, "exp_avg,exp_avg_sq,"},
        {"adamw", optim_tweak_ams, "exp_avg,exp_avg_sq,max_exp_avg_sq,"},
        {"rmsprop", NULL, "square_avg,"},
        {"rmsprop", optim_tweak_rms, "momentum_buffer,square_avg,grad_avg,"},
        {"adadelta", NULL, "square_avg,acc_delta,"},
        {"adagrad", optim_tweak_ada, "sum,"},
        {"lamb", NULL, "exp_avg,exp_avg_sq,"},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        dlt_optim *o = make(want[k].name, want[k].tweak, NULL, 0);
        char got[256] = "";
        for (int i = 0; i < dlt_optim_num_slots(o); i++) {
            strcat(got, dlt_optim_slot_name(o, i));
            strcat(got, ",");
            ck_assert_ptr_eq(dlt_optim_slot_by_name(o, dlt_optim_slot_name(o, i)), dlt_optim_slot(o, i));
        }
        ck_assert_str_eq(got, want[k].slots);
        if (strcmp(want[k].name, "adagrad") == 0)
            ck_assert(dlt_optim_slot(o, 0)[66] == 0.2f);
        dlt_optim_free(o);
    }
    /* PyTorch's defaults. */
    dlt_optim_config c;
    dlt_optim_config_default("adamw", &c);
    ck_assert(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8 && c.weight_decay == 1e-2);
    dlt_optim_config_default("rmsprop", &c);
    ck_assert(c.lr == 1e-2 && c.alpha == 0.99 && c.eps == 1e-8 && c.momentum == 0 && !c.centered);
    dlt_optim_config_default("adadelta", &c);
    ck_assert(c.lr == 1.0 && c.rho == 0.9 && c.eps == 1e-6);
    dlt_optim_config_default("adagrad", &c);
    ck_assert(c.lr == 1e-2 && c.eps == 1e-10 && c.lr_decay == 0 && c.initial_accumulator_value == 0);

    ck_assert_int_eq(dlt_optim_config_default("adamax", &c), DLT_ERR_NOTFOUND);
    ck_assert(strstr(dlt_errmsg(), "'adamax'"));
    dlt_optim *o = NULL;
    dlt_optim_config_default("sgd", &c);
    c.nesterov = 1;
    ck_assert_int_eq(dlt_optim_create(&c, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o), DLT_ERR_INVALID);
    dlt_optim_config_default("adam", &c);
    c.beta2 = 1.0;
    ck_assert_int_eq(dlt_optim_create(&c, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o), DLT_ERR_INVALID);
    dlt_optim_config_default("adam", &c);
    dlt_param_view bad[2] = {{"a", 0, 10}, {"b", 8, 4}};
    ck_assert_int_eq(dlt_optim_create(&c, bad, 2, 20, NULL, 0, &o), DLT_ERR_INVALID);
    ck_assert(strstr(dlt_errmsg(), "'a' and 'b' overlap"));
    ck_assert_int_eq(dlt_optim_create(&c, bad, 2, 11, NULL, 0, &o), DLT_ERR_INVALID);
    ck_assert(strstr(dlt_errmsg(), "'b'"));
    ck_assert_ptr_null(o);
    o = make("adam", NULL, NULL, 0);
    float p[MLP_TOTAL] = {0}, g[MLP_TOTAL] = {0};
    ck_assert_int_eq(dlt_optim_step(o, p, g, -1), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_step(o, p, g, NAN), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_step_range(o, p, g, 0.1, 5, MLP_TOTAL + 1), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_get_step(o), 0);
    dlt_optim_free(o);
}
END_TEST

int main(void)
{
    mlp_load(&pb);
    Suite *s = suite_create("optim_misc");
    TCase *tc = tcase_create("misc");
    tcase_add_test(tc, clip_norm_vs_pytorch);
    tcase_add_test(tc, clip_by_hand);
    tcase_add_test(tc, sumsq_thread_independent);
    tcase_add_test(tc, nonfinite);
    tcase_add_test(tc, glob);
    tcase_add_test(tc, groups_decay_and_frozen);
    tcase_add_test(tc, accumulation);
    tcase_add_loop_test(tc, step_range_halves, 0, OPTIM_NTWEAKED);
    tcase_add_test(tc, lamb_reducer);
    tcase_add_test(tc, resume_exact);
    tcase_add_test(tc, loss_scaler);
    tcase_add_test(tc, slots_and_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
