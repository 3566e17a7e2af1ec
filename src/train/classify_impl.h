/* Internals of the classification task shared by its files. */
#ifndef DLT_CLASSIFY_IMPL_H
#define DLT_CLASSIFY_IMPL_H

#include "dlt_core.h"
#include "dlt_train.h"

/* Label of padded samples: cross-entropy ignores it. */
#define DLT_IGNORE_LABEL (-100)

typedef struct {
    dlt_t x, labels, logits, loss;
    int nparams;
    dlt_t *params, *grads;
} dlt_classify_graph;

dlt_status dlt_classify_build(dlt_graph *g, const dlt_classify_config *c, int c_in, int h, int w,
                              int classes, dlt_classify_graph *out);

#endif
