/* dltrain --list-ops: the op table (dlt_op_list.h) with the backends that
 * implement each op, read from the table itself and the CUDA backend's
 * kernel lists, so the listing cannot drift from the code. */
#include "dlt_train.h"

#include "dlt_gpu.h"
#include "dlt_opdef.h"

void dlt_print_ops(FILE *out)
{
    int cuda = dlt_gpu_built();
    fprintf(out, "# %d ops. cpu, cuda: forward kernel (view: no kernel, the output aliases the input;\n"
                 "# -: backend not in this build); grad: a gradient rule (backward through the op)\n",
            DLT_OP_COUNT);
    fprintf(out, "%-30s %-13s %-5s %-5s %s\n", "op", "family", "cpu", "cuda", "grad");
    for (int id = 0; id < DLT_OP_COUNT; id++) {
        const dlt_op_def *op = dlt_op_table[id];
        int view = !op->cpu && (op->flags & DLT_OP_VIEW);
        const char *c = view ? "view" : op->cpu ? "yes" : "no";
        const char *cu = view ? "view" : !cuda ? "-" : dlt_gpu_has_kernel(id) == 1 ? "yes" : "no";
        fprintf(out, "%-30s %-13s %-5s %-5s %s\n", op->name, dlt_op_family(id), c, cu, op->grad ? "yes" : "no");
    }
}
