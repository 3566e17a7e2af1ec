/* The FID classifier as the tests build it on their own (fid_ref.c), not
 * through src/train/fid_features.c: plain dlt_model_classifier("resnet20")
 * for [batch, 1, 28, 28] inputs with a checkpoint's parameters and buffers,
 * and an evaluation plan of its logits and of the one [batch, 64] value the
 * network computes (the global average pool, FID-FMNIST's features). Used by
 * fid_check (test_fid_features.sh) and fid_sets_check (test_fid_cli.sh). */
#ifndef DLT_TEST_FID_REF_H
#define DLT_TEST_FID_REF_H

#include "dlt_base.h"

typedef struct {
    dlt_graph *g;
    dlt_plan *p;
    dlt_t x, logits, pooled;
    int batch;
} fid_ref_net;

/* 0 on success; otherwise a message on stderr and -1. */
int fid_ref_open(fid_ref_net *r, const char *ckpt, int classes, int batch);
void fid_ref_close(fid_ref_net *r);

#endif
