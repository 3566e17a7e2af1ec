/* The tasks by kind, and what the transformer tasks share. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_job.h"
#include "task.h"

const char *dlt_task_kind_name(dlt_task_kind k)
{
    switch (k) {
    case DLT_TASK_CAUSAL_LM:
        return "causal-lm";
    case DLT_TASK_BERT:
        return "bert-pretraining";
    case DLT_TASK_GAN:
        return "gan";
    case DLT_TASK_VAE:
        return "vae";
    case DLT_TASK_CYCLEGAN:
        return "cyclegan";
    case DLT_TASK_MASKRCNN:
        return "maskrcnn";
    default:
        return "classification";
    }
}

dlt_status dlt_task_grads(const dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    /* the true count (PyTorch's sum of numel), not the flat buffer's padded size */
    dlt_kv_int(&tg->model, "num_parameters", dlt_count_params(g));
    dlt_t obj = tg->loss;
    tg->loss_scale = -1;
    if (t->c->loss_scaling != DLT_LOSS_SCALE_NONE) {
        /* backward starts from d(loss * S)/d(loss) = S: every gradient is S
         * times the true one (exactly, for a power of two without overflow) */
        const dlt_shape *ls = dlt_shape_of(g, tg->loss);
        tg->loss_scale = dlt_input(g, "loss_scale", DLT_F32, ls->ndim, ls->dim);
        obj = dlt_mul(g, tg->loss, tg->loss_scale);
        if (dlt_graph_status(g) != DLT_OK)
            return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    }
    return dlt_grad_params(g, obj, &tg->nparams, &tg->params, &tg->grads);
}

const dlt_task_ops *dlt_task_ops_for(dlt_task_kind k)
{
    switch (k) {
    case DLT_TASK_CAUSAL_LM:
        return &dlt_task_causal_lm;
    case DLT_TASK_BERT:
        return &dlt_task_bert;
    case DLT_TASK_GAN:
        return &dlt_task_gan;
    case DLT_TASK_VAE:
        return &dlt_task_vae;
    case DLT_TASK_CYCLEGAN:
        return &dlt_task_cyclegan;
    case DLT_TASK_MASKRCNN:
        return &dlt_task_maskrcnn;
    default:
        return &dlt_task_classify;
    }
}

dlt_status dlt_task_open(const dlt_train_config *c, int rank, int world, dlt_task **out)
{
    dlt_task *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->ops = dlt_task_ops_for(c->task);
    t->c = c;
    t->rank = rank, t->world = world > 0 ? world : 1;
    dlt_status st = t->ops->open(t);
    if (st != DLT_OK) {
        dlt_task_close(t);
        return st;
    }
    *out = t;
    return DLT_OK;
}

void dlt_task_close(dlt_task *t)
{
    if (!t)
        return;
    t->ops->close(t);
    free(t);
}

dlt_status dlt_train_check_data(const dlt_train_config *c, int world_size)
{
    return dlt_task_ops_for(c->task)->check(c, world_size);
}

dlt_transformer_spec dlt_task_tf_spec(const dlt_train_config *c, int vocab)
{
    dlt_transformer_spec s = c->tf;
    s.vocab = vocab;
    return s;
}

int dlt_task_argmax(const float *x, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int)best;
}

int32_t *dlt_task_argmax_rows(const float *x, int64_t n, int64_t k)
{
    int32_t *a = malloc((size_t)(n > 0 ? n : 1) * sizeof *a);
    for (int64_t i = 0; a && i < n; i++)
        a[i] = dlt_task_argmax(x + i * k, k);
    return a;
}

dlt_status dlt_task_text_loader(const dlt_train_config *c, const char *glob, int train, int rank,
                                int world, int meta, dlt_text_loader **out)
{
    dlt_text_loader_config lc;
    dlt_text_loader_config_default(&lc);
    lc.paths = glob;
    lc.batch_size = c->batch_size;
    lc.seq_len = c->task == DLT_TASK_CAUSAL_LM ? c->seq_len : 0;
    lc.shuffle = train ? c->shuffle : 0;
    lc.seed = c->seed;
    lc.drop_last = train ? c->drop_last : 0;
    lc.rank = rank;
    lc.world_size = world > 0 ? world : 1;
    if (meta)
        lc.inmem_threshold = 0, lc.verify = 0;
    return dlt_text_loader_open(&lc, out);
}

/* One line naming the key, the shards' problem and what the task needs. */
static dlt_status text_err(const dlt_train_config *c, const char *key, const char *what)
{
    char m[700];
    snprintf(m, sizeof m, "%s", what);
    return dlt_seterr(
        DLT_ERR_INVALID, "%s: %s (model.arch = %s trains %s on %s shards: dlprep text --target %s)",
        key, m, c->arch, c->task == DLT_TASK_BERT ? "BERT pre-training" : "a causal language model",
        c->task == DLT_TASK_BERT ? "bert-pretraining" : "text-tokens",
        c->task == DLT_TASK_BERT ? "bert" : "gpt");
}

/* The kind of the first shard a glob list matches; -1 when unknown (the
 * loader then reports the problem). */
static int first_kind(const char *globs)
{
    char list[DLT_PATH_MAX], *save = NULL;
    int kind = -1;
    snprintf(list, sizeof list, "%s", globs);
    char *p = strtok_r(list, ",", &save);
    glob_t g;
    if (!p || glob(p, 0, NULL, &g) != 0)
        return -1;
    dlt_shard_open_opts o = {0, 0};
    dlt_shard *s;
    if (g.gl_pathc > 0 && dlt_shard_open(g.gl_pathv[0], &o, &s) == DLT_OK) {
        kind = (int)dlt_shard_get_info(s)->kind;
        dlt_shard_close(s);
    }
    globfree(&g);
    dlt_clearerr();
    return kind;
}

dlt_status dlt_task_check_text(const dlt_train_config *c, int world)
{
    int bert = c->task == DLT_TASK_BERT;
    int other = bert ? DLT_KIND_TEXT_TOKENS : DLT_KIND_BERT_PRETRAINING;
    const char *what =
        bert ? "the shards hold GPT token streams" : "the shards hold BERT instances";
    if (first_kind(c->train_glob) == other)
        return text_err(c, "data.train", what);
    if (c->val_glob[0] && first_kind(c->val_glob) == other)
        return text_err(c, "data.val", what);
    dlt_text_loader *tr = NULL, *va = NULL;
    dlt_status st = dlt_task_text_loader(c, c->train_glob, 1, 0, world, 1, &tr);
    if (st != DLT_OK)
        return text_err(c, "data.train", dlt_errmsg());
    if (dlt_text_loader_is_bert(tr) != bert)
        st =
            text_err(c, "data.train",
                     bert ? "the shards hold GPT token streams" : "the shards hold BERT instances");
    if (st == DLT_OK && c->val_glob[0]) {
        if (dlt_task_text_loader(c, c->val_glob, 0, 0, world, 1, &va) != DLT_OK)
            st = text_err(c, "data.val", dlt_errmsg());
        else if (dlt_text_loader_is_bert(va) != bert)
            st = text_err(c, "data.val",
                          bert ? "the shards hold GPT token streams"
                               : "the shards hold BERT instances");
        else if (dlt_text_loader_vocab_size(va) != dlt_text_loader_vocab_size(tr))
            st = dlt_seterr(DLT_ERR_INVALID,
                            "data.val: the shards have a vocabulary of %d tokens, the training "
                            "shards %d",
                            dlt_text_loader_vocab_size(va), dlt_text_loader_vocab_size(tr));
    }
    dlt_text_loader_close(va);
    dlt_text_loader_close(tr);
    return st;
}

dlt_loader_cursor dlt_task_text_get_cursor(const dlt_task *t)
{
    return dlt_text_loader_get_cursor(((const dlt_text_loaders *)t->impl)->loader);
}

dlt_status dlt_task_text_set_cursor(dlt_task *t, int train, dlt_loader_cursor c)
{
    dlt_text_loaders *k = t->impl;
    return dlt_text_loader_set_cursor(train ? k->loader : k->val, c);
}

void dlt_task_text_close(dlt_task *t)
{
    dlt_text_loaders *k = t->impl;
    if (!k)
        return;
    dlt_text_loader_close(k->loader);
    dlt_text_loader_close(k->val);
    free(k);
    t->impl = NULL;
}

dlt_status dlt_task_config_from_ckpt(const char *ckpt, dlt_job **job, char **text,
                                     dlt_train_config *c)
{
    *job = NULL;
    dlt_status st = dlt_ckpt_read_job(ckpt, text);
    if (st != DLT_OK)
        return st;
    if (!*text || !(*text)[0])
        return dlt_seterr(DLT_ERR_INVALID, "%s: the checkpoint holds no job", ckpt);
    if ((st = dlt_job_new(job)) != DLT_OK ||
        (st = dlt_job_load(*job, ckpt, *text, strlen(*text))) != DLT_OK ||
        (st = dlt_train_config_from_job(*job, c)) != DLT_OK)
        return dlt_adderr(st == DLT_ERR_NOMEM ? st : DLT_ERR_INVALID, "the job in %s", ckpt);
    return DLT_OK;
}
