/* Kernels reuse the OpenMP thread pool: once a plan has run, later runs on
 * the same thread count create no threads. A split GEMM called inside a
 * parallel region that is not active (`#pragma omp parallel ... if (0)`)
 * forks a nested team, and libgomp starts new threads for every nested
 * team; those land wherever the scheduler puts them, often on the busy
 * core (GPT-mini's weight gradients ran 2x slower that way). The test
 * counts pthread_create calls by interposing it (this executable's
 * definition comes before libc's; the real one is the next in the lookup
 * order) around training steps of matmuls in every transpose and batch
 * form, of attention, of a GPT block and of ResNet-20. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "dlt_models.h"
#include "dlt_ops.h"
#include "dlt_test.h"
#include "dlt_transformer.h"

static atomic_int created;

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    static create_fn real;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
    atomic_fetch_add(&created, 1);
    return real(t, attr, fn, arg);
}

/* Threads created by runs 2..4 of a training plan of loss (run 1 warms the
 * pool up), on 2 threads. */
static int threads_created_by_steps(dlt_graph *g, dlt_t loss, void (*fill)(dlt_plan *, void *), void *user)
{
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));
    ck_assert_int_eq(dlt_grad_params(g, loss, &np, &params, &grads), DLT_OK);
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &loss, &po, &p), DLT_OK);
    fill(p, user);
    dlt_set_num_threads(2);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    int before = atomic_load(&created);
    for (int s = 2; s <= 4; s++) {
        eo.step = s;
        ck_assert_int_eq(dlt_plan_run(p, &eo), DLT_OK);
    }
    int n = atomic_load(&created) - before;
    dlt_plan_free(p);
    free(params), free(grads);
    return n;
}

typedef struct {
    dlt_graph *g;
    dlt_t in[3];
} two_inputs;

static void fill_two(dlt_plan *p, void *user)
{
    const two_inputs *t = user;
    for (int i = 0; i < 2; i++) {
        const dlt_shape *s = dlt_shape_of(t->g, t->in[i]);
        dlt_test_fill_uniform(dlt_plan_data(p, t->in[i]), (size_t)dlt_shape_numel(s), -1, 1, 7 + i);
    }
}

/* a [.., K, M] or [.., M, K], b likewise; every product is above the size at
 * which dlt_gemm splits over 2 threads (2 * 64 * 128 * 256 flops). */
START_TEST(matmul_steps_create_no_threads)
{
    static const struct {
        int ta, tb, nda, ndb;
        int64_t batch;
    } cases[] = {
        {1, 0, 2, 2, 1}, {0, 1, 2, 2, 1}, {0, 0, 2, 2, 1}, {1, 1, 2, 2, 1}, /* 2-D, every transpose pair */
        {1, 0, 3, 3, 1}, {0, 0, 3, 2, 3},                                   /* batch below, at the thread count */
        {0, 1, 3, 3, 2}, {1, 0, 3, 3, 3},
    };
    const int64_t M = 64, N = 128, K = 256;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dlt_graph *g = dlt_graph_create(1);
        int ta = cases[c].ta, tb = cases[c].tb;
        int64_t as[3] = {cases[c].batch, ta ? K : M, ta ? M : K}, bs[3] = {cases[c].batch, tb ? N : K, tb ? K : N};
        two_inputs t = {.g = g};
        t.in[0] = dlt_param(g, "a", cases[c].nda, as + 3 - cases[c].nda, dlt_init_uniform(-1, 1));
        t.in[1] = dlt_param(g, "b", cases[c].ndb, bs + 3 - cases[c].ndb, dlt_init_uniform(-1, 1));
        dlt_t y = dlt_matmul(g, t.in[0], t.in[1], ta, tb);
        dlt_t loss = dlt_sum(g, dlt_mul(g, y, y), 0, NULL, 0);
        int n = threads_created_by_steps(g, loss, fill_two, &t);
        ck_assert_msg(n == 0, "case %zu (ta %d tb %d, batch %lld): %d threads created by 3 steps", c, ta, tb,
                      (long long)cases[c].batch, n);
        dlt_graph_free(g);
    }
}
END_TEST

static void fill_three(dlt_plan *p, void *user)
{
    const two_inputs *t = user;
    fill_two(p, user);
    const dlt_shape *s = dlt_shape_of(t->g, t->in[2]);
    dlt_test_fill_uniform(dlt_plan_data(p, t->in[2]), (size_t)dlt_shape_numel(s), -1, 1, 9);
}

/* Attention with fewer (batch, head) pairs than threads: the backward's loop
 * over them runs on one thread and splits each GEMM (512 keys, head size 64:
 * 2 * 64 * 512 * 64 flops per block product); with B * H = 4 the loops are
 * parallel. Causal and not. */
START_TEST(attention_steps_create_no_threads)
{
    for (int c = 0; c < 4; c++) {
        int64_t B = c < 2 ? 1 : 2, H = c < 2 ? 1 : 2, T = 512, D = 64;
        dlt_graph *g = dlt_graph_create(1);
        int64_t qs[4] = {B, H, T, D};
        two_inputs t = {.g = g};
        t.in[0] = dlt_param(g, "q", 4, qs, dlt_init_uniform(-1, 1));
        t.in[1] = dlt_param(g, "k", 4, qs, dlt_init_uniform(-1, 1));
        t.in[2] = dlt_param(g, "v", 4, qs, dlt_init_uniform(-1, 1));
        dlt_attention_opts o = {.causal = c % 2};
        dlt_t y = dlt_attention(g, t.in[0], t.in[1], t.in[2], -1, &o, NULL);
        dlt_t loss = dlt_sum(g, dlt_mul(g, y, y), 0, NULL, 0);
        int n = threads_created_by_steps(g, loss, fill_three, &t);
        ck_assert_msg(n == 0, "B %lld H %lld causal %d: %d threads created by 3 steps", (long long)B,
                      (long long)H, c % 2, n);
        dlt_graph_free(g);
    }
}
END_TEST

static void fill_ids(dlt_plan *p, void *user)
{
    const two_inputs *t = user;
    int32_t *ids = dlt_plan_data(p, t->in[0]);
    int64_t n = dlt_shape_numel(dlt_shape_of(t->g, t->in[0]));
    for (int64_t i = 0; i < n; i++)
        ids[i] = (int32_t)((i * 7919) % 512);
}

/* A GPT-mini training step (every op of the model: embeddings, layer norm,
 * attention, GELU, the tied LM head, cross-entropy, their gradients) at
 * batch 2 x 64. */
START_TEST(gpt_steps_create_no_threads)
{
    dlt_transformer_spec s;
    ck_assert_int_eq(dlt_transformer_spec_default("gpt-mini", &s), DLT_OK);
    s.vocab = 512;
    s.layers = 1;
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {2, 64};
    two_inputs t = {.g = g};
    t.in[0] = dlt_input(g, "ids", DLT_I32, 2, d);
    dlt_t loss = dlt_causal_lm_loss(g, dlt_gpt(g, &s, t.in[0], NULL), t.in[0], DLT_REDUCE_MEAN);
    int n = threads_created_by_steps(g, loss, fill_ids, &t);
    ck_assert_msg(n == 0, "%d threads created by 3 GPT steps", n);
    dlt_graph_free(g);
}
END_TEST

static void fill_images(dlt_plan *p, void *user)
{
    const two_inputs *t = user;
    float *x = dlt_plan_data(p, t->in[0]);
    int32_t *y = dlt_plan_data(p, t->in[1]);
    dlt_test_fill_uniform(x, (size_t)dlt_shape_numel(dlt_shape_of(t->g, t->in[0])), -1, 1, 3);
    for (int i = 0; i < 16; i++)
        y[i] = i % 10;
}

/* A ResNet-20 training step on 16 Fashion-MNIST-sized images (convolutions
 * by every provider the rules pick, batch norm + ReLU, pooling, the head). */
START_TEST(resnet_steps_create_no_threads)
{
    dlt_model_spec s;
    ck_assert_int_eq(dlt_model_spec_default("resnet20", &s), DLT_OK);
    s.in_channels = 1, s.in_h = 28, s.in_w = 28;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[4] = {16, 1, 28, 28}, ys[1] = {16};
    two_inputs t = {.g = g};
    t.in[0] = dlt_input(g, "x", DLT_F32, 4, xs);
    t.in[1] = dlt_input(g, "y", DLT_I32, 1, ys);
    dlt_t logits = dlt_model_classifier(g, &s, t.in[0]);
    dlt_t loss = dlt_cross_entropy(g, logits, t.in[1], -100, 0.f, DLT_REDUCE_MEAN);
    int n = threads_created_by_steps(g, loss, fill_images, &t);
    ck_assert_msg(n == 0, "%d threads created by 3 ResNet-20 steps", n);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("thread_pool");
    TCase *tc = tcase_create("thread_pool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, matmul_steps_create_no_threads);
    tcase_add_test(tc, attention_steps_create_no_threads);
    tcase_add_test(tc, gpt_steps_create_no_threads);
    tcase_add_test(tc, resnet_steps_create_no_threads);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
