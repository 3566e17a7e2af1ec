/* Which provider runs a CPU convolution node: decided once per node at plan
 * time, by the same function for the op's workspace rule and its `prepare`.
 *
 * DLT_CONV=im2col|dnnl|direct|auto forces a provider for the plans made while it is
 * set (tests, benchmarks); unset or auto follows the rule below, made from
 * bench/conv_bench on ResNet-20 and ResNet-50 layer shapes
 * (bench/results/conv-2026-12-06.txt). oneDNN runs only what it can express;
 * everything else stays on im2col + sgemm.
 *
 * The data gradient of an image with at most CONV_DIRECT_MAX_C channels (an
 * input layer; a GAN generator's last layer) is the exception: oneDNN ran it
 * at 7-25% of sgemm in either layout. The direct kernel (conv_direct.c) runs
 * it when the response has fewer than 64 channels and the image 2-4
 * (ResNet-20's 3->16: 175 GFLOP/s against im2col's 87 on AVX-512, 82-88
 * against 74-78 on AVX2), or one at stride 1 where the kernel reads the
 * response in place (AVX-512: ResNet-20's 1->16 at 124 against 68; AVX2's
 * padded copy about ties with im2col, 63 against 59). im2col otherwise, whose GEMM then has
 * K = OC >= 64 or a single image channel to scatter into (ResNet-50's 7x7
 * 3->64: im2col 140-185, direct 120; DCGAN's 4x4 s2 1->64: im2col 99-115,
 * direct 61-89). DLT_CONV=direct forces the direct kernel wherever it
 * applies (tests).
 *
 * A kind whose oneDNN primitive would pad the image's channels to more than
 * twice their count goes to im2col too (conv_dnnl_pads_image: AVX2 code's
 * weight gradient of a one-channel image, 20 GFLOP/s against im2col's 63-80). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_impl.h"
#include "dlt_ops.h"

#ifdef DLT_HAVE_DNNL
#include <dnnl.h>
#endif

/* The forced provider: CONV_IM2COL, CONV_DNNL, CONV_DIRECT or -1 (auto). */
static int forced(void)
{
    const char *e = getenv("DLT_CONV");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return -1;
    if (strcmp(e, "im2col") == 0)
        return CONV_IM2COL;
    if (strcmp(e, "dnnl") == 0)
        return CONV_DNNL;
    if (strcmp(e, "direct") == 0)
        return CONV_DIRECT;
    return -1;
}

/* The measured rule (auto). */
static int rule(const conv_geom *q, int kind, int nthreads)
{
    (void)nthreads;
    if (kind == CONV_DATA && q->groups == 1 && q->c <= CONV_DIRECT_MAX_C) {
        int direct = q->oc < 64 && conv_direct_supports(q) &&
                     (q->c >= 2 || (q->sh == 1 && q->sw == 1 && conv_direct_in_place()));
        return direct ? CONV_DIRECT : CONV_IM2COL;
    }
    return conv_dnnl_built() && conv_dnnl_pads_image(q, kind) ? CONV_IM2COL : CONV_DNNL;
}

int conv_provider(const conv_geom *q, int kind, int nthreads)
{
    int f = forced();
    if (f == CONV_DIRECT && kind == CONV_DATA && conv_direct_supports(q))
        return CONV_DIRECT;
    int want = f == CONV_IM2COL || f == CONV_DNNL ? f : rule(q, kind, nthreads);
    if (want == CONV_DIRECT)
        return CONV_DIRECT;
    if (want == CONV_IM2COL || !conv_dnnl_built())
        return CONV_IM2COL;
    return conv_dnnl_supports(q) ? CONV_DNNL : CONV_IM2COL;
}

int dlt_conv_dnnl_built(void) { return conv_dnnl_built(); }

void dlt_conv_provider_info(char *buf, size_t len)
{
    const char *e = getenv("DLT_CONV");
    const char *how = forced() == CONV_IM2COL   ? "im2col + sgemm (DLT_CONV=im2col)"
                      : forced() == CONV_DNNL   ? "oneDNN for every supported shape (DLT_CONV=dnnl)"
                      : forced() == CONV_DIRECT ? "the direct kernel for every data gradient it handles (DLT_CONV=direct)"
                                                : "oneDNN for every shape it supports, im2col + sgemm otherwise; data "
                                                  "gradients of <= 4 image channels: direct for 2-4 (1 at stride 1 "
                                                  "on AVX-512) and < 64 response channels, else im2col; im2col "
                                                  "where oneDNN would pad "
                                                  "the image's channels beyond twice their count";
    const char *lay = getenv("DLT_CONV_LAYOUT");
    const char *layout = lay && !strcmp(lay, "plain")     ? "plain layout (DLT_CONV_LAYOUT=plain)"
                         : lay && !strcmp(lay, "blocked") ? "blocked layout (DLT_CONV_LAYOUT=blocked)"
                                                          : "plain layout for 1x1 at >= 14x14 pixels, blocked otherwise";
    if (e && *e && strcmp(e, "auto") && strcmp(e, "im2col") && strcmp(e, "dnnl") && strcmp(e, "direct"))
        how = "oneDNN for every shape it supports (DLT_CONV ignored: not im2col|dnnl|direct|auto)";
#ifdef DLT_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, len, "oneDNN %d.%d.%d, %s; %s", v->major, v->minor, v->patch, how, layout);
#else
    (void)how, (void)layout;
    snprintf(buf, len, "im2col + sgemm (built without oneDNN)%s",
             forced() == CONV_IM2COL ? ""
             : forced() == CONV_DIRECT
                 ? "; the direct kernel for every data gradient it handles (DLT_CONV=direct)"
                 : "; the direct kernel for data gradients of 2-4 image channels (1 at stride 1 on AVX-512) and < "
                   "64 response channels");
#endif
}
