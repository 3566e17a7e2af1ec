/* The causal language-model task: GPT windows of T + 1 tokens from
 * text-tokens shards, inputs tokens[:, :T], targets tokens[:, 1:]. The loss is
 * the SUM of the token cross-entropies of the rank's valid windows, so the
 * reducer (contract SUM, weight = target tokens) averages over every token of
 * the global batch, exactly, whatever the padding. Metrics: loss per token and
 * perplexity exp(loss), on training and validation windows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "task.h"

typedef struct {
    dlt_text_loaders io; /* first: the shared cursor/close helpers read it */
    int T, vocab;
    dlt_t ids, targets, logits, loss;
} lm;

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    lm *k = calloc(1, sizeof *k);
    dlt_status st;
    if (!k)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    t->impl = k;
    if ((st = dlt_task_text_loader(c, c->train_glob, 1, t->rank, t->world, 0, &k->io.loader)) !=
        DLT_OK)
        return dlt_adderr(st, "data.train");
    if (c->val_glob[0] &&
        (st = dlt_task_text_loader(c, c->val_glob, 0, t->rank, t->world, 0, &k->io.val)) != DLT_OK)
        return dlt_adderr(st, "data.val");
    if (dlt_text_loader_is_bert(k->io.loader) || (k->io.val && dlt_text_loader_is_bert(k->io.val)))
        return dlt_seterr(DLT_ERR_INVALID, "data: %s needs text-tokens shards, not BERT instances",
                          c->arch);
    k->T = c->seq_len;
    k->vocab = dlt_text_loader_vocab_size(k->io.loader);
    t->steps_per_epoch = dlt_text_loader_steps_per_epoch(k->io.loader);
    t->num_samples = dlt_text_loader_num_samples(k->io.loader);
    t->val_steps = k->io.val ? dlt_text_loader_steps_per_epoch(k->io.val) : 0;
    t->ntrain_sums = t->neval_sums = 2; /* loss sum, target tokens */
    t->tokens_per_sample = k->T;
    t->best_higher = 0;
    t->best_key = "perplexity";
    return DLT_OK;
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    lm *k = t->impl;
    dlt_transformer_spec s = dlt_task_tf_spec(t->c, k->vocab);
    int64_t d[2] = {t->c->batch_size, k->T};
    dlt_status st = dlt_transformer_spec_check(&s);
    if (st != DLT_OK)
        return dlt_adderr(st, "model.arch = %s", t->c->arch);
    k->ids = dlt_input(g, "ids", DLT_I32, 2, d);
    k->targets = dlt_input(g, "targets", DLT_I32, 2, d);
    k->logits = dlt_set_name(g, dlt_gpt(g, &s, k->ids, NULL), "logits");
    k->loss = dlt_token_loss(g, k->logits, k->targets, DLT_REDUCE_SUM);
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    tg->loss = k->loss;
    tg->contract = DLT_GRAD_SUM;
    tg->nouts = 1;
    tg->outs[0] = k->loss;
    tg->flops_out = k->logits;
    dlt_transformer_describe(&s, &tg->model);
    tg->pred_out = k->logits;
    return dlt_task_grads(t, g, tg);
}

static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    lm *k = t->impl;
    dlt_text_batch b;
    dlt_status st = dlt_text_loader_next(train ? k->io.loader : k->io.val, &b);
    if (st != DLT_OK)
        return st;
    int32_t *ids = dlt_plan_data(p, k->ids), *y = dlt_plan_data(p, k->targets);
    size_t T = (size_t)k->T;
    for (int i = 0; i < b.size; i++) {
        const int32_t *w = b.tokens + (size_t)i * (T + 1);
        memcpy(ids + i * T, w, T * sizeof *ids);
        for (size_t j = 0; j < T; j++)
            y[i * T + j] = i < b.valid ? w[j + 1] : DLT_IGNORE_LABEL;
    }
    tb->samples = b.valid;
    tb->weight = (double)b.valid * (double)T;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    lm *k = t->impl;
    (void)train;
    sums[0] += *(const float *)dlt_plan_data(p, k->loss);
    sums[1] += b->weight;
}

static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    (void)t, (void)train;
    double loss = sums[1] > 0 ? sums[0] / sums[1] : NAN;
    m->n = 2;
    m->key[0] = m->label[0] = "loss";
    m->key[1] = "perplexity", m->label[1] = "ppl";
    m->val[0] = loss;
    m->val[1] = exp(loss);
    m->best = 1;
}

/* Per window: its tokens, the mean cross-entropy of its T predictions (as
 * the loss: natural log), the most likely next token at each position, and
 * with logits the logits [T, V]. */
static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    lm *k = t->impl;
    const float *l = dlt_plan_data(p, k->logits);
    const int32_t *y = dlt_plan_data(p, k->targets);
    int64_t n = b->samples, T = k->T, V = k->vocab, tv[2] = {T, V};
    int32_t *pred = dlt_task_argmax_rows(l, n * T, V);
    float *loss = malloc((size_t)(n > 0 ? n : 1) * sizeof *loss);
    dlt_status st = pred && loss ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; st == DLT_OK && i < n; i++) {
        double sum = 0;
        for (int64_t j = 0; j < T; j++) {
            const float *r = l + (i * T + j) * V;
            double mx = r[pred[i * T + j]], z = 0;
            for (int64_t v = 0; v < V; v++)
                z += exp((double)r[v] - mx);
            sum += mx + log(z) - r[y[i * T + j]];
        }
        loss[i] = (float)(sum / (double)T);
    }
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "input_ids", DLT_I32, 1, &T, dlt_plan_data(p, k->ids), n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "target_ids", DLT_I32, 1, &T, y, n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "loss", DLT_F32, 0, NULL, loss, n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "pred", DLT_I32, 1, &T, pred, n);
    if (st == DLT_OK && logits)
        st = dlt_pred_file_append(f, "logits", DLT_F32, 2, tv, l, n);
    free(pred);
    free(loss);
    return st;
}

static void describe(const dlt_task *t, FILE *out)
{
    const lm *k = t->impl;
    fprintf(out,
            "# model %s (causal LM) on windows of %d tokens, vocabulary %d, %lld windows, batch %d "
            "per rank, "
            "%d rank%s\n",
            t->c->arch, k->T, k->vocab, (long long)t->num_samples, t->c->batch_size, t->world,
            t->world > 1 ? "s" : "");
}

const dlt_task_ops dlt_task_causal_lm = {
    .name = "causal-lm",
    .check = dlt_task_check_text,
    .open = open_task,
    .build = build,
    .feed = feed,
    .accumulate = accumulate,
    .metrics = metrics,
    .get_cursor = dlt_task_text_get_cursor,
    .set_cursor = dlt_task_text_set_cursor,
    .predict = predict,
    .describe = describe,
    .close = dlt_task_text_close,
};
