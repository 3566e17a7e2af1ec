/* The NAS search loop (nas_search.h). Per round r:
 *   1. every rank samples the round's children (dlt_nas_sample at round r:
 *      draws keyed by the seed and r, so all replicas agree; random search:
 *      dlt_spec_random keyed by the seed, r and the child);
 *   2. group k = rank / ranks_per_child trains children k, k + G, ... with
 *      dlt_train_run on its sub-communicator (dlt_comm_split), in
 *      <run_dir>/children/r<round>-c<child>, on the training split for
 *      nas.child_steps steps; the evaluation at the last step on the
 *      validation split gives the reward (top-1);
 *   3. rewards and seconds are summed over the world (only the training
 *      group's rank 0 contributes a child's values, the others add 0, so
 *      every rank gets them exactly);
 *   4. advantages adv_n = R_n - b with the baseline before the round (the
 *      first round: b = its mean reward); every rank takes the same
 *      REINFORCE step and the replicas are checked bit for bit
 *      (dlt_replica_check_flat); then b = d b + (1 - d) mean_n R_n (floats);
 *   5. rank 0 rewrites search.jsonl, reward.png, best-<k>.toml and saves the
 *      controller checkpoint (the round, baseline and history with it).
 * A resume (checkpoint.resume / --resume) continues at the checkpoint's
 * round with its parameters, optimizer state, baseline and history: the same
 * next children as an uninterrupted search. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dlt_comm.h"
#include "dlt_gpu.h"
#include "dlt_spec_toml.h"
#include "nas_search.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Random search: the controller's space with uniform choices and skips with
 * probability 1/2 (the controller's at initialisation, about); the strides
 * that would collapse the image become 1, as the controller's. */
static dlt_status random_child(const dlt_nas_config *c, uint64_t seed, int64_t round, int n,
                               dlt_spec *out)
{
    dlt_spec_space sp;
    memset(&sp, 0, sizeof sp);
    sp.nlayers = c->nlayers;
    if (c->space == DLT_NAS_ENAS) {
        sp.nkernels = 2, sp.kernels[0] = 3, sp.kernels[1] = 5, sp.enas_ops = 1;
    } else {
        sp.nkernels = c->nkernels;
        memcpy(sp.kernels, c->kernels, sizeof sp.kernels);
        sp.separate_hw = c->separate_hw;
    }
    sp.nfilters = c->nfilters;
    memcpy(sp.filters, c->filters, sizeof sp.filters);
    sp.nstrides = c->nstrides;
    memcpy(sp.strides, c->strides, sizeof sp.strides);
    sp.stem_filters = c->stem_filters;
    sp.skip_prob = c->skips ? 0.5 : 0;
    uint64_t key = seed * 0x9E3779B97F4A7C15ull + (uint64_t)round * 4096u + (uint64_t)n;
    dlt_status st = dlt_spec_random(&sp, key, c->in_h, c->in_w, out);
    /* ENAS: one of its six ops per layer, uniformly (splitmix64 of the key) */
    for (int i = 0; st == DLT_OK && c->space == DLT_NAS_ENAS && i < out->nlayers; i++) {
        uint64_t z = key + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        dlt_nas_enas_op((int)(z % DLT_NAS_ENAS_OPS), &out->layer[i].op, &out->layer[i].kernel_h);
        out->layer[i].kernel_w = out->layer[i].kernel_h;
    }
    return st;
}

/* One child on this group: its reward (validation top-1). */
static dlt_status train_child(const dlt_nas_search_config *s, const dlt_train_config *base,
                              const dlt_job *job, dlt_comm *group, const char *train,
                              const char *val, int round, int n, const dlt_spec *spec,
                              double *reward)
{
    dlt_train_config c = *base;
    c.model.net = *spec;
    c.comm = group;
    snprintf(c.name, sizeof c.name, "r%04d-c%03d", round, n);
    if (snprintf(c.run_dir, sizeof c.run_dir, "%s/children/%s", base->run_dir, c.name) >=
        (int)sizeof c.run_dir)
        return dlt_seterr(DLT_ERR_INVALID, "%s: the run folder's path is too long", base->run_dir);
    if (strlen(train) >= sizeof c.train_glob || strlen(val) >= sizeof c.val_glob)
        return dlt_seterr(DLT_ERR_INVALID, "%s: the data split's path is too long", train);
    memcpy(c.train_glob, train, strlen(train) + 1);
    memcpy(c.val_glob, val, strlen(val) + 1);
    c.steps = s->child_steps;
    c.eval_every_steps = s->child_steps; /* one evaluation, at the end */
    c.resume[0] = 0;
    c.tensorboard = 0, c.trace = 0;
    c.quiet = !base->verbose; /* a line per child below; its own log is its run folder's */
    dlt_train_config_set_total_steps(&c, c.steps);
    /* the child's own job, for its checkpoint */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        dlt_spec_write_job(f, job, spec);
        fclose(f);
    }
    c.job_text = text;
    if (dlt_comm_rank(group) == 0) {
        char dir[DLT_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/children", base->run_dir);
        mkdir(dir, 0777);
        mkdir(c.run_dir, 0777);
    }
    dlt_comm_barrier(group, NULL);
    dlt_train_result res;
    dlt_status st = dlt_train_run(&c, &res);
    free(text);
    if (st != DLT_OK)
        return dlt_adderr(st, "nas: child %d of round %d", n, round);
    if (res.preempted) /* the search checkpoints between rounds only */
        return dlt_seterr(DLT_ERR_COMM,
                          "nas: stopped by a signal in round %d; --resume auto continues with it",
                          round);
    *reward = isfinite(res.eval_metric) ? res.eval_metric : 0;
    if (dlt_comm_rank(group) == 0 && !base->quiet)
        dlt_log(DLT_LOG_INFO, "nas: round %d child %d: validation top-1 %.4f after %lld steps (%s)",
                round, n, *reward, (long long)res.steps_done, c.run_dir);
    return DLT_OK;
}

static dlt_status round_run(const dlt_nas_search_config *s, const dlt_train_config *base,
                            const dlt_job *job, dlt_nas_controller *k, dlt_comm *world,
                            dlt_comm *group, int ngroups, int color, const char *train,
                            const char *val, dlt_nas_state *state)
{
    const dlt_nas_config *c = &s->ctl;
    int N = c->children, r = state->round, rank = dlt_comm_rank(world);
    dlt_spec *specs = calloc((size_t)N, sizeof *specs);
    double *vals = calloc((size_t)N * 2, sizeof *vals);
    float *adv = calloc((size_t)N, sizeof *adv);
    dlt_status st = specs && vals && adv ? DLT_OK : dlt_seterr(DLT_ERR_NOMEM, "nas: out of memory");
    if (st == DLT_OK && !s->random)
        st = dlt_nas_sample(k, r, specs, NULL, NULL);
    for (int n = 0; st == DLT_OK && s->random && n < N; n++)
        st = random_child(c, s->seed, r, n, &specs[n]);
    for (int n = color; st == DLT_OK && n < N; n += ngroups) {
        double t0 = now(), reward = 0;
        st = train_child(s, base, job, group, train, val, r, n, &specs[n], &reward);
        if (dlt_comm_rank(group) == 0)
            vals[n] = reward, vals[N + n] = now() - t0;
    }
    /* every rank reaches the reduction: one failing group's error is agreed */
    double failed = st != DLT_OK;
    dlt_status cst = dlt_comm_reduce_metrics(world, &failed, 1);
    if (cst == DLT_OK && failed == 0)
        cst = dlt_comm_reduce_metrics(world, vals, 2 * N);
    if (st == DLT_OK && cst != DLT_OK)
        st = cst;
    if (st == DLT_OK && failed > 0)
        st = dlt_seterr(DLT_ERR_INVALID, "nas: a child failed on another group (round %d)", r);
    float mean = 0;
    for (int n = 0; st == DLT_OK && n < N; n++)
        mean += (float)vals[n] / (float)N;
    if (st == DLT_OK && !state->have_baseline)
        state->baseline = mean, state->have_baseline = 1;
    double loss = 0;
    for (int n = 0; st == DLT_OK && n < N; n++)
        adv[n] = (float)vals[n] - state->baseline;
    if (st == DLT_OK && !s->random) {
        st = dlt_nas_step(k, r, adv, c->optim.lr, &loss);
        dlt_graph *g = dlt_nas_graph(k);
        if (st == DLT_OK)
            st = dlt_replica_check_flat(world, dlt_params_data(g), dlt_params_numel(g), NULL, 0);
    }
    if (st == DLT_OK)
        state->baseline =
            (float)s->baseline_decay * state->baseline + (1.f - (float)s->baseline_decay) * mean;
    float best = 0;
    for (int n = 0; st == DLT_OK && n < N; n++) {
        dlt_nas_record rec = {.round = r,
                              .child = n,
                              .group = n % ngroups,
                              .spec = specs[n],
                              .reward = (float)vals[n],
                              .seconds = (float)vals[N + n]};
        st = dlt_spec_measure(&specs[n], c->in_c, c->in_h, c->in_w, c->nclasses, &rec.params,
                              &rec.flops);
        if (st == DLT_OK)
            st = dlt_nas_state_add(state, &rec);
        best = fmaxf(best, rec.reward);
    }
    if (st == DLT_OK)
        state->round++;
    char pl[48] = "";
    if (!s->random)
        snprintf(pl, sizeof pl, ", policy loss %.4g", loss);
    if (st == DLT_OK && rank == 0)
        dlt_log(DLT_LOG_INFO,
                "nas: round %d (%d of %d) done: %d children, mean reward %.4f, best %.4f, "
                "baseline %.4f%s",
                r, r + 1, s->rounds, N, (double)mean, (double)best, (double)state->baseline, pl);
    free(specs), free(vals), free(adv);
    return st;
}

dlt_status dlt_nas_search_run(const dlt_nas_search_config *s, const dlt_train_config *base,
                              const dlt_job *job)
{
    dlt_world w;
    dlt_status st = dlt_world_init(NULL, NULL, &w);
    if (st != DLT_OK)
        return st;
    if (w.size % s->ranks_per_child != 0)
        return dlt_seterr(DLT_ERR_INVALID,
                          "nas.ranks_per_child = %d does not divide the world's %d ranks",
                          s->ranks_per_child, w.size);
    int ngroups = w.size / s->ranks_per_child, color = w.rank / s->ranks_per_child;
    /* the world's controller traffic is host values over MPI; the groups
     * reduce gradients as their children's trainer would (NCCL on GPUs) */
    dlt_comm *world = NULL, *devworld = NULL, *group = NULL;
    dlt_nas_controller *k = NULL;
    dlt_nas_state state;
    memset(&state, 0, sizeof state);
    dlt_comm_config cc = {.backend = DLT_COMM_MPI, .timeout_s = base->timeout_s};
    int dev = base->device != DLT_TRAIN_CPU ? dlt_world_device(&w, dlt_gpu_device_count()) : -1;
    if ((st = dlt_comm_create(&w, &cc, &world)) != DLT_OK)
        return st;
    if (dev >= 0) {
        dlt_comm_config gc = {
            .backend = DLT_COMM_NCCL, .device = dev, .timeout_s = base->timeout_s};
        st = dlt_comm_create(&w, &gc, &devworld);
    }
    if (st == DLT_OK)
        st = dlt_comm_split(devworld ? devworld : world, color, w.rank, &group);
    char dir[DLT_PATH_MAX + 16], train[DLT_PATH_MAX + 64], val[DLT_PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/data", base->run_dir);
    if (st == DLT_OK && w.rank == 0) {
        mkdir(base->run_dir, 0777);
        st = dlt_nas_split_data(base->train_glob, s->val_fraction, s->seed, dir, train, val,
                                sizeof train);
    }
    double failed = st != DLT_OK;
    if (world && dlt_comm_reduce_metrics(world, &failed, 1) == DLT_OK && failed > 0 && st == DLT_OK)
        st = dlt_seterr(DLT_ERR_INVALID, "nas: rank 0 could not split data.train");
    if (st == DLT_OK && w.rank != 0)
        st = dlt_nas_split_data(base->train_glob, s->val_fraction, s->seed, dir, train, val,
                                sizeof train); /* both exist: names only */
    if (st == DLT_OK)
        st = dlt_nas_controller_create(&s->ctl, s->seed, &k);
    if (st == DLT_OK && base->resume[0]) {
        dlt_status rs = dlt_nas_load(base->run_dir, base->resume, k, &state, &s->ctl);
        if (rs == DLT_ERR_NOTFOUND && !strcmp(base->resume, "auto"))
            dlt_clearerr(); /* nothing to resume: a fresh search */
        else
            st = rs;
        if (st == DLT_OK && state.round > 0 && w.rank == 0)
            dlt_log(DLT_LOG_INFO, "nas: resumed after round %d (%d children so far)", state.round,
                    state.n);
    }
    if (st == DLT_OK && w.rank == 0)
        dlt_log(
            DLT_LOG_INFO,
            "nas: %s search, %d rounds x %d children, %d group(s) of %d rank(s), %lld steps per "
            "child, %d controller decisions per child",
            s->random                      ? "random"
            : s->ctl.space == DLT_NAS_ENAS ? "enas"
                                           : "macro",
            s->rounds, s->ctl.children, ngroups, s->ranks_per_child, (long long)s->child_steps,
            dlt_nas_num_decisions(k));
    while (st == DLT_OK && state.round < s->rounds) {
        st = round_run(s, base, job, k, world, group, ngroups, color, train, val, &state);
        if (st == DLT_OK && w.rank == 0) {
            st = dlt_nas_write_outputs(base->run_dir, &state, s->keep_best, job);
            if (st == DLT_OK)
                st = dlt_nas_save(base->run_dir, k, &state, s->seed, base->job_text);
        }
        failed = st != DLT_OK;
        if (dlt_comm_reduce_metrics(world, &failed, 1) == DLT_OK && failed > 0 && st == DLT_OK)
            st = dlt_seterr(DLT_ERR_IO, "nas: rank 0 could not write the search's outputs");
    }
    if (st == DLT_OK && w.rank == 0 && state.n > 0) {
        int b = 0;
        for (int i = 1; i < state.n; i++)
            if (state.rec[i].reward > state.rec[b].reward)
                b = i;
        dlt_log(DLT_LOG_INFO,
                "nas: best child %d of round %d: validation top-1 %.4f, %lld parameters; "
                "%s/best-1.toml retrains it",
                state.rec[b].child, state.rec[b].round, (double)state.rec[b].reward,
                (long long)state.rec[b].params, base->run_dir);
    }
    dlt_nas_state_free(&state);
    dlt_nas_controller_free(k);
    dlt_comm_free(group);
    dlt_comm_free(devworld);
    dlt_comm_free(world);
    return st;
}
