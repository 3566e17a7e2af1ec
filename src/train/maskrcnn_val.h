/* The Mask R-CNN task's evaluation (maskrcnn_val.c): inference on the
 * validation shards (data.val) with the training graph's weights, COCO box
 * and mask metrics against the ground truth beside the shards, the results
 * JSON and a prediction grid in the run folder. Internal to task_maskrcnn.c.
 *
 * Multi-rank: rank 0 evaluates the whole validation set (its first
 * maskrcnn.eval_images images) while the other ranks wait at a broadcast
 * that rank 0 sends after every batch (a heartbeat, so that no wait comes
 * near the collectives' timeout), and the last broadcast carries the status
 * and the metrics to every rank. One rank sees every detection, which is
 * what COCOeval needs, without gathering variable-length detection lists;
 * the price is that evaluation does not get faster with more ranks. */
#ifndef DLT_MASKRCNN_VAL_H
#define DLT_MASKRCNN_VAL_H

#include "dlt_coco.h"
#include "dlt_comm.h"
#include "dlt_maskrcnn.h"
#include "dlt_train.h"

typedef struct dlt_mrcnn_val dlt_mrcnn_val;

/* The metrics one evaluation reports: bbox then segm AP, AP50, AP75, APs,
 * APm, APl (COCOeval's first six of each). */
enum { DLT_MRCNN_VAL_NSTATS = 12 };
extern const char *const dlt_mrcnn_val_keys[DLT_MRCNN_VAL_NSTATS];

/* Checks that c->val_glob has its ground truth beside it (DLT_ERR_NOTFOUND
 * naming the path); headers only. */
dlt_status dlt_mrcnn_val_check(const dlt_train_config *c);

/* Rank 0's evaluator for the network net (the training graph's spec) with the
 * job's anchors and sizes: the validation loader, the inference graph for its
 * batch shape, the ground truth. */
dlt_status dlt_mrcnn_val_open(const dlt_train_config *c, const dlt_maskrcnn_spec *net,
                              dlt_mrcnn_val **out);
void dlt_mrcnn_val_free(dlt_mrcnn_val *v); /* NULL is a no-op */

/* Collective. Rank 0 (v != NULL; pre: the status of its preparation, which
 * goes to every rank instead when it is not DLT_OK) evaluates with the
 * weights of g (host copies: download a device graph first), writes
 * <run_dir>/val_results-<step>.json and <run_dir>/samples/val-<step>.png (the
 * step in 8 digits, as checkpoints; the picture: the first validation batch
 * with its detections); every rank returns rank 0's
 * status and stats (dlt_mrcnn_val_keys' order). *images: images evaluated. */
dlt_status dlt_mrcnn_val_run(dlt_mrcnn_val *v, dlt_status pre, dlt_graph *g, dlt_comm *comm,
                             int rank, int world, int64_t step, double stats[DLT_MRCNN_VAL_NSTATS],
                             int64_t *images);

#endif
