/* The op table: every op's definition by id, its family and the file of its
 * CUDA kernel, all from the one list in dlt_op_list.h. */
#include "dlt_opdef.h"

const dlt_op_def *const dlt_op_table[DLT_OP_COUNT] = {
#define DLT_OP_ROW_(id, name, family, cuda) [DLT_OP_##id] = &dlt_op_def_##name,
    DLT_OP_LIST(DLT_OP_ROW_)
#undef DLT_OP_ROW_
};

static const char *const families[DLT_OP_COUNT] = {
#define DLT_OP_FAMILY_(id, name, family, cuda) [DLT_OP_##id] = #family,
    DLT_OP_LIST(DLT_OP_FAMILY_)
#undef DLT_OP_FAMILY_
};

static const char *const cuda_files[DLT_OP_COUNT] = {
#define DLT_OP_CUDA_(id, name, family, cuda) [DLT_OP_##id] = #cuda,
    DLT_OP_LIST(DLT_OP_CUDA_)
#undef DLT_OP_CUDA_
};

const char *dlt_op_family(int id)
{
    return id >= 0 && id < DLT_OP_COUNT ? families[id] : "";
}

const char *dlt_op_cuda_file(int id)
{
    return id >= 0 && id < DLT_OP_COUNT ? cuda_files[id] : "";
}
