/* Checkpoint v1 writer: atomic (temporary name, fsync, rename, fsync of the
 * directory, `latest` symlink last). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt_h5.h"
#include "dlt_ckpt.h"

void dlt_ckpt_tensors_from_graph(dlt_graph *g, dlt_ckpt_tensors *t)
{
    memset(t, 0, sizeof *t);
    t->nparams = dlt_num_params(g);
    t->params = dlt_param_at(g, 0);
    t->param_data = dlt_params_data(g);
    t->nbuffers = dlt_num_buffers(g);
    t->buffers = dlt_buffer_at(g, 0);
    t->buffer_data = dlt_buffers_data(g);
}

static int write_tensor(hid_t loc, const char *name, const dlt_shape *s, const float *data)
{
    hsize_t dims[DLT_MAX_DIMS];
    for (int i = 0; i < s->ndim; i++)
        dims[i] = (hsize_t)s->dim[i];
    hid_t sp = s->ndim ? H5Screate_simple(s->ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = sp >= 0 ? H5Dcreate2(loc, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                   H5P_DEFAULT)
                      : -1;
    int ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0 &&
             ckpt_attr_write_crc(d, data, (size_t)dlt_shape_numel(s) * sizeof(float));
    if (d >= 0)
        ok &= H5Dclose(d) >= 0;
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

/* 8-byte scalars (int64, uint64, f64) */
static int write_scalar(hid_t loc, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = sp >= 0 ? H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int ok = d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 && ckpt_attr_write_crc(d, v, 8);
    if (d >= 0)
        H5Dclose(d);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

static int write_state(hid_t f, const dlt_ckpt_state *st)
{
    hid_t g = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return 0;
    int ok = write_scalar(g, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->step) &&
             write_scalar(g, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->epoch) &&
             write_scalar(g, "samples_seen", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->samples_seen) &&
             write_scalar(g, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &st->seed) &&
             write_scalar(g, "optim_step", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->optim_step) &&
             write_scalar(g, "loss_scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &st->loss_scale) &&
             write_scalar(g, "loss_scale_growth", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->loss_scale_growth) &&
             write_scalar(g, "best_metric", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &st->best_metric);
    if (ok && st->phased)
        ok = write_scalar(g, "phase_position", H5T_STD_I64LE, H5T_NATIVE_INT64, &st->phase_position);
    if (ok && st->cursor_len > 0 && st->world_size > 0) {
        hsize_t dims[2] = {(hsize_t)st->world_size, (hsize_t)st->cursor_len};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(g, "data_cursors", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->cursors) >= 0 &&
             ckpt_attr_write_crc(d, st->cursors, (size_t)st->world_size * (size_t)st->cursor_len * sizeof(int64_t));
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
    }
    if (ok && st->task_state_len > 0 && st->world_size > 0) {
        hsize_t dims[2] = {(hsize_t)st->world_size, (hsize_t)st->task_state_len};
        hid_t sp = H5Screate_simple(2, dims, NULL);
        hid_t d = H5Dcreate2(g, "task_state", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, st->task_state) >= 0 &&
             ckpt_attr_write_crc(d, st->task_state,
                                 (size_t)st->world_size * (size_t)st->task_state_len * sizeof(float));
        if (d >= 0)
            H5Dclose(d);
        H5Sclose(sp);
    }
    H5Gclose(g);
    return ok;
}

static int write_group(hid_t f, const char *group, int n, const dlt_param_info *info, const float *base)
{
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = g >= 0;
    for (int i = 0; ok && i < n; i++)
        ok = write_tensor(g, info[i].name, &info[i].shape, base + info[i].offset);
    if (g >= 0)
        H5Gclose(g);
    return ok;
}

static int write_optim(hid_t f, const dlt_ckpt_tensors *t)
{
    hid_t g = H5Gcreate2(f, "optim", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = g >= 0 && ckpt_attr_write_str(g, "optimizer", t->optim_name ? t->optim_name : "none");
    for (int i = 0; ok && i < t->nparams && t->nslots > 0; i++) {
        hid_t pg = H5Gcreate2(g, t->params[i].name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        ok = pg >= 0;
        for (int s = 0; ok && s < t->nslots; s++)
            ok = write_tensor(pg, t->slot_names[s], &t->params[i].shape,
                              t->slot_data[s] + t->params[i].offset);
        if (pg >= 0)
            H5Gclose(pg);
    }
    if (g >= 0)
        H5Gclose(g);
    return ok;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    int ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* Write all of buf to path and fsync it; 0 or an errno. */
static int write_file(const char *path, const unsigned char *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), err = 0;
    if (fd < 0)
        return errno;
    while (n > 0 && !err) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            err = w < 0 ? errno : ENOSPC;
        else
            buf += w, n -= (size_t)w;
    }
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    return err;
}

/* The core driver's growth step: about the whole file, so the image is
 * allocated once; a fixed large step costs every small checkpoint the zeroing
 * of memory it never uses (0.1 s for 64 MiB). */
static size_t image_increment(const dlt_ckpt_tensors *t, const dlt_ckpt_state *st)
{
    size_t bytes = (size_t)1 << 20; /* metadata, object headers, state, job text */
    for (int i = 0; i < t->nparams; i++)
        bytes += (size_t)(1 + t->nslots) * (t->params[i].numel * sizeof(float) + 1024);
    for (int i = 0; i < t->nbuffers; i++)
        bytes += t->buffers[i].numel * sizeof(float) + 1024;
    bytes += st->job_text ? strlen(st->job_text) : 0;
    return bytes;
}

dlt_status dlt_ckpt_save(const char *dir, const dlt_ckpt_tensors *t, const dlt_ckpt_state *st,
                         char *path_out, size_t path_len)
{
    char path[4096], tmp[4200], link_tmp[4200], link[4200], name[64], created[64];
    ckpt_h5_quiet q;
    time_t now = time(NULL);
    struct tm tmv;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return dlt_seterr(DLT_ERR_IO, "%s: cannot create the checkpoint directory: %s", dir,
                          strerror(errno));
    snprintf(name, sizeof name, "ckpt-%08lld.h5", (long long)st->step);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tmv));

    /* The file is built in memory (HDF5 core driver) and written out with plain
     * write/fsync: HDF5 1.10 cannot close a file whose flush failed (a full disk)
     * without crashing later, and this way every I/O error is ours to report.
     * Costs a transient copy of the checkpoint in host memory. */
    ckpt_h5_quiet_begin(&q);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, image_increment(t, st), 0) >= 0
                  ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                  : -1;
    if (fapl >= 0)
        H5Pclose(fapl);
    int ok = f >= 0;
    ok = ok && ckpt_attr_write_str(f, "format", DLT_CKPT_FORMAT) &&
         ckpt_attr_write_i64(f, "version", DLT_CKPT_VERSION) &&
         ckpt_attr_write_str(f, "dltrain_version", dlt_version()) &&
         ckpt_attr_write_i64(f, "world_size", st->world_size) &&
         ckpt_attr_write_i64(f, "step", st->step) && ckpt_attr_write_str(f, "created", created) &&
         ckpt_attr_write_str(f, "job", st->job_text ? st->job_text : "") &&
         ckpt_attr_write_str(f, "checksum_algorithm", "crc32") &&
         ckpt_attr_write_i64(f, "job_crc32",
                             dlt_crc32(0, st->job_text ? st->job_text : "", st->job_text ? strlen(st->job_text) : 0));
    ok = ok && write_group(f, "params", t->nparams, t->params, t->param_data);
    ok = ok && write_group(f, "buffers", t->nbuffers, t->buffers, t->buffer_data);
    ok = ok && write_optim(f, t);
    ok = ok && write_state(f, st);
    ok = ok && ckpt_write_meta(f, st->model, st->best_metric_name, st->best_higher_is_better);
    unsigned char *image = NULL;
    ssize_t size = 0;
    if (f >= 0) {
        ok = ok && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0;
        size = ok ? H5Fget_file_image(f, NULL, 0) : -1;
        image = size > 0 ? malloc((size_t)size) : NULL;
        ok = ok && image && H5Fget_file_image(f, image, (size_t)size) == size;
        ok = (H5Fclose(f) >= 0) && ok;
    }
    ckpt_h5_quiet_end(&q);
    if (!ok) {
        free(image);
        return dlt_seterr(DLT_ERR_IO, "%s: building the checkpoint failed (HDF5 error or out of memory)",
                          path);
    }
    int err = write_file(tmp, image, (size_t)size);
    free(image);
    if (err) {
        unlink(tmp);
        return dlt_seterr(DLT_ERR_IO, "%s: writing the checkpoint failed (%s); earlier checkpoints are intact",
                          path, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        return dlt_seterr(DLT_ERR_IO, "%s: rename failed: %s", path, strerror(err));
    }
    fsync_path(dir);
    /* `latest` moves last, atomically, so it never names an incomplete file */
    snprintf(link, sizeof link, "%s/latest", dir);
    snprintf(link_tmp, sizeof link_tmp, "%s/.latest.tmp.%d", dir, (int)getpid());
    unlink(link_tmp);
    if (symlink(name, link_tmp) != 0 || rename(link_tmp, link) != 0) {
        err = errno;
        unlink(link_tmp);
        return dlt_seterr(DLT_ERR_IO, "%s: cannot update the 'latest' link: %s", link, strerror(err));
    }
    fsync_path(dir);
    if (path_out)
        snprintf(path_out, path_len, "%s", path);
    return DLT_OK;
}
