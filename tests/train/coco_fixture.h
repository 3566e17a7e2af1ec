/* The COCO evaluation fixtures (tests/fixtures/coco_eval_*.json, made by
 * coco_eval_make_fixtures.py with pycocotools) for test_coco_rle and
 * test_coco_eval. */
#ifndef COCO_FIXTURE_H
#define COCO_FIXTURE_H

#include <cJSON.h>
#include <stddef.h>

/* The path of tests/fixtures/<name> under $top_srcdir (else the source tree
 * the tests were built from) into buf. */
const char *coco_fixture_path(const char *name, char *buf, size_t len);
/* coco_eval_expected.json parsed (fails the test when missing); cJSON_Delete it. */
cJSON *coco_fixture_expected(void);
/* A JSON array of numbers as doubles (n of them; fails the test otherwise). */
void coco_fixture_doubles(const cJSON *a, double *out, int n);

#endif
