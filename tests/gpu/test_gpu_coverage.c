/* Every op in the op table (dlt_op_list.h) that has a CPU kernel has a CUDA
 * kernel, so a model that trains on the CPU can be placed on the GPU; the
 * only ops without one are listed below with the reason. Ops without a CPU
 * kernel (views: reshape, stop_gradient) need none on any backend. Also checks
 * the table itself: one def per id, in order, with unique names. Runs without
 * a device (kernel lists only) in CUDA builds, SKIP (77) in CPU-only builds;
 * emu_coverage runs it on the emulated kernel lists (tests/gpu/emu). A new op
 * without a CUDA kernel fails here, naming the op and its family. */
#include <stdio.h>
#include <string.h>

#include "dlt_gpu.h"
#include "dlt_opdef.h"

/* Ops with a CPU kernel and deliberately no CUDA kernel: {name, why}. None
 * today; an entry needs a reason a reader can check. */
static const char *const exceptions[][2] = {
    {NULL, NULL},
};

static int excepted(const char *name)
{
    for (size_t i = 0; exceptions[i][0]; i++)
        if (!strcmp(exceptions[i][0], name))
            return 1;
    return 0;
}

static int check_table(void)
{
    int bad = 0;
    for (int id = 0; id < DLT_OP_COUNT; id++) {
        const dlt_op_def *op = dlt_op_table[id];
        if (!op || (int)op->id != id || !op->name || !*dlt_op_family(id)) {
            printf("FAIL op table row %d: %s\n", id, op ? "wrong id, name or family" : "no definition");
            bad++;
            continue;
        }
        for (int j = 0; j < id; j++)
            if (dlt_op_table[j] && !strcmp(dlt_op_table[j]->name, op->name)) {
                printf("FAIL op table rows %d and %d are both '%s'\n", j, id, op->name);
                bad++;
            }
        if (!op->cpu && !(op->flags & DLT_OP_VIEW)) {
            printf("FAIL op '%s' has no CPU kernel and is not a view\n", op->name);
            bad++;
        }
    }
    if (!bad)
        printf("ok   op table: %d ops, one row each, ids in order\n", DLT_OP_COUNT);
    return bad;
}

int main(void)
{
    int bad = check_table(), covered = 0, none = 0;
    if (!dlt_gpu_built()) {
        printf("SKIP: built without CUDA\n");
        return bad ? 1 : 77;
    }
    if (dlt_gpu_has_kernel(-1) != 0 || dlt_gpu_has_kernel(DLT_OP_COUNT) != 0 ||
        dlt_gpu_has_kernel(DLT_OP_CONV2D) != 1) {
        printf("FAIL: the kernel lookup itself is wrong (an op listed twice, or ids out of range)\n");
        return 1;
    }
    for (int id = 0; id < DLT_OP_COUNT; id++) {
        const dlt_op_def *op = dlt_op_table[id];
        int has = dlt_gpu_has_kernel(id);
        if (!op)
            continue;
        if (!op->cpu) {
            none++;
            if (has) {
                printf("FAIL op '%s' (%s) has no CPU kernel but a CUDA kernel\n", op->name, dlt_op_family(id));
                bad++;
            }
            continue;
        }
        if (has && excepted(op->name)) {
            printf("FAIL op '%s' is listed as an exception but has a CUDA kernel\n", op->name);
            bad++;
        } else if (!has && !excepted(op->name)) {
            printf("FAIL op '%s' (%s) has a CPU kernel and no CUDA kernel\n", op->name, dlt_op_family(id));
            bad++;
        }
        covered += has;
    }
    printf("%d ops: %d with CPU and CUDA kernels, %d views without kernels\n", DLT_OP_COUNT, covered, none);
    printf("%s\n", bad ? "some ops have no CUDA kernel" : "every op with a CPU kernel has a CUDA kernel");
    return bad ? 1 : 0;
}
