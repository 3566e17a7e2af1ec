/* Sharded optimizer state (ZeRO-1): two "ranks" each create an optimizer over
 * their owned flat ranges (several per rank, cutting parameters, as the
 * reducer's bucket shards do), step them in turn on one parameter buffer, and
 * must reproduce the unsharded optimizer bit for bit: parameters, and each
 * compact slot equal to the full slot's owned elements. The same on the
 * stand-in device (the fused device step per owned range), state sizes, and
 * the refusals (unsorted ranges, a step across two ranges, LAMB cutting a
 * parameter on a device). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_backend.h"
#include "dlt_test.h"
#include "standin.h"
#include "optim_testlib.h"

static mlp_problem pb;


/* Rank A and rank B, interleaved; 10 and 30 cut fc1.weight [0,32), 45 cuts
 * fc2.weight [40,64). LAMB needs whole parameters: its split follows them. */
static const dlt_optim_range own_a[] = {{0, 10}, {30, 45}}, own_b[] = {{10, 30}, {45, MLP_TOTAL}};
static const dlt_optim_range lamb_a[] = {{0, 32}, {40, 64}}, lamb_b[] = {{32, 40}, {64, MLP_TOTAL}};

static dlt_optim *make(int c, const dlt_optim_range *own, int nown)
{
    dlt_optim_config cfg;
    ck_assert_int_eq(dlt_optim_config_default(optim_tweaked[c].name, &cfg), DLT_OK);
    if (optim_tweaked[c].tweak)
        optim_tweaked[c].tweak(&cfg);
    dlt_optim *o = NULL;
    dlt_status st = own ? dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, own, nown, &o)
                        : dlt_optim_create(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, &o);
    ck_assert_msg(st == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(dlt_optim_num_slots(o), dlt_optim_config_num_slots(&cfg));
    return o;
}

/* Every owned range of o, as the reducer steps a rank's shards. */
static void step_owned(dlt_optim *o, float *p, const float *g, double lr)
{
    for (int k = 0; k < dlt_optim_num_owned(o); k++) {
        size_t lo, hi;
        dlt_optim_owned(o, k, &lo, &hi, NULL);
        ck_assert_msg(dlt_optim_step_range(o, p, g, lr, lo, hi) == DLT_OK, "%s", dlt_errmsg());
    }
}

/* o's compact slots against the full optimizer's slots over o's ranges. */
static void same_state(dlt_optim *o, dlt_optim *full)
{
    size_t n = 0;
    for (int k = 0; k < dlt_optim_num_owned(o); k++) {
        size_t lo, hi, off;
        dlt_optim_owned(o, k, &lo, &hi, &off);
        ck_assert_uint_eq(off, n);
        n += hi - lo;
        for (int i = 0; i < dlt_optim_num_slots(full); i++)
            ck_assert_msg(memcmp(dlt_optim_slot(o, i) + off, dlt_optim_slot(full, i) + lo, (hi - lo) * sizeof(float)) == 0,
                          "slot %s, range [%zu, %zu)", dlt_optim_slot_name(o, i), lo, hi);
    }
    ck_assert_uint_eq(dlt_optim_state_numel(o), n);
    ck_assert_uint_eq(dlt_optim_state_bytes(o), (size_t)dlt_optim_num_slots(o) * n * sizeof(float));
}

/* on_dev: the sharded optimizers run on the stand-in device (its memory is
 * host memory, so the flat buffers are used as they are). */
static void sharded_vs_full(int c, int on_dev)
{
    int lamb = strcmp(optim_tweaked[c].name, "lamb") == 0;
    dlt_optim *full = make(c, NULL, 0);
    dlt_optim *a = make(c, lamb ? lamb_a : own_a, 2), *b = make(c, lamb ? lamb_b : own_b, 2);
    if (on_dev) {
        dlt_backend *be = dlt_standin_backend();
        ck_assert_msg(dlt_optim_to_device(a, be) == DLT_OK, "%s", dlt_errmsg());
        ck_assert_msg(dlt_optim_to_device(b, be) == DLT_OK, "%s", dlt_errmsg());
    }
    float p1[MLP_TOTAL], p2[MLP_TOTAL], g[MLP_TOTAL];
    memcpy(p1, pb.init, sizeof p1);
    memcpy(p2, pb.init, sizeof p2);
    for (int s = 0; s < 6; s++) {
        mlp_loss_grad(p1, &pb, 0, MLP_BATCH, g);
        ck_assert_int_eq(dlt_optim_step(full, p1, g, 0.01), DLT_OK);
        mlp_loss_grad(p2, &pb, 0, MLP_BATCH, g);
        if (s % 2) { /* the ranges one at a time, then the whole step */
            step_owned(b, p2, g, 0.01);
            step_owned(a, p2, g, 0.01);
            dlt_optim_advance(a);
            dlt_optim_advance(b);
        } else {
            ck_assert_int_eq(dlt_optim_step(a, p2, g, 0.01), DLT_OK);
            ck_assert_int_eq(dlt_optim_step(b, p2, g, 0.01), DLT_OK);
        }
    }
    ck_assert_int_eq(dlt_optim_get_step(a), 6);
    ck_assert_int_eq(memcmp(p1, p2, sizeof p1), 0);
    if (on_dev) {
        ck_assert_int_eq(dlt_optim_download(a), DLT_OK);
        ck_assert_int_eq(dlt_optim_download(b), DLT_OK);
    }
    same_state(a, full);
    same_state(b, full);
    ck_assert_uint_eq(dlt_optim_state_numel(a) + dlt_optim_state_numel(b), MLP_TOTAL);
    printf("%-8s %s: 2 shards of %zu + %zu elements x %d slots == unsharded, bit for bit\n", optim_tweaked[c].name,
           on_dev ? "stand-in device" : "host", dlt_optim_state_numel(a), dlt_optim_state_numel(b),
           dlt_optim_num_slots(a));
    dlt_optim_free(full);
    dlt_optim_free(a);
    dlt_optim_free(b);
}

START_TEST(host_shards_equal_full)
{
    sharded_vs_full(_i, 0);
}
END_TEST

START_TEST(device_shards_equal_full)
{
    sharded_vs_full(_i, 1);
}
END_TEST

START_TEST(sizes_and_refusals)
{
    dlt_optim *o = make(1, own_a, 2); /* adam, amsgrad: 3 slots */
    ck_assert_uint_eq(dlt_optim_state_numel(o), 25);
    ck_assert_uint_eq(dlt_optim_state_bytes(o), 3 * 25 * 4);
    size_t lo, hi, off;
    dlt_optim_owned(o, 1, &lo, &hi, &off);
    ck_assert(lo == 30 && hi == 45 && off == 10);
    float p[MLP_TOTAL], g[MLP_TOTAL] = {0};
    memcpy(p, pb.init, sizeof p);
    /* across two owned ranges, or outside them */
    ck_assert_int_eq(dlt_optim_step_range(o, p, g, 0.1, 5, 15), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_step_range(o, p, g, 0.1, 10, 20), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_step_range(o, p, g, 0.1, 32, 40), DLT_OK); /* inside one */
    ck_assert_int_eq(memcmp(p, pb.init, 32 * sizeof(float)), 0);
    /* the device steps whole owned ranges */
    ck_assert_int_eq(dlt_optim_to_device(o, dlt_standin_backend()), DLT_OK);
    ck_assert_int_eq(dlt_optim_step_range(o, p, g, 0.1, 32, 40), DLT_ERR_UNSUPPORTED);
    dlt_optim_free(o);
    /* unsorted or overlapping ranges */
    dlt_optim_config cfg;
    dlt_optim_config_default("adam", &cfg);
    const dlt_optim_range bad[] = {{10, 20}, {15, 30}}, rev[] = {{30, 40}, {0, 10}}, out[] = {{60, 68}};
    ck_assert_int_eq(dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, bad, 2, &o),
                     DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, rev, 2, &o),
                     DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, out, 1, &o),
                     DLT_ERR_INVALID);
    /* a rank that owns nothing: no state, steps still count */
    ck_assert_int_eq(dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, out, 0, &o), DLT_OK);
    ck_assert_uint_eq(dlt_optim_state_bytes(o), 0);
    ck_assert_int_eq(dlt_optim_num_owned(o), 0);
    ck_assert_int_eq(dlt_optim_step(o, p, g, 0.1), DLT_OK);
    ck_assert_int_eq(dlt_optim_get_step(o), 1);
    dlt_optim_free(o);
    /* LAMB on a device needs whole parameters in each range */
    cfg.kind = DLT_OPTIM_LAMB;
    ck_assert_int_eq(dlt_optim_create_sharded(&cfg, mlp_views, MLP_NPARAMS, MLP_TOTAL, NULL, 0, own_a, 2, &o), DLT_OK);
    ck_assert_int_eq(dlt_optim_to_device(o, dlt_standin_backend()), DLT_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(dlt_errmsg(), "fc1.weight"), "%s", dlt_errmsg());
    dlt_optim_free(o);
}
END_TEST

int main(void)
{
    mlp_load(&pb);
    Suite *s = suite_create("optim_shard");
    TCase *tc = tcase_create("shard");
    int n = OPTIM_NTWEAKED;
    tcase_add_loop_test(tc, host_shards_equal_full, 0, n);
    tcase_add_loop_test(tc, device_shards_equal_full, 0, n);
    tcase_add_test(tc, sizes_and_refusals);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
