/* dltrain export, the tokenizer's part: a transformer checkpoint's model is
 * only usable with the tokenizer its shards were encoded with, so the export
 * writes it beside the weights as Hugging Face's files. The shards are those of
 * the checkpoint's job (data.train), or the caller's. */
#include <stdlib.h>
#include <string.h>

#include "dlt_job.h"
#include "task.h"

dlt_status dlt_export_tokenizer(const char *ckpt, const char *data_override, const char *dir,
                                dlt_tokenizer_export_info *info)
{
    dlt_job *job = NULL;
    char *text = NULL;
    dlt_train_config c;
    dlt_text_loader *l = NULL;
    memset(info, 0, sizeof *info);
    dlt_status st = dlt_task_config_from_ckpt(ckpt, &job, &text, &c);
    if (st != DLT_OK || c.task == DLT_TASK_CLASSIFY || c.task == DLT_TASK_GAN ||
        c.task == DLT_TASK_VAE) /* image models have no tokenizer */
        goto out;
    const char *glob = data_override && data_override[0] ? data_override : c.train_glob;
    c.batch_size = 1, c.drop_last = 0, c.shuffle = 0;
    if ((st = dlt_task_text_loader(&c, glob, 0, 0, 1, 1, &l)) != DLT_OK) {
        st = dlt_adderr(st == DLT_ERR_NOMEM ? st : DLT_ERR_NOTFOUND,
                        "the tokenizer comes from the training shards of the job (data.train = "
                        "'%s'; --data GLOB names others)",
                        glob);
        goto out;
    }
    const dlt_tokenizer *t = dlt_text_loader_tokenizer(l);
    if (!t) {
        st = dlt_seterr(DLT_ERR_INVALID, "%s: the shards store no tokenizer", glob);
        goto out;
    }
    if (dlt_text_loader_is_bert(l) != (c.task == DLT_TASK_BERT)) {
        st = dlt_seterr(DLT_ERR_INVALID, "%s: %s shards, but model.arch = %s", glob,
                        dlt_text_loader_is_bert(l) ? "bert-pretraining" : "text-tokens", c.arch);
        goto out;
    }
    if ((st = dlt_tokenizer_write_hf(t, dir, c.tf.max_len, info->files, sizeof info->files)) !=
        DLT_OK)
        goto out;
    info->written = 1;
    info->vocab_size = dlt_tokenizer_vocab_size(t);
    info->num_merges = dlt_tokenizer_num_merges(t);
    info->type = dlt_tokenizer_type_name(dlt_tokenizer_get_type(t));
out:
    dlt_text_loader_close(l);
    dlt_job_free(job);
    free(text);
    return st;
}
