/* Parameter initializers (PyTorch's torch.nn.init semantics). Each parameter
 * draws from its own counter-based stream keyed by its name, so values do not
 * depend on creation or layout order. */
#include <math.h>

#include "graph_impl.h"

dlt_init dlt_init_const(double v) { return (dlt_init){.kind = DLT_INIT_CONSTANT, .a = v}; }
dlt_init dlt_init_uniform(double lo, double hi)
{
    return (dlt_init){.kind = DLT_INIT_UNIFORM, .a = lo, .b = hi};
}
dlt_init dlt_init_normal(double mean, double std)
{
    return (dlt_init){.kind = DLT_INIT_NORMAL, .a = mean, .b = std};
}
dlt_init dlt_init_kaiming(dlt_init_kind kind, dlt_fan_mode mode, double gain)
{
    return (dlt_init){.kind = kind, .mode = mode, .gain = gain};
}
dlt_init dlt_init_xavier(dlt_init_kind kind, double gain)
{
    return (dlt_init){.kind = kind, .gain = gain};
}

void dlt_init_fans(const dlt_shape *s, double *fan_in, double *fan_out)
{
    double rf = 1;
    for (int i = 2; i < s->ndim; i++)
        rf *= (double)s->dim[i];
    if (s->ndim == 0) {
        *fan_in = *fan_out = 1;
    } else if (s->ndim == 1) {
        *fan_in = *fan_out = (double)s->dim[0];
    } else {
        *fan_in = (double)s->dim[1] * rf;
        *fan_out = (double)s->dim[0] * rf;
    }
}

static double normal_at(uint64_t seed, uint64_t stream, uint64_t i)
{
    /* Box-Muller on two uniforms from counters 2i and 2i+1; u1 in (0, 1] */
    double u1 = ((double)(dlt_rng_u64(seed, stream, 2 * i) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(dlt_rng_u64(seed, stream, 2 * i + 1) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void dlt_run_initializer(const dlt_value *v, uint64_t seed, float *dst)
{
    int64_t n = dlt_shape_numel(&v->shape);
    uint64_t stream = dlt_hash_str(v->name);
    const dlt_init *in = &v->init;
    double fan_in, fan_out, lo = 0, hi = 0, mean = 0, std = 0;
    int uniform = 0;
    dlt_init_fans(&v->shape, &fan_in, &fan_out);
    double gain = in->gain > 0 ? in->gain : 1.0;
    switch (in->kind) {
    case DLT_INIT_ZEROS:
    case DLT_INIT_ONES:
    case DLT_INIT_CONSTANT: {
        float c = in->kind == DLT_INIT_ZEROS ? 0.f : in->kind == DLT_INIT_ONES ? 1.f : (float)in->a;
        for (int64_t i = 0; i < n; i++)
            dst[i] = c;
        return;
    }
    case DLT_INIT_UNIFORM:
        uniform = 1, lo = in->a, hi = in->b;
        break;
    case DLT_INIT_NORMAL:
    case DLT_INIT_TRUNC_NORMAL:
        mean = in->a, std = in->b;
        break;
    case DLT_INIT_XAVIER_UNIFORM: {
        double a = gain * sqrt(6.0 / (fan_in + fan_out));
        uniform = 1, lo = -a, hi = a;
        break;
    }
    case DLT_INIT_XAVIER_NORMAL:
        std = gain * sqrt(2.0 / (fan_in + fan_out));
        break;
    case DLT_INIT_KAIMING_UNIFORM: {
        double fan = in->mode == DLT_FAN_OUT ? fan_out : fan_in;
        double a = gain * sqrt(3.0 / fan);
        uniform = 1, lo = -a, hi = a;
        break;
    }
    case DLT_INIT_KAIMING_NORMAL: {
        double fan = in->mode == DLT_FAN_OUT ? fan_out : fan_in;
        std = gain / sqrt(fan);
        break;
    }
    }
    if (uniform) {
        for (int64_t i = 0; i < n; i++) {
            double u = (double)(dlt_rng_u64(seed, stream, (uint64_t)i) >> 11) *
                       (1.0 / 9007199254740992.0);
            dst[i] = (float)(lo + (hi - lo) * u);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double z = normal_at(seed, stream, (uint64_t)i);
        /* truncated: redraw from further counters until inside 2 std */
        for (uint64_t t = 1; in->kind == DLT_INIT_TRUNC_NORMAL && fabs(z) > 2.0; t++)
            z = normal_at(seed, stream ^ (t * 0x632be59bd9b4e019ull), (uint64_t)i);
        dst[i] = (float)(mean + std * z);
    }
}
