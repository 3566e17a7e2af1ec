/* The GPU interface when dltrain is built without CUDA. */
#include "dlt_gpu.h"

int dlt_gpu_built(void) { return 0; }
int dlt_gpu_device_count(void) { return 0; }

void dlt_gpu_get_versions(dlt_gpu_versions *v)
{
    v->runtime = v->driver = v->cudnn = v->nccl = v->cublas = 0;
}

void dlt_gpu_device_name(int dev, char *buf, size_t len)
{
    (void)dev;
    if (len)
        buf[0] = '\0';
}

dlt_status dlt_gpu_selftest_axpy(size_t n, float a, const float *x, float *y)
{
    (void)n, (void)a, (void)x, (void)y;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "dltrain was built without CUDA (configure --with-cuda)");
}

dlt_status dlt_gpu_open(int device, dlt_gpu **out)
{
    (void)device;
    *out = NULL;
    return dlt_seterr(DLT_ERR_UNSUPPORTED, "dltrain was built without CUDA (configure --with-cuda)");
}

void dlt_gpu_close(dlt_gpu *gpu) { (void)gpu; }
struct dlt_backend *dlt_gpu_backend(dlt_gpu *gpu) { (void)gpu; return NULL; }
void dlt_gpu_set_precision(dlt_gpu *gpu, dlt_precision p) { (void)gpu, (void)p; }
void *dlt_gpu_stream(dlt_gpu *gpu) { (void)gpu; return NULL; }

int dlt_gpu_has_kernel(int op)
{
    (void)op;
    return 0;
}
