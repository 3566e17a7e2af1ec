/* Build information for --version: every enabled part with its version. */
#include "dlt_train.h"

#include <cblas.h>
#include <hdf5.h>

#include "config.h"
#include "dlt_comm.h"
#include "dlt_gpu.h"
#include "dlt_opdef.h"
#include "dlt_ops.h"

static void cuda_ver(char *buf, size_t len, int v)
{
    if (v <= 0)
        snprintf(buf, len, "not available");
    else
        snprintf(buf, len, "%d.%d", v / 1000, (v % 1000) / 10);
}

void dlt_print_build_info(FILE *out, const char *prog)
{
    unsigned maj, min, rel;
    char mpi[256], rt[32], drv[32];
    fprintf(out, "%s %s\n", prog, dlt_version());
    fprintf(out, "  BLAS     : %s, %d threads\n", openblas_get_config(), openblas_get_num_threads());
    dlt_mpi_version(mpi, sizeof mpi);
    fprintf(out, "  MPI      : %s\n", mpi);
    H5get_libversion(&maj, &min, &rel);
    fprintf(out, "  HDF5     : %u.%u.%u\n", maj, min, rel);
    char conv[256];
    dlt_conv_provider_info(conv, sizeof conv);
    fprintf(out, "  conv CPU : %s\n", conv);
    dlt_gemm_provider_info(conv, sizeof conv);
    fprintf(out, "  GEMM CPU : %s\n", conv);
    dlt_hugepages_info(conv, sizeof conv);
    fprintf(out, "  memory   : %s\n", conv);
    const char *slow = dlt_gemm_warning();
    if (slow)
        fprintf(out, "  warning  : %s\n", slow);
    if (!dlt_gpu_built()) {
        fprintf(out, "  CUDA     : not built (configure --with-cuda)\n");
        return;
    }
    dlt_gpu_versions v;
    dlt_gpu_get_versions(&v);
    cuda_ver(rt, sizeof rt, v.runtime);
    cuda_ver(drv, sizeof drv, v.driver);
    int ndev = dlt_gpu_device_count();
    fprintf(out, "  CUDA     : runtime %s, driver %s", rt, drv);
    if (ndev == 0) {
        fprintf(out, ", no CUDA device\n");
    } else {
        char name[128];
        dlt_gpu_device_name(0, name, sizeof name);
        fprintf(out, ", %d device%s (%s)\n", ndev, ndev > 1 ? "s" : "", name);
    }
    fprintf(out, "  cuBLAS   : %d.%d.%d\n", v.cublas / 10000, v.cublas / 100 % 100, v.cublas % 100);
    fprintf(out, "  cuDNN    : %d.%d.%d\n", v.cudnn / 10000, v.cudnn / 100 % 100, v.cudnn % 100);
    fprintf(out, "  NCCL     : %d.%d.%d\n", v.nccl / 10000, v.nccl / 100 % 100, v.nccl % 100);
}
