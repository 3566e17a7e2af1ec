/* Tensor descriptors. */
#include <stdio.h>
#include <string.h>

#include "dlt_core.h"

dlt_shape dlt_shape_make(dlt_dtype dtype, int ndim, const int64_t *dims)
{
    dlt_shape s;
    memset(&s, 0, sizeof s);
    s.dtype = dtype;
    s.ndim = ndim < 0 ? 0 : ndim > DLT_MAX_DIMS ? DLT_MAX_DIMS : ndim;
    for (int i = 0; i < s.ndim; i++)
        s.dim[i] = dims[i];
    s.device = DLT_DEV_CPU;
    return s;
}

int64_t dlt_shape_numel(const dlt_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dim[i];
    return n;
}

size_t dlt_shape_bytes(const dlt_shape *s)
{
    return (size_t)dlt_shape_numel(s) * dlt_dtype_size(s->dtype);
}

int dlt_shape_equal(const dlt_shape *a, const dlt_shape *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

char *dlt_shape_str(const dlt_shape *s, char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0)
        return buf;
    n += (size_t)snprintf(buf, len, "%s[", dlt_dtype_name(s->dtype));
    for (int i = 0; i < s->ndim && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ",%lld" : "%lld", (long long)s->dim[i]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}
