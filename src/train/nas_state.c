/* A NAS search's state and outputs (nas_search.h).
 *
 * Checkpoint: an ordinary dltrain checkpoint (dlt_ckpt_save) in
 * <run_dir>/controller/ holding the controller's parameters and optimizer
 * slots under their graph names, /state/step = the rounds done and
 * /state/optim_step, and the rest in /state/task_state (one row per rank,
 * all equal: the controller is replicated), floats:
 *     [0] baseline, [1] baseline set, [2] records n, [3] floats per record,
 *     then per record: round, child, group, reward, seconds, stem_filters,
 *     nlayers, and per layer op, kernel_h, kernel_w, filters, stride and the
 *     skip mask as four 16-bit pieces (exact in a float).
 * Parameters and FLOPs are recomputed from the spec on load. Everything the
 * next round depends on is there bit for bit: the draws are keyed by the
 * round, the baseline and rewards are floats.
 * Outputs: search.jsonl (one line per child), reward.png (reward per child
 * and the running best), best-<k>.toml (the k-th best child as a job). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlt_ckpt.h"
#include "dlt_plot.h"
#include "dlt_spec_toml.h"
#include "nas_search.h"

#define HEAD 4
#define REC_FIXED 7
#define PER_LAYER 9

dlt_status dlt_nas_state_add(dlt_nas_state *st, const dlt_nas_record *r)
{
    if (st->n == st->cap) {
        int cap = st->cap ? 2 * st->cap : 64;
        dlt_nas_record *p = realloc(st->rec, (size_t)cap * sizeof *p);
        if (!p)
            return dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory for the search history");
        st->rec = p, st->cap = cap;
    }
    st->rec[st->n++] = *r;
    return DLT_OK;
}

void dlt_nas_state_free(dlt_nas_state *st)
{
    free(st->rec);
    memset(st, 0, sizeof *st);
}

/* s as a JSON string body: quotes and backslashes escaped. */
static void json_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* Indices of the records by reward, best first (ties: the earlier child). */
static const dlt_nas_state *sort_st;
static int by_reward(const void *a, const void *b)
{
    const dlt_nas_record *x = &sort_st->rec[*(const int *)a], *y = &sort_st->rec[*(const int *)b];
    if (x->reward != y->reward)
        return x->reward > y->reward ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

dlt_status dlt_nas_write_outputs(const char *run_dir, const dlt_nas_state *st, int keep_best,
                                 const dlt_job *job)
{
    char path[DLT_PATH_MAX + 32], tmp[DLT_PATH_MAX + 40], spec[8192];
    snprintf(path, sizeof path, "%s/search.jsonl", run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot write", tmp);
    for (int i = 0; i < st->n; i++) {
        const dlt_nas_record *r = &st->rec[i];
        dlt_spec_snprint(spec, sizeof spec, &r->spec);
        fprintf(f, "{\"round\": %d, \"child\": %d, \"group\": %d, \"spec\": \"", r->round, r->child,
                r->group);
        json_str(f, spec);
        fprintf(f, "\", \"reward\": %.6f, \"params\": %lld, \"flops\": %.0f, \"seconds\": %.3f}\n",
                (double)r->reward, (long long)r->params, r->flops, (double)r->seconds);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot write", path);
    if (st->n == 0)
        return DLT_OK;
    /* reward per child and the running best */
    double *x = malloc((size_t)st->n * 3 * sizeof *x), *y = x ? x + st->n : NULL,
           *best = x ? y + st->n : NULL;
    int *order = malloc((size_t)st->n * sizeof *order);
    if (!x || !order) {
        free(x), free(order);
        return dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory");
    }
    for (int i = 0; i < st->n; i++) {
        x[i] = i, y[i] = st->rec[i].reward;
        best[i] = i && best[i - 1] > y[i] ? best[i - 1] : y[i];
        order[i] = i;
    }
    dlt_plot_series s[2] = {
        {.label = "reward", .n = st->n, .x = x, .y = y, .style = DLT_PLOT_POINTS},
        {.label = "best so far", .n = st->n, .x = x, .y = best, .style = DLT_PLOT_LINE}};
    dlt_plot_opts po = {
        .title = "NAS: validation top-1 per child", .xlabel = "child", .ylabel = "reward"};
    snprintf(path, sizeof path, "%s/reward.png", run_dir);
    dlt_status rc = dlt_plot_png(path, &po, s, 2);
    sort_st = st;
    qsort(order, (size_t)st->n, sizeof *order, by_reward);
    for (int k = 0; rc == DLT_OK && k < keep_best && k < st->n; k++) {
        snprintf(path, sizeof path, "%s/best-%d.toml", run_dir, k + 1);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        const dlt_nas_record *r = &st->rec[order[k]];
        if (!(f = fopen(tmp, "w"))) {
            rc = dlt_seterr(DLT_ERR_IO, "%s: cannot write", tmp);
            break;
        }
        fprintf(f,
                "# NAS child %d of round %d: validation top-1 %.4f, %lld parameters, %.3g FLOPs\n",
                r->child, r->round, (double)r->reward, (long long)r->params, r->flops);
        rc = dlt_spec_write_job(f, job, &r->spec);
        if (fclose(f) != 0 && rc == DLT_OK)
            rc = dlt_seterr(DLT_ERR_IO, "%s: cannot write", tmp);
        if (rc == DLT_OK && rename(tmp, path) != 0)
            rc = dlt_seterr(DLT_ERR_IO, "%s: cannot write", path);
    }
    free(x), free(order);
    return rc;
}

static size_t rec_floats(const dlt_nas_config *c)
{
    return REC_FIXED + (size_t)c->nlayers * PER_LAYER;
}

static void encode(const dlt_nas_record *r, float *o)
{
    const dlt_spec *s = &r->spec;
    o[0] = (float)r->round, o[1] = (float)r->child, o[2] = (float)r->group;
    o[3] = r->reward, o[4] = r->seconds, o[5] = (float)s->stem_filters, o[6] = (float)s->nlayers;
    for (int i = 0; i < s->nlayers; i++) {
        const dlt_spec_layer *L = &s->layer[i];
        float *p = o + REC_FIXED + i * PER_LAYER;
        p[0] = (float)L->op, p[1] = (float)L->kernel_h, p[2] = (float)L->kernel_w;
        p[3] = (float)L->filters, p[4] = (float)L->stride;
        for (int q = 0; q < 4; q++)
            p[5 + q] = (float)((L->skip >> (16 * q)) & 0xffff);
    }
}

static void decode(const float *o, int nlayers, dlt_nas_record *r)
{
    memset(r, 0, sizeof *r);
    dlt_spec *s = &r->spec;
    r->round = (int)o[0], r->child = (int)o[1], r->group = (int)o[2];
    r->reward = o[3], r->seconds = o[4];
    s->stem_filters = (int)o[5], s->nlayers = nlayers;
    for (int i = 0; i < nlayers; i++) {
        dlt_spec_layer *L = &s->layer[i];
        const float *p = o + REC_FIXED + i * PER_LAYER;
        L->op = (dlt_spec_op)(int)p[0], L->kernel_h = (int)p[1], L->kernel_w = (int)p[2];
        L->filters = (int)p[3], L->stride = (int)p[4];
        for (int q = 0; q < 4; q++)
            L->skip |= (uint64_t)(uint32_t)p[5 + q] << (16 * q);
    }
}

static void tensors(dlt_nas_controller *k, dlt_ckpt_tensors *t)
{
    dlt_ckpt_tensors_from_graph(dlt_nas_graph(k), t);
    dlt_optim *o = dlt_nas_optim(k);
    t->nslots = dlt_optim_num_slots(o);
    for (int i = 0; i < t->nslots && i < DLT_CKPT_MAX_SLOTS; i++) {
        t->slot_names[i] = dlt_optim_slot_name(o, i);
        t->slot_data[i] = dlt_optim_slot(o, i);
    }
    t->optim_name = dlt_optim_kind_name(dlt_nas_config_of(k)->optim.kind);
}

dlt_status dlt_nas_save(const char *run_dir, dlt_nas_controller *k, const dlt_nas_state *st,
                        uint64_t seed, const char *job_text)
{
    char dir[DLT_PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/controller", run_dir);
    mkdir(dir, 0777);
    const dlt_nas_config *c = dlt_nas_config_of(k);
    size_t per = rec_floats(c), len = HEAD + per * (size_t)st->n;
    float *row = calloc(len, sizeof *row);
    if (!row)
        return dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory for the checkpoint");
    row[0] = st->baseline, row[1] = (float)st->have_baseline, row[2] = (float)st->n;
    row[3] = (float)per;
    for (int i = 0; i < st->n; i++)
        encode(&st->rec[i], row + HEAD + per * (size_t)i);
    dlt_ckpt_tensors t;
    tensors(k, &t);
    double best = 0;
    for (int i = 0; i < st->n; i++)
        best = fmax(best, st->rec[i].reward);
    dlt_ckpt_state cs = {.step = st->round,
                         .seed = seed,
                         .world_size = 1, /* one row: the controller is replicated */
                         .optim_step = dlt_optim_get_step(dlt_nas_optim(k)),
                         .job_text = (char *)job_text,
                         .best_metric = best,
                         .task_state_len = (int64_t)len,
                         .task_state = row};
    dlt_status rc = dlt_ckpt_save(dir, &t, &cs, NULL, 0);
    if (rc == DLT_OK)
        rc = dlt_ckpt_prune(dir, 2, -1);
    free(row);
    return rc;
}

dlt_status dlt_nas_load(const char *run_dir, const char *path, dlt_nas_controller *k,
                        dlt_nas_state *st, const dlt_nas_config *ctl)
{
    char p[DLT_PATH_MAX + 32];
    if (!strcmp(path, "auto")) {
        char dir[DLT_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/controller", run_dir);
        dlt_status rc = dlt_ckpt_find_latest(dir, p, sizeof p);
        if (rc != DLT_OK)
            return rc;
    } else {
        snprintf(p, sizeof p, "%s", path);
    }
    dlt_ckpt_tensors t;
    tensors(k, &t);
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_status rc = dlt_ckpt_load(p, &t, &cs);
    if (rc != DLT_OK)
        return dlt_adderr(rc, "nas: resuming from %s", p);
    size_t per = rec_floats(ctl);
    const float *row = cs.task_state;
    if (!row || cs.task_state_len < HEAD || (size_t)row[3] != per ||
        (size_t)cs.task_state_len != HEAD + per * (size_t)row[2]) {
        dlt_ckpt_state_free(&cs);
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: not a NAS search checkpoint of this search space (nas.layers = %d)",
                          p, ctl->nlayers);
    }
    dlt_nas_state_free(st);
    st->round = (int)cs.step;
    st->baseline = row[0], st->have_baseline = row[1] != 0;
    for (int i = 0; rc == DLT_OK && i < (int)row[2]; i++) {
        dlt_nas_record r;
        decode(row + HEAD + per * (size_t)i, ctl->nlayers, &r);
        rc = dlt_spec_measure(&r.spec, ctl->in_c, ctl->in_h, ctl->in_w, ctl->nclasses, &r.params,
                              &r.flops);
        if (rc == DLT_OK)
            rc = dlt_nas_state_add(st, &r);
    }
    dlt_optim_set_step(dlt_nas_optim(k), cs.optim_step);
    dlt_ckpt_state_free(&cs);
    return rc;
}
