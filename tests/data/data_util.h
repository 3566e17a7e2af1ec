/* Helpers for the data tests: temporary folders and small deterministic shards. */
#ifndef DLT_DATA_TEST_UTIL_H
#define DLT_DATA_TEST_UTIL_H

#include <stdint.h>
#include <stddef.h>

/* Creates a fresh folder under $TMPDIR (or /tmp); the caller frees the string. */
char *dt_tmpdir(void);
void dt_rmrf(const char *dir);
/* The pixel bytes of global sample idx: byte 0 and 1 encode idx, the rest vary. */
void dt_sample_image(uint8_t *hwc, size_t sz, int64_t idx);
/* Writes an image-classification shard whose sample i is dt_sample_image(first + i)
 * with label (first + i) % classes. */
void dt_write_cls_shard(const char *path, int64_t first, int64_t n, int h, int w, int c,
                        int classes);
/* Does msg contain all of the given substrings? (NULL-terminated list) */
int dt_contains(const char *msg, ...);
/* Text-piece callback: appends the piece to the NUL-terminated buffer `user`,
 * separated from earlier pieces by '|'. */
void dt_join_piece(const char *p, size_t n, void *user);

#endif
