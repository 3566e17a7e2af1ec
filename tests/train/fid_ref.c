/* The tests' own FID classifier (fid_ref.h). */
#include <stdio.h>
#include <string.h>

#include "dlt_ckpt.h"
#include "dlt_models.h"
#include "fid_ref.h"

static int bad(const char *what)
{
    fprintf(stderr, "fid_ref: %s: %s\n", what, dlt_errmsg());
    return -1;
}

int fid_ref_open(fid_ref_net *r, const char *ckpt, int classes, int batch)
{
    dlt_model_spec s;
    memset(r, 0, sizeof *r);
    if (dlt_model_spec_default("resnet20", &s) != DLT_OK)
        return bad("resnet20");
    s.in_channels = 1, s.in_h = 28, s.in_w = 28, s.num_classes = classes;
    r->batch = batch;
    if (!(r->g = dlt_graph_create(1)))
        return bad("graph");
    int64_t xs[4] = {batch, 1, 28, 28};
    r->x = dlt_input(r->g, "images", DLT_F32, 4, xs);
    r->logits = dlt_model_classifier(r->g, &s, r->x);
    if (dlt_graph_status(r->g) != DLT_OK) {
        fprintf(stderr, "fid_ref: %s\n", dlt_graph_errmsg(r->g));
        return -1;
    }
    r->pooled = -1;
    for (dlt_t v = 0; v < dlt_graph_num_values(r->g); v++) {
        const dlt_shape *sh = dlt_shape_of(r->g, v);
        if (dlt_kind_of(r->g, v) == DLT_VAL_TEMP && sh->ndim == 2 && sh->dim[0] == batch &&
            sh->dim[1] == 64) {
            if (r->pooled >= 0) {
                fprintf(stderr, "fid_ref: two [%d, 64] values in resnet20\n", batch);
                return -1;
            }
            r->pooled = v;
        }
    }
    if (r->pooled < 0) {
        fprintf(stderr, "fid_ref: no [%d, 64] value in resnet20\n", batch);
        return -1;
    }
    dlt_t outs[2] = {r->logits, r->pooled};
    if (dlt_plan_create(r->g, 2, outs, NULL, &r->p) != DLT_OK)
        return bad("plan");
    dlt_ckpt_tensors t;
    dlt_ckpt_state cs;
    memset(&cs, 0, sizeof cs);
    dlt_ckpt_tensors_from_graph(r->g, &t);
    t.nslots = 0;
    dlt_status st = dlt_ckpt_load(ckpt, &t, &cs);
    dlt_ckpt_state_free(&cs);
    return st == DLT_OK ? 0 : bad(ckpt);
}

void fid_ref_close(fid_ref_net *r)
{
    dlt_plan_free(r->p);
    dlt_graph_free(r->g);
}
