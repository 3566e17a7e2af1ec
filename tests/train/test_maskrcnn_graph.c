/* Mask R-CNN's training graph (src/train/maskrcnn_graph.c) against
 * torchvision's MaskRCNN in training mode (tests/fixtures/maskrcnn_loss.h5,
 * maskrcnn_loss_make_fixtures.py): a small model with hashed weights, two
 * 64 x 64 images with 2 and 3 objects, sampling made deterministic (every
 * eligible anchor and RoI sampled, no top-n cut). The five losses must match,
 * and the proposals NMS kept must be torchvision's count per image (and
 * all of them plus the 5 ground-truth boxes sampled). Then the
 * gradient of the total runs and a few SGD steps on the same batch lower it.
 * The same with image 0 left without objects (torchvision: all background). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"
#include "maskrcnn_graph.h"

enum { B = 2, M = 3, S = 64 };

static double attr_double(hid_t f, const char *name)
{
    double v = 0;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s", name);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
}

static void spec(dlt_maskrcnn_train_spec *s)
{
    dlt_maskrcnn_spec net;
    dlt_maskrcnn_spec_default(&net);
    net.depth = 18, net.num_classes = 5, net.fpn_channels = 32, net.representation = 64,
    net.mask_channels = 32;
    dlt_maskrcnn_train_spec_default(s, &net);
    s->batch = B, s->image_h = s->image_w = S, s->max_boxes = M;
    /* everything sampled, nothing cut: 1023 anchors, at most 1023 + 3 RoIs */
    s->pre_nms_top_n = s->post_nms_top_n = 1 << 20;
    s->rpn_batch = s->roi_batch = 1 << 20;
    s->rois = 1023 + M;
    s->positives = 64; /* above the positives of either image */
}

/* The batch of the fixture into the plan. */
static void feed(hid_t f, dlt_plan *p, const dlt_maskrcnn_train_graph *t, int empty)
{
    float boxes[B * M * 4], *masks = malloc(sizeof(float) * B * M * S * S);
    int32_t labels[B * M], counts[B];
    dlt_test_h5_read(f, "x", H5T_NATIVE_FLOAT, dlt_plan_data(p, t->images), (size_t)B * 3 * S * S);
    dlt_test_h5_read(f, "boxes", H5T_NATIVE_FLOAT, boxes, B * M * 4);
    dlt_test_h5_read(f, "labels", H5T_NATIVE_INT32, labels, B * M);
    dlt_test_h5_read(f, "counts", H5T_NATIVE_INT32, counts, B);
    if (empty) /* image 0 without objects: its boxes stay in the slots, unused */
        counts[0] = 0;
    dlt_test_h5_read(f, "masks", H5T_NATIVE_FLOAT, masks, (size_t)B * M * S * S);
    memcpy(dlt_plan_data(p, t->gt_boxes), boxes, sizeof boxes);
    memcpy(dlt_plan_data(p, t->gt_count), counts, sizeof counts);
    uint8_t *m8 = dlt_plan_data(p, t->gt_masks); /* 0/1 */
    for (int i = 0; i < B * M * S * S; i++)
        m8[i] = (uint8_t)(masks[i] != 0.f);
    float *gl = dlt_plan_data(p, t->gt_labels), *gv = dlt_plan_data(p, t->gt_valid);
    float *lim = dlt_plan_data(p, t->image_max);
    for (int b = 0; b < B; b++) {
        gl[b * (M + 1)] = 0;
        for (int i = 0; i < M; i++) {
            gl[b * (M + 1) + 1 + i] = (float)labels[b * M + i];
            gv[b * M + i] = i < counts[b];
        }
        for (int k = 0; k < 4; k++)
            lim[b * 4 + k] = S;
    }
    free(masks);
}

/* _i = 0: the fixture's batch; 1: image 0 without ground truth */
START_TEST(losses_match_torchvision)
{
    const int empty = _i;
    const char *tag = empty ? "empty_" : "";
    char nm[48];
    hid_t f = dlt_test_fixture_open("maskrcnn_loss.h5");
    dlt_maskrcnn_train_spec s;
    spec(&s);
    dlt_graph *g = dlt_graph_create(1);
    dlt_maskrcnn_train_graph t;
    ck_assert_msg(dlt_maskrcnn_train_build(g, &s, &t) >= 0, "%s", dlt_graph_errmsg(g));
    int np;
    dlt_t *params, *grads;
    ck_assert_msg(dlt_grad_params(g, t.loss, &np, &params, &grads) == DLT_OK, "%s", dlt_errmsg());
    dlt_t outs[10] = {t.loss, t.rpn_obj,     t.rpn_box,    t.cls,         t.box,
                      t.mask, t.props_valid, t.roi_labels, t.roi_sampled, t.roi_boxes};
    dlt_plan_opts po = {.ngrads = np, .grad_params = params, .grad_values = grads};
    dlt_plan *p = NULL;
    ck_assert_msg(dlt_plan_create(g, 10, outs, &po, &p) == DLT_OK, "%s", dlt_errmsg());
    for (int i = 0; i < dlt_num_params(g); i++) {
        const dlt_param_info *pi = dlt_param_at(g, i);
        dlt_test_hash_param(pi->name, &pi->shape, dlt_param_data(g, pi->value));
    }
    for (int i = 0; i < dlt_num_buffers(g); i++) {
        const dlt_param_info *bi = dlt_buffer_at(g, i);
        dlt_test_hash_param(bi->name, &bi->shape, dlt_param_data(g, bi->value));
    }
    feed(f, p, &t, empty);
    dlt_exec_opts eo = {.training = 1};
    ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());

    /* the proposals NMS kept, per image */
    const float *pv = dlt_plan_data(p, t.props_valid);
    int64_t k = dlt_shape_of(g, t.props_valid)->dim[1];
    for (int b = 0; b < B; b++) {
        int kept = 0;
        for (int64_t i = 0; i < k; i++)
            kept += pv[b * k + i] > 0.5f;
        snprintf(nm, sizeof nm, "%skept%d", tag, b);
        printf("image %d: %d proposals kept (torchvision %d)\n", b, kept,
               dlt_test_h5_attr_int(f, nm));
        ck_assert_int_eq(kept, dlt_test_h5_attr_int(f, nm));
    }
    {
        const float *rl = dlt_plan_data(p, t.roi_labels), *rs = dlt_plan_data(p, t.roi_sampled);
        int64_t n = dlt_shape_numel(dlt_shape_of(g, t.roi_labels));
        int hist[5] = {0}, ns = 0;
        for (int64_t i = 0; i < n; i++)
            if (rs[i] > 0.5f)
                ns++, hist[(int)rl[i]]++;
        printf("sampled RoIs %d, per class %d %d %d %d %d\n", ns, hist[0], hist[1], hist[2],
               hist[3], hist[4]);
        /* torchvision's count: every valid proposal and ground-truth box */
        snprintf(nm, sizeof nm, "%skept0", tag);
        int k0 = dlt_test_h5_attr_int(f, nm);
        snprintf(nm, sizeof nm, "%skept1", tag);
        ck_assert_int_eq(ns, k0 + dlt_test_h5_attr_int(f, nm) + (empty ? 3 : 5));
    }
    /* torchvision runs in float64, this graph in float32 through a ResNet-18
     * and FPN: the pyramid agrees to ~1e-5 relative (test_maskrcnn), and the
     * losses are means of smooth functions of it over the same selected
     * elements (they agree to ~1e-7 here), so 2e-5 relative plus 1e-7 */
    const char *names[5] = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier",
                            "loss_box_reg", "loss_mask"};
    for (int i = 0; i < 5; i++) {
        snprintf(nm, sizeof nm, "%s%s", tag, names[i]);
        double got = *(const float *)dlt_plan_data(p, outs[1 + i]), want = attr_double(f, nm);
        printf("%-24s %.7f torchvision %.7f\n", nm, got, want);
        dlt_test_assert_close(nm, got, want, 2e-5, 1e-7);
    }

    /* SGD on the same batch lowers the total */
    double first = *(const float *)dlt_plan_data(p, t.loss), last = first;
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < np; i++) {
            float *w = dlt_param_data(g, params[i]);
            const float *gw = dlt_param_grad(g, params[i]);
            int64_t n = dlt_shape_numel(dlt_shape_of(g, params[i]));
            for (int64_t j = 0; j < n; j++)
                w[j] -= 0.01f * gw[j];
        }
        eo.step = step + 1;
        ck_assert_msg(dlt_plan_run(p, &eo) == DLT_OK, "%s", dlt_errmsg());
        last = *(const float *)dlt_plan_data(p, t.loss);
        printf("step %d: loss %.5f\n", step + 1, last);
    }
    ck_assert_msg(last < first, "loss %g after 3 SGD steps, %g before", last, first);
    dlt_plan_free(p);
    free(params);
    free(grads);
    dlt_graph_free(g);
    H5Fclose(f);
}
END_TEST

START_TEST(bad_shapes_give_one_clear_line)
{
    dlt_maskrcnn_train_spec s;
    spec(&s);
    s.image_h = 48;
    dlt_graph *g = dlt_graph_create(1);
    dlt_maskrcnn_train_graph t;
    ck_assert_int_lt(dlt_maskrcnn_train_build(g, &s, &t), 0);
    ck_assert_msg(strstr(dlt_graph_errmsg(g), "48x64 images (multiples of 32)"), "%s",
                  dlt_graph_errmsg(g));
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("maskrcnn_graph");
    TCase *tc = tcase_create("maskrcnn_graph");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, losses_match_torchvision, 0, 2);
    tcase_add_test(tc, bad_shapes_give_one_clear_line);
    suite_add_tcase(su, tc);
    return dlt_test_run(su);
}
