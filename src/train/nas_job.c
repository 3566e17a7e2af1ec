/* A NAS search job (nas_search.h): the [nas] keys into the search's
 * configuration, and the rest of the job as every child's. The job's
 * model.arch "nas" becomes "spec" with a placeholder network, so that
 * dlt_train_config_from_job resolves the children's data, optimizer,
 * schedule and run length like any "spec" job's; each child then gets its own
 * network, run folder, data split, step budget and communicator. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_comm.h"
#include "dlt_data.h"
#include "nas_search.h"

static dlt_status key_err(const dlt_job *job, const char *key, const char *msg)
{
    char w[300];
    dlt_job_where(job, key, w, sizeof w);
    return dlt_seterr(DLT_ERR_INVALID, "%s%s%s %s", strcmp(w, "default") ? w : "",
                      strcmp(w, "default") ? ": " : "", key, msg);
}

/* An array key of small integers into out (at most max); *n stays when empty. */
static dlt_status ints(const dlt_job *job, const char *key, int *out, int *n, int max)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    if (v->arr.len == 0)
        return DLT_OK;
    if ((int)v->arr.len > max) {
        char m[64];
        snprintf(m, sizeof m, "holds %zu values, at most %d", v->arr.len, max);
        return key_err(job, key, m);
    }
    for (size_t i = 0; i < v->arr.len; i++) {
        double f = v->arr.items[i]->f;
        if (f != (double)(int)f)
            return key_err(job, key, "must hold whole numbers");
        out[i] = (int)f;
    }
    *n = (int)v->arr.len;
    return DLT_OK;
}

dlt_status dlt_nas_search_from_job(dlt_job *job, dlt_nas_search_config *s, dlt_train_config *base)
{
    memset(s, 0, sizeof *s);
    dlt_nas_config *c = &s->ctl;
    dlt_nas_config_default(c);
    dlt_status st;
    c->space = strcmp(dlt_job_string(job, "nas.space"), "enas") ? DLT_NAS_MACRO : DLT_NAS_ENAS;
    c->nlayers = (int)dlt_job_int(job, "nas.layers");
    if ((st = ints(job, "nas.kernels", c->kernels, &c->nkernels, DLT_NAS_MAX_CHOICES)) != DLT_OK ||
        (st = ints(job, "nas.filters", c->filters, &c->nfilters, DLT_NAS_MAX_CHOICES)) != DLT_OK ||
        (st = ints(job, "nas.strides", c->strides, &c->nstrides, 4)) != DLT_OK)
        return st;
    for (int i = 0; i < c->nkernels; i++)
        if (c->kernels[i] % 2 == 0)
            return key_err(job, "nas.kernels", "must be odd (\"same\" padding)");
    c->separate_hw = dlt_job_bool(job, "nas.separate_hw");
    c->skips = dlt_job_bool(job, "nas.skips");
    c->stem_filters = (int)dlt_job_int(job, "nas.stem_filters");
    c->hidden = (int)dlt_job_int(job, "nas.hidden");
    c->lstm_layers = (int)dlt_job_int(job, "nas.lstm_layers");
    c->children = (int)dlt_job_int(job, "nas.children");
    c->entropy_weight = dlt_job_float(job, "nas.entropy_weight");
    if ((st = dlt_optim_config_default(dlt_job_string(job, "nas.optim"), &c->optim)) != DLT_OK)
        return key_err(job, "nas.optim", dlt_errmsg());
    c->optim.lr = dlt_job_float(job, "nas.lr");
    s->rounds = (int)dlt_job_int(job, "nas.rounds");
    s->ranks_per_child = (int)dlt_job_int(job, "nas.ranks_per_child");
    s->child_steps = dlt_job_int(job, "nas.child_steps");
    s->val_fraction = dlt_job_float(job, "nas.val_fraction");
    s->baseline_decay = dlt_job_float(job, "nas.baseline_decay");
    s->random = dlt_job_bool(job, "nas.random");
    s->keep_best = (int)dlt_job_int(job, "nas.keep_best");
    s->seed = (uint64_t)dlt_job_int(job, "nas.seed");
    if (s->seed == 0)
        s->seed = (uint64_t)dlt_job_int(job, "train.seed");

    /* the children's job: "spec" with a placeholder the search replaces */
    if ((st = dlt_job_set(job, "model.arch=spec")) != DLT_OK ||
        (st = dlt_job_set(job, "model.spec={ layers = [{ kernel = 3, filters = 8 }] }")) != DLT_OK)
        return st;
    if ((st = dlt_train_config_from_job(job, base)) != DLT_OK)
        return st;
    return DLT_OK;
}

dlt_status dlt_nas_search_input(const dlt_job *job, const dlt_train_config *base,
                                dlt_nas_search_config *s)
{
    dlt_nas_config *c = &s->ctl;
    dlt_status st;
    /* the input the controller's shapes follow: the first training shard's header */
    glob_t g;
    if (glob(base->train_glob, 0, NULL, &g) != 0)
        return key_err(job, "data.train", "matches no shard");
    dlt_shard_open_opts so = {.inmem_threshold = 0, .verify = 0};
    dlt_shard *sh;
    st = dlt_shard_open(g.gl_pathv[0], &so, &sh);
    globfree(&g);
    if (st != DLT_OK)
        return dlt_adderr(st, "data.train");
    const dlt_shard_info *in = dlt_shard_get_info(sh);
    c->in_c = in->c, c->in_h = in->h, c->in_w = in->w, c->nclasses = in->num_classes;
    dlt_shard_close(sh);
    return dlt_nas_config_check(c);
}

/* mkdir -p of a run folder */
static void make_dirs(const char *path)
{
    char buf[DLT_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

int dlt_nas_main(dlt_job *job, const char *resume, int quiet, int print_config, int dry_run)
{
    dlt_world w;
    if (dlt_world_init(NULL, NULL, &w) != DLT_OK) {
        fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        return DLT_EXIT_FAILED;
    }
    /* the search's job as given (nas keys and all), for its checkpoints */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        dlt_job_write(f, job);
        fclose(f);
    }
    dlt_nas_search_config s;
    dlt_train_config base;
    dlt_status st = dlt_nas_search_from_job(job, &s, &base);
    if (st == DLT_OK && !print_config)
        st = dlt_nas_search_input(job, &base, &s);
    if (st == DLT_OK && resume && strlen(resume) >= sizeof base.resume)
        st = dlt_seterr(DLT_ERR_INVALID, "--resume: the path is too long");
    if (st == DLT_OK && resume)
        snprintf(base.resume, sizeof base.resume, "%s", resume);
    base.quiet = quiet;
    base.job_text = text;
    int rc = 0;
    if (st != DLT_OK) {
        if (w.rank == 0)
            fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
        rc = DLT_EXIT_USAGE;
    } else if (print_config) {
        if (w.rank == 0)
            fputs(text ? text : "", stdout);
    } else if (dry_run) {
        /* the search's first child as a run would build it */
        dlt_nas_controller *k = NULL;
        dlt_spec first;
        if (w.rank == 0) {
            printf("# resolved job\n%s\n", text ? text : "");
            st = dlt_nas_controller_create(&s.ctl, s.seed, &k);
            if (st == DLT_OK)
                st = dlt_nas_sample(k, 0, NULL, NULL, NULL);
            if (st == DLT_OK) {
                dlt_spec *all = calloc((size_t)s.ctl.children, sizeof *all);
                st = all ? dlt_nas_sample(k, 0, all, NULL, NULL) : DLT_ERR_NOMEM;
                if (st == DLT_OK)
                    first = all[0];
                free(all);
            }
            if (st == DLT_OK) {
                printf("# nas: %d controller decisions per child; the first child of round 0:\n",
                       dlt_nas_num_decisions(k));
                base.model.net = first;
                /* children are scored on a split of data.train, never on data.val */
                memcpy(base.val_glob, base.train_glob, sizeof base.val_glob);
                st = dlt_train_describe(&base, s.ranks_per_child, stdout);
            }
            if (st != DLT_OK) {
                fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
                rc = DLT_EXIT_USAGE;
            }
            dlt_nas_controller_free(k);
        }
    } else {
        if (w.rank == 0)
            make_dirs(base.run_dir);
        st = dlt_nas_search_run(&s, &base, job);
        if (st != DLT_OK) {
            /* a refused setting is the same on every rank: one line, exit 2 */
            int same = st == DLT_ERR_INVALID;
            if (w.rank == 0 || !same)
                fprintf(stderr, "dltrain: %s\n", dlt_errmsg());
            rc = same ? DLT_EXIT_USAGE : dlt_exit_for(st);
            if (!same && w.size > 1)
                dlt_world_abort(rc);
        }
    }
    free(text);
    return rc;
}
