/* Private to the loss family: elementwise loss nodes (loss_pw.c) that the
 * builders in loss.c reduce. */
#ifndef DLT_LOSS_IMPL_H
#define DLT_LOSS_IMPL_H

#include "dlt_opdef.h"

dlt_t dlt_loss_smooth_l1_elem(dlt_graph *g, dlt_t x, dlt_t t, float beta);
dlt_t dlt_loss_bce_elem(dlt_graph *g, dlt_t x, dlt_t t, dlt_t pos_weight); /* pos_weight may be -1 */
dlt_t dlt_loss_kl_elem(dlt_graph *g, dlt_t x, dlt_t t);

#endif
