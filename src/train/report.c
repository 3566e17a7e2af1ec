/* Progress, evaluation and summary output of rank 0, plus metrics.jsonl and
 * TensorBoard event files. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void human_time(double s, char *buf, size_t n)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

static void human_bytes(double b, char *buf, size_t n)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4)
        b /= 1024, i++;
    snprintf(buf, n, "%.1f %s", b, u[i]);
}

/* Rates: whole numbers from 100 up, else three significant digits (a slow
 * model's 0.42 samples/s is not "0"). */
static void human_rate(double v, char *buf, size_t n)
{
    if (!(v >= 100))
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.0f", v);
}

/* JSON numbers: non-finite values become null */
static void jnum(FILE *f, const char *key, double v, int comma)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.9g%s", key, v, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
}

/* wall_time: microseconds survive (%.9g would round to tens of seconds) */
static void jwall(FILE *f, double t)
{
    fprintf(f, "\"wall_time\": %.6f", t);
}

/* Ends a metrics.jsonl line and makes sure it reached the file: a full disk
 * or a failing file system loses lines, and the user is told (the first
 * time, then when writing works again, and in the final line). */
static void jsonl_end(dlt_report *r, const char *what, int64_t step)
{
    fprintf(r->jsonl, "}\n");
    int bad = fflush(r->jsonl) != 0 || ferror(r->jsonl);
    int err = errno;
    if (bad) {
        if (r->jsonl_lost++ == 0 || r->jsonl_ok)
            dlt_log(DLT_LOG_WARN, "%s: cannot write the %s line of step %lld: %s; metrics are being lost",
                    r->jsonl_path, what, (long long)step, strerror(err));
        r->jsonl_ok = 0;
        clearerr(r->jsonl);
    } else if (!r->jsonl_ok) {
        if (r->jsonl_lost > 0)
            dlt_log(DLT_LOG_WARN, "%s: writing again from step %lld (%lld line%s lost)", r->jsonl_path,
                    (long long)step, (long long)r->jsonl_lost, r->jsonl_lost == 1 ? "" : "s");
        r->jsonl_ok = 1;
    }
}

static void tb_write(dlt_report *r, int64_t step, double wall_time, int n, const dlt_tb_scalar *s)
{
    if (r->tb && dlt_tb_scalars(r->tb, wall_time, step, n, s) != DLT_OK) {
        dlt_log(DLT_LOG_WARN, "%s; TensorBoard events stopped", dlt_errmsg());
        dlt_tb_close(r->tb);
        r->tb = NULL;
    }
}

void dlt_report_open(dlt_report *r, const dlt_train_config *c, int64_t total_steps, int64_t per_epoch,
                     int world, int nparams, int64_t numel, const dlt_mem_report *mem)
{
    char a[32], b[32], d[32];
    memset(r, 0, sizeof *r);
    r->total_steps = total_steps;
    r->per_epoch = per_epoch;
    r->t_start = wall();
    r->quiet = c->quiet;
    r->tty = isatty(STDERR_FILENO) && !c->verbose;
    r->first_step = -1;
    r->jsonl_ok = 1;
    if (mkdir(c->run_dir, 0777) != 0 && errno != EEXIST)
        dlt_log(DLT_LOG_WARN, "cannot create %s: %s", c->run_dir, strerror(errno));
    snprintf(r->jsonl_path, sizeof r->jsonl_path, "%s/metrics.jsonl", c->run_dir);
    r->jsonl = fopen(r->jsonl_path, "a");
    if (!r->jsonl)
        dlt_log(DLT_LOG_WARN, "cannot write %s: %s", r->jsonl_path, strerror(errno));
    if (c->tensorboard && dlt_tb_open(c->run_dir, wall(), &r->tb, NULL, 0) != DLT_OK)
        dlt_log(DLT_LOG_WARN, "%s; no TensorBoard events", dlt_errmsg());
    human_bytes((double)(mem->params_bytes + mem->grads_bytes + mem->buffers_bytes), a, sizeof a);
    human_bytes((double)mem->arena_bytes, b, sizeof b);
    human_bytes((double)mem->activations_bytes, d, sizeof d);
    if (!r->quiet)
        dlt_log(DLT_LOG_INFO,
                "%s: %s, %lld parameters in %d tensors, %d rank%s x batch %d = %d per step; "
                "%lld steps (%lld per epoch); memory per rank: parameters+gradients %s, activations %s "
                "(%s without reuse)",
                c->name, c->arch, (long long)numel, nparams, world, world > 1 ? "s" : "", c->batch_size,
                c->batch_size * world * (c->accumulate > 0 ? c->accumulate : 1), (long long)total_steps,
                (long long)per_epoch, a, b, d);
}

void dlt_report_begin(dlt_report *r, int64_t step)
{
    r->first_step = step;
    r->t_start = wall();
}

void dlt_report_step(dlt_report *r, int64_t step, int64_t epoch, const dlt_metrics *m, double lr,
                     double grad_norm, double samples_per_s, double tokens_per_s)
{
    char eta[32] = "?", rate[32];
    double now = wall();
    if (r->first_step < 0)
        dlt_report_begin(r, step - 1);
    double done = (double)(step - r->first_step);
    if (done > 0 && now > r->t_start)
        human_time((now - r->t_start) / done * (double)(r->total_steps - step), eta, sizeof eta);
    human_rate(tokens_per_s >= 0 ? tokens_per_s : samples_per_s, rate, sizeof rate);
    if (!r->quiet) {
        char line[512];
        int off = snprintf(line, sizeof line, "step %lld/%lld  epoch %lld", (long long)step,
                           (long long)r->total_steps, (long long)epoch);
        for (int i = 0; i < m->n && off < (int)sizeof line; i++)
            off += snprintf(line + off, sizeof line - (size_t)off, "  %s %.4f", m->label[i], m->val[i]);
        if (off < (int)sizeof line && r->loss_scale > 0)
            off += snprintf(line + off, sizeof line - (size_t)off, "  scale %g", r->loss_scale);
        if (off < (int)sizeof line && r->skipped_steps > 0)
            off += snprintf(line + off, sizeof line - (size_t)off, " (%lld skipped)", (long long)r->skipped_steps);
        if (off < (int)sizeof line && tokens_per_s >= 0)
            snprintf(line + off, sizeof line - (size_t)off, "  lr %.4g  grad_norm %.3g  %s tokens/s  ETA %s",
                     lr, grad_norm, rate, eta);
        else if (off < (int)sizeof line)
            snprintf(line + off, sizeof line - (size_t)off, "  lr %.4g  grad_norm %.3g  %s samples/s  ETA %s",
                     lr, grad_norm, rate, eta);
        dlt_log_status(line, step == r->total_steps);
    }
    if (r->jsonl) {
        fprintf(r->jsonl, "{\"step\": %lld, \"epoch\": %lld, ", (long long)step, (long long)epoch);
        for (int i = 0; i < m->n; i++)
            jnum(r->jsonl, m->key[i], m->val[i], 1);
        jnum(r->jsonl, "lr", lr, 1);
        jnum(r->jsonl, "grad_norm", grad_norm, 1);
        jnum(r->jsonl, "samples_per_s", samples_per_s, 1);
        if (r->loss_scale > 0) {
            jnum(r->jsonl, "loss_scale", r->loss_scale, 1);
            jnum(r->jsonl, "skipped_steps", (double)r->skipped_steps, 1);
        }
        if (tokens_per_s >= 0)
            jnum(r->jsonl, "tokens_per_s", tokens_per_s, 1);
        jwall(r->jsonl, now);
        jsonl_end(r, "step", step);
    }
    char names[DLT_MAX_METRICS][64];
    dlt_tb_scalar s[DLT_MAX_METRICS + 4];
    int n = 0;
    for (int i = 0; i < m->n; i++) {
        snprintf(names[i], sizeof names[i], "train/%s", m->key[i]);
        s[n++] = (dlt_tb_scalar){names[i], (float)m->val[i]};
    }
    s[n++] = (dlt_tb_scalar){"train/lr", (float)lr};
    s[n++] = (dlt_tb_scalar){"train/grad_norm", (float)grad_norm};
    s[n++] = (dlt_tb_scalar){"train/samples_per_s", (float)samples_per_s};
    if (tokens_per_s >= 0)
        s[n++] = (dlt_tb_scalar){"train/tokens_per_s", (float)tokens_per_s};
    tb_write(r, step, now, n, s);
}

void dlt_report_eval(dlt_report *r, int64_t step, int64_t epoch, const dlt_metrics *m)
{
    int final = step == r->total_steps, classes = m->classes;
    const int64_t *confusion = m->confusion;
    double now = wall();
    r->last_eval = *m;
    r->last_eval.confusion = NULL, r->last_eval.names = NULL;
    if (!r->quiet) {
        char line[512];
        int off = snprintf(line, sizeof line, "eval step %lld:", (long long)step);
        for (int i = 0; i < m->n && off < (int)sizeof line; i++)
            off += snprintf(line + off, sizeof line - (size_t)off, "%s%s %.4f", i ? "  " : " ", m->label[i],
                            m->val[i]);
        dlt_log(DLT_LOG_INFO, "%s  (%lld samples)", line, (long long)m->samples);
    }
    if (final && confusion && !r->quiet) {
        char line[1024];
        int off = snprintf(line, sizeof line, "confusion matrix (rows: true class, columns: predicted)");
        dlt_log(DLT_LOG_INFO, "%s", line);
        for (int i = 0; i < classes; i++) {
            const char *nm = m->names ? dlt_loader_class_name(m->names, i) : NULL;
            off = snprintf(line, sizeof line, "  %-12.12s", nm && nm[0] ? nm : "?");
            for (int j = 0; j < classes && off < (int)sizeof line - 12; j++)
                off += snprintf(line + off, sizeof line - (size_t)off, " %6lld", (long long)confusion[i * classes + j]);
            dlt_log(DLT_LOG_INFO, "%s", line);
        }
    }
    if (r->jsonl) {
        fprintf(r->jsonl, "{\"step\": %lld, \"epoch\": %lld, \"eval\": {", (long long)step, (long long)epoch);
        for (int i = 0; i < m->n; i++)
            jnum(r->jsonl, m->key[i], m->val[i], 1);
        fprintf(r->jsonl, "\"samples\": %lld}", (long long)m->samples);
        if (final && confusion) {
            fprintf(r->jsonl, ", \"confusion\": [");
            for (int i = 0; i < classes; i++) {
                fprintf(r->jsonl, "%s[", i ? ", " : "");
                for (int j = 0; j < classes; j++)
                    fprintf(r->jsonl, "%s%lld", j ? ", " : "", (long long)confusion[i * classes + j]);
                fprintf(r->jsonl, "]");
            }
            fprintf(r->jsonl, "]");
        }
        fprintf(r->jsonl, ", ");
        jwall(r->jsonl, now);
        jsonl_end(r, "evaluation", step);
    }
    char names[DLT_MAX_METRICS][64];
    dlt_tb_scalar s[DLT_MAX_METRICS];
    for (int i = 0; i < m->n; i++) {
        snprintf(names[i], sizeof names[i], "eval/%s", m->key[i]);
        s[i] = (dlt_tb_scalar){names[i], (float)m->val[i]};
    }
    tb_write(r, step, now, m->n, s);
}

void dlt_report_checkpoint(dlt_report *r, const char *path)
{
    if (!r->quiet)
        dlt_log(DLT_LOG_INFO, "checkpoint %s", path);
}

void dlt_report_close(dlt_report *r, const dlt_train_result *res, double seconds)
{
    char t[32], ev[512] = "";
    const dlt_metrics *m = &r->last_eval;
    human_time(seconds, t, sizeof t);
    if (m->n > 0) {
        int off = snprintf(ev, sizeof ev, "; test");
        for (int i = 0; i < m->n && off < (int)sizeof ev; i++)
            off += snprintf(ev + off, sizeof ev - (size_t)off, "%s %s %.4f", i ? "," : "", m->label[i], m->val[i]);
        if (off < (int)sizeof ev)
            snprintf(ev + off, sizeof ev - (size_t)off, " (best %s %.4f)", m->label[m->best], res->best_metric);
    }
    if (!r->quiet)
        dlt_log(DLT_LOG_INFO, "done: %lld steps in %s; final train loss %.4f%s", (long long)res->steps_done, t,
                res->train_loss, ev);
    if (r->jsonl_lost > 0)
        dlt_log(DLT_LOG_WARN, "%s: %lld line%s could not be written", r->jsonl_path, (long long)r->jsonl_lost,
                r->jsonl_lost == 1 ? "" : "s");
    if (r->jsonl && fclose(r->jsonl) != 0)
        dlt_log(DLT_LOG_WARN, "%s: %s", r->jsonl_path, strerror(errno));
    r->jsonl = NULL;
    dlt_tb_close(r->tb);
    r->tb = NULL;
}

void dlt_report_abandon(dlt_report *r)
{
    if (r->jsonl)
        fclose(r->jsonl);
    r->jsonl = NULL;
    dlt_tb_close(r->tb);
    r->tb = NULL;
}
