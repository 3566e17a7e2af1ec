/* The cast kernel (src/gpu/k_cast.cu) against the CPU, every direction
 * (f32 -> i32 floored and clamped, i32 -> f32 shifted, i32 -> i32, f32 ->
 * f32): the outputs must match exactly. Exits 77 without a CUDA device;
 * tests/gpu/emu_cast runs it on the emulated kernel. */
#include <stdio.h>

#include "gpu_check.h"

typedef struct {
    int from_i32, to_i32;
} cast_case;

static int build(dlt_graph *g, dlt_t *outs, void *user)
{
    const cast_case *c = user;
    int64_t d[2] = {37, 41};
    dlt_t x = c->from_i32 ? gc_input_int(g, "x", 2, d, -5, 300) : gc_input(g, "x", 2, d, -7.f, 9.f);
    outs[0] = dlt_cast(g, x, c->to_i32 ? DLT_I32 : DLT_F32, 3.0, 1.0, -2.0, 250.0);
    return outs[0] >= 0;
}

int main(void)
{
    if (!gc_init())
        return 77;
    static const cast_case cases[] = {{0, 1}, {1, 0}, {1, 1}, {0, 0}};
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "cast %s -> %s", cases[i].from_i32 ? "i32" : "f32",
                 cases[i].to_i32 ? "i32" : "f32");
        gc_check(name, build, (void *)&cases[i], 0);
    }
    return gc_finish();
}
