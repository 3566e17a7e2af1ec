/* The messages of the GPU kernels' input-error flag (gpu_flag.h). */
#include "gpu_flag.h"

dlt_status dlt_gpu_flag_error(const dlt_gpu_flag *f)
{
    long long pos = (long long)f->pos - 1;
    switch (f->what) {
    case DLT_BAD_TAKE:
    case DLT_BAD_GATHER:
        return dlt_seterr(DLT_ERR_INVALID, "%s: index %d at position %lld is out of range (the GPU kernel wrote zeros)",
                          f->what == DLT_BAD_TAKE ? "take" : "gather", f->val, pos);
    case DLT_BAD_TAKE_GRAD:
    case DLT_BAD_SCATTER:
        return dlt_seterr(DLT_ERR_INVALID, "%s: index %d at position %lld is out of range (the GPU kernel skipped it)",
                          f->what == DLT_BAD_TAKE_GRAD ? "take_grad" : "scatter_add", f->val, pos);
    case DLT_BAD_LABEL:
        return dlt_seterr(DLT_ERR_INVALID,
                          "cross_entropy: label %d at position %lld is out of range (the GPU kernel gave NaN)", f->val,
                          pos);
    case DLT_BAD_KEY_LENGTH:
        return dlt_seterr(DLT_ERR_INVALID,
                          "attention: key length %d of batch row %lld is outside [0, keys] (the GPU kernel clamped it)",
                          f->val, pos);
    default:
        return dlt_seterr(DLT_ERR_INTERNAL, "GPU: unknown input error %d (value %d at position %lld)", f->what,
                          f->val, pos);
    }
}
