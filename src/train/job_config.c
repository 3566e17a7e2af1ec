/* From a validated job to the trainer's configuration; model.arch picks the task. */
#include <math.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_job.h"
#include "dlt_spec_toml.h"
#include "dlt_train.h"
#include "trainer.h"

static dlt_status where_err(const dlt_job *job, const char *key, const char *fmt, const char *detail)
{
    char w[300], d[512];
    dlt_job_where(job, key, w, sizeof w);
    /* detail is often dlt_errmsg(), the buffer dlt_seterr writes */
    snprintf(d, sizeof d, "%s", detail ? detail : fmt);
    if (!strcmp(w, "default")) /* a key left unset: no place to name */
        return dlt_seterr(DLT_ERR_INVALID, "%s %s", key, d);
    return dlt_seterr(DLT_ERR_INVALID, "%s: %s %s", w, key, d);
}

/* A key set by the job file or --set (not left at its default). */
static int given(const dlt_job *job, const char *key)
{
    char w[300];
    dlt_job_where(job, key, w, sizeof w);
    return strcmp(w, "default") != 0;
}

void dlt_train_config_default(dlt_train_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "run");
    snprintf(c->run_dir, sizeof c->run_dir, "runs/run");
    dlt_model_spec_default("resnet20", &c->model);
    snprintf(c->arch, sizeof c->arch, "resnet20");
    c->task = DLT_TASK_CLASSIFY;
    c->seq_len = 128;
    c->batch_size = 128;
    c->shuffle = 1, c->drop_last = 1, c->loader_threads = 1, c->prefetch = 2;
    for (int i = 0; i < 4; i++)
        c->mean[i] = 0, c->std[i] = 1;
    dlt_optim_config_default("sgd", &c->optim);
    c->optim.lr = 0.1, c->optim.momentum = 0.9, c->optim.weight_decay = 1e-4;
    dlt_schedule_init(&c->schedule, "constant", 0.1);
    c->accumulate = 1;
    c->recompute = 1;
    c->epochs = 1;
    c->eval_batch_size = 0;
    c->keep_last = 3;
    c->timeout_s = 600;
    c->log_every = 50;
    c->loss_scale = 65536, c->loss_scale_window = 2000;
}

static int floats(const dlt_job *job, const char *key, double *out, int max)
{
    const dlt_toml_value *v = dlt_job_get(job, key);
    int n = 0;
    for (size_t i = 0; i < v->arr.len && n < max; i++)
        out[n++] = v->arr.items[i]->f;
    return n;
}

/* The schedule `name` (named by job key `key`) with the job's schedule.*
 * parameters: the job's own, or a phase's (phase.<p>_schedule). */
static dlt_status schedule_named(const dlt_job *job, const char *key, const char *name, double lr,
                                 dlt_schedule *s)
{
    dlt_status st = dlt_schedule_init(s, name, lr);
    if (st != DLT_OK)
        return where_err(job, key, "", dlt_errmsg());
    s->step_size = dlt_job_int(job, "schedule.step_size");
    s->gamma = dlt_job_float(job, "schedule.gamma");
    s->eta_min = dlt_job_float(job, "schedule.min_lr");
    s->warmup_steps = dlt_job_int(job, "schedule.warmup_steps");
    s->warmup_start = dlt_job_float(job, "schedule.warmup_start");
    s->hold_steps = dlt_job_int(job, "schedule.hold_steps");
    double ms[DLT_SCHED_MAX_MILESTONES];
    s->nmilestones = floats(job, "schedule.milestones", ms, DLT_SCHED_MAX_MILESTONES);
    for (int i = 0; i < s->nmilestones; i++)
        s->milestones[i] = (int64_t)ms[i];
    return DLT_OK;
}

static dlt_status schedule_from_job(const dlt_job *job, dlt_train_config *c)
{
    dlt_status st = schedule_named(job, "schedule.name", dlt_job_string(job, "schedule.name"), c->optim.lr,
                                   &c->schedule);
    for (int p = 0; p < c->nphase_cfg && st == DLT_OK; p++) {
        char key[64];
        snprintf(key, sizeof key, "phase.%.15s_schedule", c->phase[p].name);
        const char *name = dlt_job_string(job, key);
        /* its base lr is the phase's, set when the phase is resolved */
        if ((c->phase[p].set_schedule = name[0] != '\0'))
            st = schedule_named(job, key, name, c->optim.lr, &c->phase[p].schedule);
    }
    return st;
}

/* Steps of the whole run are only known once the data is opened; the trainer
 * calls this again with them (cosine, warm-up and one-cycle need the total). */
static void set_total(dlt_schedule *s, int64_t total)
{
    s->total_steps = total;
    if (s->t_max <= 0)
        s->t_max = total;
    if (s->t_0 <= 0)
        s->t_0 = total;
    if (s->max_lr <= 0)
        s->max_lr = s->base_lr;
    if (s->lr_end <= 0)
        s->lr_end = s->eta_min > 0 ? s->eta_min : 1e-7;
    if (s->kind == DLT_SCHED_HOLD_LINEAR && s->hold_steps <= 0)
        s->hold_steps = total / 2;
}

void dlt_train_config_set_total_steps(dlt_train_config *c, int64_t total)
{
    set_total(&c->schedule, total);
    for (int p = 0; p < c->nphase_cfg; p++)
        if (c->phase[p].set_schedule)
            set_total(&c->phase[p].schedule, total);
}

/* [phase]: the overrides of a phased task's phases "d" and "g" (GANs,
 * CycleGAN; keys phase.<name>_<key>; what is unset inherits, see
 * dlt_phase_config). */
static dlt_status phases_from_job(const dlt_job *job, dlt_train_config *c)
{
    static const char *const names[] = {"d", "g"};
    c->nphase_cfg = 2;
    for (int p = 0; p < 2; p++) {
        dlt_phase_config *pc = &c->phase[p];
        char key[64];
        memset(pc, 0, sizeof *pc);
        snprintf(pc->name, sizeof pc->name, "%s", names[p]);
#define PKEY(k) (snprintf(key, sizeof key, "phase.%s_%s", names[p], k), key)
        const char *on = dlt_job_string(job, PKEY("optim"));
        if (on[0]) {
            dlt_optim_config tmp;
            if (dlt_optim_config_default(on, &tmp) != DLT_OK)
                return where_err(job, key, "", dlt_errmsg());
            snprintf(pc->optim, sizeof pc->optim, "%s", on);
        }
        pc->lr = dlt_job_float(job, PKEY("lr"));
        if (given(job, PKEY("betas"))) { /* [] (as the resolved job writes it): inherit */
            double b[2] = {0.9, 0.999};
            size_t nb = dlt_job_get(job, key)->arr.len;
            floats(job, key, b, 2);
            if (nb != 2 && nb != 0)
                return where_err(job, key, "must hold two values (or none: inherit)", NULL);
            pc->beta1 = b[0], pc->beta2 = b[1], pc->set_betas = nb == 2;
        }
        if ((pc->set_grad_clip = given(job, PKEY("grad_clip"))))
            pc->grad_clip = dlt_job_float(job, key);
        if (given(job, PKEY("accumulate")))
            pc->accumulate = (int)dlt_job_int(job, key);
        if (given(job, PKEY("repeat")))
            pc->repeat = (int)dlt_job_int(job, key);
        if ((pc->set_clip_value = given(job, PKEY("clip_value"))))
            pc->clip_value = dlt_job_float(job, key);
#undef PKEY
    }
    return DLT_OK;
}

/* [gan] and [phase]: the GAN's sizes and losses, and the overrides of its
 * phases "d" and "g" (keys phase.<name>_<key>; what is unset inherits, see
 * dlt_phase_config). */
static dlt_status gan_from_job(const dlt_job *job, dlt_train_config *c)
{
    const char *loss = dlt_job_string(job, "gan.loss");
    snprintf(c->gan_loss, sizeof c->gan_loss, "%s", strcmp(loss, "auto") ? loss : "");
    c->gp_lambda = dlt_job_float(job, "gan.gp_lambda");
    c->gan_sample_every = dlt_job_int(job, "gan.sample_every");
    snprintf(c->gan_fid_classifier, sizeof c->gan_fid_classifier, "%s",
             dlt_job_string(job, "gan.fid_classifier"));
    snprintf(c->gan_fid_data, sizeof c->gan_fid_data, "%s", dlt_job_string(job, "gan.fid_data"));
    c->gan_fid_samples = dlt_job_int(job, "gan.fid_samples");
    /* unset: the architecture's (recorded in the resolved job: record_gan) */
    if (given(job, "gan.z_dim"))
        c->gan.z_dim = (int)dlt_job_int(job, "gan.z_dim");
    /* conditional when > 0 (checked against the shards by the task) */
    if (given(job, "gan.num_classes"))
        c->gan.num_classes = (int)dlt_job_int(job, "gan.num_classes");
    if (dlt_job_int(job, "gan.g_width") > 0)
        c->gan.g_width = (int)dlt_job_int(job, "gan.g_width");
    if (dlt_job_int(job, "gan.d_width") > 0)
        c->gan.d_width = (int)dlt_job_int(job, "gan.d_width");
    const char *gn = dlt_job_string(job, "gan.g_norm");
    if (strcmp(gn, "auto"))
        c->gan.g_norm = gn[0] == 'b' ? 'b' : 'n';
    return phases_from_job(job, c);
}

/* [cyclegan]: the loss weights, the pool and the networks' sizes (0: the
 * reference's; n_blocks 0: its rule by image size, applied in the task). */
static void cyclegan_from_job(const dlt_job *job, dlt_train_config *c)
{
    c->cyc_lambda = dlt_job_float(job, "cyclegan.lambda_cycle");
    c->cyc_lambda_id = dlt_job_float(job, "cyclegan.lambda_identity");
    c->cyc_pool = (int)dlt_job_int(job, "cyclegan.pool_size");
    c->cyclegan.n_blocks = (int)dlt_job_int(job, "cyclegan.n_blocks");
    if (dlt_job_int(job, "cyclegan.g_width") > 0)
        c->cyclegan.g_width = (int)dlt_job_int(job, "cyclegan.g_width");
    if (dlt_job_int(job, "cyclegan.d_width") > 0)
        c->cyclegan.d_width = (int)dlt_job_int(job, "cyclegan.d_width");
    if (dlt_job_int(job, "cyclegan.d_layers") > 0)
        c->cyclegan.d_layers = (int)dlt_job_int(job, "cyclegan.d_layers");
}

/* [vae]: the VAE's sizes (the image shape comes from the shards), and
 * gan.fid_*. */
static void vae_from_job(const dlt_job *job, dlt_train_config *c)
{
    c->vae.z_dim = (int)dlt_job_int(job, "vae.z_dim");
    c->vae.width = (int)dlt_job_int(job, "vae.width");
    c->vae.hidden = (int)dlt_job_int(job, "vae.hidden");
    /* FID of the prior samples: the GAN's keys (job_schema.c: gan|vae) */
    snprintf(c->gan_fid_classifier, sizeof c->gan_fid_classifier, "%s",
             dlt_job_string(job, "gan.fid_classifier"));
    snprintf(c->gan_fid_data, sizeof c->gan_fid_data, "%s", dlt_job_string(job, "gan.fid_data"));
    c->gan_fid_samples = dlt_job_int(job, "gan.fid_samples");
}

/* [maskrcnn]: Mask R-CNN's sizes, anchors and the training-time selection. */
static dlt_status maskrcnn_from_job(const dlt_job *job, dlt_train_config *c)
{
    dlt_maskrcnn_config *m = &c->mrcnn;
    double v[8];
    m->depth = (int)dlt_job_int(job, "maskrcnn.depth");
    if (m->depth != 18 && m->depth != 34 && m->depth != 50 && m->depth != 101 && m->depth != 152)
        return where_err(job, "maskrcnn.depth", "must be 18, 34, 50, 101 or 152", NULL);
    m->num_classes = (int)dlt_job_int(job, "maskrcnn.num_classes");
    m->trainable_layers = (int)dlt_job_int(job, "maskrcnn.trainable_layers");
    const char *norm = dlt_job_string(job, "maskrcnn.norm");
    if (strcmp(norm, "frozen") && strcmp(norm, "batch") && strcmp(norm, "group"))
        return where_err(job, "maskrcnn.norm", "must be frozen, batch or group", NULL);
    m->norm = norm[0] == 'f' ? 'f' : norm[0] == 'b' ? 'b' : 'g';
    m->fpn_channels = (int)dlt_job_int(job, "maskrcnn.fpn_channels");
    m->representation = (int)dlt_job_int(job, "maskrcnn.representation");
    m->mask_channels = (int)dlt_job_int(job, "maskrcnn.mask_channels");
    m->min_size = (int)dlt_job_int(job, "maskrcnn.min_size");
    m->max_size = (int)dlt_job_int(job, "maskrcnn.max_size");
    m->max_boxes = (int)dlt_job_int(job, "maskrcnn.max_boxes");
    m->eval_images = dlt_job_int(job, "maskrcnn.eval_images");
    m->flip = dlt_job_bool(job, "maskrcnn.flip");
    if (floats(job, "maskrcnn.anchor_sizes", v, 8) != 5)
        return where_err(job, "maskrcnn.anchor_sizes", "must hold 5 sizes (one per FPN level)",
                         NULL);
    for (int i = 0; i < 5; i++)
        m->anchor_sizes[i] = (float)v[i];
    m->nratios = floats(job, "maskrcnn.anchor_ratios", v, 8);
    if (m->nratios < 1 || m->nratios > 3)
        return where_err(job, "maskrcnn.anchor_ratios", "must hold 1 to 3 aspect ratios", NULL);
    for (int i = 0; i < m->nratios; i++)
        m->anchor_ratios[i] = (float)v[i];
    m->rpn_pre_nms_top_n = (int)dlt_job_int(job, "maskrcnn.rpn_pre_nms_top_n");
    m->rpn_post_nms_top_n = (int)dlt_job_int(job, "maskrcnn.rpn_post_nms_top_n");
    m->rpn_batch = (int)dlt_job_int(job, "maskrcnn.rpn_batch");
    m->rpn_positive_fraction = (float)dlt_job_float(job, "maskrcnn.rpn_positive_fraction");
    m->rpn_fg_iou = (float)dlt_job_float(job, "maskrcnn.rpn_fg_iou");
    m->rpn_bg_iou = (float)dlt_job_float(job, "maskrcnn.rpn_bg_iou");
    m->roi_batch = (int)dlt_job_int(job, "maskrcnn.roi_batch");
    m->roi_positive_fraction = (float)dlt_job_float(job, "maskrcnn.roi_positive_fraction");
    m->roi_fg_iou = (float)dlt_job_float(job, "maskrcnn.roi_fg_iou");
    m->roi_bg_iou = (float)dlt_job_float(job, "maskrcnn.roi_bg_iou");
    m->rois = (int)dlt_job_int(job, "maskrcnn.rois");
    m->mask_positives = (int)dlt_job_int(job, "maskrcnn.mask_positives");
    if (m->rpn_bg_iou > m->rpn_fg_iou || m->roi_bg_iou > m->roi_fg_iou)
        return where_err(
            job, m->rpn_bg_iou > m->rpn_fg_iou ? "maskrcnn.rpn_bg_iou" : "maskrcnn.roi_bg_iou",
            "must be <= the matching fg_iou", NULL);
    return DLT_OK;
}

/* model.arch: an image classifier, or a transformer whose family has a task. */
static dlt_status model_from_job(const dlt_job *job, dlt_train_config *c)
{
    const char *arch = dlt_job_string(job, "model.arch");
    char msg[1024];
    snprintf(c->arch, sizeof c->arch, "%s", arch);
    if (!strcmp(arch, "cyclegan")) { /* the shapes come from the shards (task_cyclegan.c) */
        c->task = DLT_TASK_CYCLEGAN;
        dlt_cyclegan_spec_default(&c->cyclegan, 1, 28, 28);
        return DLT_OK;
    }
    if (dlt_gan_is_arch(arch)) {
        c->task = DLT_TASK_GAN;
        return dlt_gan_spec_default(arch, &c->gan);
    }
    if (!strcmp(arch, "maskrcnn")) { /* sizes from maskrcnn.* (maskrcnn_from_job) */
        c->task = DLT_TASK_MASKRCNN;
        return DLT_OK;
    }
    if (!strcmp(arch, "vae")) { /* sizes from vae.* (vae_from_job), images from the shards */
        c->task = DLT_TASK_VAE;
        dlt_vae_spec_default(&c->vae);
        return DLT_OK;
    }
    if (dlt_model_spec_default(arch, &c->model) == DLT_OK) {
        c->task = DLT_TASK_CLASSIFY;
        return DLT_OK;
    }
    snprintf(msg, sizeof msg, "%s", dlt_errmsg()); /* names the image architectures */
    dlt_model_spec_default("mlp", &c->model);
    if (dlt_transformer_spec_default(arch, &c->tf) != DLT_OK) {
        char both[1600];
        snprintf(both, sizeof both, "%.1000s; transformers: %s; generative: %s, cyclegan, vae; detection: maskrcnn", msg,
                 dlt_transformer_archs(), dlt_gan_archs());
        return where_err(job, "model.arch", "", both);
    }
    if (c->tf.family == DLT_TF_SEQ2SEQ)
        return where_err(job, "model.arch", "",
                         "is an encoder-decoder transformer, which is not supported by a training task yet "
                         "(bert-* trains BERT pre-training, gpt* a causal language model)");
    c->task = c->tf.family == DLT_TF_BERT ? DLT_TASK_BERT : DLT_TASK_CAUSAL_LM;
    /* model.dropout when given, else the architecture's (0.1) */
    if (given(job, "model.dropout"))
        c->tf.hidden_dropout = c->tf.attn_dropout = (float)dlt_job_float(job, "model.dropout");
    c->seq_len = (int)dlt_job_int(job, "data.seq_len");
    if (c->task == DLT_TASK_CAUSAL_LM && c->seq_len > c->tf.max_len) {
        snprintf(msg, sizeof msg, "= %d is longer than %s's %d positions", c->seq_len, arch, c->tf.max_len);
        return where_err(job, "data.seq_len", "", msg);
    }
    return DLT_OK;
}

/* Room a run folder leaves in a DLT_PATH_MAX buffer for the names of the
 * files inside it (ckpt-<step>.h5.tmp, trace-rank<R>.json, TensorBoard's
 * events.out.tfevents.<time>.<host>.<pid>). */
#define RUN_FILE_ROOM 160

/* model.name is one folder inside checkpoint.dir, never a way out of it;
 * no path is cut to fit its buffer. */
static dlt_status paths_from_job(const dlt_job *job, dlt_train_config *c)
{
    const char *name = dlt_job_string(job, "model.name"), *dir = dlt_job_string(job, "checkpoint.dir");
    char m[200];
    if (!name[0])
        return where_err(job, "model.name", "must not be empty (it names the run folder in checkpoint.dir)", NULL);
    if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/')) {
        snprintf(m, sizeof m, "must be a plain folder name inside checkpoint.dir, without '/', '.' or '..' (got \"%.100s\")",
                 name);
        return where_err(job, "model.name", "", m);
    }
    if (strlen(name) >= sizeof c->name) {
        snprintf(m, sizeof m, "is %zu bytes long, at most %zu", strlen(name), sizeof c->name - 1);
        return where_err(job, "model.name", "", m);
    }
    if (!dir[0])
        return where_err(job, "checkpoint.dir", "must not be empty (\".\" is the current directory)", NULL);
    snprintf(c->name, sizeof c->name, "%s", name);
    size_t n = (size_t)snprintf(c->run_dir, sizeof c->run_dir, "%s/%s", dir, name);
    if (n + RUN_FILE_ROOM >= sizeof c->run_dir) {
        snprintf(m, sizeof m, "with model.name makes a run folder path of %zu bytes, at most %zu", n,
                 sizeof c->run_dir - RUN_FILE_ROOM - 1);
        return where_err(job, "checkpoint.dir", "", m);
    }
    static const char *const globs[] = {"data.train", "data.val"};
    for (int i = 0; i < 2; i++) {
        const char *g = dlt_job_string(job, globs[i]);
        if (strlen(g) >= DLT_PATH_MAX) {
            snprintf(m, sizeof m, "is %zu bytes long, at most %d", strlen(g), DLT_PATH_MAX - 1);
            return where_err(job, globs[i], "", m);
        }
    }
    snprintf(c->train_glob, sizeof c->train_glob, "%s", dlt_job_string(job, "data.train"));
    snprintf(c->val_glob, sizeof c->val_glob, "%s", dlt_job_string(job, "data.val"));
    return DLT_OK;
}

void dlt_train_job_warn_ignored(const dlt_job *job)
{
    size_t n;
    const dlt_job_key *schema = dlt_job_schema(&n);
    for (size_t j = 0; j < n; j++)
        if (given(job, schema[j].key) && !dlt_job_applies(job, schema[j].key)) {
            char w[300];
            dlt_job_where(job, schema[j].key, w, sizeof w);
            dlt_log(DLT_LOG_WARN, "%s: %s does not apply to model.arch = \"%s\" (only to %s); ignored", w,
                    schema[j].key, dlt_job_string(job, "model.arch"), dlt_job_key_families(schema[j].key));
        }
}

dlt_status dlt_train_config_from_job(dlt_job *job, dlt_train_config *c)
{
    dlt_status st;
    dlt_train_config_default(c);
    if ((st = paths_from_job(job, c)) != DLT_OK)
        return st;
    if ((st = model_from_job(job, c)) != DLT_OK)
        return st;
    /* model.arch = "spec": the network is the [model.spec] table */
    if (!strcmp(c->arch, "spec") && (st = dlt_spec_from_job(job, &c->model.net)) != DLT_OK)
        return st;
    dlt_job_set_families(job, c->task == DLT_TASK_GAN ? "gan" : dlt_arch_families(c->arch));
    if (c->task == DLT_TASK_GAN && (st = gan_from_job(job, c)) != DLT_OK)
        return st;
    if (c->task == DLT_TASK_VAE)
        vae_from_job(job, c);
    if (c->task == DLT_TASK_MASKRCNN) {
        dlt_job_set_families(job, "maskrcnn");
        if ((st = maskrcnn_from_job(job, c)) != DLT_OK)
            return st;
    }
    if (c->task == DLT_TASK_CYCLEGAN) {
        dlt_job_set_families(job, "cyclegan");
        cyclegan_from_job(job, c);
        if ((st = phases_from_job(job, c)) != DLT_OK)
            return st;
    }
    c->model.num_classes = given(job, "model.num_classes") ? (int)dlt_job_int(job, "model.num_classes") : 0;
    c->model.shortcut = dlt_job_string(job, "model.shortcut")[0];
    c->model.zero_init_residual = dlt_job_bool(job, "model.zero_init_residual");
    c->model.small_input = dlt_job_bool(job, "model.small_input");
    c->model.mlp_hidden = (int)dlt_job_int(job, "model.hidden");
    c->model.mlp_layers = (int)dlt_job_int(job, "model.layers");
    c->model.dropout = (float)dlt_job_float(job, "model.dropout");

    if (!c->train_glob[0])
        return where_err(job, "data.train", "must name the training shards (a file or a glob)", NULL);
    c->batch_size = (int)dlt_job_int(job, "data.batch_size");
    c->shuffle = dlt_job_bool(job, "data.shuffle");
    c->drop_last = dlt_job_bool(job, "data.drop_last");
    c->prefetch = (int)dlt_job_int(job, "data.prefetch");
    c->loader_threads = (int)dlt_job_int(job, "data.num_workers");
    const char *aug = dlt_job_string(job, "data.augment");
    c->flip = strstr(aug, "flip") != NULL;
    c->crop_pad = strstr(aug, "crop") ? (int)dlt_job_int(job, "data.crop_padding") : 0;
    double mean[16], stdv[16];
    int nm = floats(job, "data.mean", mean, 16), ns = floats(job, "data.std", stdv, 16);
    if (nm > 4 || ns > 4)
        return where_err(job, nm > 4 ? "data.mean" : "data.std", "must hold at most 4 values (one per channel)",
                         NULL);
    for (int i = 0; i < 4; i++) {
        c->mean[i] = (float)(nm == 0 ? 0 : mean[i < nm ? i : nm - 1]);
        c->std[i] = (float)(ns == 0 ? 1 : stdv[i < ns ? i : ns - 1]);
    }
    /* checked against the shards' channels when they are opened */
    c->nmean = nm, c->nstd = ns;
    dlt_job_where(job, "data.mean", c->mean_where, sizeof c->mean_where);
    dlt_job_where(job, "data.std", c->std_where, sizeof c->std_where);

    const char *oname = dlt_job_string(job, "optim.name");
    if ((st = dlt_optim_config_default(oname, &c->optim)) != DLT_OK)
        return where_err(job, "optim.name", "", dlt_errmsg());
    c->optim.lr = dlt_job_float(job, "optim.lr");
    if (given(job, "optim.momentum"))
        c->optim.momentum = dlt_job_float(job, "optim.momentum");
    if (given(job, "optim.weight_decay"))
        c->optim.weight_decay = dlt_job_float(job, "optim.weight_decay");
    c->optim.nesterov = dlt_job_bool(job, "optim.nesterov");
    if (c->optim.nesterov && c->optim.kind == DLT_OPTIM_SGD && c->optim.momentum <= 0)
        return where_err(job, "optim.nesterov", "needs optim.momentum > 0", NULL);
    if (given(job, "optim.betas")) {
        double b[2] = {0.9, 0.999};
        floats(job, "optim.betas", b, 2);
        c->optim.beta1 = b[0], c->optim.beta2 = b[1];
    }
    if (given(job, "optim.eps"))
        c->optim.eps = dlt_job_float(job, "optim.eps");
    /* no-decay patterns become parameter-group rules, cut out of the
     * config's own copy of the list (rules[].pattern point into it) */
    snprintf(c->rule_patterns, sizeof c->rule_patterns, "%s", dlt_job_string(job, "optim.no_decay"));
    c->nrules = 0;
    for (char *save = NULL, *p = strtok_r(c->rule_patterns, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        if (!*p)
            continue;
        if (c->nrules == DLT_MAX_GROUP_RULES)
            return where_err(job, "optim.no_decay", "holds too many patterns (at most 8)", NULL);
        c->rules[c->nrules++] = (dlt_param_group_rule){.pattern = p, .weight_decay = 0, .set_weight_decay = 1};
    }
    if ((st = schedule_from_job(job, c)) != DLT_OK)
        return st;
    static const char *const optim_keys[] = {"optim.name", "optim.lr", "optim.momentum", "optim.weight_decay",
                                             "optim.nesterov", "optim.betas", "optim.eps"};
    for (size_t i = 0; i < sizeof optim_keys / sizeof optim_keys[0]; i++)
        c->optim_given |= given(job, optim_keys[i]);

    c->epochs = dlt_job_int(job, "train.epochs");
    c->steps = dlt_job_int(job, "train.steps");
    if (c->epochs == 0 && c->steps == 0)
        return where_err(job, "train.epochs", "and train.steps are both 0: nothing to train", NULL);
    c->seed = (uint64_t)dlt_job_int(job, "train.seed");
    c->grad_clip = dlt_job_float(job, "train.grad_clip");
    c->accumulate = (int)dlt_job_int(job, "train.accumulate");
    c->label_smoothing = (float)dlt_job_float(job, "train.label_smoothing");
    c->threads = (int)dlt_job_int(job, "train.threads");
    c->nonfinite_stop = strcmp(dlt_job_string(job, "train.nonfinite"), "stop") == 0;
    const char *dev = dlt_job_string(job, "train.device");
    c->device = strcmp(dev, "cuda") == 0 ? DLT_TRAIN_CUDA : strcmp(dev, "auto") == 0 ? DLT_TRAIN_AUTO : DLT_TRAIN_CPU;
    const char *prec = dlt_job_string(job, "train.precision");
    c->precision = !strcmp(prec, "fp16")   ? DLT_PREC_FP16
                   : !strcmp(prec, "bf16") ? DLT_PREC_BF16
                   : !strcmp(prec, "tf32") ? DLT_PREC_TF32
                                           : DLT_PREC_FP32;
    double ls = dlt_job_float(job, "train.loss_scale");
    c->loss_scaling = ls > 0 ? DLT_LOSS_SCALE_STATIC
                      : c->precision == DLT_PREC_FP16 ? DLT_LOSS_SCALE_DYNAMIC
                                                      : DLT_LOSS_SCALE_NONE;
    c->loss_scale = ls > 0 ? ls : dlt_job_float(job, "train.loss_scale_init");
    /* the scale multiplies an f32 loss: it must be a finite f32 */
    if (!isfinite((float)c->loss_scale))
        return where_err(job, ls > 0 ? "train.loss_scale" : "train.loss_scale_init",
                         "is beyond the f32 range (at most 3.4e38)", NULL);
    c->loss_scale_window = dlt_job_int(job, "train.loss_scale_window");
    /* after the errors: a refused job prints one line */
    if (c->precision != DLT_PREC_FP32 && c->device == DLT_TRAIN_CPU)
        dlt_log(DLT_LOG_WARN, "train.precision = \"%s\" applies to the GPU backend; the CPU computes in fp32%s", prec,
                c->precision == DLT_PREC_FP16 ? " (loss scaling still applies)" : "");
    c->eval_every_steps = dlt_job_int(job, "eval.every_steps");
    c->ckpt_every_steps = dlt_job_int(job, "checkpoint.every_steps");
    c->ckpt_every_minutes = dlt_job_float(job, "checkpoint.every_minutes");
    c->keep_last = (int)dlt_job_int(job, "checkpoint.keep_last");
    /* GPU tensors are reduced with NCCL, CPU tensors with MPI */
    const char *backend = dlt_job_string(job, "dist.backend");
    if (strcmp(backend, "nccl") == 0 && c->device == DLT_TRAIN_CPU)
        return where_err(job, "dist.backend", "= \"nccl\" needs train.device = \"cuda\" (or \"auto\" on a GPU node)",
                         NULL);
    if (strcmp(backend, "mpi") == 0 && c->device == DLT_TRAIN_CUDA)
        return where_err(job, "dist.backend", "= \"mpi\" reduces host memory: GPU training uses \"nccl\" (or \"auto\")",
                         NULL);
    c->bucket_mb = dlt_job_float(job, "dist.bucket_mb");
    c->timeout_s = dlt_job_float(job, "dist.timeout_s");
    c->zero = (int)dlt_job_int(job, "dist.zero");
    c->cuda_graphs = dlt_job_bool(job, "train.cuda_graphs");
    c->recompute = dlt_job_bool(job, "train.recompute");
    /* what phased training (trainer_phase.c) does not do */
    int phased = c->task == DLT_TASK_GAN || c->task == DLT_TASK_CYCLEGAN;
    if (phased && c->loss_scaling != DLT_LOSS_SCALE_NONE)
        return where_err(job, given(job, "train.loss_scale") ? "train.loss_scale" : "train.precision",
                         ": loss scaling is not supported with phased training (GANs)", NULL);
    if (phased && !c->nonfinite_stop)
        return where_err(job, "train.nonfinite",
                         "= \"skip\" is not supported with phased training (GANs): a skipped update would "
                         "desynchronise the phases", NULL);
    c->reduce_bf16 = strcmp(dlt_job_string(job, "dist.reduce_dtype"), "bf16") == 0;
    c->debug_collectives = dlt_job_bool(job, "dist.debug_collectives");
    c->check_every = (int)dlt_job_int(job, "dist.check_every");
    c->log_every = dlt_job_int(job, "log.every_steps");
    c->tensorboard = dlt_job_bool(job, "log.tensorboard");
    c->trace = dlt_job_bool(job, "log.trace");
    c->trace_warmup = dlt_job_int(job, "log.trace_warmup");
    c->trace_steps = dlt_job_int(job, "log.trace_steps");
    return DLT_OK;
}

/* Job policy: the resolved job (--print-config, checkpoints) must say what
 * runs, so a transformer whose job leaves model.dropout unset records its
 * architecture's dropout there. Image classifiers keep the key's default. */
/* Every [phase] key left unset takes the phase's resolved value (the task's
 * defaults def[0..n), global optim keys, train.grad_clip / accumulate). */
static dlt_status record_phases(dlt_job *job, const dlt_train_config *c, const dlt_task_phase *def, int nphases)
{
    char set[160], key[64];
    dlt_status st = DLT_OK;
    for (int p = 0; p < nphases && st == DLT_OK; p++) {
        dlt_trainer_phase ph;
        memset(&ph, 0, sizeof ph);
        if ((st = dlt_trainer_phase_resolve(c, &def[p], &ph)) != DLT_OK)
            return st;
        const char *n = def[p].name;
        const dlt_optim_config *o = &ph.optim;
        int betas = o->kind == DLT_OPTIM_ADAM || o->kind == DLT_OPTIM_ADAMW || o->kind == DLT_OPTIM_LAMB;
#define REC(k, ...)                                                                                \
    do {                                                                                           \
        snprintf(key, sizeof key, "phase.%.15s_%.20s", n, k);                                      \
        if (st == DLT_OK && !given(job, key)) {                                                    \
            int at = snprintf(set, sizeof set, "%s=", key);                                        \
            snprintf(set + at, sizeof set - (size_t)at, __VA_ARGS__);                              \
            st = dlt_job_set(job, set);                                                            \
        }                                                                                          \
    } while (0)
        REC("optim", "\"%s\"", dlt_optim_kind_name(o->kind));
        REC("lr", "%.9g", o->lr);
        if (betas)
            REC("betas", "[%.9g, %.9g]", o->beta1, o->beta2);
        REC("grad_clip", "%.9g", ph.grad_clip);
        REC("accumulate", "%d", ph.accumulate);
        REC("repeat", "%d", ph.repeat);
        REC("clip_value", "%.9g", ph.clip_value);
#undef REC
    }
    return st;
}

/* A GAN's resolved job says what each phase runs: gan.loss when "auto",
 * and every [phase] key left unset takes the phase's resolved value (the
 * task's defaults, global optim keys, train.grad_clip / accumulate). */
static dlt_status record_gan(dlt_job *job, const dlt_train_config *c)
{
    char set[160];
    dlt_status st = DLT_OK;
    if (!given(job, "gan.loss")) {
        snprintf(set, sizeof set, "gan.loss=\"%s\"", dlt_task_gan_loss(c));
        st = dlt_job_set(job, set);
    }
    if (st == DLT_OK && !given(job, "gan.z_dim")) {
        snprintf(set, sizeof set, "gan.z_dim=%d", c->gan.z_dim);
        st = dlt_job_set(job, set);
    }
    if (st == DLT_OK && !given(job, "gan.num_classes")) {
        snprintf(set, sizeof set, "gan.num_classes=%d", c->gan.num_classes);
        st = dlt_job_set(job, set);
    }
    dlt_task_phase def[2];
    memset(def, 0, sizeof def);
    dlt_task_gan_phase_defaults(c, def);
    return st == DLT_OK ? record_phases(job, c, def, 2) : st;
}

dlt_status dlt_train_job_record_defaults(dlt_job *job, const dlt_train_config *c)
{
    if (c->task == DLT_TASK_GAN)
        return record_gan(job, c);
    if (c->task == DLT_TASK_CYCLEGAN) {
        dlt_task_phase def[2];
        memset(def, 0, sizeof def);
        dlt_task_cyclegan_phase_defaults(def);
        return record_phases(job, c, def, 2);
    }
    if (c->task == DLT_TASK_CLASSIFY || c->task == DLT_TASK_VAE || c->task == DLT_TASK_MASKRCNN ||
        given(job, "model.dropout"))
        return DLT_OK;
    char set[64];
    snprintf(set, sizeof set, "model.dropout=%.7g", (double)c->tf.hidden_dropout);
    return dlt_job_set(job, set);
}
