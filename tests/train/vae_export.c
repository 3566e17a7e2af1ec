/* Inputs of the first VAE training step as dltrain draws them, for the
 * PyTorch fixture (tests/fixtures/vae_make_fixtures.py):
 *   vae_export JOB.toml OUT.h5
 * builds the job's VAE task on one rank exactly as the trainer does (same
 * seed, task, graph), runs the training plan's forward pass on the first
 * batch with the trainer's step key 0 (step 0, accumulate 1), and writes
 *   /params/<name>   the initial parameters (initialisers are keyed by name,
 *                    not by layout)
 *   /images          the batch fed (pixels in [0, 1])
 *   /eps             the in-graph noise of that run, [batch, z_dim]
 * Only for regenerating the fixture (make check builds it so that it keeps
 * compiling). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_job.h"
#include "dlt_test.h"
#include "dlt_ops.h"
#include "task.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vae_export JOB.toml OUT.h5\n");
        return 2;
    }
    dlt_job *job = NULL;
    dlt_train_config c;
    dlt_task *t = NULL;
    if (dlt_job_new(&job) != DLT_OK || dlt_job_load_file(job, argv[1]) != DLT_OK ||
        dlt_train_config_from_job(job, &c) != DLT_OK || c.task != DLT_TASK_VAE ||
        dlt_task_open(&c, 0, 1, &t) != DLT_OK) {
        fprintf(stderr, "vae_export: %s: %s\n", argv[1], dlt_errmsg());
        return 1;
    }
    dlt_graph *g = dlt_graph_create(c.seed);
    dlt_task_graph tg;
    memset(&tg, 0, sizeof tg);
    if (t->ops->build(t, g, &tg) != DLT_OK) {
        fprintf(stderr, "vae_export: %s\n", dlt_errmsg());
        return 1;
    }
    /* the noise (the graph's one random tensor) and a copy of the images */
    int nv = dlt_graph_num_values(g);
    dlt_t outs[2] = {-1, -1}, images = -1;
    for (int v = 0; v < nv; v++) {
        if (dlt_kind_of(g, v) == DLT_VAL_INPUT && !strcmp(dlt_name_of(g, v), "images"))
            images = v;
        if (dlt_kind_of(g, v) == DLT_VAL_TEMP && strstr(dlt_name_of(g, v), "random_"))
            outs[0] = v;
    }
    if (outs[0] < 0 || images < 0) {
        fprintf(stderr, "vae_export: no random tensor or images input in the graph\n");
        return 1;
    }
    outs[1] = dlt_mul(g, images, dlt_scalar(g, 1.0f));
    dlt_plan *p = NULL;
    hid_t f = -1;
    int ok = dlt_graph_finalize(g, NULL, 0) == DLT_OK &&
             dlt_plan_create(g, 2, outs, NULL, &p) == DLT_OK &&
             (f = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
    char name[320];
    for (int i = 0; ok && i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        snprintf(name, sizeof name, "params/%s", pi->name);
        ok = dlt_test_h5_write_f32(f, name, &pi->shape, dlt_params_data(g) + pi->offset);
    }
    dlt_task_batch b;
    ok = ok && t->ops->feed(t, p, 1, &b) == DLT_OK;
    dlt_exec_opts eo = {.training = 1, .step = 0};
    ok = ok && dlt_plan_run(p, &eo) == DLT_OK;
    ok = ok && dlt_test_h5_write_f32(f, "images", dlt_shape_of(g, outs[1]), dlt_plan_data(p, outs[1]));
    ok = ok && dlt_test_h5_write_f32(f, "eps", dlt_shape_of(g, outs[0]), dlt_plan_data(p, outs[0]));
    if (f >= 0)
        H5Fclose(f);
    if (!ok)
        fprintf(stderr, "vae_export: failed: %s\n", dlt_errmsg());
    dlt_plan_free(p);
    free(tg.params);
    free(tg.grads);
    dlt_task_close(t);
    dlt_graph_free(g);
    dlt_job_free(job);
    return ok ? 0 : 1;
}
