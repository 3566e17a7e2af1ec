/* Gradient rules of the normalisation ops, built from other ops so that they
 * can be differentiated again.
 *
 * Views (all reshapes of contiguous data):
 *   group view  batch: [A, C, S]   group: [A, G, C/G*S]  (statistics over axes gax)
 *   stat view   batch: [1, C, 1]   group: [A, G, 1]
 *   chan view   [A, C, S], gamma as [1, C, 1] (gamma sums over axes 0 and 2) */
#include "dlt_ops.h"
#include "norm_impl.h"

typedef struct {
    const dlt_norm_attr *a;
    int64_t gv[3], sv[3], cv[3], gam[3];
    int gax[2], ngax;
    float invm;
} geom;

static geom geom_of(const dlt_norm_attr *a)
{
    geom q;
    q.a = a;
    q.invm = 1.0f / (float)dlt_norm_count(a);
    q.cv[0] = a->A, q.cv[1] = a->C, q.cv[2] = a->S;
    q.gam[0] = 1, q.gam[1] = a->C, q.gam[2] = 1;
    if (a->kind == DLT_NORM_BATCH) {
        q.gv[0] = a->A, q.gv[1] = a->C, q.gv[2] = a->S;
        q.sv[0] = 1, q.sv[1] = a->C, q.sv[2] = 1;
        q.gax[0] = 0, q.gax[1] = 2, q.ngax = 2;
    } else {
        q.gv[0] = a->A, q.gv[1] = a->G, q.gv[2] = a->C / a->G * a->S;
        q.sv[0] = a->A, q.sv[1] = a->G, q.sv[2] = 1;
        q.gax[0] = 2, q.ngax = 1;
    }
    return q;
}

static dlt_t r3(dlt_graph *g, dlt_t v, const int64_t *d) { return dlt_reshape(g, v, 3, d); }
static dlt_t like(dlt_graph *g, dlt_t v, dlt_t ref)
{
    const dlt_shape *s = dlt_shape_of(g, ref);
    return s ? dlt_reshape(g, v, s->ndim, s->dim) : -1;
}
/* per-statistic sums of a group-view tensor, in the stat view */
static dlt_t gsum(dlt_graph *g, const geom *q, dlt_t v) { return dlt_sum(g, v, q->ngax, q->gax, 1); }
/* per-channel sums of a tensor shaped like x, as gamma's shape */
static dlt_t csum(dlt_graph *g, const geom *q, dlt_t v, dlt_t gamma)
{
    static const int ax[2] = {0, 2};
    return like(g, dlt_sum(g, r3(g, v, q->cv), 2, ax, 0), gamma);
}
/* tensor shaped like x times gamma per channel, in the group view */
static dlt_t times_gamma(dlt_graph *g, const geom *q, dlt_t v, dlt_t gamma)
{
    if (gamma < 0)
        return r3(g, v, q->gv);
    return r3(g, dlt_mul(g, r3(g, v, q->cv), r3(g, gamma, q->gam)), q->gv);
}
static dlt_t xhat(dlt_graph *g, const geom *q, dlt_t x, dlt_t mean, dlt_t rstd)
{
    return dlt_mul(g, dlt_sub(g, r3(g, x, q->gv), r3(g, mean, q->sv)), r3(g, rstd, q->sv));
}
static dlt_t acc(dlt_graph *g, dlt_t a, dlt_t b) { return a < 0 ? b : dlt_add(g, a, b); }

static dlt_t relu_mask(dlt_graph *g, dlt_t v, dlt_t y)
{
    dlt_t in[2] = {v, y};
    return dlt_node_add(g, &dlt_op_def_relu_grad, 2, in, NULL, 0);
}

/* Forward rule. With batch statistics (alpha = 1) mean and rstd depend on x:
 * d mean/dx = 1/M, d rstd/dx = -rstd^2 * xhat / M; alpha = 0 turns both off.
 * With gamma, one norm_backward node gives dx, dgamma and dbeta, and with an
 * epilogue (y = act(bn(x) + r)) it also masks dy by the saved y > 0 and gives
 * the residual's gradient dr (dy itself without relu). Without gamma the
 * epilogue's mask is a relu_grad node before norm_grad. */
dlt_status dlt_norm_fwd_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    geom q = geom_of(a);
    dlt_t x = n->in[0], gamma = a->affine ? n->in[DLT_NORM_IN_GAMMA] : -1;
    dlt_t mean = n->out[1], rstd = n->out[2], alpha = n->out[3], d = -1;
    if (dy[0] >= 0) {
        if (a->affine) {
            dlt_norm_attr b = *a;
            dlt_t in[7] = {dy[0], x, mean, rstd, alpha, gamma, n->out[0]};
            d = dlt_node_add(g, &dlt_op_def_norm_backward, a->act ? 7 : 6, in, &b, sizeof b);
            dx[DLT_NORM_IN_GAMMA] = dlt_node_output(g, d, 1);
            dx[DLT_NORM_IN_GAMMA + 1] = like(g, dlt_node_output(g, d, 2), n->in[DLT_NORM_IN_GAMMA + 1]);
            if (a->resid)
                dx[DLT_NORM_IN_RES(a)] = DLT_NORM_HAS_DR(a) ? dlt_node_output(g, d, 3) : dy[0];
        } else {
            dlt_t m = a->act ? relu_mask(g, dy[0], n->out[0]) : dy[0];
            d = dlt_norm_grad_node(g, a, m, x, mean, rstd, alpha, -1);
            if (a->resid)
                dx[DLT_NORM_IN_RES(a)] = m;
        }
    }
    if (dy[1] >= 0) {
        dlt_t t = dlt_mul(g, dlt_affine(g, r3(g, dy[1], q.sv), q.invm, 0.f), alpha);
        d = acc(g, d, like(g, dlt_broadcast_to(g, t, &(dlt_shape){DLT_F32, 3, {q.gv[0], q.gv[1], q.gv[2]}, 0}), x));
    }
    if (dy[2] >= 0) {
        dlt_t rs = r3(g, rstd, q.sv);
        dlt_t k = dlt_mul(g, dlt_mul(g, r3(g, dy[2], q.sv), dlt_mul(g, rs, rs)), alpha);
        d = acc(g, d, like(g, dlt_mul(g, dlt_affine(g, k, -q.invm, 0.f), xhat(g, &q, x, mean, rstd)), x));
    }
    dx[0] = d;
    return DLT_OK;
}

/* Gradient of dx = norm_grad(gy, x, mean, rstd, alpha[, gamma]) for an
 * incoming v. With u = gy*gamma, T1 = sum v, T2 = sum v*xhat, S1 = sum u,
 * S2 = sum u*xhat per group of M and L = sum v*dx:
 *   dL/du    = norm_grad(v, x, mean, rstd, alpha)           (so dgy = gamma * that)
 *   dL/dx    = -alpha * rstd^2 / M * (T2*u + S2*v)
 *   dL/dmean = -sum dL/dx
 *   dL/drstd = sum v*u - alpha*T1*S1/M - 3*alpha*T2*S2/M
 *   dL/dgamma = per-channel sum of gy * dL/du
 * alpha is a mode flag, not a variable: it gets no gradient. Sets dx[0..3]
 * and dx[5] (gamma); inputs as in norm_grad. */
static void dx_rule(dlt_graph *g, const geom *q, const dlt_t *in, dlt_t gamma, dlt_t v, dlt_t *dx)
{
    dlt_t gy = in[0], x = in[1], mean = in[2], rstd = in[3], alpha = in[4];
    dlt_t w = dlt_norm_grad_node(g, q->a, v, x, mean, rstd, alpha, -1);
    dx[0] = gamma < 0 ? w : like(g, times_gamma(g, q, w, gamma), x);
    if (gamma >= 0)
        dx[5] = csum(g, q, dlt_mul(g, gy, w), gamma);

    dlt_t xh = xhat(g, q, x, mean, rstd);
    dlt_t U = times_gamma(g, q, gy, gamma), V = r3(g, v, q->gv);
    dlt_t T1 = gsum(g, q, V), T2 = gsum(g, q, dlt_mul(g, V, xh));
    dlt_t S1 = gsum(g, q, U), S2 = gsum(g, q, dlt_mul(g, U, xh));
    dlt_t rs = r3(g, rstd, q->sv);
    dlt_t kx = dlt_affine(g, dlt_mul(g, dlt_mul(g, rs, rs), alpha), -q->invm, 0.f);
    dlt_t ddx = dlt_mul(g, kx, dlt_add(g, dlt_mul(g, T2, U), dlt_mul(g, S2, V)));
    dx[1] = like(g, ddx, x);
    dx[2] = like(g, dlt_affine(g, gsum(g, q, ddx), -1.f, 0.f), mean);
    dlt_t cross = dlt_add(g, dlt_mul(g, T1, S1), dlt_affine(g, dlt_mul(g, T2, S2), 3.f, 0.f));
    dlt_t dr = dlt_sub(g, gsum(g, q, dlt_mul(g, V, U)), dlt_mul(g, alpha, dlt_affine(g, cross, q->invm, 0.f)));
    dx[3] = like(g, dr, rstd);
}

dlt_status dlt_norm_grad_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    geom q = geom_of(a);
    dx_rule(g, &q, n->in, a->affine ? n->in[5] : -1, dy[0], dx);
    return DLT_OK;
}

/* norm_backward(gy, x, mean, rstd, alpha, gamma) -> dx, dgamma, dbeta with
 * dgamma[c] = sum gy*xhat and dbeta[c] = sum gy over each channel. Incoming vg
 * (for dgamma) and vb (for dbeta), P = vg[c]*gy in the group view:
 *   dgy += vg[c]*xhat + vb[c],  dx += P*rstd,
 *   dmean -= sum P*rstd,  drstd += sum P*(x - mean) (sums per statistic). */
static void backward_rule(dlt_graph *g, const dlt_norm_attr *a, const dlt_t *in, const dlt_t *dy, dlt_t *dx)
{
    geom q = geom_of(a);
    dlt_t gy = in[0], x = in[1], mean = in[2], rstd = in[3], gamma = in[5];
    if (dy[0] >= 0)
        dx_rule(g, &q, in, gamma, dy[0], dx);
    if (dy[1] >= 0) {
        dlt_t vg = r3(g, dy[1], q.gam), xm = dlt_sub(g, r3(g, x, q.gv), r3(g, mean, q.sv));
        dlt_t rs = r3(g, rstd, q.sv);
        dlt_t dgy = dlt_mul(g, r3(g, dlt_mul(g, xm, rs), q.cv), vg);
        dlt_t P = r3(g, dlt_mul(g, r3(g, gy, q.cv), vg), q.gv), Pr = dlt_mul(g, P, rs);
        dx[0] = acc(g, dx[0], like(g, dgy, x));
        dx[1] = acc(g, dx[1], like(g, Pr, x));
        dx[2] = acc(g, dx[2], like(g, dlt_affine(g, gsum(g, &q, Pr), -1.f, 0.f), mean));
        dx[3] = acc(g, dx[3], like(g, gsum(g, &q, dlt_mul(g, P, xm)), rstd));
    }
    if (dy[2] >= 0) {
        dlt_shape cs = {DLT_F32, 3, {q.cv[0], q.cv[1], q.cv[2]}, 0};
        dlt_t vb = dlt_broadcast_to(g, r3(g, dy[2], q.gam), &cs);
        dx[0] = acc(g, dx[0], like(g, vb, x));
    }
}

/* With a relu epilogue the node is the plain rule applied to gm = dy*(y > 0)
 * (the mask is piecewise constant: y gets no gradient), and dr = gm. */
dlt_status dlt_norm_backward_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    if (a->act == DLT_NORM_ACT_NONE) {
        backward_rule(g, a, n->in, dy, dx);
        return DLT_OK;
    }
    dlt_t y = n->in[DLT_NORM_BWD_Y], in[6];
    for (int i = 0; i < 6; i++)
        in[i] = n->in[i];
    in[0] = relu_mask(g, n->in[0], y);
    backward_rule(g, a, in, dy, dx);
    if (DLT_NORM_HAS_DR(a) && dy[3] >= 0)
        dx[0] = acc(g, dx[0], dy[3]);
    if (dx[0] >= 0)
        dx[0] = relu_mask(g, dx[0], y);
    return DLT_OK;
}

/* norm_apply(x, mean, rstd[, gamma, beta]) = act(x*sc + sh) per channel with
 * sc = gamma*rstd, sh = beta - mean*sc. With u = dy masked by y > 0 (relu)
 * and per-channel sums Su = sum u, Sx = sum u*x:
 *   dx = u*sc,  dbeta = Su,  dmean = -sc*Su,
 *   dsc = Sx - mean*Su,  dgamma = dsc*rstd,  drstd = dsc*gamma. */
dlt_status dlt_norm_apply_grad(dlt_graph *g, const dlt_node *n, const dlt_t *dy, dlt_t *dx)
{
    static const int ax[2] = {0, 2};
    const dlt_norm_attr *a = DLT_CATTR(n, dlt_norm_attr);
    geom q = geom_of(a);
    dlt_t x = n->in[0], mean = n->in[1], rstd = n->in[2], gamma = a->affine ? n->in[3] : -1;
    if (dy[0] < 0)
        return DLT_OK;
    dlt_t U = r3(g, a->act ? relu_mask(g, dy[0], n->out[0]) : dy[0], q.cv);
    dlt_t m = r3(g, mean, q.gam), rs = r3(g, rstd, q.gam);
    dlt_t gm = gamma >= 0 ? r3(g, gamma, q.gam) : -1, sc = gamma >= 0 ? dlt_mul(g, gm, rs) : rs;
    dlt_t Su = dlt_sum(g, U, 2, ax, 1), Sx = dlt_sum(g, dlt_mul(g, U, r3(g, x, q.cv)), 2, ax, 1);
    dlt_t dsc = dlt_sub(g, Sx, dlt_mul(g, m, Su));
    dx[0] = like(g, dlt_mul(g, U, sc), x);
    dx[1] = like(g, dlt_affine(g, dlt_mul(g, sc, Su), -1.f, 0.f), mean);
    dx[2] = like(g, gamma >= 0 ? dlt_mul(g, dsc, gm) : dsc, rstd);
    if (gamma >= 0) {
        dx[3] = like(g, dlt_mul(g, dsc, rs), gamma);
        dx[4] = like(g, Su, n->in[4]);
    }
    return DLT_OK;
}
