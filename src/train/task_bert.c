/* BERT pre-training: masked LM + next-sentence prediction on
 * bert-pretraining shards (dlprep text --target bert).
 *
 * The loss is Hugging Face's BertForPreTraining loss: the MEAN of the MLM
 * cross-entropy over the rank's masked tokens plus the MEAN of the NSP
 * cross-entropy over its sequences. Neither is a sum over one kind of unit, so
 * the reducer runs the MEAN contract with the sequence count as the weight:
 * each rank's gradient is scaled by its sequences, summed, and divided by the
 * global count, i.e. a sequence-weighted average of the ranks' mean-loss
 * gradients (with equal batches: the plain average, as DistributedDataParallel
 * computes it). Under gradient accumulation the loss is divided by the
 * micro-steps, so the accumulated gradient is the mean of the micro-batches'
 * (again as the usual `loss / accumulation_steps`).
 *
 * The MLM head runs at the shards' masked_lm_positions only (dlt_bert_at,
 * P = max_predictions slots per sequence): the logits are [B, P, V] and the
 * labels [B, P], the masked tokens' ids where masked_lm_weights > 0 and -100
 * in the unused slots (which point at position 0); the mean over the labelled
 * slots is the all-positions loss. Padded rows carry -100 everywhere and as
 * NSP label. The
 * loader's attention mask (f32 1/0) becomes the i32 keep flags dlt_bert takes.
 * Metrics: loss, MLM and NSP losses, MLM accuracy over masked tokens, NSP
 * accuracy over sequences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "task.h"

typedef struct {
    dlt_text_loaders io; /* first: the shared cursor/close helpers read it */
    int L, P, vocab;
    dlt_t ids, types, mask, mlm_positions, mlm_labels, nsp_labels;
    dlt_t loss, mlm_loss, nsp_loss, mlm_logits, nsp_logits;
} bert;

enum { S_MLM_LOSS, S_MASKED, S_MLM_HITS, S_NSP_LOSS, S_NSP_HITS, NSUMS };

static dlt_status open_task(dlt_task *t)
{
    const dlt_train_config *c = t->c;
    bert *k = calloc(1, sizeof *k);
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
    if (!dlt_text_loader_is_bert(k->io.loader) || (k->io.val && !dlt_text_loader_is_bert(k->io.val)))
        return dlt_seterr(DLT_ERR_INVALID,
                          "data: %s needs bert-pretraining shards, not token streams", c->arch);
    k->vocab = dlt_text_loader_vocab_size(k->io.loader);
    t->steps_per_epoch = dlt_text_loader_steps_per_epoch(k->io.loader);
    t->num_samples = dlt_text_loader_num_samples(k->io.loader);
    t->val_steps = k->io.val ? dlt_text_loader_steps_per_epoch(k->io.val) : 0;
    t->ntrain_sums = t->neval_sums = NSUMS;
    t->best_higher = 1;
    t->best_key = "mlm_accuracy";
    return DLT_OK;
}

/* The shards' sequence length and masked positions per sequence: one batch
 * tells (the loader keeps them private). */
static dlt_status seq_len(bert *k, int *L, int *P)
{
    dlt_loader_cursor c = dlt_text_loader_get_cursor(k->io.loader);
    dlt_text_batch b;
    dlt_status st = dlt_text_loader_next(k->io.loader, &b);
    if (st == DLT_OK)
        st = dlt_text_loader_set_cursor(k->io.loader, c);
    *L = b.seq_len;
    *P = b.max_predictions;
    return st;
}

static dlt_status build(dlt_task *t, dlt_graph *g, dlt_task_graph *tg)
{
    bert *k = t->impl;
    dlt_transformer_spec s = dlt_task_tf_spec(t->c, k->vocab);
    dlt_status st = dlt_transformer_spec_check(&s);
    if (st != DLT_OK)
        return dlt_adderr(st, "model.arch = %s", t->c->arch);
    if ((st = seq_len(k, &k->L, &k->P)) != DLT_OK)
        return st;
    if (k->L > s.max_len)
        return dlt_seterr(DLT_ERR_INVALID,
                          "data.train: sequences of %d tokens, longer than %s's %d positions", k->L,
                          t->c->arch, s.max_len);
    int64_t d[2] = {t->c->batch_size, k->L}, dp[2] = {t->c->batch_size, k->P};
    k->ids = dlt_input(g, "input_ids", DLT_I32, 2, d);
    k->types = dlt_input(g, "token_type_ids", DLT_I32, 2, d);
    k->mask = dlt_input(g, "attention_mask", DLT_I32, 2, d);
    k->mlm_positions = dlt_input(g, "mlm_positions", DLT_I32, 2, dp);
    k->mlm_labels = dlt_input(g, "mlm_labels", DLT_I32, 2, dp);
    k->nsp_labels = dlt_input(g, "nsp_labels", DLT_I32, 1, d);
    dlt_bert_out o;
    dlt_bert_at(g, &s, k->ids, k->types, k->mask, DLT_BERT_PRETRAIN, k->mlm_positions, &o);
    k->mlm_logits = dlt_set_name(g, o.mlm_logits, "mlm_logits");
    k->nsp_logits = dlt_set_name(g, o.nsp_logits, "nsp_logits");
    k->mlm_loss = dlt_mlm_loss(g, k->mlm_logits, k->mlm_labels, DLT_REDUCE_MEAN);
    k->nsp_loss = dlt_nsp_loss(g, k->nsp_logits, k->nsp_labels, DLT_REDUCE_MEAN);
    k->loss = dlt_add(g, k->mlm_loss, k->nsp_loss);
    int acc = t->c->accumulate > 1 ? t->c->accumulate : 1;
    dlt_t obj = acc > 1 ? dlt_affine(g, k->loss, 1.0f / (float)acc, 0.f) : k->loss;
    if (dlt_graph_status(g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(g), "%s", dlt_graph_errmsg(g));
    tg->loss = obj;
    tg->contract = DLT_GRAD_MEAN;
    tg->nouts = 5;
    tg->outs[0] = obj, tg->outs[1] = k->mlm_loss, tg->outs[2] = k->nsp_loss;
    tg->outs[3] = k->mlm_logits, tg->outs[4] = k->nsp_logits;
    tg->flops_out = k->mlm_logits;
    dlt_transformer_describe(&s, &tg->model);
    return dlt_task_grads(t, g, tg);
}

static dlt_status feed(dlt_task *t, dlt_plan *p, int train, dlt_task_batch *tb)
{
    bert *k = t->impl;
    dlt_text_batch b;
    dlt_status st = dlt_text_loader_next(train ? k->io.loader : k->io.val, &b);
    if (st != DLT_OK)
        return st;
    size_t L = (size_t)k->L, P = (size_t)k->P, n = (size_t)b.size * L;
    if (b.max_predictions != k->P)
        return dlt_seterr(DLT_ERR_INVALID, "data: %d masked positions per sequence, the model was built for %d",
                          b.max_predictions, k->P);
    int32_t *ids = dlt_plan_data(p, k->ids), *tt = dlt_plan_data(p, k->types),
            *mask = dlt_plan_data(p, k->mask), *pos = dlt_plan_data(p, k->mlm_positions);
    int32_t *y = dlt_plan_data(p, k->mlm_labels), *nsp = dlt_plan_data(p, k->nsp_labels);
    memcpy(ids, b.input_ids, n * sizeof *ids);
    memcpy(tt, b.token_type_ids, n * sizeof *tt);
    for (size_t i = 0; i < n; i++)
        mask[i] = b.attention_mask[i] != 0.f;
    for (size_t q = 0; q < (size_t)b.size * P; q++) {
        int32_t at = q < (size_t)b.valid * P ? b.mlm_positions[q] : -1;
        int use = at >= 0 && (size_t)at < L && b.mlm_weights[q] > 0;
        pos[q] = use ? at : 0;
        y[q] = use ? b.mlm_ids[q] : DLT_IGNORE_LABEL;
    }
    for (int i = 0; i < b.size; i++)
        nsp[i] = i < b.valid ? b.nsp_labels[i] : DLT_IGNORE_LABEL;
    tb->samples = b.valid;
    tb->weight = b.valid;
    tb->epoch = b.epoch;
    tb->last_in_epoch = b.last_in_epoch;
    return DLT_OK;
}

static void accumulate(dlt_task *t, dlt_plan *p, int train, const dlt_task_batch *b, double *sums)
{
    bert *k = t->impl;
    const int32_t *y = dlt_plan_data(p, k->mlm_labels), *nsp = dlt_plan_data(p, k->nsp_labels);
    const float *ml = dlt_plan_data(p, k->mlm_logits), *nl = dlt_plan_data(p, k->nsp_logits);
    int64_t P = k->P, V = k->vocab, masked = 0, hits = 0, nhits = 0;
    (void)train;
    for (int i = 0; i < b->samples; i++) {
        for (int64_t j = 0; j < P; j++) {
            int32_t lab = y[i * P + j];
            if (lab == DLT_IGNORE_LABEL)
                continue;
            masked++;
            hits += dlt_task_argmax(ml + (i * P + j) * V, V) == lab;
        }
        nhits += dlt_task_argmax(nl + 2 * i, 2) == nsp[i];
    }
    /* the graph's losses are means: back to sums over their units */
    if (masked > 0)
        sums[S_MLM_LOSS] += *(const float *)dlt_plan_data(p, k->mlm_loss) * (double)masked;
    if (b->samples > 0)
        sums[S_NSP_LOSS] += *(const float *)dlt_plan_data(p, k->nsp_loss) * (double)b->samples;
    sums[S_MASKED] += (double)masked;
    sums[S_MLM_HITS] += (double)hits;
    sums[S_NSP_HITS] += (double)nhits;
}

static void metrics(const dlt_task *t, int train, const double *sums, dlt_metrics *m)
{
    double n = (double)m->samples, nm = sums[S_MASKED];
    (void)t, (void)train;
    double mlm = nm > 0 ? sums[S_MLM_LOSS] / nm : NAN, nsp = n > 0 ? sums[S_NSP_LOSS] / n : NAN;
    m->n = 5;
    m->key[0] = m->label[0] = "loss";
    m->key[1] = "mlm_loss", m->label[1] = "mlm";
    m->key[2] = "nsp_loss", m->label[2] = "nsp";
    m->key[3] = "mlm_accuracy", m->label[3] = "mlm_acc";
    m->key[4] = "nsp_accuracy", m->label[4] = "nsp_acc";
    m->val[0] = mlm + nsp, m->val[1] = mlm, m->val[2] = nsp;
    m->val[3] = nm > 0 ? sums[S_MLM_HITS] / nm : NAN;
    m->val[4] = n > 0 ? sums[S_NSP_HITS] / n : NAN;
    m->best = 3;
}

/* Per sequence: its ids, the masked positions (P slots), the MLM prediction
 * and label at each (-100: an unused slot), the NSP logits, prediction and
 * label; with logits the MLM logits [P, V]. */
static dlt_status predict(dlt_task *t, dlt_plan *p, const dlt_task_batch *b, int logits,
                          dlt_pred_file *f)
{
    bert *k = t->impl;
    const float *ml = dlt_plan_data(p, k->mlm_logits), *nl = dlt_plan_data(p, k->nsp_logits);
    int64_t n = b->samples, L = k->L, P = k->P, two = 2, pv[2] = {P, k->vocab};
    int32_t *mp = dlt_task_argmax_rows(ml, n * P, k->vocab), *np = dlt_task_argmax_rows(nl, n, 2);
    dlt_status st = mp && np ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "input_ids", DLT_I32, 1, &L, dlt_plan_data(p, k->ids), n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "mlm_positions", DLT_I32, 1, &P, dlt_plan_data(p, k->mlm_positions), n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "mlm_pred", DLT_I32, 1, &P, mp, n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "mlm_label", DLT_I32, 1, &P, dlt_plan_data(p, k->mlm_labels), n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "nsp_logits", DLT_F32, 1, &two, nl, n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "nsp_pred", DLT_I32, 0, NULL, np, n);
    if (st == DLT_OK)
        st = dlt_pred_file_append(f, "nsp_label", DLT_I32, 0, NULL, dlt_plan_data(p, k->nsp_labels), n);
    if (st == DLT_OK && logits)
        st = dlt_pred_file_append(f, "mlm_logits", DLT_F32, 2, pv, ml, n);
    free(mp);
    free(np);
    return st;
}

static void describe(const dlt_task *t, FILE *out)
{
    const bert *k = t->impl;
    fprintf(out,
            "# model %s (BERT pre-training: MLM + NSP) on sequences of %d tokens, vocabulary %d, "
            "%lld instances, "
            "batch %d per rank, %d rank%s\n",
            t->c->arch, k->L, k->vocab, (long long)t->num_samples, t->c->batch_size, t->world,
            t->world > 1 ? "s" : "");
}

const dlt_task_ops dlt_task_bert = {
    .name = "bert-pretraining",
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
