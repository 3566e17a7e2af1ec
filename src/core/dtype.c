/* Element type sizes and names. */
#include "dlt_base.h"

#include <string.h>

#include "config.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[DLT_NDTYPES] = {
    [DLT_F32] = {"f32", 4}, [DLT_F16] = {"f16", 2}, [DLT_BF16] = {"bf16", 2},
    [DLT_I32] = {"i32", 4}, [DLT_I64] = {"i64", 8}, [DLT_U8] = {"u8", 1},
};

size_t dlt_dtype_size(dlt_dtype t) { return (unsigned)t < DLT_NDTYPES ? dtypes[t].size : 0; }

const char *dlt_dtype_name(dlt_dtype t)
{
    return (unsigned)t < DLT_NDTYPES ? dtypes[t].name : "?";
}

dlt_status dlt_dtype_parse(const char *name, dlt_dtype *t)
{
    for (int i = 0; i < DLT_NDTYPES; i++)
        if (strcmp(name, dtypes[i].name) == 0) {
            *t = (dlt_dtype)i;
            return DLT_OK;
        }
    return dlt_seterr(DLT_ERR_INVALID, "unknown dtype '%s' (expected f32, f16, bf16, i32, i64 or u8)",
                      name);
}

const char *dlt_version(void) { return PACKAGE_VERSION; }
