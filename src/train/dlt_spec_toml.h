/* Specs (src/models/dlt_spec.h) in job files: the reader of a [model.spec]
 * table and the writer of a job that retrains a spec. They live in src/train
 * because they join the TOML tree and the job (src/io) with the spec type
 * (src/models), which do not depend on each other. */
#ifndef DLT_SPEC_TOML_H
#define DLT_SPEC_TOML_H

#include <stdio.h>

#include "dlt_job.h"
#include "dlt_spec.h"
#include "dlt_toml.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a spec from its table:
 *   stem_filters = 32                       # optional, 0: no stem
 *   layers = [ { kernel = 3, filters = 36, stride = 1 },
 *              { op = "sepconv", kernel_h = 3, kernel_w = 5, filters = 48, skip = [0] }, ... ]
 * (or [[model.spec.layers]] tables). Per layer: op (conv, sepconv, maxpool,
 * avgpool; default conv), kernel or kernel_h and kernel_w, filters, stride
 * (default 1), skip (default []). Then dlt_spec_check's rules. Errors are
 * one line naming the place and the field, the place being `file`:line when
 * the value has a line, else `file` alone (NULL: none):
 *   "job.toml:14: model.spec.layers[3].skip[0] = 5: a skip must name an
 *    earlier layer (0..1; the previous layer is always the input)". */
dlt_status dlt_spec_from_toml(const dlt_toml_value *table, const char *file, dlt_spec *out);
/* The job's model.spec (a job file's table or a --set inline table). */
dlt_status dlt_spec_from_job(const dlt_job *job, dlt_spec *out);
/* A job file that retrains `s`: the resolved `base` job (data, optimizer,
 * schedule ... as they are) with model.arch = "spec" and model.spec = s;
 * base NULL: dlt_spec_write_toml. */
dlt_status dlt_spec_write_job(FILE *f, const dlt_job *base, const dlt_spec *s);

#ifdef __cplusplus
}
#endif
#endif
