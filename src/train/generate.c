/* dltrain generate: autoregressive sampling from a causal-LM checkpoint. The
 * checkpoint's job names the model and the shards whose tokenizer encodes
 * the prompt; each new token costs one full forward pass over the last
 * data.seq_len tokens (no KV cache: cheap enough for the models trained here).
 * Generation stops after max_new_tokens or at the end-of-text token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlt_ckpt.h"
#include "dlt_job.h"
#include "task.h"

void dlt_generate_opts_default(dlt_generate_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_new_tokens = 64;
    o->temperature = 1.0;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Next token from logits[V]: greedy at temperature 0, else softmax(l / temp)
 * over the top_k most likely (ties at the k-th included). scratch: V floats. */
static int sample(const float *l, int V, double temp, int top_k, uint64_t *rng, float *scratch)
{
    if (temp <= 0)
        return dlt_task_argmax(l, V);
    float thresh = -INFINITY, mx = l[dlt_task_argmax(l, V)];
    if (top_k > 0 && top_k < V) {
        memcpy(scratch, l, (size_t)V * sizeof *scratch);
        qsort(scratch, (size_t)V, sizeof *scratch, desc);
        thresh = scratch[top_k - 1];
    }
    double total = 0;
    for (int i = 0; i < V; i++)
        total += l[i] >= thresh ? exp((l[i] - mx) / temp) : 0;
    double u = (double)(splitmix64(rng) >> 11) * 0x1.0p-53 * total, acc = 0;
    int last = 0;
    for (int i = 0; i < V; i++) {
        if (l[i] < thresh)
            continue;
        acc += exp((l[i] - mx) / temp);
        last = i;
        if (u < acc)
            return i;
    }
    return last;
}

typedef struct {
    dlt_job *job;
    dlt_train_config c;
    dlt_text_loader *shards;
    dlt_tokenizer *tok;
    dlt_graph *g;
    dlt_plan *p;
    dlt_ids ids;
    float *scratch;
    char *job_text;
} gen;

static void gen_free(gen *s)
{
    dlt_job_free(s->job);
    dlt_text_loader_close(s->shards);
    dlt_tokenizer_free(s->tok);
    dlt_plan_free(s->p);
    dlt_graph_free(s->g);
    dlt_ids_free(&s->ids);
    free(s->scratch);
    free(s->job_text);
}

/* The checkpoint's job, which must train a causal LM. */
static dlt_status load_job(const dlt_generate_opts *o, gen *s)
{
    dlt_status st = dlt_task_config_from_ckpt(o->ckpt, &s->job, &s->job_text, &s->c);
    if (st != DLT_OK)
        return st;
    if (s->c.task != DLT_TASK_CAUSAL_LM)
        return dlt_seterr(DLT_ERR_INVALID,
                          "%s: model.arch = %s (%s) is not a GPT model; generate needs a causal-LM "
                          "checkpoint",
                          o->ckpt, s->c.arch, dlt_task_kind_name(s->c.task));
    return DLT_OK;
}

/* The tokenizer and vocabulary of the training shards. */
static dlt_status open_tokenizer(const dlt_generate_opts *o, gen *s)
{
    const char *glob = o->data_override && o->data_override[0] ? o->data_override : s->c.train_glob;
    s->c.batch_size = 1, s->c.drop_last = 0, s->c.shuffle = 0;
    dlt_status st = dlt_task_text_loader(&s->c, glob, 0, 0, 1, 1, &s->shards);
    if (st != DLT_OK)
        return dlt_adderr(
            st == DLT_ERR_NOMEM ? st : DLT_ERR_NOTFOUND,
            "the tokenizer comes from the training shards of the job (data.train = '%s'; --data "
            "GLOB names others)",
            glob);
    if (dlt_text_loader_is_bert(s->shards))
        return dlt_seterr(DLT_ERR_INVALID, "%s: BERT instances, not text-tokens shards", glob);
    const dlt_tokenizer *t = dlt_text_loader_tokenizer(s->shards);
    if (!t)
        return dlt_seterr(DLT_ERR_INVALID, "%s: the shards store no tokenizer", glob);
    return dlt_tokenizer_clone(t, &s->tok);
}

/* GPT with batch 1 and context T, parameters from the checkpoint. */
static dlt_status load_model(const dlt_generate_opts *o, gen *s, dlt_t *ids, dlt_t *logits)
{
    dlt_transformer_spec spec = dlt_task_tf_spec(&s->c, dlt_text_loader_vocab_size(s->shards));
    int64_t d[2] = {1, s->c.seq_len};
    if (!(s->g = dlt_graph_create(s->c.seed)))
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    *ids = dlt_input(s->g, "ids", DLT_I32, 2, d);
    *logits = dlt_gpt(s->g, &spec, *ids, NULL);
    if (dlt_graph_status(s->g) != DLT_OK)
        return dlt_seterr(dlt_graph_status(s->g), "%s", dlt_graph_errmsg(s->g));
    dlt_status st = dlt_plan_create(s->g, 1, logits, NULL, &s->p);
    if (st != DLT_OK)
        return st;
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_ckpt_tensors_from_graph(s->g, &t);
    t.nslots = 0;
    st = dlt_ckpt_load(o->ckpt, &t, &cs);
    dlt_ckpt_state_free(&cs);
    return st;
}

/* The prompt's ids: given, or the tokenizer's encoding of the text. */
static dlt_status prompt_ids(const dlt_generate_opts *o, gen *s)
{
    if (!o->prompt_ids)
        return dlt_tokenizer_encode(s->tok, o->prompt ? o->prompt : "",
                                    o->prompt ? strlen(o->prompt) : 0, &s->ids);
    int V = dlt_tokenizer_vocab_size(s->tok);
    for (int64_t i = 0; i < o->nprompt_ids; i++) {
        if (o->prompt_ids[i] < 0 || o->prompt_ids[i] >= V)
            return dlt_seterr(DLT_ERR_INVALID,
                              "--prompt-ids: token %lld is id %d, outside the vocabulary 0..%d",
                              (long long)i + 1, o->prompt_ids[i], V - 1);
        dlt_status st = dlt_ids_push(&s->ids, o->prompt_ids[i]);
        if (st != DLT_OK)
            return st;
    }
    return DLT_OK;
}

void dlt_generate_result_free(dlt_generate_result *r)
{
    free(r->text);
    free(r->ids);
    memset(r, 0, sizeof *r);
}

dlt_status dlt_generate(const dlt_generate_opts *o, char **text, int *ntokens)
{
    dlt_generate_result r;
    dlt_status st = dlt_generate_ids(o, &r);
    *text = r.text;
    if (ntokens)
        *ntokens = (int)(r.nids - r.nprompt);
    free(r.ids);
    return st;
}

dlt_status dlt_generate_ids(const dlt_generate_opts *o, dlt_generate_result *r)
{
    gen s;
    dlt_t ids = -1, logits = -1;
    memset(&s, 0, sizeof s);
    memset(r, 0, sizeof *r);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    dlt_set_num_threads(o->threads > 0 ? o->threads : cores > 0 ? (int)cores : 1);
    dlt_status st = load_job(o, &s);
    if (st == DLT_OK)
        st = open_tokenizer(o, &s);
    if (st == DLT_OK)
        st = prompt_ids(o, &s);
    int T = s.c.seq_len, V = s.shards ? dlt_text_loader_vocab_size(s.shards) : 0;
    int eot = s.tok ? dlt_tokenizer_specials(s.tok).eot : -1;
    /* no new tokens: tokenize or detokenize only, with no model to run */
    if (st == DLT_OK && s.ids.n > T && o->max_new_tokens > 0)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "the prompt is %lld tokens, longer than the model's context of %d "
                        "(data.seq_len)",
                        (long long)s.ids.n, T);
    int64_t nprompt = s.ids.n;
    /* an empty prompt starts after an end of text, as documents do in the shards */
    if (st == DLT_OK && nprompt == 0 && eot >= 0)
        st = dlt_ids_push(&s.ids, eot);
    else if (st == DLT_OK && nprompt == 0)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "an empty prompt needs a tokenizer with an end-of-text token");
    if (st == DLT_OK && o->max_new_tokens > 0)
        st = load_model(o, &s, &ids, &logits);
    if (st == DLT_OK && !(s.scratch = malloc((size_t)V * sizeof *s.scratch)))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    uint64_t rng = o->seed;
    int made = 0;
    while (st == DLT_OK && made < o->max_new_tokens) {
        int64_t w = s.ids.n < T ? s.ids.n : T, first = s.ids.n - w;
        int32_t *x = dlt_plan_data(s.p, ids);
        memset(x, 0,
               (size_t)T * sizeof *x); /* after the window: causal attention never looks there */
        memcpy(x, s.ids.ids + first, (size_t)w * sizeof *x);
        dlt_exec_opts eo = {.training = 0};
        if ((st = dlt_plan_run(s.p, &eo)) != DLT_OK)
            break;
        const float *l = (const float *)dlt_plan_data(s.p, logits) + (size_t)(w - 1) * V;
        int next = sample(l, V, o->temperature, o->top_k, &rng, s.scratch);
        if (next == eot)
            break;
        if ((st = dlt_ids_push(&s.ids, next)) != DLT_OK)
            break;
        made++;
    }
    if (st == DLT_OK) {
        int64_t skip = nprompt == 0 ? 1 : 0; /* the end-of-text that started an empty prompt */
        st = dlt_tokenizer_decode(s.tok, s.ids.ids + skip, s.ids.n - skip, &r->text, NULL);
    }
    if (st == DLT_OK) {
        r->ids = s.ids.ids, r->nids = s.ids.n, r->nprompt = s.ids.n - made;
        memset(&s.ids, 0, sizeof s.ids);
    }
    gen_free(&s);
    return st;
}
