/* libFuzzer target for job validation (see README.md here): the input is a
 * job file; its first line, when it starts with "--set ", is an override. */
#include "dlt_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dlt_job *job;
    if (dlt_job_new(&job) != DLT_OK)
        abort();
    const char *text = (const char *)data;
    if (size > 6 && !memcmp(text, "--set ", 6)) {
        const char *nl = memchr(text, '\n', size);
        size_t n = nl ? (size_t)(nl - text) : size;
        char *set = strndup(text + 6, n - 6);
        dlt_job_set(job, set);
        free(set);
        text += n;
        size -= n;
    }
    if (dlt_job_load(job, "fuzz.toml", text, size) == DLT_OK) {
        FILE *f = fopen("/dev/null", "w");
        dlt_job_write(f, job);
        fclose(f);
    } else if (strncmp(dlt_errmsg(), "fuzz.toml:", 10)) {
        abort(); /* every load error names the file */
    }
    dlt_job_free(job);
    return 0;
}
