/* Checkpoint v1: round trip, model mismatch, pruning, `latest`, a full disk and a
 * truncated file leave earlier checkpoints usable. */
#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dlt_ckpt.h"
#include "dlt_ops.h"
#include "dlt_test.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/dlt-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* fc (hidden x 3) and a buffer, as a model would declare them */
static dlt_graph *model(uint64_t seed, int hidden, int extra)
{
    dlt_graph *g = dlt_graph_create(seed);
    int64_t w[2] = {hidden, 3}, b[1] = {hidden}, r[1] = {4};
    dlt_scope_push(g, "fc");
    dlt_param(g, "weight", 2, w, dlt_init_uniform(-1, 1));
    dlt_param(g, "bias", 1, b, dlt_init_uniform(-1, 1));
    dlt_scope_pop(g);
    dlt_buffer(g, "bn.running_mean", 1, r, dlt_init_uniform(-1, 1));
    if (extra)
        dlt_param(g, "head.weight", 1, b, dlt_init_const(0.5));
    ck_assert_int_eq(dlt_graph_finalize(g, NULL, 0), DLT_OK);
    return g;
}

typedef struct {
    float *m, *v;
} slots;

static void tensors(dlt_graph *g, slots *s, dlt_ckpt_tensors *t)
{
    size_t n = dlt_params_numel(g);
    s->m = calloc(n, sizeof(float));
    s->v = calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++)
        s->m[i] = (float)i * 0.5f, s->v[i] = (float)i * -0.25f;
    dlt_ckpt_tensors_from_graph(g, t);
    t->nslots = 2;
    t->slot_names[0] = "exp_avg", t->slot_names[1] = "exp_avg_sq";
    t->slot_data[0] = s->m, t->slot_data[1] = s->v;
    t->optim_name = "adam";
}

static dlt_ckpt_state state(int64_t step)
{
    static int64_t cursors[6] = {1, 100, 7, 1, 104, 8};
    dlt_ckpt_state st = {.step = step, .epoch = 1, .samples_seen = 1234, .seed = 0xfeedfacecafeull,
                         .world_size = 2, .loss_scale = 65536, .loss_scale_growth = 1999, .optim_step = step,
                         .cursor_len = 3, .cursors = cursors, .job_text = "[model]\nname = \"mlp\"\n",
                         .best_metric = 0.5};
    return st;
}

START_TEST(round_trip_restores_everything)
{
    make_dir();
    dlt_graph *g = model(1, 5, 0), *h = model(2, 5, 0);
    slots s1, s2;
    dlt_ckpt_tensors t1, t2;
    tensors(g, &s1, &t1);
    tensors(h, &s2, &t2);
    memset(s2.m, 0, dlt_params_numel(h) * sizeof(float));
    dlt_ckpt_state st = state(100), back;
    char path[256];
    ck_assert_msg(dlt_ckpt_save(dir, &t1, &st, path, sizeof path) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_ptr_nonnull(strstr(path, "/ckpt-00000100.h5"));
    ck_assert_msg(dlt_ckpt_load(path, &t2, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_int_eq(memcmp(dlt_params_data(g), dlt_params_data(h), dlt_params_numel(g) * 4), 0);
    ck_assert_int_eq(memcmp(dlt_buffers_data(g), dlt_buffers_data(h), dlt_buffers_numel(g) * 4), 0);
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i); /* padding between params is not stored */
        ck_assert_int_eq(memcmp(s1.m + pi->offset, s2.m + pi->offset, pi->numel * 4), 0);
        ck_assert_int_eq(memcmp(s1.v + pi->offset, s2.v + pi->offset, pi->numel * 4), 0);
    }
    ck_assert_int_eq(back.step, 100);
    ck_assert_int_eq(back.samples_seen, 1234);
    ck_assert(back.seed == 0xfeedfacecafeull);
    ck_assert_int_eq(back.world_size, 2);
    ck_assert_int_eq(back.cursor_len, 3);
    ck_assert_int_eq(back.cursors[4], 104);
    ck_assert_double_eq(back.loss_scale, 65536);
    ck_assert_int_eq(back.loss_scale_growth, 1999);
    ck_assert_str_eq(back.job_text, "[model]\nname = \"mlp\"\n");
    /* the tensor is stored in its real shape, readable by any HDF5 tool */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/params/fc.weight", H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[2];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 2);
    ck_assert(dims[0] == 5 && dims[1] == 3);
    ck_assert_int_gt(H5Lexists(f, "/optim/fc.weight/exp_avg_sq", H5P_DEFAULT), 0);
    H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    char latest[256], target[256];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    ssize_t n = readlink(latest, target, sizeof target - 1);
    ck_assert_int_gt(n, 0);
    target[n] = '\0';
    ck_assert_str_eq(target, "ckpt-00000100.h5");
    dlt_ckpt_state_free(&back);
    free(s1.m), free(s1.v), free(s2.m), free(s2.v);
    dlt_graph_free(g), dlt_graph_free(h);
    rm_dir();
}
END_TEST

START_TEST(mismatched_model_is_refused)
{
    make_dir();
    dlt_graph *g = model(1, 5, 0), *wide = model(1, 6, 0), *more = model(1, 5, 1);
    slots s1, s2, s3;
    dlt_ckpt_tensors t1, t2, t3;
    tensors(g, &s1, &t1);
    tensors(wide, &s2, &t2);
    tensors(more, &s3, &t3);
    dlt_ckpt_state st = state(7), back;
    char path[256], want[512];
    ck_assert_int_eq(dlt_ckpt_save(dir, &t1, &st, path, sizeof path), DLT_OK);
    ck_assert_int_eq(dlt_ckpt_load(path, &t2, &back), DLT_ERR_INVALID);
    /* parameters are laid out in reverse creation order: fc.bias is checked first */
    snprintf(want, sizeof want, "%s: parameter 'fc.bias' has shape [5] in the checkpoint but [6] in the model", path);
    ck_assert_str_eq(dlt_errmsg(), want);
    ck_assert_int_eq(dlt_ckpt_load(path, &t3, &back), DLT_ERR_INVALID);
    snprintf(want, sizeof want, "%s: the model's parameter 'head.weight' is missing from the checkpoint", path);
    ck_assert_str_eq(dlt_errmsg(), want);
    t2.optim_name = "sgd";
    free(s1.m), free(s1.v), free(s2.m), free(s2.v), free(s3.m), free(s3.v);
    dlt_graph_free(g), dlt_graph_free(wide), dlt_graph_free(more);
    rm_dir();
}
END_TEST

/* a flipped value is refused naming file and dataset; without checksums
 * (a file from before them) the same file loads */
START_TEST(checksums_catch_a_flipped_value)
{
    make_dir();
    dlt_graph *g = model(1, 5, 0), *h = model(2, 5, 0);
    slots s1, s2;
    dlt_ckpt_tensors t1, t2;
    char path[256];
    tensors(g, &s1, &t1);
    tensors(h, &s2, &t2);
    dlt_ckpt_state st = state(3), back;
    ck_assert_int_eq(dlt_ckpt_save(dir, &t1, &st, path, sizeof path), DLT_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    char name[600];
    snprintf(name, sizeof name, "/optim/%s/exp_avg", t1.params[0].name);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    float v[1024];
    ck_assert_int_le(t1.params[0].numel, 1024);
    H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    v[0] = v[0] * 2 + 1;
    H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Fclose(f);
    ck_assert_int_eq(dlt_ckpt_load(path, &t2, &back), DLT_ERR_IO);
    ck_assert_msg(strstr(dlt_errmsg(), name) && strstr(dlt_errmsg(), "checksum mismatch") &&
                      strstr(dlt_errmsg(), path),
                  "%s", dlt_errmsg());
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "checksum_algorithm");
    H5Adelete(f, "job_crc32");
    H5Adelete_by_name(f, name, "crc32", H5P_DEFAULT);
    H5Fclose(f);
    ck_assert_msg(dlt_ckpt_load(path, &t2, &back) == DLT_OK, "%s", dlt_errmsg());
    ck_assert_float_eq(s2.m[t1.params[0].offset], s1.m[t1.params[0].offset] * 2 + 1);
    dlt_ckpt_state_free(&back);
    free(s1.m), free(s1.v), free(s2.m), free(s2.v);
    dlt_graph_free(g), dlt_graph_free(h);
    rm_dir();
}
END_TEST

START_TEST(prune_keeps_the_newest)
{
    make_dir();
    dlt_graph *g = model(1, 5, 0);
    slots s;
    dlt_ckpt_tensors t;
    tensors(g, &s, &t);
    for (int step = 10; step <= 40; step += 10) {
        dlt_ckpt_state st = state(step);
        ck_assert_int_eq(dlt_ckpt_save(dir, &t, &st, NULL, 0), DLT_OK);
        ck_assert_int_eq(dlt_ckpt_prune(dir, 2, -1), DLT_OK);
    }
    char p[256], path[256];
    for (int step = 10; step <= 40; step += 10) {
        snprintf(p, sizeof p, "%s/ckpt-%08d.h5", dir, step);
        ck_assert_int_eq(access(p, F_OK) == 0, step >= 30);
    }
    ck_assert_int_eq(dlt_ckpt_find_latest(dir, path, sizeof path), DLT_OK);
    ck_assert_ptr_nonnull(strstr(path, "ckpt-00000040.h5"));
    /* a run that went back to step 30 (past a damaged 40) saves 32: pruning
     * counts only steps up to 32, so 40 stays and the good 30 is kept */
    dlt_ckpt_state st32 = state(32);
    ck_assert_int_eq(dlt_ckpt_save(dir, &t, &st32, NULL, 0), DLT_OK);
    ck_assert_int_eq(dlt_ckpt_prune(dir, 2, 32), DLT_OK);
    for (int step = 30; step <= 40; step++) {
        snprintf(p, sizeof p, "%s/ckpt-%08d.h5", dir, step);
        ck_assert_int_eq(access(p, F_OK) == 0, step == 30 || step == 32 || step == 40);
    }
    free(s.m), free(s.v);
    dlt_graph_free(g);
    rm_dir();
}
END_TEST

START_TEST(full_disk_and_truncation_keep_earlier_checkpoints)
{
    make_dir();
    dlt_graph *g = model(1, 5, 0), *big = model(1, 200000, 0);
    slots s, sb;
    dlt_ckpt_tensors t, tb;
    tensors(g, &s, &t);
    tensors(big, &sb, &tb);
    dlt_ckpt_state st = state(5);
    ck_assert_int_eq(dlt_ckpt_save(dir, &t, &st, NULL, 0), DLT_OK);
    /* a file-size limit makes writes fail as on a full disk (EFBIG instead of ENOSPC) */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 256 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    dlt_ckpt_state st2 = state(6);
    dlt_status rc = dlt_ckpt_save(dir, &tb, &st2, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(rc, DLT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "ckpt-00000006.h5: writing the checkpoint failed"));
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "earlier checkpoints are intact"));
    char path[256], cmd[256];
    /* no temporary left behind, and `latest` still names step 5 */
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp", dir);
    FILE *pp = popen(cmd, "r");
    int ntmp = -1;
    ck_assert_int_eq(fscanf(pp, "%d", &ntmp), 1);
    pclose(pp);
    ck_assert_int_eq(ntmp, 0);
    ck_assert_int_eq(dlt_ckpt_find_latest(dir, path, sizeof path), DLT_OK);
    ck_assert_ptr_nonnull(strstr(path, "ckpt-00000005.h5"));
    /* a truncated newer file is skipped by --resume auto and refused by load */
    snprintf(path, sizeof path, "%s/ckpt-00000009.h5", dir);
    FILE *f = fopen(path, "w");
    fputs("\x89HDF\r\n\x1a\n truncated", f);
    fclose(f);
    dlt_log_set_level(DLT_LOG_ERROR);
    ck_assert_int_eq(dlt_ckpt_find_latest(dir, path, sizeof path), DLT_OK);
    ck_assert_ptr_nonnull(strstr(path, "ckpt-00000005.h5"));
    dlt_ckpt_state back;
    snprintf(path, sizeof path, "%s/ckpt-00000009.h5", dir);
    ck_assert_int_eq(dlt_ckpt_load(path, &t, &back), DLT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "not an HDF5 file or truncated"));
    free(s.m), free(s.v), free(sb.m), free(sb.v);
    dlt_graph_free(g), dlt_graph_free(big);
    rm_dir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_add_test(tc, round_trip_restores_everything);
    tcase_add_test(tc, mismatched_model_is_refused);
    tcase_add_test(tc, prune_keeps_the_newest);
    tcase_add_test(tc, checksums_catch_a_flipped_value);
    tcase_add_test(tc, full_disk_and_truncation_keep_earlier_checkpoints);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
