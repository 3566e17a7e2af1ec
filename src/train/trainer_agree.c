/* Ranks launched with different jobs or data (another --set, an MPMD launch,
 * other shards on one node) would build different graphs and die inside MPI
 * on the first broadcast (MPI_ERR_TRUNCATE) or train apart. Before anything
 * is exchanged every rank describes what it runs and dlt_comm_agree names the
 * first difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

static void put_shape(FILE *f, const dlt_shape *s)
{
    fputc('[', f);
    for (int d = 0; d < s->ndim; d++)
        fprintf(f, "%s%lld", d ? "," : "", (long long)s->dim[d]);
    fputc(']', f);
}

/* The resolved job as "section.key<TAB>value" lines. */
static void put_job(FILE *f, const char *toml)
{
    char section[128] = "";
    for (const char *p = toml; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (n > 2 && p[0] == '[' && p[n - 1] == ']')
            snprintf(section, sizeof section, "%.*s", (int)(n - 2), p + 1);
        else if (eq && eq > p && eq[-1] == ' ' && eq + 2 <= p + n)
            fprintf(f, "%s.%.*s\t%.*s\n", section, (int)(eq - 1 - p), p, (int)(p + n - eq - 2), eq + 2);
        else if (n > 0)
            fprintf(f, "job\t%.*s\n", (int)n, p);
        p = nl ? nl + 1 : NULL;
    }
}

dlt_status dlt_trainer_agree(dlt_trainer *r)
{
    if (r->world < 2)
        return DLT_OK;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    const dlt_train_config *c = r->c;
    put_job(f, c->job_text);
    for (int i = 0; i < dlt_num_params(r->g); i++) {
        const dlt_param_info *p = dlt_param_at(r->g, i);
        fprintf(f, "parameter %s\t", p->name);
        put_shape(f, &p->shape);
        fputc('\n', f);
    }
    for (int i = 0; i < dlt_num_buffers(r->g); i++) {
        const dlt_param_info *p = dlt_buffer_at(r->g, i);
        fprintf(f, "buffer %s\t", p->name);
        put_shape(f, &p->shape);
        fputc('\n', f);
    }
    fprintf(f, "flat parameters\t%zu\nflat buffers\t%zu\n", dlt_params_numel(r->g), dlt_buffers_numel(r->g));
    for (int k = 0; k < (r->nphases > 0 ? r->nphases : 1); k++) {
        dlt_reducer *red = r->nphases > 0 ? r->ph[k].red : r->red;
        if (r->nphases > 0)
            fprintf(f, "phase %s\t%s x %d\n", r->ph[k].def->name, dlt_optim_kind_name(r->ph[k].optim.kind),
                    r->ph[k].repeat);
        for (int b = 0; b < dlt_reducer_num_buckets(red); b++) {
            size_t lo, hi;
            int np;
            dlt_reducer_bucket(red, b, &lo, &hi, &np);
            fprintf(f, "gradient bucket %d\t[%zu, %zu) of %d parameters\n", b, lo, hi, np);
        }
    }
    int64_t per_epoch = r->task->steps_per_epoch / dlt_trainer_batches_per_step(c, r);
    fprintf(f, "steps per epoch\t%lld\nsteps\t%lld\nvalidation steps\t%lld\n", (long long)per_epoch,
            (long long)(c->steps > 0 ? c->steps : c->epochs * per_epoch), (long long)r->task->val_steps);
    if (fclose(f) != 0 || !text) {
        free(text);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    dlt_status st = dlt_comm_agree(r->comm, text);
    free(text);
    /* the same message on every rank: rank 0 reports it, nobody aborts */
    if (st == DLT_ERR_INVALID)
        r->error_on_all_ranks = 1;
    return st;
}
