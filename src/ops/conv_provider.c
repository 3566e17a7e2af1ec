/* Which provider runs a CPU convolution node: decided once per node at plan
 * time, by the same function for the op's workspace rule and its `prepare`.
 *
 * DLT_CONV=im2col|dnnl|auto forces a provider for the plans made while it is
 * set (tests, benchmarks); unset or auto follows the rule below, made from
 * bench/conv_bench on ResNet-20 and ResNet-50 layer shapes
 * (bench/results/conv-2026-12-06.txt). oneDNN runs only what it can express;
 * everything else stays on im2col + sgemm. The data gradient of an image with
 * at most CONV_DIRECT_MAX_C channels runs the direct kernel (conv_direct.c)
 * unless a provider is forced: oneDNN and im2col ran it at 18-25% of sgemm
 * on ResNet's input layers (bench/conv_bench). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_impl.h"
#include "dlt_ops.h"

#ifdef DLT_HAVE_DNNL
#include <dnnl.h>
#endif

/* The forced provider: CONV_IM2COL, CONV_DNNL, or -1 (auto). */
static int forced(void)
{
    const char *e = getenv("DLT_CONV");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return -1;
    if (strcmp(e, "im2col") == 0)
        return CONV_IM2COL;
    if (strcmp(e, "dnnl") == 0)
        return CONV_DNNL;
    return -1;
}

/* The measured rule (auto). */
static int rule(const conv_geom *q, int kind, int nthreads)
{
    (void)q, (void)kind, (void)nthreads;
    return CONV_DNNL;
}

int conv_provider(const conv_geom *q, int kind, int nthreads)
{
    int f = forced();
    if (f < 0 && kind == CONV_DATA && conv_direct_supports(q))
        return CONV_DIRECT;
    if (f == CONV_IM2COL || !conv_dnnl_built())
        return CONV_IM2COL;
    int want = f == CONV_DNNL ? CONV_DNNL : rule(q, kind, nthreads);
    return want == CONV_DNNL && conv_dnnl_supports(q) ? CONV_DNNL : CONV_IM2COL;
}

int dlt_conv_dnnl_built(void) { return conv_dnnl_built(); }

void dlt_conv_provider_info(char *buf, size_t len)
{
    const char *e = getenv("DLT_CONV");
    const char *how = forced() == CONV_IM2COL ? "im2col + sgemm (DLT_CONV=im2col)"
                      : forced() == CONV_DNNL ? "oneDNN for every supported shape (DLT_CONV=dnnl)"
                                              : "oneDNN for every shape it supports, im2col + sgemm otherwise; "
                                                "direct data gradient for images of <= 4 channels";
    const char *lay = getenv("DLT_CONV_LAYOUT");
    const char *layout = lay && !strcmp(lay, "plain")     ? "plain layout (DLT_CONV_LAYOUT=plain)"
                         : lay && !strcmp(lay, "blocked") ? "blocked layout (DLT_CONV_LAYOUT=blocked)"
                                                          : "plain layout for 1x1 at >= 14x14 pixels, blocked otherwise";
    if (e && *e && strcmp(e, "auto") && strcmp(e, "im2col") && strcmp(e, "dnnl"))
        how = "oneDNN for every shape it supports (DLT_CONV ignored: not im2col|dnnl|auto)";
#ifdef DLT_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "oneDNN %d.%d.%d, %s; %s", v->major, v->minor, v->patch, how, layout);
#else
    (void)how, (void)layout;
    snprintf(buf, len, "im2col + sgemm (built without oneDNN)%s",
             forced() == CONV_IM2COL ? "" : "; direct data gradient for images of <= 4 channels");
#endif
}
