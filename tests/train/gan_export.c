/* Inputs of one GAN iteration as dltrain draws them, for the PyTorch fixture
 * (tests/fixtures/gan_step_make_fixtures.py):
 *   gan_export JOB.toml OUT.h5
 * builds the job's GAN task on one rank exactly as the trainer does (same
 * seed, task, graph), and writes
 *   /params/<name>, /buffers/<name>   the initial values (initializers are
 *                                     keyed by name, not by layout)
 *   /run<k>/images                    phase d runs: the real batch fed
 *   /run<k>/random<i>                 every in-graph random tensor of the run,
 *                                     in creation order (z; WGAN-GP's eps; z')
 * for the runs of iteration 1: the d runs (keys 0 .. repeat_d - 1), then the g
 * run (key repeat_d), as trainer_phase.c keys them (accumulate 1). Attribute
 * /repeat_d. Only for regenerating the fixture (make check builds it so that it
 * keeps compiling). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_job.h"
#include "dlt_test.h"
#include "dlt_ops.h"
#include "task.h"
#include "trainer.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gan_export JOB.toml OUT.h5\n");
        return 2;
    }
    dlt_job *job = NULL;
    dlt_train_config c;
    dlt_task *t = NULL;
    if (dlt_job_new(&job) != DLT_OK || dlt_job_load_file(job, argv[1]) != DLT_OK ||
        dlt_train_config_from_job(job, &c) != DLT_OK || c.task != DLT_TASK_GAN ||
        dlt_task_open(&c, 0, 1, &t) != DLT_OK) {
        fprintf(stderr, "gan_export: %s: %s\n", argv[1], dlt_errmsg());
        return 1;
    }
    dlt_graph *g = dlt_graph_create(c.seed);
    dlt_task_graph tg;
    memset(&tg, 0, sizeof tg);
    dlt_trainer_phase ph;
    memset(&ph, 0, sizeof ph);
    if (t->ops->build(t, g, &tg) != DLT_OK ||
        dlt_trainer_phase_resolve(&c, &tg.phases[0], &ph) != DLT_OK) {
        fprintf(stderr, "gan_export: %s\n", dlt_errmsg());
        return 1;
    }
    /* the random tensors (creation order) and a copy of the real images */
    int nv = dlt_graph_num_values(g), nr = 0;
    dlt_t outs[16], images = -1;
    for (int v = 0; v < nv; v++) {
        if (dlt_kind_of(g, v) == DLT_VAL_INPUT && !strcmp(dlt_name_of(g, v), "images"))
            images = v;
        if (dlt_kind_of(g, v) == DLT_VAL_TEMP && strstr(dlt_name_of(g, v), "random_") && nr < 15)
            outs[nr++] = v;
    }
    outs[nr] = dlt_mul(g, images, dlt_scalar(g, 1.0f));
    dlt_plan *p = NULL;
    hid_t f = -1;
    int ok = dlt_graph_finalize(g, NULL, 0) == DLT_OK &&
             dlt_plan_create(g, nr + 1, outs, NULL, &p) == DLT_OK &&
             (f = H5Fcreate(argv[2], H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
    char name[320];
    for (int i = 0; ok && i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        snprintf(name, sizeof name, "params/%s", pi->name);
        ok = dlt_test_h5_write_f32(f, name, &pi->shape, dlt_params_data(g) + pi->offset);
    }
    for (int i = 0; ok && i < dlt_num_buffers(g); i++) {
        const dlt_param_info *pi = dlt_buffer_at(g, i);
        snprintf(name, sizeof name, "buffers/%s", pi->name);
        ok = dlt_test_h5_write_f32(f, name, &pi->shape, dlt_buffers_data(g) + pi->offset);
    }
    /* the runs of iteration 1: d (repeat_d times, one batch each), then g */
    for (int k = 0; ok && k <= ph.repeat; k++) {
        dlt_task_batch b;
        t->phase = k < ph.repeat ? 0 : 1;
        ok = t->ops->feed(t, p, 1, &b) == DLT_OK;
        dlt_exec_opts eo = {.training = 1, .step = k};
        ok = ok && dlt_plan_run(p, &eo) == DLT_OK;
        if (ok && t->phase == 0) {
            snprintf(name, sizeof name, "run%d/images", k);
            ok = dlt_test_h5_write_f32(f, name, dlt_shape_of(g, outs[nr]), dlt_plan_data(p, outs[nr]));
        }
        for (int i = 0; ok && i < nr; i++) {
            snprintf(name, sizeof name, "run%d/random%d", k, i);
            ok = dlt_test_h5_write_f32(f, name, dlt_shape_of(g, outs[i]), dlt_plan_data(p, outs[i]));
        }
    }
    if (ok) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "repeat_d", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        int64_t r = ph.repeat;
        ok = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &r) >= 0;
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(sp);
    }
    if (f >= 0)
        H5Fclose(f);
    if (!ok)
        fprintf(stderr, "gan_export: failed: %s\n", dlt_errmsg());
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
