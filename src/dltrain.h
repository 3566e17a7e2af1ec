/* dltrain: the umbrella header. Programs using libdltrain include this one. */
#ifndef DLTRAIN_H
#define DLTRAIN_H

#include "dlt_base.h"
#include "dlt_comm.h"
#include "dlt_core.h"
#include "dlt_dist.h"
#include "dlt_ops.h"
#include "dlt_optim.h"
#include "dlt_data.h"
#include "dlt_models.h"
#include "dlt_ckpt.h"
#include "dlt_gpu.h"
#include "dlt_train.h"

#endif
