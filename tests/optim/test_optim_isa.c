/* The optimizer's update loops of every ISA level (src/optim/optim_loops.h)
 * give the same bits as optim_elem.h's rules applied one element at a time
 * in this file's scalar loops: SGD (plain, momentum, Nesterov, first step),
 * Adam, AdamW, AMSGrad (with each), RMSprop (plain, centered, momentum, both), Adadelta
 * and Adagrad, weight decay and maximize, on a parallel chunk (n >= 32768)
 * and a short one with a vector remainder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_cpu_isa.h"
#include "dlt_test.h"
#include "optim_impl.h"

enum { NMAX = 40003 };

typedef struct {
    const char *name, *algo;
    void (*tweak)(dlt_optim_config *);
    double wd;
    int64_t t;
} optim_case;

static void momentum(dlt_optim_config *c)
{
    c->momentum = 0.9, c->dampening = 0.1;
}
static void nesterov(dlt_optim_config *c)
{
    c->momentum = 0.9, c->nesterov = 1;
}
static void amsgrad(dlt_optim_config *c)
{
    c->amsgrad = 1;
}
static void maximize(dlt_optim_config *c)
{
    c->maximize = 1;
}
static void centered(dlt_optim_config *c)
{
    c->centered = 1, c->momentum = 0.5;
}
static void centered_only(dlt_optim_config *c)
{
    c->centered = 1;
}
static void rms_momentum(dlt_optim_config *c)
{
    c->momentum = 0.5;
}

static const optim_case cases[] = {
    {"sgd", "sgd", NULL, 0, 3},
    {"sgd momentum, wd", "sgd", momentum, 1e-2, 3},
    {"sgd nesterov, first step", "sgd", nesterov, 0, 1},
    {"adam", "adam", NULL, 0, 5},
    {"adam wd, maximize", "adam", maximize, 1e-2, 5},
    {"adamw", "adamw", NULL, 0.1, 7},
    {"adam amsgrad", "adam", amsgrad, 0, 2},
    {"adam wd amsgrad", "adam", amsgrad, 1e-2, 3},
    {"adamw amsgrad", "adamw", amsgrad, 0.1, 3},
    {"rmsprop", "rmsprop", NULL, 0, 4},
    {"rmsprop centered momentum", "rmsprop", centered, 1e-3, 4},
    {"rmsprop centered", "rmsprop", centered_only, 0, 4},
    {"rmsprop momentum, wd", "rmsprop", rms_momentum, 1e-3, 4},
    {"adadelta", "adadelta", NULL, 0, 4},
    {"adagrad", "adagrad", NULL, 1e-3, 4},
};

/* the reference: one element at a time, in this translation unit */
static void scalar_step(const dlt_optim_config *cfg, const dlt_optim_coef *k, dlt_optim_chunk *c)
{
    float **s = c->s;
    for (size_t i = 0; i < c->n; i++) {
        float *p = &c->p[i], g = c->g[i];
#define AT(r) (s[r] ? &s[r][i] : NULL)
        switch (cfg->kind) {
        case DLT_OPTIM_SGD:
            dlt_sgd_elem(k, p, g, AT(DLT_SLOT_MOMENTUM_BUFFER));
            break;
        case DLT_OPTIM_ADAM:
        case DLT_OPTIM_ADAMW:
            dlt_adam_elem(k, p, g, AT(DLT_SLOT_EXP_AVG), AT(DLT_SLOT_EXP_AVG_SQ),
                          cfg->amsgrad ? AT(DLT_SLOT_MAX_EXP_AVG_SQ) : NULL);
            break;
        case DLT_OPTIM_RMSPROP:
            dlt_rmsprop_elem(k, p, g, AT(DLT_SLOT_SQUARE_AVG),
                             cfg->centered ? AT(DLT_SLOT_GRAD_AVG) : NULL,
                             cfg->momentum > 0 ? AT(DLT_SLOT_MOMENTUM_BUFFER) : NULL);
            break;
        case DLT_OPTIM_ADADELTA:
            dlt_adadelta_elem(k, p, g, AT(DLT_SLOT_SQUARE_AVG), AT(DLT_SLOT_ACC_DELTA));
            break;
        case DLT_OPTIM_ADAGRAD:
            dlt_adagrad_elem(k, p, g, AT(DLT_SLOT_SUM));
            break;
        default:
            ck_abort_msg("no scalar rule for kind %d", (int)cfg->kind);
        }
#undef AT
    }
}

/* p, g and every state slot (positive where a square or sum lives) */
static void fill(float *p, float *g, float *st[DLT_SLOT_NROLES], size_t n, uint64_t seed)
{
    dlt_test_fill_uniform(p, n, -1.f, 1.f, seed);
    dlt_test_fill_uniform(g, n, -0.1f, 0.1f, seed + 1);
    for (int r = 0; r < DLT_SLOT_NROLES; r++) {
        int positive = r == DLT_SLOT_EXP_AVG_SQ || r == DLT_SLOT_MAX_EXP_AVG_SQ ||
                       r == DLT_SLOT_SQUARE_AVG || r == DLT_SLOT_ACC_DELTA || r == DLT_SLOT_SUM;
        dlt_test_fill_uniform(st[r], n, positive ? 0.f : -0.05f, positive ? 1e-2f : 0.05f,
                              seed + 2 + (uint64_t)r);
    }
}

static int same_bits(const float *a, const float *b, size_t n, const char *what, const char *cs,
                     const char *isa)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof *a) != 0) {
            fprintf(stderr, "%s on %s: %s[%zu] = %.9g, scalar %.9g\n", cs, isa, what, i, a[i],
                    b[i]);
            return 0;
        }
    return 1;
}

START_TEST(every_level_gives_the_scalar_bits)
{
    static float p0[NMAX], g[NMAX], s0[DLT_SLOT_NROLES][NMAX];
    static float pr[NMAX], sr[DLT_SLOT_NROLES][NMAX], pv[NMAX], sv[DLT_SLOT_NROLES][NMAX];
    int checked = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const optim_case *oc = &cases[ci];
        dlt_optim_config cfg;
        ck_assert_int_eq(dlt_optim_config_default(oc->algo, &cfg), DLT_OK);
        if (oc->tweak)
            oc->tweak(&cfg);
        dlt_optim_coef k;
        dlt_optim_coef_init(&cfg, 1e-2, oc->wd, oc->t, &k);
        float *st0[DLT_SLOT_NROLES];
        for (int r = 0; r < DLT_SLOT_NROLES; r++)
            st0[r] = s0[r];
        size_t sizes[2] = {NMAX, 1003};
        for (int zi = 0; zi < 2; zi++) {
            size_t n = sizes[zi];
            fill(p0, g, st0, n, 100 * ci + (uint64_t)zi);
            dlt_optim_chunk ref = {.p = pr, .g = g, .n = n};
            memcpy(pr, p0, n * sizeof *pr);
            for (int r = 0; r < DLT_SLOT_NROLES; r++)
                memcpy(sr[r], s0[r], n * sizeof *pr), ref.s[r] = sr[r];
            scalar_step(&cfg, &k, &ref);
            for (int isa = DLT_ISA_LIBM; isa < DLT_ISA_N; isa++) {
                const dlt_optim_loops *L = dlt_optim_loops_isa(isa);
                if (!L)
                    continue;
                dlt_optim_chunk c = {.p = pv, .g = g, .n = n};
                memcpy(pv, p0, n * sizeof *pv);
                for (int r = 0; r < DLT_SLOT_NROLES; r++)
                    memcpy(sv[r], s0[r], n * sizeof *pv), c.s[r] = sv[r];
                switch (cfg.kind) {
                case DLT_OPTIM_SGD:
                    L->sgd(&k, &c);
                    break;
                case DLT_OPTIM_ADAM:
                case DLT_OPTIM_ADAMW:
                    L->adam(&cfg, &k, &c);
                    break;
                case DLT_OPTIM_RMSPROP:
                    L->rmsprop(&cfg, &k, &c);
                    break;
                case DLT_OPTIM_ADADELTA:
                    L->adadelta(&k, &c);
                    break;
                case DLT_OPTIM_ADAGRAD:
                    L->adagrad(&k, &c);
                    break;
                default:
                    ck_abort();
                }
                const char *nm = dlt_cpu_isa_name((dlt_cpu_isa)isa);
                ck_assert_msg(same_bits(pv, pr, n, "param", oc->name, nm),
                              "%s on %s: parameters differ", oc->name, nm);
                for (int r = 0; r < DLT_SLOT_NROLES; r++)
                    ck_assert_msg(same_bits(sv[r], sr[r], n, "state", oc->name, nm),
                                  "%s on %s: state slot %d differs", oc->name, nm, r);
                ck_assert_msg(memcmp(pv, p0, n * sizeof *pv) != 0, "%s: nothing updated", oc->name);
                checked++;
            }
        }
    }
    for (int isa = DLT_ISA_LIBM; isa < DLT_ISA_N; isa++)
        printf("level %-8s: %s\n", dlt_cpu_isa_name((dlt_cpu_isa)isa),
               dlt_optim_loops_isa(isa) ? "checked"
                                        : "not checked (not in this build, or this CPU lacks it)");
    ck_assert_int_ge(checked,
                     2 * (int)(sizeof cases / sizeof *cases) * 2); /* libm and baseline at least */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim_isa");
    TCase *tc = tcase_create("optim_isa");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_level_gives_the_scalar_bits);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
