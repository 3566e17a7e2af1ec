/* dltrain for tests: under DLT_TEST_STANDIN_DEVICE=1 a "cuda" job runs on the
 * stand-in device (tests/standin.c: host blocks as device memory, the CPU
 * kernels, MPI), so the trainer's whole device path runs without a GPU;
 * otherwise it is dltrain. DLT_TEST_STOP_AFTER_UPDATES=N stops a phased run
 * after N phase updates as a SIGTERM would (dlt_train_set_stop_after). src/tools/dltrain.c is built into this program
 * with its main renamed dltrain_main (tests/gpu/emu_dltrain.h). */
#include <stdlib.h>
#include <string.h>

#include "dlt_train.h"
#include "standin.h"

#undef main
int dltrain_main(int argc, char **argv);

int main(int argc, char **argv)
{
    const char *env = getenv("DLT_TEST_STANDIN_DEVICE");
    if (env && strcmp(env, "1") == 0)
        dlt_train_set_device_backend(dlt_standin_backend());
    /* a deterministic stop between the phases of a GAN (test_gan.sh) */
    const char *stop = getenv("DLT_TEST_STOP_AFTER_UPDATES");
    if (stop)
        dlt_train_set_stop_after(atoll(stop));
    return dltrain_main(argc, argv);
}
