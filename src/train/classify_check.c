/* Checks of a job's data before a run starts, so that a wrong glob, a file
 * that is not a shard or shards that do not fit the model are reported as bad
 * input (one line, exit status 2) instead of a run failing after start-up. */
#include <string.h>

#include "dlt_data.h"
#include "dlt_train.h"

static dlt_status open_meta(const dlt_classify_config *c, const char *glob, int train, int world,
                            dlt_loader **out)
{
    dlt_loader_config lc;
    dlt_loader_config_default(&lc);
    lc.paths = glob;
    lc.batch_size = c->batch_size;
    lc.drop_last = train ? c->drop_last : 0;
    memcpy(lc.mean, c->mean, sizeof lc.mean);
    memcpy(lc.std, c->std, sizeof lc.std);
    lc.threads = 0;         /* nothing is read ahead */
    lc.inmem_threshold = 0; /* headers and shapes only: cheap on every rank */
    lc.verify = 0;
    lc.world_size = world > 0 ? world : 1;
    return dlt_loader_open(&lc, out);
}

dlt_status dlt_classify_check_data(const dlt_classify_config *c, int world_size)
{
    dlt_loader *tr = NULL, *va = NULL;
    dlt_status st = open_meta(c, c->train_glob, 1, world_size, &tr);
    if (st != DLT_OK) {
        dlt_adderr(st, "data.train");
        return DLT_ERR_INVALID;
    }
    int ct, ht, wt, k = dlt_loader_num_classes(tr);
    dlt_loader_sample_shape(tr, &ct, &ht, &wt);
    if (c->model.num_classes > 0 && c->model.num_classes != k)
        st = dlt_seterr(DLT_ERR_INVALID,
                        "model.num_classes = %d but the training shards have %d classes",
                        c->model.num_classes, k);
    if (st == DLT_OK && c->val_glob[0]) {
        if ((st = open_meta(c, c->val_glob, 0, world_size, &va)) != DLT_OK) {
            dlt_adderr(st, "data.val");
            st = DLT_ERR_INVALID;
        } else {
            int cv, hv, wv;
            dlt_loader_sample_shape(va, &cv, &hv, &wv);
            if (cv != ct || hv != ht || wv != wt)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "data.val: the shards hold %dx%dx%d images (HxWxC), the training "
                                "shards %dx%dx%d",
                                hv, wv, cv, ht, wt, ct);
            else if (dlt_loader_num_classes(va) > k)
                st = dlt_seterr(DLT_ERR_INVALID,
                                "data.val: the shards have %d classes, the training shards %d",
                                dlt_loader_num_classes(va), k);
        }
    }
    dlt_loader_close(va);
    dlt_loader_close(tr);
    return st;
}
