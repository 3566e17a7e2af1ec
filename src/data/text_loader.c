/* The text loader: GPT windows of T + 1 tokens from the concatenated token
 * streams of text-tokens shards, or BERT instances from bert-pretraining shards,
 * in per-rank batches from a global per-epoch permutation (the image loader's
 * rule: rank r's k-th sample of step t is position (t * W + r) * b + k). Batches
 * are made in the caller: they are copies of a few KiB of integers. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

struct dlt_text_loader {
    dlt_text_loader_config cfg;
    dlt_shard **shards;
    int nshards;
    int64_t *starts; /* per shard: first token (GPT) or instance (BERT); nshards + 1 */
    int bert, L, P, V;
    int64_t n, steps, epoch, step, perm_epoch;
    int64_t *perm;
    dlt_tokenizer *tok;
    dlt_text_batch b;
    uint8_t *tt; /* one row of token_type_ids */
};

void dlt_text_loader_config_default(dlt_text_loader_config *c)
{
    memset(c, 0, sizeof *c);
    c->batch_size = 8;
    c->seq_len = 128;
    c->shuffle = 1;
    c->drop_last = 1;
    c->world_size = 1;
    c->inmem_threshold = 256ll << 20;
    c->verify = 1;
}

static dlt_status open_shards(dlt_text_loader *l)
{
    glob_t g;
    memset(&g, 0, sizeof g);
    char *list = strdup(l->cfg.paths), *save = NULL;
    int flags = 0;
    if (!list)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        int rc = glob(p, flags, NULL, &g);
        if (rc != 0 && rc != GLOB_NOMATCH)
            break;
        flags = GLOB_APPEND;
    }
    free(list);
    dlt_status st = DLT_OK;
    if (g.gl_pathc == 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "no shard matches '%s'", l->cfg.paths);
    else if (!(l->shards = calloc(g.gl_pathc, sizeof *l->shards)) ||
             !(l->starts = calloc(g.gl_pathc + 1, sizeof *l->starts)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    dlt_shard_open_opts o = {l->cfg.inmem_threshold, l->cfg.verify};
    for (size_t i = 0; i < g.gl_pathc && !st; i++) {
        dlt_shard *s;
        if ((st = dlt_shard_open(g.gl_pathv[i], &o, &s)))
            break;
        l->shards[l->nshards++] = s;
        const dlt_shard_info *in = dlt_shard_get_info(s);
        int bert = in->kind == DLT_KIND_BERT_PRETRAINING;
        if (in->kind != DLT_KIND_TEXT_TOKENS && !bert)
            st = dlt_seterr(DLT_ERR_INVALID, "%s: kind is %s, the text loader needs "
                            "text-tokens or bert-pretraining", g.gl_pathv[i],
                            dlt_shard_kind_name(in->kind));
        else if (i == 0)
            l->bert = bert, l->L = in->seq_len, l->P = in->max_predictions,
            l->V = in->vocab_size;
        else if (bert != l->bert || in->vocab_size != l->V ||
                 (bert && (in->seq_len != l->L || in->max_predictions != l->P)))
            st = dlt_seterr(DLT_ERR_SHAPE, "%s: kind %s, vocabulary %d, L %d, P %d differ "
                            "from %s", g.gl_pathv[i], dlt_shard_kind_name(in->kind),
                            in->vocab_size, in->seq_len, in->max_predictions,
                            g.gl_pathv[0]);
        if (!st)
            l->starts[i + 1] = l->starts[i] + (bert ? in->num_samples : in->num_tokens);
    }
    if (g.gl_pathc || flags)
        globfree(&g);
    return st;
}

static dlt_status alloc_batch(dlt_text_loader *l)
{
    dlt_text_batch *b = &l->b;
    size_t B = (size_t)l->cfg.batch_size;
    b->size = (int)B;
    b->indices = calloc(B, sizeof *b->indices);
    int ok = b->indices != NULL;
    if (!l->bert) {
        b->seq_len = l->cfg.seq_len;
        ok = ok && (b->tokens = malloc(B * (size_t)(l->cfg.seq_len + 1) * sizeof(int32_t)));
    } else {
        size_t L = (size_t)l->L, P = (size_t)l->P;
        b->seq_len = l->L, b->max_predictions = l->P;
        ok = ok && (b->input_ids = malloc(B * L * sizeof(int32_t))) &&
             (b->token_type_ids = malloc(B * L * sizeof(int32_t))) &&
             (b->attention_mask = malloc(B * L * sizeof(float))) &&
             (b->mlm_positions = malloc(B * P * sizeof(int32_t))) &&
             (b->mlm_ids = malloc(B * P * sizeof(int32_t))) &&
             (b->mlm_weights = malloc(B * P * sizeof(float))) &&
             (b->nsp_labels = malloc(B * sizeof(int32_t))) && (l->tt = malloc(L));
    }
    return ok ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
}

dlt_status dlt_text_loader_open(const dlt_text_loader_config *cfg, dlt_text_loader **out)
{
    *out = NULL;
    if (!cfg->paths || cfg->batch_size < 1 || cfg->world_size < 1 || cfg->rank < 0 ||
        cfg->rank >= cfg->world_size)
        return dlt_seterr(DLT_ERR_INVALID, "text loader: needs paths, batch_size >= 1 and "
                          "0 <= rank < world_size");
    dlt_text_loader *l = calloc(1, sizeof *l);
    if (!l)
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    l->cfg = *cfg;
    l->perm_epoch = -1;
    dlt_status st = (l->cfg.paths = strdup(cfg->paths)) ? open_shards(l)
                                                         : dlt_seterr(DLT_ERR_NOMEM, "no memory");
    int64_t T = cfg->seq_len, total = l->starts ? l->starts[l->nshards] : 0;
    if (!st && !l->bert && T < 1)
        st = dlt_seterr(DLT_ERR_INVALID, "text loader: seq_len must be >= 1 for GPT windows");
    if (!st && l->bert && T > 0 && T != l->L)
        st = dlt_seterr(DLT_ERR_SHAPE, "text loader: seq_len %d, but the shards hold BERT "
                        "instances of length %d", cfg->seq_len, l->L);
    if (!st)
        l->n = l->bert ? total : (total - 1) / T;
    int64_t gb = (int64_t)cfg->batch_size * cfg->world_size;
    if (!st && (l->n < 1 || (cfg->drop_last && l->n < gb)))
        st = dlt_seterr(DLT_ERR_INVALID, "%s: %lld %s, fewer than one global batch of %lld",
                        cfg->paths, (long long)l->n, l->bert ? "instances" : "windows",
                        (long long)gb);
    if (!st) {
        l->steps = cfg->drop_last ? l->n / gb : (l->n + gb - 1) / gb;
        l->perm = malloc((size_t)l->n * sizeof *l->perm);
        st = l->perm ? alloc_batch(l) : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        const dlt_shard_info *in = dlt_shard_get_info(l->shards[0]);
        if (in->tokenizer && (st = dlt_tokenizer_from_shard(in, &l->tok)))
            dlt_adderr(st, "%s", dlt_shard_path(l->shards[0]));
    }
    if (st) {
        dlt_text_loader_close(l);
        return st;
    }
    *out = l;
    return DLT_OK;
}

void dlt_text_loader_close(dlt_text_loader *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nshards; i++)
        dlt_shard_close(l->shards[i]);
    dlt_text_batch *b = &l->b;
    free(b->indices), free(b->tokens), free(b->input_ids), free(b->token_type_ids);
    free(b->attention_mask), free(b->mlm_positions), free(b->mlm_ids), free(b->mlm_weights);
    free(b->nsp_labels);
    free(l->tt);
    free(l->shards);
    free(l->starts);
    free(l->perm);
    free((char *)l->cfg.paths);
    dlt_tokenizer_free(l->tok);
    free(l);
}

static int shard_of(const dlt_text_loader *l, int64_t x)
{
    int lo = 0, hi = l->nshards - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (l->starts[mid] <= x)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Tokens [a, a + n) of the global stream, across shard boundaries. */
static dlt_status read_stream(dlt_text_loader *l, int64_t a, int64_t n, int32_t *dst)
{
    while (n > 0) {
        int s = shard_of(l, a);
        int64_t off = a - l->starts[s], k = l->starts[s + 1] - a;
        if (k > n)
            k = n;
        dlt_status st = dlt_shard_read_tokens(l->shards[s], off, k, dst);
        if (st)
            return st;
        a += k, n -= k, dst += k;
    }
    return DLT_OK;
}

static dlt_status read_instance(dlt_text_loader *l, int64_t idx, int k)
{
    dlt_text_batch *b = &l->b;
    int s = shard_of(l, idx), L = l->L, P = l->P;
    int32_t len;
    size_t r = (size_t)k;
    dlt_status st = dlt_shard_read_bert(l->shards[s], idx - l->starts[s], b->input_ids + r * L,
                                        l->tt, &len, b->mlm_positions + r * P,
                                        b->mlm_ids + r * P, b->mlm_weights + r * P,
                                        b->nsp_labels + r);
    for (int i = 0; i < L; i++) {
        b->token_type_ids[r * L + i] = l->tt[i];
        b->attention_mask[r * L + i] = i < len ? 1.0f : 0.0f;
    }
    return st;
}

dlt_status dlt_text_loader_next(dlt_text_loader *l, dlt_text_batch *out)
{
    const dlt_text_loader_config *c = &l->cfg;
    if (l->cfg.shuffle && l->perm_epoch != l->epoch) {
        dlt_data_permutation(l->perm, l->n, c->seed, l->epoch, 1);
        l->perm_epoch = l->epoch;
    }
    dlt_text_batch *b = &l->b;
    int T = c->seq_len;
    b->valid = 0;
    for (int k = 0; k < c->batch_size; k++) {
        int64_t g = (l->step * c->world_size + c->rank) * c->batch_size + k;
        int64_t gi = g % l->n, idx = c->shuffle ? l->perm[gi] : gi;
        b->valid += g < l->n;
        b->indices[k] = idx;
        dlt_status st = l->bert ? read_instance(l, idx, k)
                                : read_stream(l, idx * T, T + 1, b->tokens + (size_t)k * (T + 1));
        if (st)
            return st;
    }
    b->epoch = l->epoch, b->step = l->step;
    b->last_in_epoch = l->step == l->steps - 1;
    if (++l->step == l->steps)
        l->step = 0, l->epoch++;
    *out = *b;
    return DLT_OK;
}

dlt_loader_cursor dlt_text_loader_get_cursor(const dlt_text_loader *l)
{
    return (dlt_loader_cursor){l->epoch, l->step};
}

dlt_status dlt_text_loader_set_cursor(dlt_text_loader *l, dlt_loader_cursor c)
{
    if (c.epoch < 0 || c.step < 0 || c.step >= l->steps)
        return dlt_seterr(DLT_ERR_INVALID, "text loader cursor (epoch %lld, step %lld) outside "
                          "0..%lld steps", (long long)c.epoch, (long long)c.step,
                          (long long)l->steps - 1);
    l->epoch = c.epoch, l->step = c.step;
    return DLT_OK;
}

int dlt_text_loader_is_bert(const dlt_text_loader *l) { return l->bert; }
int64_t dlt_text_loader_num_samples(const dlt_text_loader *l) { return l->n; }
int64_t dlt_text_loader_steps_per_epoch(const dlt_text_loader *l) { return l->steps; }
int dlt_text_loader_vocab_size(const dlt_text_loader *l) { return l->V; }
const dlt_tokenizer *dlt_text_loader_tokenizer(const dlt_text_loader *l) { return l->tok; }
