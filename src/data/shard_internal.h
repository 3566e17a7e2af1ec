/* Private to src/data: the per-kind dataset table and HDF5 helpers shared by
 * the shard writer and reader. */
#ifndef DLT_SHARD_INTERNAL_H
#define DLT_SHARD_INTERNAL_H

#include <hdf5.h>

#include "dlt_data.h"

typedef enum { DS_U8 = 0, DS_I32, DS_I64, DS_F32, DS_STR } dlt_ds_type;

/* One dataset of a kind. rank counts the leading sample axis; dims after it come
 * from the spec/shape. Entries are listed in checksum order. */
typedef struct {
    const char *name;
    dlt_ds_type type;
    int rank;
} dlt_ds_desc;

#define DLT_MAX_DATASETS 10

/* The datasets of a kind, in checksum order; returns their count. */
int dlt_data_kind_datasets(dlt_shard_kind k, const dlt_ds_desc **out);
size_t dlt_data_ds_elem_size(dlt_ds_type t);
const char *dlt_data_ds_type_name(dlt_ds_type t);
hid_t dlt_data_ds_file_type(dlt_ds_type t); /* little-endian file types */
hid_t dlt_data_ds_mem_type(dlt_ds_type t);
/* Human name of an HDF5 type ("uint8", "float64", "string", ...) into buf. */
const char *dlt_data_h5_type_name(hid_t type, char *buf, size_t n);
/* Does the file type match t (class, size, sign)? */
int dlt_data_h5_type_is(hid_t type, dlt_ds_type t);

/* HDF5's automatic error printing is turned off for the calling thread while
 * library code runs (library code never prints). */
typedef struct {
    H5E_auto2_t func;
    void *data;
} dlt_h5_quiet;
void dlt_h5_quiet_begin(dlt_h5_quiet *q);
void dlt_h5_quiet_end(const dlt_h5_quiet *q);

/* Root attribute helpers. */
dlt_status dlt_data_attr_write_str(hid_t obj, const char *name, const char *value);
dlt_status dlt_data_attr_write_i64(hid_t obj, const char *name, hid_t file_type, int64_t v);
/* Returns DLT_ERR_NOTFOUND when absent, DLT_ERR_DTYPE when of another class. *value is malloc'd. */
dlt_status dlt_data_attr_read_str(hid_t obj, const char *name, char **value);
dlt_status dlt_data_attr_read_i64(hid_t obj, const char *name, int64_t *v);
/* 1-D string datasets (variable-length UTF-8). */
dlt_status dlt_data_strings_write(hid_t file, const char *name, const char *const *s, int64_t n);
dlt_status dlt_data_strings_read(hid_t ds, char ***s, int64_t *n);
void dlt_data_strings_free(char **s, int64_t n);
/* CRC-32 over strings: each string's bytes, then a NUL. */
uint32_t dlt_data_strings_crc(uint32_t crc, const char *const *s, int64_t n, int64_t *bytes);
uint32_t dlt_data_crc_combine(uint32_t a, uint32_t b, int64_t len_b);

double dlt_data_now(void); /* monotonic seconds */

#endif
