/* Training-step throughput of a transformer on random tokens (not a test:
 * `make bench/transformer_bench` or `make bench`, then
 * `bench/transformer_bench [arch] [batch] [seq] [threads] [steps] [vocab] [P]`, defaults
 * bert-mini 8 128 2 5, the architecture's vocabulary and P 20; jobs/bert_mini.toml's
 * shards have 8192 tokens and 20 predictions per sequence, jobs/gpt_small.toml's 4096).
 * Forward + backward of the pre-training loss (BERT: MLM on 15% of positions, the
 * head evaluated at P gathered slots as the bert-pretraining task does, or at
 * every position with P 0, + NSP; GPT: next token), gradients into
 * the flat buffer; no optimizer. Prints tokens/s and the 24 slowest op kinds
 * (share of the step and ms per step); with DLT_BENCH_NODES=N in the
 * environment also the N slowest nodes (ms per step, plan step.node name). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlt_transformer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *arch = argc > 1 ? argv[1] : "bert-mini";
    int64_t B = argc > 2 ? atoi(argv[2]) : 8, T = argc > 3 ? atoi(argv[3]) : 128;
    int threads = argc > 4 ? atoi(argv[4]) : 2, steps = argc > 5 ? atoi(argv[5]) : 5;
    dlt_transformer_spec s;
    if (dlt_transformer_spec_default(arch, &s) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 2;
    }
    if (argc > 6)
        s.vocab = atoi(argv[6]);
    int64_t P = argc > 7 ? atoi(argv[7]) : 20;
    if (P > T)
        P = T;
    dlt_set_num_threads(threads);
    dlt_graph *g = dlt_graph_create(1);
    int64_t d[2] = {B, T};
    int64_t dp[2] = {B, P};
    int gathered = s.family == DLT_TF_BERT && P > 0;
    dlt_t ids = dlt_input(g, "ids", DLT_I32, 2, d),
          labels = dlt_input(g, "labels", DLT_I32, 2, gathered ? dp : d), loss;
    dlt_t nsp = dlt_input(g, "nsp", DLT_I32, 1, d);
    dlt_t pos = gathered ? dlt_input(g, "positions", DLT_I32, 2, dp) : -1;
    if (s.family == DLT_TF_BERT) {
        dlt_bert_out o;
        dlt_bert_at(g, &s, ids, -1, -1, DLT_BERT_PRETRAIN, pos, &o);
        loss = dlt_add(g, dlt_mlm_loss(g, o.mlm_logits, labels, DLT_REDUCE_MEAN),
                       dlt_nsp_loss(g, o.nsp_logits, nsp, DLT_REDUCE_MEAN));
    } else if (s.family == DLT_TF_GPT) {
        loss = dlt_causal_lm_loss(g, dlt_gpt(g, &s, ids, NULL), ids, DLT_REDUCE_MEAN);
    } else {
        loss = dlt_token_loss(g, dlt_seq2seq(g, &s, ids, -1, ids), labels, DLT_REDUCE_MEAN);
    }
    int np;
    dlt_t *params, *grads;
    if (dlt_graph_status(g) != DLT_OK || dlt_grad_params(g, loss, &np, &params, &grads) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_graph_status(g) ? dlt_graph_errmsg(g) : dlt_errmsg());
        return 1;
    }
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    if (dlt_plan_create(g, 1, &loss, &po, &p) != DLT_OK) {
        fprintf(stderr, "%s\n", dlt_errmsg());
        return 1;
    }
    int32_t *x = dlt_plan_data(p, ids), *y = dlt_plan_data(p, labels), *ns = dlt_plan_data(p, nsp);
    int32_t *ps = gathered ? dlt_plan_data(p, pos) : NULL;
    srand(1);
    for (int64_t i = 0; i < B * T; i++) {
        x[i] = rand() % s.vocab;
        if (y && !gathered) /* GPT's graph has no separate labels */
            y[i] = rand() % 100 < 15 ? rand() % s.vocab : DLT_IGNORE_INDEX;
    }
    for (int64_t i = 0; ps && i < B * P; i++) { /* 15% of T in P slots, the rest unused */
        int64_t j = i % P, used = (T * 15 + 99) / 100 < P ? (T * 15 + 99) / 100 : P;
        ps[i] = j < used ? (int32_t)(j * T / used) : 0;
        y[i] = j < used ? rand() % s.vocab : DLT_IGNORE_INDEX;
    }
    for (int64_t i = 0; ns && i < B; i++)
        ns[i] = (int32_t)(i & 1);
    dlt_mem_report mr;
    dlt_plan_memory(p, &mr);
    printf("%s: %lld parameters, batch %lld x %lld, %d threads, arena %.1f MiB", arch,
           (long long)dlt_count_params(g), (long long)B, (long long)T, threads,
           mr.arena_bytes / 1048576.0);
    if (gathered)
        printf(", MLM head at %lld slots per sequence", (long long)P);
    else if (s.family == DLT_TF_BERT)
        printf(", MLM head at every position");
    printf("\n");
    dlt_exec_opts eo = {.training = 1, .profile = 1};
    dlt_plan_run(p, &eo); /* warm-up */
    double t0 = now();
    for (int i = 0; i < steps; i++) {
        eo.step = i + 1;
        if (dlt_plan_run(p, &eo) != DLT_OK) {
            fprintf(stderr, "%s\n", dlt_errmsg());
            return 1;
        }
    }
    double dt = (now() - t0) / steps;
    printf("step %.1f ms, %.0f tokens/s (loss %.3f)\n", dt * 1e3, (double)(B * T) / dt,
           (double)*(const float *)dlt_plan_data(p, loss));
    /* time per op kind, all steps including warm-up */
    const char *ops[64];
    double tm[64];
    int nops = 0;
    double total = 0;
    for (int i = 0; i < dlt_plan_num_steps(p); i++) {
        const char *op = dlt_plan_step_op(p, i);
        if (!op)
            op = "(copy)";
        int j = 0;
        while (j < nops && strcmp(ops[j], op))
            j++;
        if (j == nops && nops < 64)
            ops[nops] = op, tm[nops++] = 0;
        if (j < 64)
            tm[j] += dlt_plan_step_time(p, i);
        total += dlt_plan_step_time(p, i);
    }
    for (int k = 0; k < 24 && k < nops; k++) {
        int best = k;
        for (int j = k + 1; j < nops; j++)
            if (tm[j] > tm[best])
                best = j;
        const char *to = ops[k];
        double tt = tm[k];
        ops[k] = ops[best], tm[k] = tm[best], ops[best] = to, tm[best] = tt;
        printf("  %-18s %5.1f%% %8.1f ms\n", ops[k], 100 * tm[k] / total, 1e3 * tm[k] / (steps + 1));
    }
    const char *env = getenv("DLT_BENCH_NODES");
    int top = env ? atoi(env) : 0, nsteps = dlt_plan_num_steps(p);
    int *order = top > 0 ? malloc((size_t)nsteps * sizeof *order) : NULL;
    for (int i = 0; order && i < nsteps; i++)
        order[i] = i;
    for (int k = 0; order && k < top && k < nsteps; k++) {
        int best = k;
        for (int j = k + 1; j < nsteps; j++)
            if (dlt_plan_step_time(p, order[j]) > dlt_plan_step_time(p, order[best]))
                best = j;
        int o = order[k];
        order[k] = order[best], order[best] = o;
        const char *op = dlt_plan_step_op(p, order[k]), *nm = dlt_plan_step_name(p, order[k]);
        printf("  %7.2f ms %-14s %d.%s\n", 1e3 * dlt_plan_step_time(p, order[k]) / (steps + 1),
               op ? op : "(copy)", order[k], nm ? nm : "");
    }
    free(order);
    free(params), free(grads);
    dlt_plan_free(p);
    dlt_graph_free(g);
    return 0;
}
