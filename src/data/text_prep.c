/* dlprep's text pipeline: corpus -> tokenizer (trained on the training documents,
 * or taken from a shard) -> token ids (threads over sentences or documents) ->
 * GPT token streams (text-tokens shards, each document followed by the
 * end-of-text token) or BERT pretraining instances (bert-pretraining shards).
 * Validation documents are held out whole, so no text leaks across splits. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert_internal.h"
#include "shard_internal.h"
#include "text_corpus.h"

void dlt_text_prep_opts_default(dlt_text_prep_opts *o)
{
    memset(o, 0, sizeof *o);
    o->target = DLT_TEXT_GPT;
    o->tokenizer = DLT_TOK_BPE;
    o->lowercase = 1;
    o->docs = DLT_DOCS_FILE;
    dlt_bert_opts_default(&o->bert);
    o->dupe_factor = 5;
}

typedef struct {
    const dlt_corpus *c;
    const dlt_tokenizer *tok;
    int bert;
    int64_t u0, u1; /* units: sentences (BERT) or documents (GPT) */
    dlt_ids ids;
    int64_t *counts; /* per unit */
    atomic_llong *bytes_done;
    atomic_int *finished;
    dlt_status st;
    char err[512];
} enc_job;

static void *encode_range(void *arg)
{
    enc_job *j = arg;
    dlt_tokenizer *t;
    if ((j->st = dlt_tokenizer_clone(j->tok, &t))) {
        snprintf(j->err, sizeof j->err, "%s", dlt_errmsg());
        atomic_fetch_add(j->finished, 1);
        return NULL;
    }
    dlt_special_ids sp = dlt_tokenizer_specials(t);
    for (int64_t u = j->u0; u < j->u1 && !j->st; u++) {
        int64_t a = j->bert ? j->c->sent[u][0] : j->c->doc[u].start;
        int64_t b = j->bert ? j->c->sent[u][1] : j->c->doc[u].end;
        int64_t before = j->ids.n;
        j->st = dlt_tokenizer_encode(t, j->c->text + a, (size_t)(b - a), &j->ids);
        if (!j->st && !j->bert)
            j->st = dlt_ids_push(&j->ids, sp.eot);
        j->counts[u - j->u0] = j->ids.n - before;
        atomic_fetch_add(j->bytes_done, (long long)(b - a));
    }
    if (j->st)
        snprintf(j->err, sizeof j->err, "%s", dlt_errmsg());
    dlt_tokenizer_free(t);
    atomic_fetch_add(j->finished, 1);
    return NULL;
}

/* Encodes every unit; *ids = all tokens, *off = units + 1 offsets. */
static dlt_status encode_all(const dlt_corpus *c, const dlt_tokenizer *tok, int bert,
                             int threads, FILE *progress, int32_t **ids, int64_t **off)
{
    int64_t nu = bert ? c->nsent : c->ndocs;
    enc_job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    int64_t *counts = calloc((size_t)nu + 1, sizeof *counts);
    atomic_llong done = 0;
    atomic_int finished = 0;
    if (!jobs || !th || !counts) {
        free(jobs), free(th), free(counts);
        return dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    int started = 0;
    for (int k = 0; k < threads; k++) {
        enc_job *j = &jobs[k];
        j->c = c, j->tok = tok, j->bert = bert, j->bytes_done = &done;
        j->finished = &finished;
        j->u0 = nu * k / threads, j->u1 = nu * (k + 1) / threads;
        j->counts = counts + j->u0;
        if (pthread_create(&th[k], NULL, encode_range, j) == 0)
            started++;
        else
            encode_range(j), th[k] = 0;
    }
    dlt_progress prog;
    int64_t total = 0;
    for (int64_t d = 0; d < c->ndocs; d++)
        total += c->doc[d].end - c->doc[d].start;
    if (bert) {
        total = 0;
        for (int64_t s = 0; s < c->nsent; s++)
            total += c->sent[s][1] - c->sent[s][0];
    }
    dlt_progress_start(&prog, progress, "tokenize (bytes)", total);
    for (int64_t last = 0; started > 0;) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
        long long now = atomic_load(&done);
        dlt_progress_add(&prog, now - last);
        last = now;
        if (atomic_load(&finished) == threads)
            break;
    }
    dlt_status st = DLT_OK;
    for (int k = 0; k < threads; k++) {
        if (th[k])
            pthread_join(th[k], NULL);
        if (jobs[k].st && !st)
            st = dlt_seterr(jobs[k].st, "%s", jobs[k].err);
    }
    prog.done = total;
    dlt_progress_end(&prog);
    int64_t n = 0;
    for (int k = 0; k < threads; k++)
        n += jobs[k].ids.n;
    *ids = st ? NULL : malloc((size_t)(n ? n : 1) * sizeof **ids);
    *off = st ? NULL : malloc((size_t)(nu + 1) * sizeof **off);
    if (!st && (!*ids || !*off))
        st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    if (!st) {
        int64_t at = 0;
        for (int k = 0; k < threads; k++) {
            if (jobs[k].ids.n) /* a job with no text has no buffer */
                memcpy(*ids + at, jobs[k].ids.ids, (size_t)jobs[k].ids.n * sizeof **ids);
            at += jobs[k].ids.n;
        }
        (*off)[0] = 0;
        for (int64_t u = 0; u < nu; u++)
            (*off)[u + 1] = (*off)[u] + counts[u];
    }
    for (int k = 0; k < threads; k++)
        dlt_ids_free(&jobs[k].ids);
    free(jobs), free(th), free(counts);
    return st;
}

static int shards_for(const dlt_convert_opts *o, int64_t n, int64_t bytes_each)
{
    int64_t s = o->num_shards > 0    ? o->num_shards
                : o->shard_size > 0  ? (n + o->shard_size - 1) / o->shard_size
                                     : (n * bytes_each + (128ll << 20) - 1) / (128ll << 20);
    if (s > n)
        s = n;
    return s < 1 ? 1 : (int)s;
}

static void shard_path(char *buf, size_t n, const dlt_convert_opts *o, const char *prefix,
                       int k, int ns)
{
    snprintf(buf, n, "%s/%s-%05d-of-%05d.h5", o->out_dir, prefix, k, ns);
}

/* GPT: the documents of one split, cut into shards of consecutive documents. */
static dlt_status write_gpt(const int64_t *docs, int64_t nd, const int32_t *ids,
                            const int64_t *off, const dlt_shard_spec *spec,
                            const dlt_convert_opts *o, const char *prefix, int64_t *ntok)
{
    int64_t total = 0;
    for (int64_t i = 0; i < nd; i++)
        total += off[docs[i] + 1] - off[docs[i]];
    *ntok = total;
    int ns = shards_for(o, nd, nd ? total * 4 / nd + 8 : 8);
    dlt_progress prog;
    dlt_progress_start(&prog, o->progress, prefix, nd);
    dlt_status st = DLT_OK;
    for (int k = 0; k < ns && !st; k++) {
        char path[4200];
        dlt_shard_writer *w;
        shard_path(path, sizeof path, o, prefix, k, ns);
        if ((st = dlt_shard_writer_open(path, spec, &w)))
            break;
        for (int64_t i = nd * k / ns; i < nd * (k + 1) / ns && !st; i++) {
            int64_t d = docs[i];
            st = dlt_shard_write_document(w, ids + off[d], off[d + 1] - off[d]);
            dlt_progress_add(&prog, 1);
        }
        if (st)
            dlt_shard_writer_abort(w);
        else
            st = dlt_shard_writer_close(w);
    }
    if (!st)
        dlt_progress_end(&prog);
    return st;
}

typedef struct {
    dlt_shard_writer *w;
    int64_t n, next_end, k, total;
    int ns;
    const dlt_shard_spec *spec;
    const dlt_convert_opts *o;
    const char *prefix;
    dlt_progress *prog;
    dlt_status st;
} bert_sink;

static int bert_count(const dlt_bert_instance *x, void *user)
{
    (void)x;
    ((bert_sink *)user)->n++;
    return 0;
}

static int bert_write(const dlt_bert_instance *x, void *user)
{
    bert_sink *s = user;
    if (!s->w) {
        char path[4200];
        shard_path(path, sizeof path, s->o, s->prefix, (int)s->k, s->ns);
        s->next_end = s->total * (s->k + 1) / s->ns;
        if ((s->st = dlt_shard_writer_open(path, s->spec, &s->w)))
            return 1;
    }
    s->st = dlt_shard_write_bert(s->w, x->input_ids, x->token_type_ids, x->length,
                                 x->mlm_positions, x->mlm_ids, x->mlm_weights,
                                 x->next_sentence_label);
    dlt_progress_add(s->prog, 1);
    if (!s->st && ++s->n == s->next_end) {
        s->st = dlt_shard_writer_close(s->w);
        s->w = NULL;
        s->k++;
    }
    return s->st != DLT_OK;
}

/* BERT: instances of the documents of one split (random next segments come from
 * the same split), dupe_factor rounds; counted first so shards can be named. */
static dlt_status write_bert(const int64_t *docs, int64_t nd, const dlt_corpus *c,
                             const int32_t *ids, const int64_t *off, const dlt_text_prep_opts *t,
                             const dlt_bert_opts *bo, const dlt_shard_spec *spec,
                             const dlt_convert_opts *o, const char *prefix, int64_t *ninst)
{
    int64_t nsent = 0;
    for (int64_t i = 0; i < nd; i++)
        nsent += c->doc[docs[i]].end_sent - c->doc[docs[i]].first_sent;
    int64_t *doc_sent = malloc((size_t)(nd + 1) * sizeof *doc_sent);
    int64_t *sent_off = malloc((size_t)(nsent + 1) * sizeof *sent_off);
    int32_t *tok = NULL;
    dlt_status st = doc_sent && sent_off ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t ns = 0;
    sent_off[0] = 0;
    for (int64_t i = 0; i < nd && !st; i++) {
        doc_sent[i] = ns;
        for (int64_t s = c->doc[docs[i]].first_sent; s < c->doc[docs[i]].end_sent; s++, ns++)
            sent_off[ns + 1] = sent_off[ns] + off[s + 1] - off[s];
    }
    if (!st) {
        doc_sent[nd] = ns;
        tok = malloc((size_t)(sent_off[ns] + 1) * sizeof *tok);
        if (!tok)
            st = dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0, at = 0; i < nd && !st; i++) {
        int64_t s0 = c->doc[docs[i]].first_sent, s1 = c->doc[docs[i]].end_sent;
        memcpy(tok + at, ids + off[s0], (size_t)(off[s1] - off[s0]) * sizeof *tok);
        at += off[s1] - off[s0];
    }
    dlt_text_corpus sc = {tok, sent_off, doc_sent, nd};
    dlt_bert_opts cnt = *bo;
    cnt.count_only = 1;
    dlt_progress prog;
    bert_sink sink = {0};
    sink.spec = spec, sink.o = o, sink.prefix = prefix, sink.prog = &prog;
    for (int r = 0; r < t->dupe_factor && !st; r++)
        for (int64_t d = 0; d < nd && !st; d++)
            st = dlt_bert_document_instances(&sc, d, r, &cnt, bert_count, &sink);
    *ninst = sink.n;
    if (!st && sink.n == 0)
        st = dlt_seterr(DLT_ERR_INVALID, "the %s documents make no BERT instances (too "
                        "short?)", prefix);
    if (!st) {
        sink.total = sink.n;
        sink.n = 0;
        sink.ns = shards_for(o, sink.total, (int64_t)bo->seq_len * 5 + bo->max_predictions * 12 + 8);
        dlt_progress_start(&prog, o->progress, prefix, sink.total);
    }
    for (int r = 0; r < t->dupe_factor && !st; r++)
        for (int64_t d = 0; d < nd && !st; d++) {
            st = dlt_bert_document_instances(&sc, d, r, bo, bert_write, &sink);
            if (!st)
                st = sink.st;
        }
    if (sink.w)
        dlt_shard_writer_abort(sink.w);
    if (!st)
        dlt_progress_end(&prog);
    free(doc_sent);
    free(sent_off);
    free(tok);
    return st;
}

static double since(double t0) { return dlt_data_now() - t0; }

static dlt_status get_tokenizer(const dlt_corpus *c, const uint8_t *is_val,
                                const dlt_text_prep_opts *t, const dlt_convert_opts *o,
                                dlt_tokenizer **tok)
{
    if (t->vocab_from) {
        dlt_shard *s;
        dlt_status st = dlt_shard_open(t->vocab_from, NULL, &s);
        if (st)
            return st;
        st = dlt_tokenizer_from_shard(dlt_shard_get_info(s), tok);
        dlt_shard_close(s);
        return st ? dlt_adderr(st, "%s", t->vocab_from) : DLT_OK;
    }
    dlt_tokenizer_train_opts to;
    dlt_tokenizer_trainer *tr;
    dlt_tokenizer_train_opts_default(&to, t->tokenizer);
    if (t->vocab_size > 0)
        to.vocab_size = t->vocab_size;
    to.lowercase = t->lowercase;
    dlt_status st = dlt_tokenizer_trainer_new(&to, &tr);
    if (st)
        return st;
    dlt_progress prog;
    dlt_progress_start(&prog, o->progress, "count words", c->ndocs);
    for (int64_t d = 0; d < c->ndocs && !st; d++) {
        if (!is_val[d])
            st = dlt_tokenizer_trainer_feed(tr, c->text + c->doc[d].start,
                                            (size_t)(c->doc[d].end - c->doc[d].start));
        dlt_progress_add(&prog, 1);
    }
    if (st) {
        dlt_tokenizer_trainer_free(tr);
        return st;
    }
    dlt_progress_end(&prog);
    if (o->progress)
        fprintf(o->progress, "learning %s merges (vocabulary %d)...\n",
                dlt_tokenizer_type_name(t->tokenizer), to.vocab_size);
    return dlt_tokenizer_trainer_finish(tr, tok);
}

static dlt_status prep(const dlt_corpus *c, const dlt_text_prep_opts *t,
                       const dlt_convert_opts *o, dlt_text_prep_stats *stats,
                       const char *source)
{
    int64_t nd = c->ndocs;
    uint8_t *is_val = calloc((size_t)nd, 1);
    int64_t *perm = malloc((size_t)nd * sizeof *perm), *docs = malloc((size_t)nd * sizeof *docs);
    dlt_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    int64_t *off = NULL;
    dlt_status st = is_val && perm && docs ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "out of memory");
    int64_t nval = (int64_t)(o->val_fraction * (double)nd + 0.5);
    if (!st && nval >= nd)
        st = dlt_seterr(DLT_ERR_INVALID, "--val-fraction %g leaves no training documents (%lld "
                        "documents)", o->val_fraction, (long long)nd);
    if (!st) {
        dlt_data_permutation(perm, nd, o->seed ^ 0x76616cull, 0, 1);
        for (int64_t i = 0; i < nval; i++)
            is_val[perm[i]] = 1;
    }
    double t0 = dlt_data_now();
    if (!st)
        st = get_tokenizer(c, is_val, t, o, &tok);
    stats->train_s = since(t0);
    int bert = t->target == DLT_TEXT_BERT;
    dlt_special_ids sp = tok ? dlt_tokenizer_specials(tok) : (dlt_special_ids){0};
    if (!st && bert && (sp.cls < 0 || sp.sep < 0 || sp.mask < 0))
        st = dlt_seterr(DLT_ERR_INVALID, "BERT instances need [CLS] [SEP] [MASK]: use the "
                        "wordpiece tokenizer");
    if (!st && !bert && sp.eot < 0)
        st = dlt_seterr(DLT_ERR_INVALID, "the tokenizer has no end-of-text token");
    t0 = dlt_data_now();
    if (!st)
        st = encode_all(c, tok, bert, t->threads > 0 ? t->threads : 4, o->progress, &ids, &off);
    stats->encode_s = since(t0);
    if (!st) {
        stats->tokens = off[bert ? c->nsent : nd];
        stats->vocab_size = dlt_tokenizer_vocab_size(tok);
        stats->num_merges = dlt_tokenizer_num_merges(tok);
    }
    dlt_shard_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.kind = bert ? DLT_KIND_BERT_PRETRAINING : DLT_KIND_TEXT_TOKENS;
    if (tok) {
        spec.vocab_size = dlt_tokenizer_vocab_size(tok);
        spec.vocab = dlt_tokenizer_vocab(tok);
        spec.tokenizer = dlt_tokenizer_type_name(dlt_tokenizer_get_type(tok));
        spec.num_merges = dlt_tokenizer_num_merges(tok);
        spec.merges = dlt_tokenizer_merges(tok);
    }
    spec.source = source;
    spec.deflate = o->deflate;
    spec.seq_len = t->bert.seq_len;
    spec.max_predictions = t->bert.max_predictions;
    dlt_bert_opts bo = t->bert;
    bo.seed = o->seed;
    bo.sp = sp;
    bo.vocab_size = spec.vocab_size;
    t0 = dlt_data_now();
    if (!st)
        st = dlt_data_mkdirs(o->out_dir);
    for (int split = 0; split < 2 && !st; split++) {
        int64_t n = 0, *samples = split ? &stats->val_samples : &stats->train_samples;
        for (int64_t d = 0; d < nd; d++)
            if (is_val[d] == split)
                docs[n++] = d;
        (split ? &stats->val_documents : &stats->train_documents)[0] = n;
        if (n == 0)
            continue;
        const char *prefix = split ? "val" : (o->prefix ? o->prefix : "train");
        if (bert) {
            st = write_bert(docs, n, c, ids, off, t, &bo, &spec, o, prefix, samples);
        } else {
            *samples = n;
            st = write_gpt(docs, n, ids, off, &spec, o, prefix,
                           split ? &stats->val_tokens : &stats->train_tokens);
        }
    }
    stats->write_s = since(t0);
    dlt_tokenizer_free(tok);
    free(ids);
    free(off);
    free(is_val);
    free(perm);
    free(docs);
    return st;
}

dlt_status dlt_text_prep(const char *const *inputs, int ninputs, const dlt_text_prep_opts *t,
                         const dlt_convert_opts *o, dlt_text_prep_stats *stats)
{
    dlt_text_prep_stats dummy;
    if (!stats)
        stats = &dummy;
    memset(stats, 0, sizeof *stats);
    if (!(o->val_fraction >= 0 && o->val_fraction < 1))
        return dlt_seterr(DLT_ERR_INVALID, "--val-fraction %g must be in [0, 1)",
                          o->val_fraction);
    if (t->target == DLT_TEXT_BERT && t->dupe_factor < 1)
        return dlt_seterr(DLT_ERR_INVALID, "--dupe-factor must be >= 1");
    char **files = NULL;
    size_t nf = 0;
    const char *exts = t->extensions ? t->extensions : "txt,rst,md,text,html,htm";
    dlt_status st = dlt_corpus_list_files(inputs, ninputs, exts, &files, &nf);
    if (st)
        return st;
    dlt_corpus c;
    memset(&c, 0, sizeof c);
    double t0 = dlt_data_now();
    dlt_progress prog;
    dlt_progress_start(&prog, o->progress, "read files", (int64_t)nf);
    for (size_t i = 0; i < nf && !st; i++) {
        st = dlt_corpus_add_file(&c, files[i], t->docs);
        dlt_progress_add(&prog, 1);
    }
    if (!st)
        dlt_progress_end(&prog);
    stats->read_s = since(t0);
    char source[1024];
    snprintf(source, sizeof source, "dlprep text: %lld files from %s%s", (long long)c.files,
             ninputs ? inputs[0] : "?", ninputs > 1 ? " ..." : "");
    if (!st && c.ndocs == 0)
        st = dlt_seterr(DLT_ERR_INVALID, "the corpus holds no text");
    if (!st)
        st = prep(&c, t, o, stats, source);
    stats->files = c.files;
    stats->bytes = c.bytes;
    stats->documents = c.ndocs;
    stats->sentences = c.nsent;
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    dlt_corpus_free(&c);
    return st;
}
