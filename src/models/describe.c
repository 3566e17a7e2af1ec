/* What each architecture is, as key/value pairs (docs/models.md lists every
 * key and how it maps onto torchvision and Hugging Face). Checkpoints store
 * them under /model, `dltrain export` in the safetensors __metadata__, and
 * --dry-run prints them: the settings of a model are data, not only code. */
#include <stdio.h>
#include <string.h>

#include "dlt_models.h"
#include "dlt_transformer.h"

static int resnet_depth(const char *arch)
{
    int depth = 0, len = 0;
    if (sscanf(arch, "resnet%d%n", &depth, &len) != 1 || arch[len] != '\0' || depth <= 0)
        return 0;
    return depth;
}

static int imagenet_depth(int d) { return d == 18 || d == 34 || d == 50 || d == 101 || d == 152; }

const char *dlt_arch_families(const char *arch)
{
    dlt_model_spec ms;
    dlt_transformer_spec ts;
    if (dlt_model_spec_default(arch, &ms) == DLT_OK) {
        int d = resnet_depth(arch);
        if (d)
            return imagenet_depth(d) ? "classifier resnet resnet-imagenet" : "classifier resnet resnet-cifar";
        if (!strcmp(arch, "spec"))
            return "classifier spec";
        return strcmp(arch, "mlp") == 0 ? "classifier mlp" : "classifier vgg";
    }
    dlt_clearerr();
    if (dlt_transformer_spec_default(arch, &ts) == DLT_OK)
        return ts.family == DLT_TF_BERT ? "transformer bert" : ts.family == DLT_TF_GPT ? "transformer gpt"
                                                                                        : "transformer seq2seq";
    dlt_clearerr();
    if (!strcmp(arch, "vae"))
        return "vae";
    return NULL;
}

static void batch_norm(dlt_kvlist *kv, const dlt_model_spec *s)
{
    dlt_kv_float(kv, "bn_momentum", s->bn_momentum);
    dlt_kv_float(kv, "bn_eps", s->bn_eps);
}

static void resnet(dlt_kvlist *kv, const dlt_model_spec *s, int depth)
{
    int w[4], b[4];
    if (!imagenet_depth(depth)) {
        int n = (depth - 2) / 6;
        for (int i = 0; i < 3; i++)
            w[i] = 16 << i, b[i] = n;
        dlt_kv_str(kv, "family", "resnet-cifar");
        dlt_kv_int(kv, "depth", depth);
        dlt_kv_str(kv, "block", "basic");
        dlt_kv_ints(kv, "blocks", b, 3);
        dlt_kv_ints(kv, "widths", w, 3);
        dlt_kv_str(kv, "shortcut", s->shortcut == 'B' ? "B" : "A");
        dlt_kv_str(kv, "stem", "conv3x3");
    } else {
        static const int blocks[][4] = {{2, 2, 2, 2}, {3, 4, 6, 3}, {3, 4, 6, 3}, {3, 4, 23, 3}, {3, 8, 36, 3}};
        int idx = depth == 18 ? 0 : depth == 34 ? 1 : depth == 50 ? 2 : depth == 101 ? 3 : 4;
        for (int i = 0; i < 4; i++)
            w[i] = 64 << i, b[i] = blocks[idx][i];
        dlt_kv_str(kv, "family", "resnet-imagenet");
        dlt_kv_int(kv, "depth", depth);
        dlt_kv_str(kv, "block", depth >= 50 ? "bottleneck" : "basic");
        dlt_kv_ints(kv, "blocks", b, 4);
        dlt_kv_ints(kv, "widths", w, 4);
        dlt_kv_int(kv, "expansion", depth >= 50 ? 4 : 1);
        dlt_kv_str(kv, "shortcut", "B");
        dlt_kv_str(kv, "stem", s->small_input ? "conv3x3" : "conv7x7s2+maxpool");
        dlt_kv_bool(kv, "small_input", s->small_input);
    }
    dlt_kv_bool(kv, "zero_init_residual", s->zero_init_residual);
    batch_norm(kv, s);
}

void dlt_model_describe(const dlt_model_spec *s, dlt_kvlist *kv)
{
    memset(kv, 0, sizeof *kv);
    int depth = resnet_depth(s->arch);
    dlt_kv_str(kv, "arch", s->arch);
    if (depth) {
        resnet(kv, s, depth);
    } else if (strcmp(s->arch, "mlp") == 0) {
        dlt_kv_str(kv, "family", "mlp");
        dlt_kv_int(kv, "in_features", (int64_t)s->in_channels * s->in_h * s->in_w);
        dlt_kv_int(kv, "hidden", s->mlp_hidden);
        dlt_kv_int(kv, "layers", s->mlp_layers);
        dlt_kv_str(kv, "activation", "relu");
        dlt_kv_float(kv, "dropout", s->dropout);
    } else if (strcmp(s->arch, "spec") == 0) {
        int64_t params = 0;
        double flops = 0;
        dlt_kv_str(kv, "family", "spec");
        dlt_kv_int(kv, "layers", s->net.nlayers);
        dlt_kv_int(kv, "stem_filters", s->net.stem_filters);
        if (dlt_spec_measure(&s->net, s->in_channels, s->in_h, s->in_w, s->num_classes, &params, &flops) == DLT_OK)
            dlt_kv_float(kv, "flops_per_sample", flops);
        else
            dlt_clearerr();
        dlt_kv_str(kv, "head", "global_avgpool+linear");
        batch_norm(kv, s);
    } else {
        static const char *const cfg11 = "64,M,128,M,256,256,M,512,512,M,512,512,M";
        static const char *const cfg16 = "64,64,M,128,128,M,256,256,256,M,512,512,512,M,512,512,512,M";
        dlt_kv_str(kv, "family", "vgg");
        dlt_kv_int(kv, "depth", strcmp(s->arch, "vgg11") == 0 ? 11 : 16);
        dlt_kv_str(kv, "features", strcmp(s->arch, "vgg11") == 0 ? cfg11 : cfg16);
        dlt_kv_bool(kv, "batch_norm", 1);
        dlt_kv_str(kv, "head", "global_avgpool+linear");
        dlt_kv_float(kv, "dropout", s->dropout);
        batch_norm(kv, s);
    }
    dlt_kv_int(kv, "in_channels", s->in_channels);
    dlt_kv_int(kv, "image_height", s->in_h);
    dlt_kv_int(kv, "image_width", s->in_w);
    dlt_kv_int(kv, "num_classes", s->num_classes);
    dlt_kv_str(kv, "linear_layout", "out_in");
}

void dlt_transformer_describe(const dlt_transformer_spec *s, dlt_kvlist *kv)
{
    memset(kv, 0, sizeof *kv);
    int bert = s->family == DLT_TF_BERT, gpt = s->family == DLT_TF_GPT;
    dlt_kv_str(kv, "arch", s->arch);
    dlt_kv_str(kv, "family", bert ? "bert" : gpt ? "gpt" : "seq2seq");
    dlt_kv_int(kv, "vocab_size", s->vocab);
    dlt_kv_int(kv, "max_positions", s->max_len);
    dlt_kv_str(kv, "positions", s->family == DLT_TF_SEQ2SEQ ? "sinusoidal" : "learned");
    if (bert)
        dlt_kv_int(kv, "type_vocab_size", s->type_vocab);
    dlt_kv_int(kv, "layers", s->layers);
    if (s->family == DLT_TF_SEQ2SEQ)
        dlt_kv_int(kv, "decoder_layers", s->dec_layers);
    dlt_kv_int(kv, "hidden_size", s->hidden);
    dlt_kv_int(kv, "heads", s->heads);
    dlt_kv_int(kv, "intermediate_size", s->intermediate);
    /* Hugging Face's ACT2FN names: "gelu" is erf GELU, "gelu_new" the tanh form */
    dlt_kv_str(kv, "activation", s->family == DLT_TF_SEQ2SEQ ? "relu" : s->gelu == DLT_GELU_TANH ? "gelu_new" : "gelu");
    dlt_kv_str(kv, "norm", gpt ? "pre" : "post");
    dlt_kv_float(kv, "layer_norm_eps", s->layer_norm_eps);
    dlt_kv_float(kv, "hidden_dropout", s->hidden_dropout);
    dlt_kv_float(kv, "attention_dropout", s->attn_dropout);
    dlt_kv_float(kv, "init_std", s->init_std);
    dlt_kv_bool(kv, "tied_lm_head", 1);
    dlt_kv_str(kv, "linear_layout", gpt ? "in_out" : "out_in");
}
