/* Helpers of tests/train/test_cyclegan.sh:
 *   cyclegan_tool shards OUT.h5 NA NB
 *       one image-pairs shard of NA images of domain A and NB of domain B,
 *       28x28x1: A a bright square on dark ground, B a dark square on bright
 *       ground, each at a position and with a texture hashed from its index
 *   cyclegan_tool export JOB.toml OUT.h5
 *       builds the job's CycleGAN task on one rank as the trainer does (same
 *       seed, graph) and writes /params/<name> (the initial values:
 *       initializers are keyed by name, not by layout) and /batch/a, /batch/b
 *       (the first pair batch phase g is fed), the inputs of the PyTorch
 *       fixture (tests/fixtures/cyclegan_make_fixtures.py)
 *   cyclegan_tool counts CKPT.h5 RANK
 *       prints the images rank RANK's pools A and B hold in the checkpoint
 *       (/state/task_state[RANK, 0..1], task_cyclegan.c's layout) */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_job.h"
#include "dlt_test.h"
#include "task.h"

enum { SIDE = 28 };

static void pair_image(uint8_t *px, int d, int i)
{
    int x0 = (i * 7) % 16, y0 = (i * 11) % 16;
    for (int y = 0; y < SIDE; y++)
        for (int x = 0; x < SIDE; x++) {
            int in = x >= x0 && x < x0 + 10 && y >= y0 && y < y0 + 10;
            int v = (in != d) ? 200 : 30;
            px[y * SIDE + x] = (uint8_t)(v + (int)((unsigned)(i * 31 + x * 7 + y * 13) % 40));
        }
}

static int shards(const char *path, int na, int nb)
{
    dlt_shard_spec spec = {0};
    spec.kind = DLT_KIND_IMAGE_PAIRS;
    spec.h = spec.w = SIDE, spec.c = 1;
    spec.source = "cyclegan_tool (tests)";
    dlt_shard_writer *w = NULL;
    uint8_t img[SIDE * SIDE];
    dlt_status st = dlt_shard_writer_open(path, &spec, &w);
    for (int d = 0; d < 2 && st == DLT_OK; d++)
        for (int i = 0; i < (d ? nb : na) && st == DLT_OK; i++) {
            pair_image(img, d, i);
            st = dlt_shard_write_pair_image(w, d, img);
        }
    if (w) {
        dlt_status cst = dlt_shard_writer_close(w);
        if (st == DLT_OK)
            st = cst;
    }
    if (st != DLT_OK)
        fprintf(stderr, "cyclegan_tool shards: %s\n", dlt_errmsg());
    return st == DLT_OK ? 0 : 1;
}

static dlt_t input_named(dlt_graph *g, const char *name)
{
    for (int v = 0; v < dlt_graph_num_values(g); v++)
        if (dlt_kind_of(g, v) == DLT_VAL_INPUT && !strcmp(dlt_name_of(g, v), name))
            return v;
    return -1;
}

static int export(const char *jobfile, const char *out)
{
    dlt_job *job = NULL;
    dlt_train_config c;
    dlt_task *t = NULL;
    if (dlt_job_new(&job) != DLT_OK || dlt_job_load_file(job, jobfile) != DLT_OK ||
        dlt_train_config_from_job(job, &c) != DLT_OK || c.task != DLT_TASK_CYCLEGAN ||
        dlt_task_open(&c, 0, 1, &t) != DLT_OK) {
        fprintf(stderr, "cyclegan_tool export: %s: %s\n", jobfile, dlt_errmsg());
        dlt_job_free(job);
        return 1;
    }
    dlt_graph *g = dlt_graph_create(c.seed);
    dlt_task_graph tg;
    memset(&tg, 0, sizeof tg);
    dlt_plan *p = NULL;
    hid_t f = -1;
    int ok = t->ops->build(t, g, &tg) == DLT_OK;
    dlt_t ins[2] = {-1, -1}, outs[2] = {-1, -1};
    if (ok) {
        /* copies of the inputs, so the plan keeps them */
        ins[0] = input_named(g, "real_a"), ins[1] = input_named(g, "real_b");
        for (int i = 0; i < 2; i++)
            outs[i] = dlt_mul(g, ins[i], dlt_scalar(g, 1.0f));
        ok = dlt_graph_status(g) == DLT_OK && dlt_graph_finalize(g, NULL, 0) == DLT_OK &&
             dlt_plan_create(g, 2, outs, NULL, &p) == DLT_OK &&
             (f = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
    }
    char name[320];
    for (int i = 0; ok && i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        snprintf(name, sizeof name, "params/%s", pi->name);
        ok = dlt_test_h5_write_f32(f, name, &pi->shape, dlt_params_data(g) + pi->offset);
    }
    dlt_task_batch b;
    t->phase = 0, t->phase_step = 0;
    ok = ok && t->ops->feed(t, p, 1, &b) == DLT_OK;
    dlt_exec_opts eo = {.training = 1, .step = 0};
    ok = ok && dlt_plan_run(p, &eo) == DLT_OK;
    ok = ok && dlt_test_h5_write_f32(f, "batch/a", dlt_shape_of(g, outs[0]), dlt_plan_data(p, outs[0]));
    ok = ok && dlt_test_h5_write_f32(f, "batch/b", dlt_shape_of(g, outs[1]), dlt_plan_data(p, outs[1]));
    if (f >= 0)
        H5Fclose(f);
    if (!ok)
        fprintf(stderr, "cyclegan_tool export: failed: %s\n", dlt_errmsg());
    dlt_plan_free(p);
    for (int k = 0; k < tg.nphases; k++) {
        free(tg.phases[k].params);
        free(tg.phases[k].grads);
    }
    dlt_task_close(t);
    dlt_graph_free(g);
    dlt_job_free(job);
    return ok ? 0 : 1;
}

static int counts(const char *path, int rank)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, "/state/task_state", H5P_DEFAULT) : -1;
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t start[2] = {(hsize_t)rank, 0}, cnt[2] = {1, 2}, md[1] = {2};
    float v[2] = {-1, -1};
    hid_t ms = H5Screate_simple(1, md, NULL);
    int ok = sp >= 0 && H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, cnt, NULL) >= 0 &&
             H5Dread(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, v) >= 0;
    H5Sclose(ms);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    if (!ok)
        return fprintf(stderr, "cyclegan_tool counts: %s: no /state/task_state row %d\n", path,
                       rank),
               1;
    printf("%.0f %.0f\n", v[0], v[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "counts"))
        return counts(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "shards"))
        return shards(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "export"))
        return export(argv[2], argv[3]);
    fprintf(stderr, "usage: cyclegan_tool shards OUT.h5 NA NB | export JOB.toml OUT.h5 | counts "
                    "CKPT.h5 RANK\n");
    return 2;
}
