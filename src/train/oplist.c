/* dltrain --list-ops: the op table (dlt_op_list.h) with the backends that
 * implement each op, read from the table itself and the CUDA backend's
 * kernel lists, so the listing cannot drift from the code. */
#include "dlt_train.h"

#include "dlt_gpu.h"
#include "dlt_opdef.h"

void dlt_print_ops(FILE *out)
{
    int cuda = dlt_gpu_built();
    fprintf(out, "# %d ops. family: src/ops/<family>.c holds the op; cpu, cuda: a kernel (view: none, the\n"
                 "# output aliases the input; -: backend not in this build); grad: a gradient rule\n"
                 "# (backward through the op); cuda source: the file of its CUDA kernel\n",
            DLT_OP_COUNT);
    fprintf(out, "%-30s %-13s %-5s %-5s %-5s %s\n", "op", "family", "cpu", "cuda", "grad", "cuda source");
    for (int id = 0; id < DLT_OP_COUNT; id++) {
        const dlt_op_def *op = dlt_op_table[id];
        int view = !op->cpu && (op->flags & DLT_OP_VIEW);
        const char *c = view ? "view" : op->cpu ? "yes" : "no";
        const char *cu = view ? "view" : !cuda ? "-" : dlt_gpu_has_kernel(id) == 1 ? "yes" : "no";
        char src[64] = "-";
        if (!view)
            snprintf(src, sizeof src, "src/gpu/k_%s.cu", dlt_op_cuda_file(id));
        fprintf(out, "%-30s %-13s %-5s %-5s %-5s %s\n", op->name, dlt_op_family(id), c, cu, op->grad ? "yes" : "no",
                src);
    }
}
