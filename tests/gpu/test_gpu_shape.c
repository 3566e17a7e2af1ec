/* Shape family on the GPU against the CPU (gpu_check.h): permute (tiled
 * transposes, the strided path, wide-word copies), concat, split, slice, pad,
 * pad_reflect and its adjoint, take/embedding/take_grad, gather/scatter_add,
 * in f32 and in the integer dtypes the CPU moves (i32 inputs; u8 and i64
 * constants), plus second-order cases for the adjoint kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_check.h"

#define TOL 1e-6 /* data movement is exact; only the scatter-adds round */
#define TOL_ADD 1e-5

/* ---------------------------------------------------------------- helpers */
typedef struct {
    int ndim;
    int64_t dims[DLT_MAX_DIMS];
    int perm[DLT_MAX_DIMS];
    int dtype; /* DLT_F32 (input), DLT_I32 (input), DLT_U8 / DLT_I64 (constant) */
} perm_case;

/* A tensor of the case's dtype: a random input for f32/i32, a patterned constant otherwise. */
static dlt_t make_x(dlt_graph *g, const char *name, int ndim, const int64_t *dims, int dtype)
{
    if (dtype == DLT_F32)
        return gc_input(g, name, ndim, dims, -1, 1);
    if (dtype == DLT_I32)
        return gc_input_int(g, name, ndim, dims, -1000, 1000);
    dlt_shape s = dlt_shape_make((dlt_dtype)dtype, ndim, dims);
    size_t n = (size_t)dlt_shape_numel(&s);
    dlt_t v = -1;
    if (dtype == DLT_U8) {
        uint8_t *d = malloc(n ? n : 1);
        for (size_t i = 0; d && i < n; i++)
            d[i] = (uint8_t)(i * 37u + 11u);
        v = d ? dlt_constant(g, DLT_U8, ndim, dims, d) : -1;
        free(d);
    } else {
        int64_t *d = malloc((n ? n : 1) * sizeof *d);
        for (size_t i = 0; d && i < n; i++)
            d[i] = (int64_t)(i * 0x9e3779b97f4a7c15ull >> 3) - 77; /* all 8 bytes vary */
        v = d ? dlt_constant(g, DLT_I64, ndim, dims, d) : -1;
        free(d);
    }
    return v;
}

static int build_permute(dlt_graph *g, dlt_t *outs, void *user)
{
    const perm_case *c = user;
    dlt_t x = make_x(g, "x", c->ndim, c->dims, c->dtype);
    outs[0] = dlt_permute(g, x, c->ndim, c->perm);
    return outs[0] >= 0;
}

static void check_permute(const char *name, int ndim, const int64_t *dims, const int *perm,
                          int dtype)
{
    perm_case c;
    memset(&c, 0, sizeof c);
    c.ndim = ndim;
    c.dtype = dtype;
    memcpy(c.dims, dims, (size_t)ndim * sizeof *dims);
    memcpy(c.perm, perm, (size_t)ndim * sizeof *perm);
    gc_check(name, build_permute, &c, TOL);
}

static void permute_cases(void)
{
    /* the last two axes: the tiled kernel, tiles cut at 37 and 45 */
    check_permute("permute [3,37,45] (0,2,1)", 3, (int64_t[]){3, 37, 45}, (int[]){0, 2, 1},
                  DLT_F32);
    check_permute("permute [130,257] (1,0)", 2, (int64_t[]){130, 257}, (int[]){1, 0}, DLT_F32);
    check_permute("permute [1,1] (1,0)", 2, (int64_t[]){1, 1}, (int[]){1, 0}, DLT_F32);
    check_permute("permute [2,64,3,32] (0,2,3,1)", 4, (int64_t[]){2, 64, 3, 32},
                  (int[]){0, 2, 3, 1}, DLT_F32);
    /* [B,T,H,D] -> [B,H,T,D]: rows of D contiguous on both sides (wide words for D = 8) */
    check_permute("permute [2,5,3,8] (0,2,1,3)", 4, (int64_t[]){2, 5, 3, 8}, (int[]){0, 2, 1, 3},
                  DLT_F32);
    check_permute("permute [2,5,3,7] (0,2,1,3)", 4, (int64_t[]){2, 5, 3, 7}, (int[]){0, 2, 1, 3},
                  DLT_F32);
    check_permute("permute [17,19,4] (1,0,2)", 3, (int64_t[]){17, 19, 4}, (int[]){1, 0, 2},
                  DLT_F32);
    /* neither side contiguous in the inner axis: the element-wise kernel */
    check_permute("permute [4,1,6,33] (3,0,2,1)", 4, (int64_t[]){4, 1, 6, 33}, (int[]){3, 0, 2, 1},
                  DLT_F32);
    check_permute("permute [3,4,5] (2,1,0)", 3, (int64_t[]){3, 4, 5}, (int[]){2, 1, 0}, DLT_F32);
    check_permute("permute rank 8 reversed", 8, (int64_t[]){2, 3, 1, 2, 3, 2, 1, 5},
                  (int[]){7, 6, 5, 4, 3, 2, 1, 0}, DLT_F32);
    check_permute("permute rank 8 mixed", 8, (int64_t[]){2, 3, 2, 2, 3, 2, 2, 5},
                  (int[]){0, 2, 4, 6, 1, 3, 5, 7}, DLT_F32);
    /* other element sizes */
    check_permute("permute i32 [5,7,9] (2,0,1)", 3, (int64_t[]){5, 7, 9}, (int[]){2, 0, 1},
                  DLT_I32);
    check_permute("permute i32 [6,5,3] (1,0,2)", 3, (int64_t[]){6, 5, 3}, (int[]){1, 0, 2},
                  DLT_I32);
    check_permute("permute u8 [3,33,34] (0,2,1)", 3, (int64_t[]){3, 33, 34}, (int[]){0, 2, 1},
                  DLT_U8);
    check_permute("permute u8 [4,5,6] (2,0,1)", 3, (int64_t[]){4, 5, 6}, (int[]){2, 0, 1}, DLT_U8);
    check_permute("permute i64 [2,35,33] (0,2,1)", 3, (int64_t[]){2, 35, 33}, (int[]){0, 2, 1},
                  DLT_I64);
    check_permute("permute i64 [5,4,3] (1,0,2)", 3, (int64_t[]){5, 4, 3}, (int[]){1, 0, 2},
                  DLT_I64);
}

/* ---------------------------------------------------------------- concat / split */
typedef struct {
    int n, axis, ndim, dtype;
    int64_t dims[DLT_MAX_DIMS]; /* of part 0; part i has sizes[i] along axis */
    int64_t sizes[16];
} cat_case;

static int build_concat(dlt_graph *g, dlt_t *outs, void *user)
{
    const cat_case *c = user;
    dlt_t xs[16];
    for (int i = 0; i < c->n; i++) {
        int64_t d[DLT_MAX_DIMS];
        char name[16];
        memcpy(d, c->dims, sizeof d);
        d[c->axis < 0 ? c->axis + c->ndim : c->axis] = c->sizes[i];
        snprintf(name, sizeof name, "x%d", i);
        xs[i] = make_x(g, name, c->ndim, d, c->dtype);
    }
    outs[0] = dlt_concat(g, c->n, xs, c->axis);
    return outs[0] >= 0;
}

/* up to 4 parts come back as outputs; the others get no gradient (zeros) */
static int build_split(dlt_graph *g, dlt_t *outs, void *user)
{
    const cat_case *c = user;
    dlt_t parts[16];
    dlt_t x = make_x(g, "x", c->ndim, c->dims, c->dtype);
    if (dlt_split(g, x, c->axis, c->n, c->sizes[0] ? c->sizes : NULL, parts) < 0)
        return 0;
    int k = c->n < 4 ? c->n : 4;
    if (c->n > 4) /* skip part 1 so an output without a gradient sits mid-node */
        for (int i = 1; i < k; i++)
            parts[i] = parts[i + 1];
    memcpy(outs, parts, (size_t)k * sizeof *outs);
    return k;
}

static void concat_cases(void)
{
    cat_case c;
    c = (cat_case){
        .n = 3, .axis = 0, .ndim = 2, .dtype = DLT_F32, .dims = {0, 5}, .sizes = {3, 2, 1}};
    gc_check("concat axis 0 [3|2|1,5]", build_concat, &c, TOL);
    c = (cat_case){
        .n = 3, .axis = 1, .ndim = 3, .dtype = DLT_F32, .dims = {2, 0, 4}, .sizes = {3, 1, 5}};
    gc_check("concat axis 1 [2,3|1|5,4]", build_concat, &c, TOL);
    c = (cat_case){
        .n = 2, .axis = -1, .ndim = 2, .dtype = DLT_F32, .dims = {3, 0}, .sizes = {7, 1}};
    gc_check("concat axis -1 [3,7|1]", build_concat, &c, TOL);
    c = (cat_case){
        .n = 2, .axis = 1, .ndim = 3, .dtype = DLT_F32, .dims = {3, 0, 64}, .sizes = {33, 31}};
    gc_check("concat axis 1 [3,33|31,64] (wide words)", build_concat, &c, TOL);
    c = (cat_case){.n = 11,
                   .axis = 1,
                   .ndim = 3,
                   .dtype = DLT_F32,
                   .dims = {2, 0, 3},
                   .sizes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}};
    gc_check("concat 11 inputs (chained)", build_concat, &c, TOL);
    c = (cat_case){.n = 3, .axis = 0, .ndim = 1, .dtype = DLT_F32, .dims = {0}, .sizes = {1, 1, 1}};
    gc_check("concat rank 1 [1|1|1]", build_concat, &c, TOL);
    c = (cat_case){
        .n = 3, .axis = 2, .ndim = 3, .dtype = DLT_I32, .dims = {4, 3, 0}, .sizes = {2, 5, 1}};
    gc_check("concat i32 axis 2", build_concat, &c, TOL);
    c = (cat_case){.n = 2, .axis = 1, .ndim = 2, .dtype = DLT_U8, .dims = {5, 0}, .sizes = {3, 6}};
    gc_check("concat u8 axis 1", build_concat, &c, TOL);
    c = (cat_case){.n = 2, .axis = 0, .ndim = 2, .dtype = DLT_I64, .dims = {0, 3}, .sizes = {2, 5}};
    gc_check("concat i64 axis 0", build_concat, &c, TOL);

    c = (cat_case){.n = 2, .axis = 0, .ndim = 2, .dtype = DLT_F32, .dims = {6, 5}};
    gc_check("split2 equal axis 0", build_split, &c, TOL);
    c = (cat_case){
        .n = 3, .axis = 1, .ndim = 3, .dtype = DLT_F32, .dims = {4, 10, 3}, .sizes = {2, 5, 3}};
    gc_check("split3 axis 1 (2,5,3)", build_split, &c, TOL);
    c = (cat_case){
        .n = 4, .axis = -1, .ndim = 2, .dtype = DLT_F32, .dims = {3, 13}, .sizes = {1, 4, 7, 1}};
    gc_check("split4 axis -1 (1,4,7,1)", build_split, &c, TOL);
    c = (cat_case){.n = 6,
                   .axis = 1,
                   .ndim = 3,
                   .dtype = DLT_F32,
                   .dims = {2, 21, 5},
                   .sizes = {1, 2, 3, 4, 5, 6}};
    gc_check("split 6 parts (chained, one part unused)", build_split, &c, TOL);
    c = (cat_case){
        .n = 3, .axis = 0, .ndim = 2, .dtype = DLT_I32, .dims = {7, 3}, .sizes = {2, 4, 1}};
    gc_check("split3 i32 axis 0", build_split, &c, TOL);
    c = (cat_case){.n = 2, .axis = 1, .ndim = 2, .dtype = DLT_U8, .dims = {3, 9}, .sizes = {4, 5}};
    gc_check("split2 u8 axis 1", build_split, &c, TOL);
}

/* ---------------------------------------------------------------- slice / pad */
typedef struct {
    int ndim, dtype;
    int64_t dims[DLT_MAX_DIMS], a[DLT_MAX_DIMS], b[DLT_MAX_DIMS], step[DLT_MAX_DIMS];
    float value;
    int reflect;
} sp_case;

static int build_slice(dlt_graph *g, dlt_t *outs, void *user)
{
    const sp_case *c = user;
    dlt_t x = make_x(g, "x", c->ndim, c->dims, c->dtype);
    outs[0] = dlt_slice(g, x, c->a, c->b, c->step);
    return outs[0] >= 0;
}

static int build_pad(dlt_graph *g, dlt_t *outs, void *user)
{
    const sp_case *c = user;
    dlt_t x = make_x(g, "x", c->ndim, c->dims, c->dtype);
    outs[0] = dlt_pad(g, x, c->a, c->b, c->reflect ? DLT_PAD_REFLECT : DLT_PAD_CONSTANT, c->value);
    return outs[0] >= 0;
}

/* pad_reflect_grad as an output (its own gradient is pad_reflect) */
static int build_pad_reflect_2nd(dlt_graph *g, dlt_t *outs, void *user)
{
    const sp_case *c = user;
    dlt_t x = gc_input(g, "x", c->ndim, c->dims, -1, 1);
    dlt_t y = dlt_pad(g, x, c->a, c->b, DLT_PAD_REFLECT, 0);
    const dlt_shape *sy = dlt_shape_of(g, y);
    if (!sy)
        return 0;
    dlt_t w = gc_input(g, "w", sy->ndim, sy->dim, -1, 1);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, w), 0, NULL, 0);
    if (dlt_grad(g, loss, 1, &x, &outs[0]) != DLT_OK)
        return 0;
    return outs[0] >= 0;
}

#define E DLT_SLICE_END
static void slice_pad_cases(void)
{
    sp_case c;
    c = (sp_case){.ndim = 3,
                  .dtype = DLT_F32,
                  .dims = {7, 9, 11},
                  .a = {1, 0, 2},
                  .b = {6, E, -1},
                  .step = {2, 1, 3}};
    gc_check("slice [7,9,11] [1:6:2, :, 2:-1:3]", build_slice, &c, TOL);
    c = (sp_case){
        .ndim = 2, .dtype = DLT_F32, .dims = {5, 40}, .a = {0, 3}, .b = {E, 35}, .step = {1, 1}};
    gc_check("slice [5,40] [:, 3:35]", build_slice, &c, TOL);
    c = (sp_case){.ndim = 4,
                  .dtype = DLT_F32,
                  .dims = {2, 3, 8, 9},
                  .a = {0, -2, 1, 0},
                  .b = {1, E, 7, E},
                  .step = {1, 1, 1, 2}};
    gc_check("slice [2,3,8,9] [0:1, -2:, 1:7, ::2]", build_slice, &c, TOL);
    c = (sp_case){.ndim = 1, .dtype = DLT_F32, .dims = {50}, .a = {7}, .b = {8}, .step = {5}};
    gc_check("slice [50] [7:8:5] (one element)", build_slice, &c, TOL);
    c = (sp_case){.ndim = 3,
                  .dtype = DLT_I32,
                  .dims = {4, 6, 5},
                  .a = {1, 0, 1},
                  .b = {3, E, 4},
                  .step = {1, 2, 1}};
    gc_check("slice i32", build_slice, &c, TOL);
    c = (sp_case){
        .ndim = 2, .dtype = DLT_U8, .dims = {9, 13}, .a = {2, 1}, .b = {-1, E}, .step = {3, 4}};
    gc_check("slice u8", build_slice, &c, TOL);
    c = (sp_case){
        .ndim = 2, .dtype = DLT_I64, .dims = {6, 7}, .a = {1, 2}, .b = {E, 6}, .step = {2, 1}};
    gc_check("slice i64", build_slice, &c, TOL);

    c = (sp_case){
        .ndim = 4, .dtype = DLT_F32, .dims = {2, 3, 5, 6}, .a = {0, 0, 1, 2}, .b = {0, 0, 2, 1}};
    gc_check("pad [2,3,5,6] H(1,2) W(2,1) zeros", build_pad, &c, TOL);
    c = (sp_case){.ndim = 3,
                  .dtype = DLT_F32,
                  .dims = {3, 4, 33},
                  .a = {1, 0, 31},
                  .b = {0, 2, 0},
                  .value = 1.5f};
    gc_check("pad [3,4,33] value 1.5", build_pad, &c, TOL);
    c = (sp_case){
        .ndim = 2, .dtype = DLT_I32, .dims = {3, 4}, .a = {1, 2}, .b = {2, 1}, .value = -3};
    gc_check("pad i32 value -3", build_pad, &c, TOL);
    c = (sp_case){.ndim = 2, .dtype = DLT_U8, .dims = {3, 5}, .a = {0, 3}, .b = {1, 0}, .value = 7};
    gc_check("pad u8 value 7", build_pad, &c, TOL);
    c = (sp_case){
        .ndim = 2, .dtype = DLT_I64, .dims = {2, 3}, .a = {2, 0}, .b = {0, 2}, .value = 5};
    gc_check("pad i64 value 5", build_pad, &c, TOL);

    c = (sp_case){.ndim = 4,
                  .dtype = DLT_F32,
                  .dims = {2, 3, 8, 9},
                  .a = {0, 0, 3, 2},
                  .b = {0, 0, 2, 4},
                  .reflect = 1};
    gc_check("pad_reflect [2,3,8,9] H(3,2) W(2,4)", build_pad, &c, TOL);
    c = (sp_case){.ndim = 1, .dtype = DLT_F32, .dims = {5}, .a = {4}, .b = {4}, .reflect = 1};
    gc_check("pad_reflect [5] (4,4)", build_pad, &c, TOL);
    c = (sp_case){.ndim = 3,
                  .dtype = DLT_F32,
                  .dims = {4, 5, 6},
                  .a = {1, 2, 3},
                  .b = {3, 4, 5},
                  .reflect = 1};
    gc_check("pad_reflect [4,5,6] every axis", build_pad, &c, TOL);
    c = (sp_case){.ndim = 3,
                  .dtype = DLT_F32,
                  .dims = {2, 7, 40},
                  .a = {0, 1, 3},
                  .b = {0, 6, 39},
                  .reflect = 1};
    gc_check("pad_reflect [2,7,40] up to size-1", build_pad, &c, TOL);
    c = (sp_case){.ndim = 3, .dtype = DLT_F32, .dims = {3, 6, 7}, .a = {2, 1, 3}, .b = {1, 5, 2}};
    gc_check("pad_reflect_grad as output (2nd order)", build_pad_reflect_2nd, &c, TOL);
}

/* ---------------------------------------------------------------- take / gather */
typedef struct {
    int axis, ndim, idim, dtype;
    int64_t dims[DLT_MAX_DIMS], idims[DLT_MAX_DIMS];
    int second; /* return the gradient wrt x instead (its adjoint as output) */
} ix_case;

static int build_embedding(dlt_graph *g, dlt_t *outs, void *user)
{
    const ix_case *c = user;
    dlt_t table = dlt_param(g, "table", 2, c->dims, dlt_init_uniform(-1, 1));
    dlt_t ids = gc_input_int(g, "ids", c->idim, c->idims, 0, (int)c->dims[0] - 1);
    dlt_t y = dlt_embedding(g, table, ids);
    if (!c->second) {
        outs[0] = y;
        return y >= 0;
    }
    const dlt_shape *sy = dlt_shape_of(g, y);
    if (!sy)
        return 0;
    dlt_t w = gc_input(g, "w", sy->ndim, sy->dim, -1, 1);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, w), 0, NULL, 0);
    if (dlt_grad(g, loss, 1, &table, &outs[0]) != DLT_OK)
        return 0;
    return outs[0] >= 0;
}

static int build_index(dlt_graph *g, dlt_t *outs, void *user)
{
    const ix_case *c = user;
    dlt_t x = make_x(g, "x", c->ndim, c->dims, c->dtype);
    int ax = c->axis < 0 ? c->axis + c->ndim : c->axis;
    int gather = c->idim == 0; /* gather: the index has x's rank */
    dlt_t idx =
        gc_input_int(g, "idx", gather ? c->ndim : c->idim, c->idims, 0, (int)c->dims[ax] - 1);
    dlt_t y = gather ? dlt_gather(g, x, c->axis, idx) : dlt_index_select(g, x, c->axis, idx);
    if (!c->second) {
        outs[0] = y;
        return y >= 0;
    }
    const dlt_shape *sy = dlt_shape_of(g, y);
    if (!sy)
        return 0;
    dlt_t w = gc_input(g, "w", sy->ndim, sy->dim, -1, 1);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, w), 0, NULL, 0);
    if (dlt_grad(g, loss, 1, &x, &outs[0]) != DLT_OK)
        return 0;
    return outs[0] >= 0;
}

static void index_cases(void)
{
    ix_case c;
    /* indices drawn from a small table repeat, so take_grad adds rows */
    c = (ix_case){.dims = {50, 37}, .idim = 2, .idims = {4, 9}};
    gc_check("embedding [50,37] ids [4,9]", build_embedding, &c, TOL_ADD);
    c = (ix_case){.dims = {7, 64}, .idim = 2, .idims = {3, 33}};
    gc_check("embedding [7,64] ids [3,33] (wide rows)", build_embedding, &c, TOL_ADD);
    c = (ix_case){.dims = {1, 5}, .idim = 1, .idims = {6}};
    gc_check("embedding [1,5] one row", build_embedding, &c, TOL_ADD);
    c = (ix_case){.dims = {11, 6}, .idim = 2, .idims = {5, 7}, .second = 1};
    gc_check("take_grad as output (2nd order)", build_embedding, &c, TOL_ADD);

    c = (ix_case){
        .axis = 1, .ndim = 3, .idim = 1, .dtype = DLT_F32, .dims = {3, 10, 5}, .idims = {7}};
    gc_check("index_select axis 1 [3,10,5] idx [7]", build_index, &c, TOL_ADD);
    c = (ix_case){
        .axis = -1, .ndim = 2, .idim = 2, .dtype = DLT_F32, .dims = {4, 6}, .idims = {2, 3}};
    gc_check("index_select axis -1 [4,6] idx [2,3]", build_index, &c, TOL_ADD);
    c = (ix_case){
        .axis = 0, .ndim = 3, .idim = 1, .dtype = DLT_F32, .dims = {9, 3, 3}, .idims = {20}};
    gc_check("index_select axis 0 [9,3,3] idx [20] (odd rows)", build_index, &c, TOL_ADD);
    c = (ix_case){.axis = 0, .ndim = 2, .idim = 1, .dtype = DLT_I32, .dims = {6, 5}, .idims = {9}};
    gc_check("index_select i32", build_index, &c, TOL);
    c = (ix_case){.axis = 1, .ndim = 2, .idim = 1, .dtype = DLT_U8, .dims = {3, 7}, .idims = {5}};
    gc_check("index_select u8 axis 1", build_index, &c, TOL);
    c = (ix_case){.axis = 0, .ndim = 2, .idim = 1, .dtype = DLT_I64, .dims = {4, 3}, .idims = {6}};
    gc_check("index_select i64", build_index, &c, TOL);
    c = (ix_case){.axis = 1,
                  .ndim = 3,
                  .idim = 1,
                  .dtype = DLT_F32,
                  .dims = {2, 8, 3},
                  .idims = {5},
                  .second = 1};
    gc_check("index_select take_grad as output (2nd order)", build_index, &c, TOL_ADD);

    /* gather: idim 0, idims = the index shape (x's outside axis) */
    c = (ix_case){.axis = 1, .ndim = 3, .dtype = DLT_F32, .dims = {4, 6, 5}, .idims = {4, 3, 5}};
    gc_check("gather axis 1 [4,6,5] idx [4,3,5]", build_index, &c, TOL_ADD);
    c = (ix_case){.axis = 0, .ndim = 2, .dtype = DLT_F32, .dims = {5, 7}, .idims = {9, 7}};
    gc_check("gather axis 0 [5,7] idx [9,7]", build_index, &c, TOL_ADD);
    c = (ix_case){.axis = -1, .ndim = 3, .dtype = DLT_F32, .dims = {2, 3, 40}, .idims = {2, 3, 1}};
    gc_check("gather axis -1 [2,3,40] idx [2,3,1]", build_index, &c, TOL_ADD);
    c = (ix_case){.axis = 1, .ndim = 2, .dtype = DLT_I32, .dims = {4, 5}, .idims = {4, 8}};
    gc_check("gather i32", build_index, &c, TOL);
    c = (ix_case){.axis = 0, .ndim = 2, .dtype = DLT_U8, .dims = {3, 4}, .idims = {5, 4}};
    gc_check("gather u8", build_index, &c, TOL);
    c = (ix_case){.axis = 1, .ndim = 2, .dtype = DLT_I64, .dims = {2, 6}, .idims = {2, 3}};
    gc_check("gather i64", build_index, &c, TOL);
    c = (ix_case){
        .axis = 1, .ndim = 3, .dtype = DLT_F32, .dims = {3, 4, 6}, .idims = {3, 9, 6}, .second = 1};
    gc_check("scatter_add as output (2nd order)", build_index, &c, TOL_ADD);
}

/* ---------------------------------------------------------------- views */
/* reshape and stop_gradient run no kernel; their neighbours must see the aliased storage */
static int build_views(dlt_graph *g, dlt_t *outs, void *user)
{
    (void)user;
    dlt_t x = gc_input(g, "x", 3, (int64_t[]){4, 5, 6}, -1, 1);
    dlt_t a = gc_input(g, "a", 2, (int64_t[]){3, 20}, -1, 1);
    dlt_t r = dlt_reshape(g, x, 2, (int64_t[]){6, 20});
    outs[0] = dlt_permute(g, r, 2, (int[]){1, 0});
    outs[1] = dlt_concat(g, 2, (dlt_t[]){dlt_stop_gradient(g, a), r}, 0);
    outs[2] = dlt_flatten(g, dlt_slice_axis(g, x, 2, 1, 5, 2), 0, -1);
    return outs[0] >= 0 && outs[1] >= 0 && outs[2] >= 0 ? 3 : 0;
}

int main(void)
{
    if (!gc_init())
        return 77;
    permute_cases();
    concat_cases();
    slice_pad_cases();
    index_cases();
    gc_check("reshape / stop_gradient views around copies", build_views, NULL, TOL);
    return gc_finish();
}
