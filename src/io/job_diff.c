/* The keys in which two resolved jobs differ, for resuming a checkpoint with
 * another job ("optim.lr 0.01 -> 0.02"). */
#include <stdlib.h>
#include <string.h>

#include "dlt_job.h"

/* v as TOML, into buf */
static void value_text(const dlt_toml_value *v, char *buf, size_t len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    buf[0] = '\0';
    if (!f)
        return;
    dlt_toml_write_value(f, v);
    fclose(f);
    snprintf(buf, len, "%s", text ? text : "");
    free(text);
}

int dlt_job_diff_text(const char *old_text, const char *new_text, char *buf, size_t len)
{
    dlt_job *a = NULL, *b = NULL;
    int n = -1;
    size_t nkeys, off = 0;
    const dlt_job_key *keys = dlt_job_schema(&nkeys);
    buf[0] = '\0';
    if (dlt_job_new(&a) == DLT_OK && dlt_job_new(&b) == DLT_OK &&
        dlt_job_load(a, "checkpoint job", old_text ? old_text : "",
                     old_text ? strlen(old_text) : 0) == DLT_OK &&
        dlt_job_load(b, "job", new_text ? new_text : "", new_text ? strlen(new_text) : 0) ==
            DLT_OK) {
        n = 0;
        for (size_t i = 0; i < nkeys; i++) {
            const dlt_toml_value *x = dlt_job_get(a, keys[i].key), *y = dlt_job_get(b, keys[i].key);
            /* where and how often results are written changes no result */
            if (strncmp(keys[i].key, "log.", 4) == 0 ||
                strncmp(keys[i].key, "checkpoint.", 11) == 0 || dlt_toml_equal(x, y))
                continue;
            char vx[128], vy[128];
            value_text(x, vx, sizeof vx);
            value_text(y, vy, sizeof vy);
            if (n < 8 && off < len)
                off += (size_t)snprintf(buf + off, len - off, "%s%s %s -> %s", n ? ", " : "",
                                        keys[i].key, vx, vy);
            n++;
        }
        if (n > 8 && off < len)
            snprintf(buf + off, len - off, " and %d more", n - 8);
    }
    dlt_job_free(a);
    dlt_job_free(b);
    dlt_clearerr();
    return n;
}
