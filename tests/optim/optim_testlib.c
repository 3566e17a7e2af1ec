#include "optim_testlib.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlt_test.h"

const dlt_param_view mlp_views[MLP_NPARAMS] = {
    {"fc1.weight", 0, MLP_HID * MLP_IN},
    {"fc1.bias", MLP_HID * MLP_IN, MLP_HID},
    {"fc2.weight", MLP_HID * MLP_IN + MLP_HID, MLP_OUT * MLP_HID},
    {"fc2.bias", MLP_HID * MLP_IN + MLP_HID + MLP_OUT * MLP_HID, MLP_OUT},
};

static hid_t fixture_file(void)
{
    static hid_t f = -1;
    if (f >= 0)
        return f;
    const char *top = getenv("top_srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/optim.h5", top ? top : OPTIM_SRCDIR);
    f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        abort();
    }
    return f;
}

static void read_ds(const char *path, hid_t memtype, void *out, size_t n)
{
    hid_t ds = H5Dopen2(fixture_file(), path, H5P_DEFAULT);
    if (ds < 0) {
        fprintf(stderr, "fixture: no dataset %s\n", path);
        abort();
    }
    hid_t sp = H5Dget_space(ds);
    hssize_t got = H5Sget_simple_extent_npoints(sp);
    if (got != (hssize_t)n || H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        fprintf(stderr, "fixture: %s has %lld elements, expected %zu\n", path, (long long)got, n);
        abort();
    }
    H5Sclose(sp);
    H5Dclose(ds);
}

void fixture_read_f64(const char *path, double *out, size_t n) { read_ds(path, H5T_NATIVE_DOUBLE, out, n); }

void mlp_load(mlp_problem *pb)
{
    read_ds("/init/params", H5T_NATIVE_FLOAT, pb->init, MLP_TOTAL);
    read_ds("/data/x", H5T_NATIVE_FLOAT, pb->x, MLP_NSAMPLES * MLP_IN);
    read_ds("/data/y", H5T_NATIVE_INT32, pb->y, MLP_NSAMPLES);
}

double mlp_loss_grad(const float *params, const mlp_problem *pb, int s0, int n, float *grad)
{
    const float *w1 = params + mlp_views[0].offset, *b1 = params + mlp_views[1].offset;
    const float *w2 = params + mlp_views[2].offset, *b2 = params + mlp_views[3].offset;
    double g[MLP_TOTAL] = {0};
    double *gw1 = g + mlp_views[0].offset, *gb1 = g + mlp_views[1].offset;
    double *gw2 = g + mlp_views[2].offset, *gb2 = g + mlp_views[3].offset;
    double loss = 0;
    for (int s = s0; s < s0 + n; s++) {
        const float *x = pb->x + s * MLP_IN;
        double h[MLP_HID], z[MLP_OUT], dz[MLP_OUT], zmax = -INFINITY, den = 0;
        for (int j = 0; j < MLP_HID; j++) {
            double a = b1[j];
            for (int k = 0; k < MLP_IN; k++)
                a += (double)w1[j * MLP_IN + k] * x[k];
            h[j] = tanh(a);
        }
        for (int c = 0; c < MLP_OUT; c++) {
            z[c] = b2[c];
            for (int j = 0; j < MLP_HID; j++)
                z[c] += (double)w2[c * MLP_HID + j] * h[j];
            zmax = fmax(zmax, z[c]);
        }
        for (int c = 0; c < MLP_OUT; c++)
            den += exp(z[c] - zmax);
        loss += -(z[pb->y[s]] - zmax - log(den)) / n;
        for (int c = 0; c < MLP_OUT; c++) {
            dz[c] = (exp(z[c] - zmax) / den - (c == pb->y[s])) / n;
            gb2[c] += dz[c];
            for (int j = 0; j < MLP_HID; j++)
                gw2[c * MLP_HID + j] += dz[c] * h[j];
        }
        for (int j = 0; j < MLP_HID; j++) {
            double dh = 0;
            for (int c = 0; c < MLP_OUT; c++)
                dh += (double)w2[c * MLP_HID + j] * dz[c];
            double da = dh * (1 - h[j] * h[j]);
            gb1[j] += da;
            for (int k = 0; k < MLP_IN; k++)
                gw1[j * MLP_IN + k] += da * x[k];
        }
    }
    for (int i = 0; i < MLP_TOTAL; i++)
        grad[i] = (float)g[i];
    return loss;
}

double relerr_f64(const double *a, const double *b, size_t n, double floor)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor);
        if (!(d <= m))
            m = d;
    }
    return m;
}

void mlp_run(const mlp_problem *pb, dlt_optim *o, const dlt_schedule *sched, double lr,
             double clip_norm, float *traj, double *lrs, double *losses)
{
    float p[MLP_TOTAL], g[MLP_TOTAL];
    for (int i = 0; i < MLP_TOTAL; i++)
        p[i] = pb->init[i];
    for (int s = 0; s < MLP_NSTEPS; s++) {
        double loss = mlp_loss_grad(p, pb, 0, MLP_BATCH, g);
        if (clip_norm > 0)
            dlt_clip_grad_norm(g, MLP_TOTAL, clip_norm);
        double l = sched ? dlt_schedule_lr(sched, dlt_optim_get_step(o)) : lr;
        ck_assert_int_eq(dlt_optim_step(o, p, g, l), DLT_OK);
        for (int i = 0; i < MLP_TOTAL; i++)
            traj[s * MLP_TOTAL + i] = p[i];
        if (lrs)
            lrs[s] = l;
        if (losses)
            losses[s] = loss;
    }
}

static double abserr_f64(const double *a, const double *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= m))
            m = fabs(a[i] - b[i]);
    return m;
}

static double read_attr(const char *obj, const char *attr)
{
    double v = -1;
    hid_t a = H5Aopen_by_name(fixture_file(), obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Aread(a, H5T_NATIVE_DOUBLE, &v);
        H5Aclose(a);
    }
    return v;
}

traj_err compare_case(const char *name, const float *traj, const double *losses)
{
    enum { N = MLP_NSTEPS * MLP_TOTAL };
    static double ref[N], got[N];
    double ref_loss[MLP_NSTEPS];
    char path[256];
    traj_err e = {0};
    snprintf(path, sizeof path, "/cases/%s/traj", name);
    fixture_read_f64(path, ref, N);
    snprintf(path, sizeof path, "/cases/%s/loss", name);
    fixture_read_f64(path, ref_loss, MLP_NSTEPS);
    for (int i = 0; i < N; i++)
        got[i] = traj[i];
    e.rel = relerr_f64(got, ref, N, OPTIM_REL_FLOOR);
    e.abs = abserr_f64(got, ref, N);
    for (int s = 0; s < MLP_NSTEPS; s++) {
        const double *r = ref + s * MLP_TOTAL;
        double rmax = 0;
        for (int i = 0; i < MLP_TOTAL; i++)
            rmax = fmax(rmax, fabs(r[i]));
        double nr = abserr_f64(got + s * MLP_TOTAL, r, MLP_TOTAL) / rmax;
        if (!(nr <= e.normrel))
            e.normrel = nr;
    }
    if (losses)
        e.loss_rel = relerr_f64(losses, ref_loss, MLP_NSTEPS, 1e-30);
    snprintf(path, sizeof path, "/cases/%s", name);
    e.torch_rel = read_attr(path, "torch_f32_rel");
    e.torch_normrel = read_attr(path, "torch_f32_normrel");
    printf("%-26s normwise rel %.2e (torch f32 %.2e)  elementwise rel %.2e (torch f32 %.2e)  "
           "abs %.2e  loss rel %.1e\n",
           name, e.normrel, e.torch_normrel, e.rel, e.torch_rel, e.abs, e.loss_rel);
    if (getenv("OPTIM_VERBOSE"))
        for (int s = 0; s < MLP_NSTEPS; s++)
            printf("  step %2d rel %.3g abs %.3g\n", s + 1,
                   relerr_f64(got + s * MLP_TOTAL, ref + s * MLP_TOTAL, MLP_TOTAL, OPTIM_REL_FLOOR),
                   abserr_f64(got + s * MLP_TOTAL, ref + s * MLP_TOTAL, MLP_TOTAL));
    fflush(stdout);
    return e;
}

void check_case(const char *name, const float *traj, const double *losses)
{
    traj_err e = compare_case(name, traj, losses);
    ck_assert_msg(e.normrel <= OPTIM_NORMREL_TOL && e.rel <= OPTIM_ELEMREL_TOL,
                  "%s: normwise rel err %g (tol %g), elementwise rel err %g (tol %g)", name,
                  e.normrel, OPTIM_NORMREL_TOL, e.rel, OPTIM_ELEMREL_TOL);
    ck_assert_msg(e.loss_rel <= 1e-6, "%s: loss rel err %g", name, e.loss_rel);
}

void optim_tweak_sgdm(dlt_optim_config *c) { c->momentum = 0.9, c->nesterov = 1, c->weight_decay = 0.01; }
void optim_tweak_ams(dlt_optim_config *c) { c->amsgrad = 1, c->weight_decay = 0.01; }
void optim_tweak_rms(dlt_optim_config *c) { c->centered = 1, c->momentum = 0.5, c->weight_decay = 0.01; }
void optim_tweak_ada(dlt_optim_config *c) { c->lr_decay = 0.1, c->initial_accumulator_value = 0.2; }

const optim_case optim_tweaked[OPTIM_NTWEAKED] = {
    {"sgd", optim_tweak_sgdm}, {"adam", optim_tweak_ams}, {"adamw", optim_tweak_ams}, {"rmsprop", optim_tweak_rms},
    {"adadelta", NULL}, {"adagrad", optim_tweak_ada}, {"lamb", NULL},
};
