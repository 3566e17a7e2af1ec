/* The generative models (src/models/gan.c, dcgan.c, cyclegan.c, vae.c)
 * against PyTorch: tests/fixtures/gen_models.h5, made by
 * tests/fixtures/gen_make_fixtures.py (which documents the layout), holds
 * PyTorch modules' initial weights, their outputs in training mode, the
 * gradients of a scalar loss with respect to every parameter and input, and
 * the batch-norm running statistics after the forward pass(es). Each case
 * builds the same network here, loads the weights by name (so every name and
 * shape must match PyTorch's and no parameter may be missing or extra), runs
 * one training plan and compares. Also: parameter counts of the full-size
 * networks against PyTorch's, and build errors. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gen.h"
#include "dlt_ops.h"
#include "dlt_test.h"

/* ---------------------------------------------------------------- helpers */

/* The fixture's inputs come from dlt_test_hash_uniform (the script's hash). */

static size_t numel(const dlt_graph *g, dlt_t v)
{
    return (size_t)dlt_shape_numel(dlt_shape_of(g, v));
}

/* Trainable elements, counted from the graph's values (no finalize). */
static int64_t count_params(const dlt_graph *g)
{
    int64_t n = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_PARAM)
            n += dlt_shape_numel(dlt_shape_of(g, v));
    return n;
}

static int num_param_values(const dlt_graph *g)
{
    int n = 0;
    for (dlt_t v = 0; v < dlt_graph_num_values(g); v++)
        n += dlt_kind_of(g, v) == DLT_VAL_PARAM;
    return n;
}

/* Worst |a - b| over the scale of b (its largest magnitude; 1 when b is all
 * zeros): f32 sums err relative to the magnitudes summed, not to each
 * (possibly tiny, cancelled) result. */
static double scaled_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return dlt_test_max_relerr(a, b, n, m > 0 ? m : 1);
}

/* The reference is PyTorch in float64 from the same f32 values, rounded
 * once; we compute in f32 (sums of up to a few thousand terms, batch
 * statistics of small batches), which lands within ~1e-6 of it on the
 * tensor's scale. 1e-4 leaves room for other summation orders while a wrong
 * layer, a missing bias or a misplaced normalisation is off by O(1). */
#define TOL 1e-4

/* ---------------------------------------------------------------- flat arrays */

#define MAXT 64

/* The layout of the fixture's flat arrays (params, grads, buffers, ...): the
 * graph's value for each line of a names list and its offset. */
typedef struct {
    int n;
    dlt_t v[MAXT];
    size_t off[MAXT + 1]; /* off[n]: the total */
} layout;

/* Every name must be a parameter (or buffer) of the graph with this exact
 * dotted name: PyTorch's module path under the builder's scope. */
static void read_layout(dlt_graph *g, hid_t grp, const char *names_ds, layout *L)
{
    hid_t ds = H5Dopen2(grp, names_ds, H5P_DEFAULT);
    ck_assert_msg(ds >= 0, "no dataset %s", names_ds);
    hid_t sp = H5Dget_space(ds);
    size_t len = (size_t)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(ds);
    char *text = calloc(len + 1, 1);
    dlt_test_h5_read(grp, names_ds, H5T_NATIVE_UCHAR, text, len);
    L->n = 0;
    L->off[0] = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        ck_assert_int_lt(L->n, MAXT);
        dlt_t v = dlt_param_lookup(g, line);
        ck_assert_msg(v >= 0, "PyTorch's %s is not in the graph: %s", line, dlt_errmsg());
        L->v[L->n] = v;
        L->off[L->n + 1] = L->off[L->n] + numel(g, v);
        L->n++;
    }
    free(text);
}

static float *read_flat(hid_t grp, const char *ds, const layout *L)
{
    float *d = malloc((L->off[L->n] ? L->off[L->n] : 1) * sizeof *d);
    dlt_test_h5_read(grp, ds, H5T_NATIVE_FLOAT, d, L->off[L->n]);
    return d;
}

/* Sets the graph's parameters from the fixture's `params`; returns the layout. */
static void load_params(dlt_graph *g, hid_t grp, layout *L)
{
    read_layout(g, grp, "param_names", L);
    ck_assert_int_eq(L->n, num_param_values(g)); /* none missing, none extra */
    float *d = read_flat(grp, "params", L);
    for (int i = 0; i < L->n; i++)
        memcpy(dlt_param_data(g, L->v[i]), d + L->off[i], (L->off[i + 1] - L->off[i]) * sizeof *d);
    free(d);
}

/* The worst error of the parameter gradients against the flat array ds. A
 * bias that a normalisation follows (gan-mlp's fc1/fc2, every CycleGAN conv
 * before an instance norm) has an exactly zero gradient: the mean
 * subtraction removes it. The reference then holds float64 rounding noise
 * (1e-17) and we f32 noise, so such tensors (below 1e-6 of the largest
 * gradient) are measured on the scale of the largest gradient instead. */
static double check_grads(dlt_graph *g, hid_t grp, const char *ds, const layout *L,
                          const char *cname)
{
    float *ref = read_flat(grp, ds, L);
    double gmax = 0, worst = 0;
    for (size_t k = 0; k < L->off[L->n]; k++)
        gmax = fmax(gmax, fabs(ref[k]));
    for (int i = 0; i < L->n; i++) {
        size_t n = L->off[i + 1] - L->off[i];
        const float *r = ref + L->off[i];
        double m = 0;
        for (size_t k = 0; k < n; k++)
            m = fmax(m, fabs(r[k]));
        double e =
            dlt_test_max_relerr(dlt_param_grad(g, L->v[i]), r, n, m < 1e-6 * gmax ? gmax : m);
        ck_assert_msg(e < TOL, "%s: %s of %s: error %.3g (max |ref| %.3g)", cname, ds,
                      dlt_name_of(g, L->v[i]), e, m);
        worst = fmax(worst, e);
    }
    free(ref);
    return worst;
}

/* ---------------------------------------------------------------- one case */

#define MAXIN 8
#define MAXOUT 6

typedef struct {
    const char *name;
    dlt_t v;
} named;

typedef struct {
    dlt_graph *g;
    int nin, nout, ngradin;
    named in[MAXIN];   /* f32 inputs filled from the hash, i32 labels from the fixture */
    named out[MAXOUT]; /* compared with the dataset of the same name */
    named gradin[MAXIN];
    dlt_t loss;
} gcase;

static dlt_t add_input(gcase *c, const char *name, dlt_dtype dt, int ndim, const int64_t *dims)
{
    ck_assert_int_lt(c->nin, MAXIN);
    dlt_t v = dlt_input(c->g, name, dt, ndim, dims);
    c->in[c->nin++] = (named){name, v};
    if (dt == DLT_F32 && name[0] != 'r' && strcmp(name, "eps") != 0)
        c->gradin[c->ngradin++] = (named){name, v};
    return v;
}

static void add_out(gcase *c, const char *name, dlt_t v)
{
    ck_assert_int_lt(c->nout, MAXOUT);
    c->out[c->nout++] = (named){name, v};
}

/* sum(y * r) with r a new input "r<suffix>" of y's shape. */
static dlt_t weighted(gcase *c, dlt_t y, const char *rname)
{
    const dlt_shape *s = dlt_shape_of(c->g, y);
    ck_assert_msg(s != NULL, "%s", dlt_graph_errmsg(c->g));
    dlt_t r = add_input(c, rname, DLT_F32, s->ndim, s->dim);
    return dlt_sum(c->g, dlt_mul(c->g, y, r), 0, NULL, 0);
}

static void build_gan(gcase *c, hid_t grp, const char *kind)
{
    dlt_gan_spec s;
    char arch[32], gn[4], dn[4];
    dlt_test_h5_attr_str(grp, "arch", arch, sizeof arch);
    ck_assert_int_eq(dlt_gan_spec_default(arch, &s), DLT_OK);
    dlt_test_h5_attr_str(grp, "g_norm", gn, sizeof gn);
    dlt_test_h5_attr_str(grp, "d_norm", dn, sizeof dn);
    s.img_c = dlt_test_h5_attr_int(grp, "img_c"), s.img_h = dlt_test_h5_attr_int(grp, "img_h"),
    s.img_w = dlt_test_h5_attr_int(grp, "img_w");
    s.z_dim = dlt_test_h5_attr_int(grp, "z_dim"), s.num_classes = dlt_test_h5_attr_int(grp, "num_classes");
    s.g_width = dlt_test_h5_attr_int(grp, "g_width"), s.d_width = dlt_test_h5_attr_int(grp, "d_width");
    s.g_norm = gn[0], s.d_norm = dn[0];
    int64_t b = dlt_test_h5_attr_int(grp, "batch"), lab[1] = {b};
    dlt_t label = s.num_classes > 0 ? add_input(c, "label", DLT_I32, 1, lab) : -1;
    if (strcmp(kind, "gan-g") == 0) {
        int64_t zs[2] = {b, s.z_dim};
        dlt_t y = dlt_gan_generator(c->g, &s, add_input(c, "z", DLT_F32, 2, zs), label);
        add_out(c, "out", y);
        c->loss = weighted(c, y, "r");
        return;
    }
    int64_t xs[4] = {b, s.img_c, s.img_h, s.img_w};
    dlt_t y = dlt_gan_discriminator(c->g, &s, add_input(c, "x", DLT_F32, 4, xs), label);
    add_out(c, "out", y);
    c->loss = weighted(c, y, "r");
    if (dlt_test_h5_attr_int(grp, "twice")) {
        /* the fakes after the reals: the same module again, its own batch statistics */
        int64_t xs2[4] = {b - 1, s.img_c, s.img_h, s.img_w}, lab2[1] = {b - 1};
        dlt_t label2 = s.num_classes > 0 ? add_input(c, "label2", DLT_I32, 1, lab2) : -1;
        dlt_t x2 = add_input(c, "x2", DLT_F32, 4, xs2);
        int prev = dlt_graph_set_reuse(c->g, 1);
        dlt_t y2 = dlt_gan_discriminator(c->g, &s, x2, label2);
        dlt_graph_set_reuse(c->g, prev);
        add_out(c, "out2", y2);
        c->loss = dlt_add(c->g, c->loss, weighted(c, y2, "r2"));
    }
}

static void build_cyclegan(gcase *c, hid_t grp, const char *kind)
{
    dlt_cyclegan_spec s;
    dlt_cyclegan_spec_default(&s, dlt_test_h5_attr_int(grp, "img_c"), dlt_test_h5_attr_int(grp, "img_h"),
                              dlt_test_h5_attr_int(grp, "img_w"));
    s.g_width = dlt_test_h5_attr_int(grp, "g_width"), s.d_width = dlt_test_h5_attr_int(grp, "d_width");
    s.n_blocks = dlt_test_h5_attr_int(grp, "n_blocks"), s.d_layers = dlt_test_h5_attr_int(grp, "d_layers");
    int gen = strcmp(kind, "cyclegan-g") == 0;
    int64_t xs[4] = {dlt_test_h5_attr_int(grp, "batch"), gen ? dlt_test_h5_attr_int(grp, "in_c") : s.img_c, s.img_h,
                     s.img_w};
    dlt_t x = add_input(c, "x", DLT_F32, 4, xs);
    dlt_t y = gen ? dlt_cyclegan_generator(c->g, &s, x, "G_AB")
                  : dlt_cyclegan_discriminator(c->g, &s, x, "D_A");
    add_out(c, "out", y);
    c->loss = weighted(c, y, "r");
}

static void build_vae(gcase *c, hid_t grp)
{
    dlt_vae_spec s;
    dlt_vae_spec_default(&s);
    s.img_c = dlt_test_h5_attr_int(grp, "img_c"), s.img_h = dlt_test_h5_attr_int(grp, "img_h"),
    s.img_w = dlt_test_h5_attr_int(grp, "img_w");
    s.z_dim = dlt_test_h5_attr_int(grp, "z_dim"), s.width = dlt_test_h5_attr_int(grp, "width"),
    s.hidden = dlt_test_h5_attr_int(grp, "hidden");
    int64_t b = dlt_test_h5_attr_int(grp, "batch"), xs[4] = {b, s.img_c, s.img_h, s.img_w},
            es[2] = {b, s.z_dim};
    dlt_t x = add_input(c, "x", DLT_F32, 4, xs), eps = add_input(c, "eps", DLT_F32, 2, es), mu,
          logvar;
    dlt_vae_encoder(c->g, &s, x, &mu, &logvar);
    dlt_t logits = dlt_vae_decoder(c->g, &s, dlt_vae_sample(c->g, mu, logvar, eps));
    c->loss = dlt_vae_loss(c->g, &s, x, logits, mu, logvar);
    add_out(c, "out", c->loss);
    add_out(c, "mu", mu);
    add_out(c, "logvar", logvar);
    add_out(c, "logits", logits);
}

static const char *const cases[] = {"mlp_g",
                                    "mlp_d",
                                    "mlp_cond_g",
                                    "mlp_cond_d",
                                    "dcgan28_g",
                                    "dcgan28_d",
                                    "dcgan32_g",
                                    "dcgan32_d",
                                    "dcgan64_g",
                                    "cgan28_g",
                                    "cgan28_d",
                                    "wgangp32_d",
                                    "wgangp28_d_nonorm",
                                    "dcgan28_g_nonorm",
                                    "cgan32_d_twice",
                                    "cyclegan28_g",
                                    "cyclegan32_d",
                                    "vae28"};

START_TEST(golden_vs_pytorch)
{
    const char *cname = cases[_i];
    hid_t f = dlt_test_fixture_open("gen_models.h5"), grp = H5Gopen2(f, cname, H5P_DEFAULT);
    ck_assert_msg(grp >= 0, "no case %s", cname);
    char kind[32], path[256];
    dlt_test_h5_attr_str(grp, "kind", kind, sizeof kind);
    gcase c = {.g = dlt_graph_create(1)};
    dlt_graph *g = c.g;
    if (strncmp(kind, "gan-", 4) == 0)
        build_gan(&c, grp, kind);
    else if (strncmp(kind, "cyclegan-", 9) == 0)
        build_cyclegan(&c, grp, kind);
    else
        build_vae(&c, grp);
    ck_assert_msg(c.loss >= 0, "%s: %s", cname, dlt_graph_errmsg(g));

    /* as many parameters as PyTorch's module, and the fixture has each by name */
    int64_t np_torch = dlt_test_h5_attr_int(grp, "nparams");
    ck_assert_msg(count_params(g) == np_torch, "%s: %lld parameters, PyTorch %lld", cname,
                  (long long)count_params(g), (long long)np_torch);

    /* gradients of every parameter (into the flat buffer) and input */
    int np;
    dlt_t *params, *grads, gin[MAXIN], wrt[MAXIN];
    ck_assert_msg(dlt_grad_params(g, c.loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; i < c.ngradin; i++)
        wrt[i] = c.gradin[i].v;
    ck_assert_msg(dlt_grad(g, c.loss, c.ngradin, wrt, gin) == DLT_OK, "%s", dlt_errmsg());
    dlt_t outs[MAXOUT + MAXIN];
    for (int i = 0; i < c.nout; i++)
        outs[i] = c.out[i].v;
    memcpy(outs + c.nout, gin, (size_t)c.ngradin * sizeof *gin);
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, c.nout + c.ngradin, outs, &po, &p) == DLT_OK, "%s",
                  dlt_errmsg());

    layout L;
    load_params(g, grp, &L);
    for (int i = 0; i < c.nin; i++) {
        void *d = dlt_plan_data(p, c.in[i].v);
        size_t n = numel(g, c.in[i].v);
        if (dlt_shape_of(g, c.in[i].v)->dtype == DLT_I32) {
            dlt_test_h5_read(grp, c.in[i].name, H5T_NATIVE_INT32, d, n);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", cname, c.in[i].name);
        dlt_test_hash_uniform(path, d, n);
        if (strcmp(kind, "vae") == 0 && strcmp(c.in[i].name, "x") == 0)
            for (size_t k = 0; k < n; k++) /* pixels in [0, 1] */
                ((float *)d)[k] = (((float *)d)[k] + 1.f) * 0.5f;
    }
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    double e_out = 0, e_grad = 0, e_in = 0, e_buf = 0;
    for (int i = 0; i < c.nout + c.ngradin; i++) {
        int isgrad = i >= c.nout;
        const char *what = isgrad ? c.gradin[i - c.nout].name : c.out[i].name;
        size_t n = numel(g, outs[i]);
        float *ref = malloc(n * sizeof *ref);
        snprintf(path, sizeof path, isgrad ? "grad_in/%s" : "%s", what);
        dlt_test_h5_read(grp, path, H5T_NATIVE_FLOAT, ref, n);
        double e = scaled_err(dlt_plan_data(p, outs[i]), ref, n);
        ck_assert_msg(e < TOL, "%s: %s error %.3g", cname, path, e);
        if (isgrad)
            e_in = fmax(e_in, e);
        else
            e_out = fmax(e_out, e);
        free(ref);
    }
    e_grad = check_grads(g, grp, "grads", &L, cname);
    if (dlt_num_buffers(g) > 0) {
        layout B;
        read_layout(g, grp, "buffer_names", &B);
        ck_assert_int_eq(B.n, dlt_num_buffers(g));
        float *ref = read_flat(grp, "buffers", &B);
        for (int i = 0; i < B.n; i++) {
            size_t n = B.off[i + 1] - B.off[i];
            double e = scaled_err(dlt_param_data(g, B.v[i]), ref + B.off[i], n);
            ck_assert_msg(e < TOL, "%s: %s error %.3g", cname, dlt_name_of(g, B.v[i]), e);
            e_buf = fmax(e_buf, e);
        }
        free(ref);
    }
    printf("%-16s %6lld params (%2d tensors, %d buffers): max error outputs %.2g, parameter "
           "gradients %.2g, input gradients %.2g, running stats %.2g\n",
           cname, (long long)np_torch, np, dlt_num_buffers(g), e_out, e_grad, e_in, e_buf);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- WGAN-GP */

static const char *const gp_cases[] = {"wgangp32_d", "wgangp28_d_nonorm"};

/* The WGAN-GP critic (layer norm, or none) differentiated twice: the penalty
 * P = mean_i (||dD/dx_i|| - 1)^2, D = sum of the critic's outputs, and
 * dP/d(every parameter) against torch.autograd.grad(create_graph=True). */
START_TEST(wgan_gp_penalty)
{
    const char *cname = gp_cases[_i];
    hid_t f = dlt_test_fixture_open("gen_models.h5"), grp = H5Gopen2(f, cname, H5P_DEFAULT);
    gcase c = {.g = dlt_graph_create(1)};
    dlt_graph *g = c.g;
    build_gan(&c, grp, "gan-d");
    dlt_t x = c.in[0].v, gx;
    ck_assert_str_eq(c.in[0].name, "x");
    ck_assert_msg(dlt_grad(g, dlt_sum(g, c.out[0].v, 0, NULL, 0), 1, &x, &gx) == DLT_OK, "%s",
                  dlt_errmsg());
    int axes[3] = {1, 2, 3};
    dlt_t norm = dlt_sqrt(g, dlt_sum(g, dlt_square(g, gx), 3, axes, 0));
    dlt_t pen = dlt_mean(g, dlt_square(g, dlt_affine(g, norm, 1.f, -1.f)), 0, NULL, 0);
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_grad_params(g, pen, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 1, &pen, &po, &p) == DLT_OK, "%s", dlt_errmsg());
    layout L;
    load_params(g, grp, &L);
    char path[256];
    snprintf(path, sizeof path, "%s/x", cname);
    dlt_test_hash_uniform(path, dlt_plan_data(p, x), numel(g, x));
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
    float want;
    dlt_test_h5_read(grp, "gp_P", H5T_NATIVE_FLOAT, &want, 1);
    double e_p = fabs(*(float *)dlt_plan_data(p, pen) - want) / fabs(want), e_grad = 0;
    ck_assert_msg(e_p < TOL, "P = %g, PyTorch %g", *(float *)dlt_plan_data(p, pen), want);
    e_grad = check_grads(g, grp, "gp_grads", &L, cname);
    printf("%-16s penalty P = %.6f: error %.2g, dP/dparams max error %.2g (%d tensors)\n", cname,
           want, e_p, e_grad, np);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- full-size counts */

static int64_t gan_count(const char *arch, int c, int hw, int z, int width, int gen)
{
    dlt_gan_spec s;
    ck_assert_int_eq(dlt_gan_spec_default(arch, &s), DLT_OK);
    s.img_c = c, s.img_h = s.img_w = hw, s.z_dim = z, s.g_width = s.d_width = width;
    dlt_graph *g = dlt_graph_create(1);
    int64_t zs[2] = {2, z}, xs[4] = {2, c, hw, hw};
    dlt_t y = gen ? dlt_gan_generator(g, &s, dlt_input(g, "z", DLT_F32, 2, zs), -1)
                  : dlt_gan_discriminator(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), -1);
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    int64_t n = count_params(g);
    dlt_graph_free(g);
    return n;
}

static int64_t cyclegan_count(int hw, int gen)
{
    dlt_cyclegan_spec s;
    dlt_cyclegan_spec_default(&s, 3, hw, hw);
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, 3, hw, hw};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, xs);
    dlt_t y = gen ? dlt_cyclegan_generator(g, &s, x, "G_AB")
                  : dlt_cyclegan_discriminator(g, &s, x, "D_A");
    ck_assert_msg(y >= 0, "%s", dlt_graph_errmsg(g));
    int64_t n = count_params(g);
    dlt_graph_free(g);
    return n;
}

static int64_t vae_count(void)
{
    dlt_vae_spec s;
    dlt_vae_spec_default(&s);
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {1, s.img_c, s.img_h, s.img_w};
    dlt_t mu, logvar;
    dlt_vae_encoder(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), &mu, &logvar);
    ck_assert_msg(dlt_vae_decoder(g, &s, mu) >= 0, "%s", dlt_graph_errmsg(g));
    int64_t n = count_params(g);
    dlt_graph_free(g);
    return n;
}

START_TEST(full_size_counts)
{
    hid_t f = dlt_test_fixture_open("gen_models.h5"), grp = H5Gopen2(f, "counts", H5P_DEFAULT);
    struct {
        const char *key;
        int64_t ours;
    } k[] = {
        {"dcgan64_g", gan_count("dcgan", 3, 64, 100, 64, 1)}, /* PyTorch's dcgan example */
        {"dcgan64_d", gan_count("dcgan", 3, 64, 100, 64, 0)},
        {"cyclegan256_g", cyclegan_count(256, 1)}, /* 9 blocks */
        {"cyclegan128_g", cyclegan_count(128, 1)}, /* 6 blocks */
        {"cyclegan_d", cyclegan_count(256, 0)},
        {"vae_default", vae_count()},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        int64_t want = dlt_test_h5_attr_int(grp, k[i].key);
        printf("%-14s %9lld parameters (PyTorch %lld)\n", k[i].key, (long long)k[i].ours,
               (long long)want);
        ck_assert_msg(k[i].ours == want, "%s: %lld parameters, PyTorch %lld", k[i].key,
                      (long long)k[i].ours, (long long)want);
    }
    H5Gclose(grp), H5Fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- initialisation */

/* Mean and standard deviation of a parameter's initial values. */
static void moments(const float *d, size_t n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s += d[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        s2 += (d[i] - *mean) * (d[i] - *mean);
    *sd = sqrt(s2 / (double)n);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every parameter of the finalized graph drawn as the papers say: conv
 * weights (rank 4) N(0, 0.02), batch-norm scales (rank 1 weights) N(1, 0.02),
 * biases 0, label embeddings N(0, 1) — means within 5 standard errors,
 * standard deviations within 5 / sqrt(2n) relative (the sample deviation's
 * own spread), so a wrong scale or distribution family fails. */
static void check_normal_init(dlt_graph *g, const char *what)
{
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *p = dlt_param_at(g, i);
        const float *d = dlt_param_data(g, p->value);
        double mean, sd, want_mean = 0, want_sd = 0.02, n = (double)p->numel;
        moments(d, p->numel, &mean, &sd);
        if (ends_with(p->name, "bias") && p->shape.ndim == 1) {
            want_sd = 0;
        } else if (strstr(p->name, "label_emb")) {
            want_sd = 1;
        } else if (p->shape.ndim == 1) {
            want_mean = 1;
        } else {
            ck_assert_int_eq(p->shape.ndim, 4);
        }
        ck_assert_msg(fabs(mean - want_mean) <= 5 * want_sd / sqrt(n) + 1e-12,
                      "%s %s: mean %g, want %g", what, p->name, mean, want_mean);
        ck_assert_msg(fabs(sd - want_sd) <= 5 * want_sd / sqrt(2 * n) + 1e-12,
                      "%s %s: sd %g, want %g", what, p->name, sd, want_sd);
    }
}

START_TEST(initialisation)
{
    dlt_gan_spec s;
    ck_assert_int_eq(dlt_gan_spec_default("cgan", &s), DLT_OK);
    s.img_c = 3, s.img_h = s.img_w = 64;
    dlt_graph *g = dlt_graph_create(7);
    int64_t zs[2] = {2, s.z_dim}, xs[4] = {2, 3, 64, 64}, ls[1] = {2};
    dlt_t label = dlt_input(g, "label", DLT_I32, 1, ls);
    dlt_gan_generator(g, &s, dlt_input(g, "z", DLT_F32, 2, zs), label);
    ck_assert_msg(dlt_gan_discriminator(g, &s, dlt_input(g, "x", DLT_F32, 4, xs), label) >= 0, "%s",
                  dlt_graph_errmsg(g));
    check_normal_init(g, "cgan");
    dlt_graph_free(g);

    dlt_cyclegan_spec cs;
    dlt_cyclegan_spec_default(&cs, 3, 128, 128);
    g = dlt_graph_create(7);
    int64_t cx[4] = {1, 3, 128, 128};
    dlt_t x = dlt_input(g, "x", DLT_F32, 4, cx);
    dlt_cyclegan_generator(g, &cs, x, "G_AB");
    ck_assert_msg(dlt_cyclegan_discriminator(g, &cs, x, "D_A") >= 0, "%s", dlt_graph_errmsg(g));
    check_normal_init(g, "cyclegan");
    dlt_graph_free(g);

    /* the VAE: torch's defaults, U(-b, b) with b = 1 / sqrt(fan_in) (transposed
     * convs: fan_in = out_channels k k), so sd = b / sqrt(3) */
    dlt_vae_spec vs;
    dlt_vae_spec_default(&vs);
    g = dlt_graph_create(7);
    int64_t vx[4] = {2, 1, 28, 28};
    dlt_t mu, logvar;
    dlt_vae_encoder(g, &vs, dlt_input(g, "x", DLT_F32, 4, vx), &mu, &logvar);
    ck_assert_msg(dlt_vae_decoder(g, &vs, mu) >= 0, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    static const struct {
        const char *name;
        double fan_in;
    } fans[] = {{"encoder.conv1.weight", 16},   {"encoder.conv2.bias", 32 * 16},
                {"encoder.fc.weight", 64 * 49}, {"encoder.fc_mu.bias", 256},
                {"decoder.fc2.weight", 256},    {"decoder.deconv1.weight", 32 * 16},
                {"decoder.deconv2.bias", 16}};
    for (size_t i = 0; i < sizeof fans / sizeof fans[0]; i++) {
        dlt_t v = dlt_param_lookup(g, fans[i].name);
        ck_assert_msg(v >= 0, "%s", fans[i].name);
        size_t n = numel(g, v);
        const float *d = dlt_param_data(g, v);
        double b = 1 / sqrt(fans[i].fan_in), mean, sd;
        moments(d, n, &mean, &sd);
        for (size_t k = 0; k < n; k++)
            ck_assert_msg(fabs(d[k]) <= b, "%s: %g outside +-%g", fans[i].name, d[k], b);
        ck_assert_msg(fabs(sd - b / sqrt(3)) <= 5 * (b / sqrt(3)) / sqrt(n), "%s: sd %g, want %g",
                      fans[i].name, sd, b / sqrt(3));
    }
    dlt_graph_free(g);
}
END_TEST

/* ---------------------------------------------------------------- errors */

static void expect_gan_error(const char *arch, int hw, int num_classes, int with_label,
                             const char *msg)
{
    dlt_gan_spec s;
    ck_assert_int_eq(dlt_gan_spec_default(arch, &s), DLT_OK);
    s.img_h = s.img_w = hw, s.num_classes = num_classes;
    dlt_graph *g = dlt_graph_create(1);
    int64_t zs[2] = {2, s.z_dim}, ls[1] = {2};
    dlt_t label = with_label ? dlt_input(g, "label", DLT_I32, 1, ls) : -1;
    ck_assert_int_lt(dlt_gan_generator(g, &s, dlt_input(g, "z", DLT_F32, 2, zs), label), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), msg) != NULL, "'%s' lacks '%s'", dlt_graph_errmsg(g),
                  msg);
    dlt_graph_free(g);
}

START_TEST(errors)
{
    expect_gan_error("dcgan", 30, 0, 0, "dcgan: images must be 28x28, 32x32 or 64x64 (got 30x30)");
    expect_gan_error("cgan", 28, 10, 0,
                     "cgan: a conditional model (num_classes 10) needs the label");
    expect_gan_error("cgan", 28, 0, 0, "cgan: num_classes must be > 0");
    dlt_gan_spec bs;
    ck_assert_int_eq(dlt_gan_spec_default("wgan-gp", &bs), DLT_OK);
    bs.d_norm = 'i';
    dlt_graph *gb = dlt_graph_create(1);
    int64_t bx[4] = {2, 1, 28, 28};
    ck_assert_int_lt(dlt_gan_discriminator(gb, &bs, dlt_input(gb, "x", DLT_F32, 4, bx), -1), 0);
    ck_assert_ptr_nonnull(
        strstr(dlt_graph_errmsg(gb),
               "wgan-gp: d_norm must be 'b' (batch), 'l' (layer) or 'n' (none) (got code 105)"));
    dlt_graph_free(gb);

    dlt_cyclegan_spec cs;
    dlt_cyclegan_spec_default(&cs, 1, 30, 30);
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {2, 1, 30, 30};
    ck_assert_int_lt(dlt_cyclegan_generator(g, &cs, dlt_input(g, "x", DLT_F32, 4, xs), "G_AB"), 0);
    ck_assert_ptr_nonnull(
        strstr(dlt_graph_errmsg(g), "G_AB: the generator's image sides must be multiples of 4"));
    dlt_graph_free(g);

    dlt_vae_spec vs;
    dlt_vae_spec_default(&vs);
    g = dlt_graph_create(1);
    int64_t bad[4] = {2, 1, 32, 32};
    dlt_t mu, logvar;
    ck_assert_int_lt(dlt_vae_encoder(g, &vs, dlt_input(g, "x", DLT_F32, 4, bad), &mu, &logvar), 0);
    ck_assert_ptr_nonnull(
        strstr(dlt_graph_errmsg(g), "vae: the encoder's input must be f32 [N, 1, 28, 28]"));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gen_models");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, golden_vs_pytorch, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_loop_test(tc, wgan_gp_penalty, 0, (int)(sizeof gp_cases / sizeof gp_cases[0]));
    tcase_add_test(tc, full_size_counts);
    tcase_add_test(tc, initialisation);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
