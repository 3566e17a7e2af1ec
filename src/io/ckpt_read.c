/* Checkpoint v1 reader, latest-checkpoint discovery and pruning. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_h5.h"
#include "dlt_ckpt.h"

static const char *shape_txt(int nd, const hsize_t *d, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ",%llu" : "%llu", (unsigned long long)d[i]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}

/* Read `name` under loc (the group grp, for messages) into dst, requiring
 * the model's shape. */
static dlt_status read_tensor(const char *path, hid_t loc, const char *grp, const char *what, const char *name,
                              const dlt_shape *s, float *dst, int crc)
{
    char a[128], b[128];
    hsize_t dims[DLT_MAX_DIMS + 1], want[DLT_MAX_DIMS];
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return dlt_seterr(DLT_ERR_INVALID, "%s: the model's %s '%s' is missing from the checkpoint",
                          path, what, name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t sp = d >= 0 ? H5Dget_space(d) : -1;
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    dlt_status st = DLT_OK;
    if (nd < 0 || nd > DLT_MAX_DIMS) {
        st = dlt_seterr(DLT_ERR_IO, "%s: %s '%s' cannot be read", path, what, name);
        goto out;
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; i < s->ndim; i++)
        want[i] = (hsize_t)s->dim[i];
    int same = nd == s->ndim;
    for (int i = 0; same && i < nd; i++)
        same = dims[i] == want[i];
    if (!same) {
        st = dlt_seterr(DLT_ERR_INVALID, "%s: %s '%s' has shape %s in the checkpoint but %s in the model",
                        path, what, name, shape_txt(nd, dims, a, sizeof a),
                        shape_txt(s->ndim, want, b, sizeof b));
        goto out;
    }
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        st = dlt_seterr(DLT_ERR_IO, "%s: reading %s '%s' failed (corrupt file?)", path, what, name);
    else
        st = ckpt_check_crc(path, d, grp, name, dst, (size_t)dlt_shape_numel(s) * sizeof(float), crc);
out:
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

/* The first link name in g that is not among info[0..n-1] (into buf), or NULL. */
static const char *find_extra(hid_t g, int n, const dlt_param_info *info, char *buf, size_t len)
{
    H5G_info_t gi;
    if (H5Gget_info(g, &gi) < 0)
        return NULL;
    for (hsize_t k = 0; k < gi.nlinks; k++) {
        int known = 0;
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, buf, len, H5P_DEFAULT) < 0)
            continue;
        for (int i = 0; i < n && !known; i++)
            known = strcmp(info[i].name, buf) == 0;
        if (!known)
            return buf;
    }
    return NULL;
}

static dlt_status read_group(const char *path, hid_t f, const char *group, const char *what, int n,
                             const dlt_param_info *info, float *base, int crc)
{
    char grp[64];
    snprintf(grp, sizeof grp, "/%s", group);
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    dlt_status st = DLT_OK;
    if (g < 0)
        return dlt_seterr(DLT_ERR_IO, "%s: no /%s group (not a dltrain checkpoint?)", path, group);
    for (int i = 0; st == DLT_OK && i < n; i++)
        st = read_tensor(path, g, grp, what, info[i].name, &info[i].shape, base + info[i].offset, crc);
    if (st == DLT_OK) {
        char buf[512];
        const char *extra = find_extra(g, n, info, buf, sizeof buf);
        if (extra)
            st = dlt_seterr(DLT_ERR_INVALID, "%s: the checkpoint has %s '%s' that the model lacks",
                            path, what, extra);
    }
    H5Gclose(g);
    return st;
}

/* An 8-byte scalar of /state (int64, uint64 or f64), checksum verified. */
static dlt_status read_scalar(const char *path, hid_t g, const char *name, hid_t mtype, void *v, int crc)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return dlt_seterr(DLT_ERR_IO, "%s: /state/%s is missing: the checkpoint is incomplete or corrupt", path,
                          name);
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    dlt_status st = d >= 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0
                        ? ckpt_check_crc(path, d, "/state", name, v, 8, crc)
                        : dlt_seterr(DLT_ERR_IO, "%s: /state/%s cannot be read: the checkpoint is corrupt", path,
                                     name);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

/* Counters and cursors travel through doubles (metric all-reduces, the
 * schedule): beyond 2^53 a value is no step count but damage. */
#define CKPT_MAX_COUNT ((int64_t)1 << 53)
#define CKPT_MAX_WORLD (1 << 20)

static dlt_status check_count(const char *path, const char *what, int64_t v)
{
    if (v < 0 || v > CKPT_MAX_COUNT)
        return dlt_seterr(DLT_ERR_IO, "%s: %s is %lld (expected 0 to 2^53): the checkpoint is corrupt", path, what,
                          (long long)v);
    return DLT_OK;
}

static dlt_status read_cursors(const char *path, hid_t g, dlt_ckpt_state *st, int crc)
{
    hid_t d = H5Dopen2(g, "data_cursors", H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    dlt_status s = DLT_OK;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) != 2)
        s = dlt_seterr(DLT_ERR_IO, "%s: /state/data_cursors is not a [world_size, n] array: the checkpoint is "
                       "corrupt", path);
    else if (dims[0] != (hsize_t)st->world_size || dims[1] < 1 || dims[1] > 16)
        s = dlt_seterr(DLT_ERR_IO, "%s: /state/data_cursors is [%llu, %llu] for world_size %d: the checkpoint is "
                       "corrupt", path, (unsigned long long)dims[0], (unsigned long long)dims[1], st->world_size);
    size_t n = (size_t)(dims[0] * dims[1]);
    if (s == DLT_OK) {
        st->cursor_len = (int)dims[1];
        st->cursors = malloc(n * sizeof(int64_t) + 1);
        if (!st->cursors)
            s = dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory", path);
        else if (H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->cursors) < 0)
            s = dlt_seterr(DLT_ERR_IO, "%s: /state/data_cursors cannot be read: the checkpoint is corrupt", path);
        else
            s = ckpt_check_crc(path, d, "/state", "data_cursors", st->cursors, n * sizeof(int64_t), crc);
    }
    for (size_t i = 0; s == DLT_OK && i < n; i++)
        if (st->cursors[i] < 0 || st->cursors[i] > CKPT_MAX_COUNT)
            s = dlt_seterr(DLT_ERR_IO, "%s: /state/data_cursors: rank %zu's cursor holds %lld (expected 0 to 2^53): "
                           "the checkpoint is corrupt", path, i / (size_t)dims[1], (long long)st->cursors[i]);
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return s;
}

/* /state/task_state [world_size, n] f32 (a task's per-rank state) */
static dlt_status read_task_state(const char *path, hid_t g, dlt_ckpt_state *st, int crc)
{
    hid_t d = H5Dopen2(g, "task_state", H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    dlt_status s = DLT_OK;
    if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 || H5Sget_simple_extent_dims(sp, dims, NULL) != 2 ||
        dims[0] != (hsize_t)st->world_size || dims[1] < 1)
        s = dlt_seterr(DLT_ERR_IO, "%s: /state/task_state is not a [world_size = %d, n] array: the checkpoint is "
                       "corrupt", path, st->world_size);
    size_t n = (size_t)(dims[0] * dims[1]);
    if (s == DLT_OK) {
        st->task_state_len = (int64_t)dims[1];
        st->task_state = malloc(n * sizeof(float));
        if (!st->task_state)
            s = dlt_seterr(DLT_ERR_NOMEM, "%s: out of memory for /state/task_state", path);
        else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->task_state) < 0)
            s = dlt_seterr(DLT_ERR_IO, "%s: /state/task_state cannot be read: the checkpoint is corrupt", path);
        else
            s = ckpt_check_crc(path, d, "/state", "task_state", st->task_state, n * sizeof(float), crc);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (d >= 0)
        H5Dclose(d);
    return s;
}

static dlt_status read_state(const char *path, hid_t f, dlt_ckpt_state *st, int crc)
{
    hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
    if (g < 0)
        return dlt_seterr(DLT_ERR_IO, "%s: no /state group", path);
    dlt_status s = read_scalar(path, g, "step", H5T_NATIVE_INT64, &st->step, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "epoch", H5T_NATIVE_INT64, &st->epoch, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "samples_seen", H5T_NATIVE_INT64, &st->samples_seen, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "seed", H5T_NATIVE_UINT64, &st->seed, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "optim_step", H5T_NATIVE_INT64, &st->optim_step, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "loss_scale", H5T_NATIVE_DOUBLE, &st->loss_scale, crc);
    if (s == DLT_OK)
        s = read_scalar(path, g, "best_metric", H5T_NATIVE_DOUBLE, &st->best_metric, crc);
    /* absent before loss scaling existed: 0 */
    st->loss_scale_growth = 0;
    if (s == DLT_OK && H5Lexists(g, "loss_scale_growth", H5P_DEFAULT) > 0)
        s = read_scalar(path, g, "loss_scale_growth", H5T_NATIVE_INT64, &st->loss_scale_growth, crc);
    st->phased = 0, st->phase_position = 0;
    if (s == DLT_OK && H5Lexists(g, "phase_position", H5P_DEFAULT) > 0) {
        st->phased = 1;
        s = read_scalar(path, g, "phase_position", H5T_NATIVE_INT64, &st->phase_position, crc);
    }
    if (s == DLT_OK && H5Lexists(g, "data_cursors", H5P_DEFAULT) > 0)
        s = read_cursors(path, g, st, crc);
    st->task_state_len = 0, st->task_state = NULL;
    if (s == DLT_OK && H5Lexists(g, "task_state", H5P_DEFAULT) > 0)
        s = read_task_state(path, g, st, crc);
    H5Gclose(g);
    /* values no run can have: refused even where a checksum matches (a
     * writer's bug, or a file from before checksums) */
    if (s == DLT_OK)
        s = check_count(path, "/state/step", st->step);
    if (s == DLT_OK)
        s = check_count(path, "/state/epoch", st->epoch);
    if (s == DLT_OK)
        s = check_count(path, "/state/samples_seen", st->samples_seen);
    if (s == DLT_OK)
        s = check_count(path, "/state/optim_step", st->optim_step);
    if (s == DLT_OK)
        s = check_count(path, "/state/loss_scale_growth", st->loss_scale_growth);
    if (s == DLT_OK)
        s = check_count(path, "/state/phase_position", st->phase_position);
    if (s == DLT_OK && !(st->loss_scale >= 0 && st->loss_scale < 1e38))
        s = dlt_seterr(DLT_ERR_IO, "%s: /state/loss_scale is %g (expected a finite value >= 0): the checkpoint is "
                       "corrupt", path, st->loss_scale);
    return s;
}

/* The root attributes a reader trusts: world_size, the step (equal to
 * /state/step), and the job text against its checksum. */
static dlt_status read_root(const char *path, hid_t f, dlt_ckpt_state *st, int crc)
{
    int64_t ws = 0, jc = -1;
    if (!ckpt_attr_read_i64(f, "world_size", &ws) || ws < 1 || ws > CKPT_MAX_WORLD)
        return dlt_seterr(DLT_ERR_IO, "%s: root attribute world_size is %lld (expected 1 to %d): the checkpoint is "
                          "corrupt", path, (long long)ws, CKPT_MAX_WORLD);
    st->world_size = (int)ws;
    st->job_text = ckpt_attr_read_str(f, "job");
    if (H5Aexists(f, "job_crc32") > 0 || crc) {
        uint32_t c = st->job_text ? dlt_crc32(0, st->job_text, strlen(st->job_text)) : 0;
        if (!st->job_text || !ckpt_attr_read_i64(f, "job_crc32", &jc) || jc != (int64_t)c)
            return dlt_seterr(DLT_ERR_IO, "%s: the job attribute does not match its checksum job_crc32: the "
                              "checkpoint is corrupt", path);
    }
    return DLT_OK;
}

static hid_t open_checked(const char *path, dlt_status *st)
{
    if ((*st = dlt_check_regular_file(path)) != DLT_OK) {
        dlt_adderr(*st, "%s: cannot open checkpoint", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        *st = access(path, R_OK) != 0
                  ? dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open checkpoint: %s", path, strerror(errno))
                  : dlt_seterr(DLT_ERR_IO, "%s: not an HDF5 file or truncated", path);
        return -1;
    }
    char *fmt = ckpt_attr_read_str(f, "format");
    int64_t ver = 0;
    if (!fmt || strcmp(fmt, DLT_CKPT_FORMAT) != 0 || !ckpt_attr_read_i64(f, "version", &ver)) {
        *st = dlt_seterr(DLT_ERR_IO, "%s: not a dltrain checkpoint (format attribute '%s')", path,
                         fmt ? fmt : "missing");
        free(fmt);
        H5Fclose(f);
        return -1;
    }
    free(fmt);
    if (ver != DLT_CKPT_VERSION) {
        *st = dlt_seterr(DLT_ERR_INVALID, "%s: checkpoint version %lld, this dltrain reads version %d",
                         path, (long long)ver, DLT_CKPT_VERSION);
        H5Fclose(f);
        return -1;
    }
    *st = DLT_OK;
    return f;
}

dlt_status dlt_ckpt_load(const char *path, const dlt_ckpt_tensors *t, dlt_ckpt_state *st)
{
    ckpt_h5_quiet q;
    dlt_status s;
    memset(st, 0, sizeof *st);
    ckpt_h5_quiet_begin(&q);
    hid_t f = open_checked(path, &s);
    if (f < 0) {
        ckpt_h5_quiet_end(&q);
        return s;
    }
    int crc = ckpt_has_checksums(f);
    s = read_root(path, f, st, crc);
    if (s == DLT_OK)
        s = read_group(path, f, "params", "parameter", t->nparams, t->params, t->param_data, crc);
    if (s == DLT_OK)
        s = read_group(path, f, "buffers", "buffer", t->nbuffers, t->buffers, t->buffer_data, crc);
    /* another optimizer's state is refused even when the job's keeps none
     * (plain SGD): resuming must not drop Adam's moments silently */
    hid_t g = s == DLT_OK && (t->nslots > 0 || t->optim_name) && H5Lexists(f, "optim", H5P_DEFAULT) > 0
                  ? H5Gopen2(f, "optim", H5P_DEFAULT)
                  : -1;
    char *oname = g >= 0 ? ckpt_attr_read_str(g, "optimizer") : NULL;
    if (s == DLT_OK && t->optim_name && oname && strcmp(oname, t->optim_name) != 0)
        s = dlt_seterr(DLT_ERR_INVALID, "%s: optimizer state is for '%s', the job uses '%s'", path, oname,
                       t->optim_name);
    if (s == DLT_OK && t->nslots > 0) {
        if (g < 0 || !oname)
            s = dlt_seterr(DLT_ERR_INVALID, "%s: optimizer state is for '%s', the job uses '%s'", path,
                           oname ? oname : "none", t->optim_name ? t->optim_name : "?");
        for (int i = 0; s == DLT_OK && i < t->nparams; i++) {
            hid_t pg = H5Lexists(g, t->params[i].name, H5P_DEFAULT) > 0
                           ? H5Gopen2(g, t->params[i].name, H5P_DEFAULT)
                           : -1;
            if (pg < 0) {
                s = dlt_seterr(DLT_ERR_INVALID, "%s: no optimizer state for parameter '%s'", path,
                               t->params[i].name);
                break;
            }
            char grp[600];
            snprintf(grp, sizeof grp, "/optim/%s", t->params[i].name);
            for (int k = 0; s == DLT_OK && k < t->nslots; k++)
                s = read_tensor(path, pg, grp, "optimizer slot", t->slot_names[k], &t->params[i].shape,
                                t->slot_data[k] + t->params[i].offset, crc);
            H5Gclose(pg);
        }
    }
    free(oname);
    if (g >= 0)
        H5Gclose(g);
    if (s == DLT_OK)
        s = read_state(path, f, st, crc);
    int64_t root_step = -1;
    if (s == DLT_OK && ckpt_attr_read_i64(f, "step", &root_step) && root_step != st->step)
        s = dlt_seterr(DLT_ERR_IO, "%s: root attribute step %lld differs from /state/step %lld: the checkpoint is "
                       "corrupt", path, (long long)root_step, (long long)st->step);
    H5Fclose(f);
    ckpt_h5_quiet_end(&q);
    if (s != DLT_OK)
        dlt_ckpt_state_free(st);
    return s;
}

void dlt_ckpt_state_free(dlt_ckpt_state *st)
{
    free(st->cursors);
    free(st->job_text);
    free(st->task_state);
    st->cursors = NULL;
    st->job_text = NULL;
    st->task_state = NULL;
}

dlt_status dlt_ckpt_read_job(const char *path, char **job_text)
{
    ckpt_h5_quiet q;
    dlt_status s;
    ckpt_h5_quiet_begin(&q);
    hid_t f = open_checked(path, &s);
    if (f >= 0) {
        dlt_ckpt_state tmp;
        memset(&tmp, 0, sizeof tmp);
        s = read_root(path, f, &tmp, ckpt_has_checksums(f));
        H5Fclose(f);
        *job_text = s == DLT_OK ? tmp.job_text : NULL;
        if (s != DLT_OK)
            free(tmp.job_text);
        else if (!*job_text)
            s = dlt_seterr(DLT_ERR_INVALID, "%s: the checkpoint holds no job text", path);
    }
    ckpt_h5_quiet_end(&q);
    return s;
}

/* Step numbers of DIR/ckpt-NNNNNNNN.h5 files, descending. */
static int list_steps(const char *dir, int64_t **steps)
{
    DIR *d = opendir(dir);
    int n = 0, cap = 0;
    *steps = NULL;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%lld.h%7s", &s, tail) != 2 || strcmp(tail, "5") != 0 ||
            strlen(e->d_name) != 16)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *p = realloc(*steps, (size_t)cap * sizeof *p);
            if (!p)
                break;
            *steps = p;
        }
        (*steps)[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort, descending */
        for (int j = i; j > 0 && (*steps)[j] > (*steps)[j - 1]; j--) {
            int64_t t = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = t;
        }
    return n;
}

dlt_status dlt_ckpt_find_latest(const char *dir, char *path, size_t len)
{
    int64_t *steps;
    int n = list_steps(dir, &steps);
    if (n < 0)
        return dlt_seterr(DLT_ERR_NOTFOUND, "%s: no such checkpoint directory", dir);
    for (int i = 0; i < n; i++) {
        ckpt_h5_quiet q;
        dlt_status st;
        snprintf(path, len, "%s/ckpt-%08lld.h5", dir, (long long)steps[i]);
        ckpt_h5_quiet_begin(&q);
        hid_t f = open_checked(path, &st);
        if (f >= 0)
            H5Fclose(f);
        ckpt_h5_quiet_end(&q);
        if (f >= 0) {
            free(steps);
            return DLT_OK;
        }
        dlt_log(DLT_LOG_WARN, "skipping unreadable checkpoint %s", path);
    }
    free(steps);
    return dlt_seterr(DLT_ERR_NOTFOUND, "%s: no complete checkpoint", dir);
}

int dlt_ckpt_list(const char *dir, int64_t **steps) { return list_steps(dir, steps); }

dlt_status dlt_ckpt_prune(const char *dir, int keep_last, int64_t upto)
{
    int64_t *steps;
    if (keep_last <= 0)
        return DLT_OK;
    int n = list_steps(dir, &steps), first = 0;
    while (upto >= 0 && first < n && steps[first] > upto)
        first++;
    for (int i = first + keep_last; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/ckpt-%08lld.h5", dir, (long long)steps[i]);
        if (unlink(path) != 0)
            dlt_log(DLT_LOG_WARN, "cannot remove old checkpoint %s: %s", path, strerror(errno));
    }
    free(steps);
    return DLT_OK;
}
