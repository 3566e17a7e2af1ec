/* Reading a checkpoint's /model attributes (dlt_ckpt_model.h) on their own,
 * through the same attribute reader the safetensors export uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt_h5.h"
#include "dlt_ckpt.h"
#include "dlt_ckpt_model.h"

dlt_status dlt_ckpt_read_model(const char *path,
                               void (*fn)(const char *key, const char *value, void *user),
                               void *user)
{
    dlt_status st = dlt_check_regular_file(path);
    if (st != DLT_OK)
        return dlt_adderr(st, "%s: cannot open checkpoint", path);
    ckpt_h5_quiet q;
    ckpt_h5_quiet_begin(&q);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    char *fmt = f >= 0 ? ckpt_attr_read_str(f, "format") : NULL;
    if (f < 0 && access(path, R_OK) != 0)
        st = dlt_seterr(DLT_ERR_NOTFOUND, "%s: cannot open checkpoint: %s", path, strerror(errno));
    else if (f < 0)
        st = dlt_seterr(DLT_ERR_IO, "%s: not an HDF5 file or truncated", path);
    else if (!fmt || strcmp(fmt, DLT_CKPT_FORMAT) != 0)
        st = dlt_seterr(DLT_ERR_IO, "%s: not a dltrain checkpoint (format attribute '%s')", path,
                        fmt ? fmt : "missing");
    else
        ckpt_read_model(f, fn, user); /* 0: no /model, nothing to report */
    free(fmt);
    if (f >= 0)
        H5Fclose(f);
    ckpt_h5_quiet_end(&q);
    return st;
}
