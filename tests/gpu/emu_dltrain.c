/* dltrain whose "cuda" device under DLT_TEST_STANDIN_DEVICE=1 is the emulated
 * CUDA backend (tests/gpu/emu): the real trainer and command line on the real
 * kernel sources, for tests/gpu/test_emu_train.sh. src/tools/dltrain.c is
 * built into this program with its main renamed dltrain_main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_train.h"

#undef main
int dltrain_main(int argc, char **argv);

int main(int argc, char **argv)
{
    const char *env = getenv("DLT_TEST_STANDIN_DEVICE");
    if (!env || strcmp(env, "1") != 0) /* dltrain as it is */
        return dltrain_main(argc, argv);
    dlt_gpu *gpu = NULL;
    if (dlt_gpu_open(0, &gpu) != DLT_OK) { /* the emulated device (EMU_CPPFLAGS) */
        fprintf(stderr, "emu_dltrain: %s\n", dlt_errmsg());
        return 1;
    }
    dlt_train_set_device_backend(dlt_gpu_backend(gpu));
    int rc = dltrain_main(argc, argv);
    dlt_gpu_close(gpu);
    return rc;
}
