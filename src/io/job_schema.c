/* The job schema: one row per key. To add a key, add a row here (keep the
 * section's rows together), then regenerate docs/jobs.md with
 * `tests/io/test_job --write-reference > docs/jobs.md` (make check fails
 * while the two differ).
 *
 * Every integer key has a finite range, checked exactly (as int64, not as a
 * double) when a job is loaded: its maximum is that of the C type its value
 * lands in (an int: 2147483647) or a smaller meaningful one. Step counts stop
 * at 10^12 so that products of steps, batches and ranks stay inside int64;
 * sizes (batch, width, classes, sequence) at 2^20. */
#include "dlt_job.h"

#include <string.h>

static const dlt_job_key schema[] = {
    {"model.name", DLT_JOB_STRING, "\"model\"", NULL, "run name, one folder name (not empty, no '/', not . or .., at most 127 bytes); outputs go to <checkpoint.dir>/<model.name>/"},
    {"model.arch", DLT_JOB_STRING, "\"mlp\"", NULL, "network, which picks the task: mlp, resnet20/32/44/56/110, resnet18/34/50/101/152, vgg11, vgg16 (classification); bert-tiny/mini/small/medium/base/large (BERT pre-training: MLM + NSP); gpt-tiny/mini/small, gpt2, gpt2-medium (causal language model); gan-mlp, dcgan, cgan, wgan, wgan-gp (GANs: phased discriminator and generator steps); cyclegan (unpaired image translation: two generators, two discriminators); vae (variational autoencoder: negative ELBO); spec (classification: the network of model.spec); nas (a neural architecture search over spec children: [nas]); maskrcnn (Mask R-CNN on detection shards: the five training losses)"},
    {"model.num_classes", DLT_JOB_INT, "10", "[1, 1048576]", "number of output classes"},
    {"model.shortcut", DLT_JOB_STRING, "\"A\"", "A|B", "CIFAR ResNets: shortcut option A (identity, zero-padded) or B (1x1 projection)"},
    {"model.zero_init_residual", DLT_JOB_BOOL, "false", NULL, "ResNets: zero the last batch-norm scale of each residual block"},
    {"model.small_input", DLT_JOB_BOOL, "false", NULL, "ImageNet ResNets: 3x3 stem without max pooling, for small images"},
    {"model.hidden", DLT_JOB_INT, "256", "[1, 1048576]", "mlp: width of the hidden layers"},
    {"model.layers", DLT_JOB_INT, "2", "[0, 64]", "mlp: number of hidden layers"},
    {"model.dropout", DLT_JOB_FLOAT, "0.0", "[0, 1)", "dropout before the classifier (vgg, mlp); transformers: hidden and attention dropout when set (default: the architecture's, 0.1)"},
    {"model.spec", DLT_JOB_TABLE, "{}", NULL, "spec: the network as a table: stem_filters = N (optional) and layers = [{ op = \"conv\", kernel = 3 (or kernel_h, kernel_w), filters = 36, stride = 1, skip = [0] }, ...] (docs/models.md, \"spec\")"},

    {"data.train", DLT_JOB_STRING, "\"\"", NULL, "training shards: an HDF5 file or a glob such as data/cifar10/train-*.h5"},
    {"data.val", DLT_JOB_STRING, "\"\"", NULL, "validation shards (empty: no evaluation)"},
    {"data.batch_size", DLT_JOB_INT, "32", "[1, 1048576]", "samples per rank per micro-step"},
    {"data.shuffle", DLT_JOB_BOOL, "true", NULL, "reshuffle the training set every epoch"},
    {"data.augment", DLT_JOB_STRING, "\"none\"", "none|flip|crop|flip_crop", "image augmentation of training samples"},
    {"data.num_workers", DLT_JOB_INT, "1", "[0, 64]", "loader threads per rank (0: load on the training thread)"},
    {"data.crop_padding", DLT_JOB_INT, "4", "[0, 64]", "zero padding before the random crop of data.augment = crop"},
    {"data.mean", DLT_JOB_FLOATS, "[]", "(-inf, inf)", "per-channel mean of pixel/255 subtracted: one value per channel of the shards, or one for all (empty: 0)"},
    {"data.std", DLT_JOB_FLOATS, "[]", "(0, inf)", "per-channel standard deviation divided by: one value per channel of the shards, or one for all (empty: 1)"},
    {"data.drop_last", DLT_JOB_BOOL, "true", NULL, "drop the last incomplete batch of an epoch (else pad it, padding is not counted)"},
    {"data.seq_len", DLT_JOB_INT, "128", "[1, 1048576]", "causal LM: tokens per window T (inputs tokens[:, :T], targets tokens[:, 1:]; the context of dltrain generate); BERT takes the length of its shards"},
    {"data.prefetch", DLT_JOB_INT, "2", "[1, 64]", "batches prepared ahead"},

    {"optim.name", DLT_JOB_STRING, "\"sgd\"", "sgd|adam|adamw|rmsprop|adadelta|adagrad|lamb", "optimizer"},
    {"optim.lr", DLT_JOB_FLOAT, "0.01", "(0, inf)", "base learning rate (the schedule scales it)"},
    {"optim.momentum", DLT_JOB_FLOAT, "0.0", "[0, 1)", "momentum (sgd, rmsprop)"},
    {"optim.weight_decay", DLT_JOB_FLOAT, "0.0", "[0, inf)", "L2 penalty (adamw, lamb: decoupled weight decay)"},
    {"optim.nesterov", DLT_JOB_BOOL, "false", NULL, "Nesterov momentum (sgd)"},
    {"optim.betas", DLT_JOB_FLOATS, "[0.9, 0.999]", "[0, 1)", "moment decay rates (adam, adamw, lamb)"},
    {"optim.eps", DLT_JOB_FLOAT, "1e-08", "(0, inf)", "denominator guard (adam, adamw, rmsprop, adadelta, adagrad, lamb)"},
    {"optim.no_decay", DLT_JOB_STRING, "\"\"", NULL, "comma-separated parameter name patterns without weight decay, e.g. \"*.bias,*bn*\""},

    {"schedule.name", DLT_JOB_STRING, "\"constant\"",
     "constant|step|multistep|exponential|cosine|cosine_restarts|warmup_linear|warmup_cosine|warmup_poly|one_cycle|hold_linear",
     "learning-rate schedule"},
    {"schedule.warmup_steps", DLT_JOB_INT, "0", "[0, 1000000000000]", "steps of linear warm-up: warmup_* from 0 to optim.lr; step, multistep, exponential, cosine(_restarts) and constant from schedule.warmup_start times their rate (torchvision's LinearLR chained before them); refused by one_cycle and hold_linear"},
    {"schedule.warmup_start", DLT_JOB_FLOAT, "0.001", "[0, 1]", "start of the warm-up of the schedules without their own, as a fraction of their rate (torchvision's detection reference: 0.001)"},
    {"schedule.hold_steps", DLT_JOB_INT, "0", "[0, 1000000000000]", "hold_linear: steps at optim.lr before the linear decay (CycleGAN's n_epochs); 0: half of the run"},
    {"schedule.min_lr", DLT_JOB_FLOAT, "0.0", "[0, inf)", "floor of decaying schedules"},
    {"schedule.step_size", DLT_JOB_INT, "1", "[1, 1000000000000]", "step: steps between decays"},
    {"schedule.gamma", DLT_JOB_FLOAT, "0.1", "(0, inf)", "step, multistep, exponential: decay factor"},
    {"schedule.milestones", DLT_JOB_FLOATS, "[]", "[0, 1000000000000]", "multistep: steps at which the rate decays"},

    {"train.epochs", DLT_JOB_INT, "1", "[0, 1000000]", "passes over the training set (used when train.steps is 0)"},
    {"train.steps", DLT_JOB_INT, "0", "[0, 1000000000000]", "optimizer steps to run; 0: run train.epochs"},
    {"train.seed", DLT_JOB_INT, "0", "[0, 9223372036854775807]", "seed of initialisation, shuffling and augmentation"},
    {"train.grad_clip", DLT_JOB_FLOAT, "0.0", "[0, inf)", "clip the global gradient norm to this; 0: off"},
    {"train.accumulate", DLT_JOB_INT, "1", "[1, 1048576]", "micro-steps whose gradients make one optimizer step"},
    {"train.device", DLT_JOB_STRING, "\"cpu\"", "cpu|cuda|auto", "where each rank trains: the CPU, its GPU (local rank modulo the node's GPUs), or a GPU when one is visible"},
    {"train.precision", DLT_JOB_STRING, "\"fp32\"", "fp32|tf32|bf16|fp16", "compute precision on the GPU: fp32; tf32 tensor cores for GEMMs and convolutions; bf16 tensor-core GEMMs with TF32 convolutions; fp16 tensor-core GEMMs and convolutions with dynamic loss scaling. Tensors, gradients and optimizer state stay fp32. The CPU computes in fp32"},
    {"train.loss_scale", DLT_JOB_FLOAT, "0.0", "[0, inf)", "0: dynamic loss scaling when precision = \"fp16\", none otherwise; > 0: this static loss scale (any precision; 1 turns scaling off)"},
    {"train.loss_scale_init", DLT_JOB_FLOAT, "65536.0", "(0, inf)", "first scale of dynamic loss scaling"},
    {"train.loss_scale_window", DLT_JOB_INT, "2000", "[1, 2147483647]", "dynamic loss scaling: steps without inf/NaN gradients before the scale doubles (an overflow skips the step and halves it)"},
    {"train.label_smoothing", DLT_JOB_FLOAT, "0.0", "[0, 1]", "classification: label smoothing of the cross-entropy"},
    {"train.threads", DLT_JOB_INT, "0", "[0, 1024]", "CPU threads per rank; 0: the node's cores divided by its ranks"},
    {"train.recompute", DLT_JOB_BOOL, "true", NULL, "rebuild batch norm's outputs (without a residual) in the backward from its input and statistics instead of keeping them from the forward: bitwise the same results, less activation memory (ResNet-50 b32: 2.55 -> 2.07 GiB), one more elementwise pass per layer"},
    {"train.cuda_graphs", DLT_JOB_BOOL, "false", NULL, "GPU: replay each step's kernels from a captured CUDA graph (training on one rank; evaluation on any)"},
    {"train.nonfinite", DLT_JOB_STRING, "\"stop\"", "stop|skip", "a NaN/Inf gradient stops the run, or skips that step"},

    {"eval.every_steps", DLT_JOB_INT, "0", "[0, 1000000000000]", "evaluate every N steps; 0: at the end of every epoch"},

    {"checkpoint.dir", DLT_JOB_STRING, "\"runs\"", NULL, "directory that holds <model.name>/ with checkpoints and metrics (not empty; \".\": the current directory)"},
    {"checkpoint.every_steps", DLT_JOB_INT, "0", "[0, 1000000000000]", "save every N steps; 0: only at the end"},
    {"checkpoint.every_minutes", DLT_JOB_FLOAT, "0.0", "[0, inf)", "also save after this much wall time; 0: off"},
    {"checkpoint.keep_last", DLT_JOB_INT, "3", "[0, 1000000]", "checkpoints kept on disk; 0: keep all"},

    {"dist.backend", DLT_JOB_STRING, "\"auto\"", "auto|mpi|nccl", "collectives: auto picks NCCL for GPU tensors, MPI for CPU tensors"},
    {"dist.bucket_mb", DLT_JOB_FLOAT, "25.0", "(0, inf)", "gradient bucket size for overlapped all-reduce, MiB"},
    {"dist.timeout_s", DLT_JOB_FLOAT, "300.0", "(0, inf)", "a collective that takes longer aborts the job"},
    {"dist.reduce_dtype", DLT_JOB_STRING, "\"fp32\"", "fp32|bf16", "gradients travel as fp32, or rounded to bf16 (half the bytes; summed in bf16 like DDP's bf16_compress_hook)"},
    {"dist.zero", DLT_JOB_INT, "0", "[0, 1]", "1: shard optimizer state across ranks (ZeRO stage 1)"},
    {"dist.debug_collectives", DLT_JOB_BOOL, "false", NULL, "check before each collective that every rank calls the same one"},
    {"dist.check_every", DLT_JOB_INT, "0", "[0, 2147483647]", "compare parameter checksums across ranks every N steps; 0: at start and resume"},

    {"gan.loss", DLT_JOB_STRING, "\"auto\"", "auto|bce|wasserstein|wasserstein-gp", "GAN losses: bce (non-saturating; gan-mlp, dcgan, cgan), wasserstein (WGAN critic, weight clipping), wasserstein-gp (gradient penalty); auto: the architecture's"},
    {"gan.gp_lambda", DLT_JOB_FLOAT, "10.0", "[0, inf)", "wasserstein-gp: weight of the gradient penalty"},
    {"gan.num_classes", DLT_JOB_INT, "0", "[0, 1048576]", "> 0: both networks are conditioned on the class label (Mirza & Osindero), the shards' class count; 0: unconditional (unset: the architecture's)"},
    {"gan.z_dim", DLT_JOB_INT, "100", "[1, 1048576]", "noise features of the generator's input (unset: the architecture's)"},
    {"gan.g_width", DLT_JOB_INT, "0", "[0, 1048576]", "generator base width (gan-mlp: first hidden layer; dcgan: ngf); 0: the architecture's"},
    {"gan.d_width", DLT_JOB_INT, "0", "[0, 1048576]", "discriminator base width; 0: the architecture's"},
    {"gan.g_norm", DLT_JOB_STRING, "\"auto\"", "auto|batch|none", "generator normalisation: the architecture's (batch), or none (data-parallel equivalence: per-rank batch statistics differ by design)"},
    {"gan.sample_every", DLT_JOB_INT, "500", "[0, 1000000000]", "sample grids of the generator (evaluation mode, fixed noise) every N steps into <run_dir>/samples/step-<N>.png and TensorBoard; 0: only at the end"},
    {"gan.fid_classifier", DLT_JOB_STRING, "\"\"", NULL, "FID-FMNIST at each checkpoint (checkpoint.every_steps) and at the end, of the generator (GANs) or of the decoder's prior samples (vae): a dltrain classifier checkpoint (ResNet-20 on Fashion-MNIST, scripts/fid-classifier.sh) whose features it compares; empty: off"},
    {"gan.fid_samples", DLT_JOB_INT, "10000", "[2, 100000000]", "generated images of each FID (split over the ranks)"},
    {"gan.fid_data", DLT_JOB_STRING, "\"\"", NULL, "shards of the real images FID compares with (empty: data.val)"},
    {"cyclegan.lambda_cycle", DLT_JOB_FLOAT, "10.0", "[0, inf)", "cyclegan: weight of the cycle-consistency L1 terms (A->B->A, B->A->B)"},
    {"cyclegan.lambda_identity", DLT_JOB_FLOAT, "0.5", "[0, inf)", "cyclegan: weight of the identity L1 terms as a fraction of lambda_cycle (the reference's lambda_identity)"},
    {"cyclegan.pool_size", DLT_JOB_INT, "50", "[0, 1048576]", "cyclegan: generated images kept per domain per rank for the discriminators (0: no pool)"},
    {"cyclegan.n_blocks", DLT_JOB_INT, "0", "[0, 64]", "cyclegan: residual blocks of the generators; 0: 9 for 256px and larger, else 6"},
    {"cyclegan.g_width", DLT_JOB_INT, "0", "[0, 1048576]", "cyclegan: generator base width ngf; 0: 64"},
    {"cyclegan.d_width", DLT_JOB_INT, "0", "[0, 1048576]", "cyclegan: discriminator base width ndf; 0: 64"},
    {"cyclegan.d_layers", DLT_JOB_INT, "0", "[0, 8]", "cyclegan: stride-2 convolutions of the PatchGAN; 0: 3 (the 70x70 PatchGAN)"},

    {"vae.z_dim", DLT_JOB_INT, "20", "[1, 1048576]", "latent size of the VAE"},
    {"vae.width", DLT_JOB_INT, "32", "[1, 1048576]", "conv channels of the encoder and decoder: width, then 2 width"},
    {"vae.hidden", DLT_JOB_INT, "256", "[1, 1048576]", "fully connected hidden layer between the convs and the latent"},
    {"maskrcnn.depth", DLT_JOB_INT, "50", "[18, 152]", "backbone ResNet depth: 18, 34, 50, 101 or 152 (torchvision's resnet<depth> body with an FPN)"},
    {"maskrcnn.num_classes", DLT_JOB_INT, "0", "[0, 100000]", "classes with the background (COCO: 91); 0: the shards' count"},
    {"maskrcnn.trainable_layers", DLT_JOB_INT, "3", "[0, 5]", "backbone stages trained, from layer4 down to the stem (torchvision's trainable_backbone_layers)"},
    {"maskrcnn.norm", DLT_JOB_STRING, "\"frozen\"", NULL, "backbone normalisation: frozen (batch norm with fixed statistics), batch, group (32 groups)"},
    {"maskrcnn.fpn_channels", DLT_JOB_INT, "256", "[1, 65536]", "FPN and RPN channels (and the pooled RoI features')"},
    {"maskrcnn.representation", DLT_JOB_INT, "1024", "[1, 65536]", "width of the box head's two fully connected layers"},
    {"maskrcnn.mask_channels", DLT_JOB_INT, "256", "[1, 65536]", "width of the mask head's convs"},
    {"maskrcnn.min_size", DLT_JOB_INT, "800", "[32, 65536]", "the loader's resize: shorter side (GeneralizedRCNNTransform's min_size)"},
    {"maskrcnn.max_size", DLT_JOB_INT, "1333", "[32, 65536]", "the loader's resize: longest side at most"},
    {"maskrcnn.flip", DLT_JOB_BOOL, "true", NULL, "random horizontal flips of the training images (and their boxes and masks)"},
    {"maskrcnn.max_boxes", DLT_JOB_INT, "0", "[0, 100000]", "ground-truth slots M per image; 0: the shards' M. Objects past M are dropped (the loader's truncation)"},
    {"maskrcnn.anchor_sizes", DLT_JOB_FLOATS, "[32.0, 64.0, 128.0, 256.0, 512.0]", "(0, inf)", "anchor size of each of the 5 FPN levels (pixels)"},
    {"maskrcnn.anchor_ratios", DLT_JOB_FLOATS, "[0.5, 1.0, 2.0]", "(0, inf)", "anchor aspect ratios h/w, 1 to 3 (anchors per location)"},
    {"maskrcnn.rpn_pre_nms_top_n", DLT_JOB_INT, "2000", "[1, 1048576]", "training: proposals per FPN level and image kept by objectness before NMS"},
    {"maskrcnn.rpn_post_nms_top_n", DLT_JOB_INT, "2000", "[1, 1048576]", "training: proposals per image kept after NMS (0.7)"},
    {"maskrcnn.rpn_batch", DLT_JOB_INT, "256", "[1, 16777216]", "anchors sampled per image for the RPN losses"},
    {"maskrcnn.rpn_positive_fraction", DLT_JOB_FLOAT, "0.5", "[0, 1]", "at most this fraction of the RPN sample is positive"},
    {"maskrcnn.rpn_fg_iou", DLT_JOB_FLOAT, "0.7", "[0, 1]", "an anchor with IoU >= this is positive"},
    {"maskrcnn.rpn_bg_iou", DLT_JOB_FLOAT, "0.3", "[0, 1]", "an anchor with IoU < this is negative (between: ignored)"},
    {"maskrcnn.roi_batch", DLT_JOB_INT, "512", "[1, 16777216]", "proposals sampled per image for the box and mask heads"},
    {"maskrcnn.roi_positive_fraction", DLT_JOB_FLOAT, "0.25", "[0, 1]", "at most this fraction of the RoI sample is positive"},
    {"maskrcnn.roi_fg_iou", DLT_JOB_FLOAT, "0.5", "[0, 1]", "a proposal with IoU >= this is foreground"},
    {"maskrcnn.roi_bg_iou", DLT_JOB_FLOAT, "0.5", "[0, 1]", "a proposal with IoU < this is background"},
    {"maskrcnn.rois", DLT_JOB_INT, "512", "[1, 16777216]", "RoIs per image the box head runs on: the sampled ones (roi_batch at most), selected in the plan"},
    {"maskrcnn.mask_positives", DLT_JOB_INT, "128", "[1, 16777216]", "sampled positives per image the mask head runs on (roi_batch x roi_positive_fraction keeps all)"},
    {"maskrcnn.eval_images", DLT_JOB_INT, "0", "[0, 1000000000]", "validation images (the first of data.val) each evaluation runs inference on for its COCO box and mask metrics; 0: all"},

    {"phase.d_optim", DLT_JOB_STRING, "\"\"", NULL, "discriminator (critic) phase: optimizer (sgd, adam, rmsprop, ...); empty: optim.name when any optim key is set, else the architecture's"},
    {"phase.d_lr", DLT_JOB_FLOAT, "0.0", "[0, inf)", "discriminator (critic) phase: learning rate; 0: inherit (as d_optim)"},
    {"phase.d_betas", DLT_JOB_FLOATS, "[]", "[0, 1)", "discriminator (critic) phase: moment decay rates (adam, adamw, lamb); empty: inherit"},
    {"phase.d_schedule", DLT_JOB_STRING, "\"\"", NULL, "discriminator (critic) phase: learning-rate schedule (a schedule.name, with the schedule.* values) over its lr; empty: schedule.name"},
    {"phase.d_grad_clip", DLT_JOB_FLOAT, "0.0", "[0, inf)", "discriminator (critic) phase: clip its gradient norm to this (unset: train.grad_clip)"},
    {"phase.d_accumulate", DLT_JOB_INT, "1", "[1, 1048576]", "discriminator (critic) phase: micro-steps per update (unset: train.accumulate)"},
    {"phase.d_repeat", DLT_JOB_INT, "1", "[1, 1000]", "discriminator (critic) phase: updates per iteration (n_critic; unset: the architecture's, 5 for wgan and wgan-gp)"},
    {"phase.d_clip_value", DLT_JOB_FLOAT, "0.0", "[0, inf)", "discriminator (critic) phase: clamp its parameters to [-c, c] after each update (WGAN: 0.01); 0: off (unset: the loss's)"},
    {"phase.g_optim", DLT_JOB_STRING, "\"\"", NULL, "generator phase: optimizer (sgd, adam, rmsprop, ...); empty: optim.name when any optim key is set, else the architecture's"},
    {"phase.g_lr", DLT_JOB_FLOAT, "0.0", "[0, inf)", "generator phase: learning rate; 0: inherit (as g_optim)"},
    {"phase.g_betas", DLT_JOB_FLOATS, "[]", "[0, 1)", "generator phase: moment decay rates (adam, adamw, lamb); empty: inherit"},
    {"phase.g_schedule", DLT_JOB_STRING, "\"\"", NULL, "generator phase: learning-rate schedule (a schedule.name, with the schedule.* values) over its lr; empty: schedule.name"},
    {"phase.g_grad_clip", DLT_JOB_FLOAT, "0.0", "[0, inf)", "generator phase: clip its gradient norm to this (unset: train.grad_clip)"},
    {"phase.g_accumulate", DLT_JOB_INT, "1", "[1, 1048576]", "generator phase: micro-steps per update (unset: train.accumulate)"},
    {"phase.g_repeat", DLT_JOB_INT, "1", "[1, 1000]", "generator phase: updates per iteration (n_critic; unset: the architecture's, 5 for wgan and wgan-gp)"},
    {"phase.g_clip_value", DLT_JOB_FLOAT, "0.0", "[0, inf)", "generator phase: clamp its parameters to [-c, c] after each update (WGAN: 0.01); 0: off (unset: the loss's)"},

    {"log.every_steps", DLT_JOB_INT, "10", "[1, 1000000000000]", "print and record metrics every N steps"},
    {"log.trace", DLT_JOB_BOOL, "false", NULL, "write a Chrome-trace timeline per rank (trace-rank<R>.json): ops, data wait, all-reduce buckets, optimizer"},
    {"log.trace_warmup", DLT_JOB_INT, "5", "[0, 1000000000000]", "steps run before the trace starts (after a start or resume)"},
    {"log.trace_steps", DLT_JOB_INT, "20", "[1, 1000000]", "steps recorded in the trace"},
    {"log.tensorboard", DLT_JOB_BOOL, "false", NULL, "also write TensorBoard event files (events.out.tfevents.*)"},
    {"nas.rounds", DLT_JOB_INT, "10", "[1, 1000000]", "NAS (model.arch nas): rounds of the search; each samples nas.children children, trains and scores them, then the controller takes one policy-gradient step"},
    {"nas.children", DLT_JOB_INT, "4", "[1, 4096]", "NAS: children sampled per round (group k of the world trains children k, k + G, ...)"},
    {"nas.ranks_per_child", DLT_JOB_INT, "1", "[1, 65536]", "NAS: ranks per group: the world splits into groups of this many ranks, each training one child data-parallel at a time (must divide the world)"},
    {"nas.child_steps", DLT_JOB_INT, "100", "[1, 1000000000]", "NAS: training steps per child (data.batch_size per rank); then its top-1 on the validation split is the reward"},
    {"nas.val_fraction", DLT_JOB_FLOAT, "0.1", "(0, 1)", "NAS: fraction of data.train held out as the validation split that scores children (data.val, the test set, is never read)"},
    {"nas.space", DLT_JOB_STRING, "\"macro\"", "macro|enas", "NAS: macro (Zoph & Le: filter height, width, count, stride per layer) or enas (one of ENAS's six ops per layer, filter count, stride); both with anchor-based skips"},
    {"nas.layers", DLT_JOB_INT, "6", "[1, 64]", "NAS: layers of every child"},
    {"nas.kernels", DLT_JOB_FLOATS, "[]", "[1, 15]", "NAS, macro: filter sizes to choose from (odd); empty: 1, 3, 5, 7"},
    {"nas.filters", DLT_JOB_FLOATS, "[]", "[1, 4096]", "NAS: filter counts to choose from; empty: 24, 36, 48, 64"},
    {"nas.strides", DLT_JOB_FLOATS, "[]", "[1, 4]", "NAS: strides to choose from; empty: 1 (no stride decision). A stride that would collapse the image becomes 1"},
    {"nas.separate_hw", DLT_JOB_BOOL, "true", NULL, "NAS, macro: filter height and width are separate decisions (false: square filters)"},
    {"nas.skips", DLT_JOB_BOOL, "true", NULL, "NAS: anchor-based skip connections (P(j -> i) = sigmoid(v^T tanh(W_prev a_j + W_curr a_i)))"},
    {"nas.stem_filters", DLT_JOB_INT, "0", "[0, 4096]", "NAS: the children's 3x3 stem (0: none)"},
    {"nas.hidden", DLT_JOB_INT, "64", "[1, 4096]", "NAS: the controller LSTM's units"},
    {"nas.lstm_layers", DLT_JOB_INT, "1", "[1, 8]", "NAS: the controller LSTM's layers"},
    {"nas.optim", DLT_JOB_STRING, "\"adam\"", "adam|sgd|rmsprop", "NAS: the controller's optimizer"},
    {"nas.lr", DLT_JOB_FLOAT, "3.5e-4", "(0, inf)", "NAS: the controller's learning rate (ENAS: Adam 3.5e-4)"},
    {"nas.entropy_weight", DLT_JOB_FLOAT, "1e-4", "[0, inf)", "NAS: weight of the entropy bonus in the REINFORCE loss"},
    {"nas.baseline_decay", DLT_JOB_FLOAT, "0.95", "[0, 1)", "NAS: decay of the exponential moving-average reward baseline"},
    {"nas.random", DLT_JOB_BOOL, "false", NULL, "NAS: random search from the same space (the benchmark's comparison): children drawn uniformly, no controller updates"},
    {"nas.keep_best", DLT_JOB_INT, "3", "[0, 100]", "NAS: the best children written as job files best-<k>.toml (model.arch spec) ready to retrain"},
    {"nas.seed", DLT_JOB_INT, "0", "[0, 9007199254740991]", "NAS: seed of the controller and its draws (0: train.seed)"},
};

/* Keys that only some architectures read, by the families of model.arch
 * they apply to ("a|b": either). The families are the model zoo's
 * (dlt_arch_families): classifier, resnet, resnet-cifar, resnet-imagenet,
 * vgg, mlp, transformer, bert, gpt. Keys not listed apply to every job. A
 * resolved job (--print-config, job.toml, the checkpoint's job) leaves out
 * the keys that do not apply to its model.arch. */
static const struct {
    const char *key, *families;
} applies[] = {
    {"model.num_classes", "classifier"},
    {"model.shortcut", "resnet-cifar"},
    {"model.zero_init_residual", "resnet"},
    {"model.small_input", "resnet-imagenet"},
    {"model.hidden", "mlp"},
    {"model.layers", "mlp"},
    {"model.dropout", "vgg|mlp|transformer"},
    {"model.spec", "spec"},
    {"data.augment", "classifier"},
    {"data.crop_padding", "classifier"},
    {"data.mean", "classifier"},
    {"data.std", "classifier"},
    {"data.seq_len", "gpt"},
    {"train.label_smoothing", "classifier"},
    {"gan.loss", "gan"},
    {"gan.gp_lambda", "gan"},
    {"gan.num_classes", "gan"},
    {"gan.z_dim", "gan"},
    {"gan.g_width", "gan"},
    {"gan.d_width", "gan"},
    {"gan.g_norm", "gan"},
    {"gan.sample_every", "gan"},
    {"gan.fid_classifier", "gan|vae"},
    {"gan.fid_samples", "gan|vae"},
    {"gan.fid_data", "gan|vae"},
    {"cyclegan.lambda_cycle", "cyclegan"},
    {"cyclegan.lambda_identity", "cyclegan"},
    {"cyclegan.pool_size", "cyclegan"},
    {"cyclegan.n_blocks", "cyclegan"},
    {"cyclegan.g_width", "cyclegan"},
    {"cyclegan.d_width", "cyclegan"},
    {"cyclegan.d_layers", "cyclegan"},
    {"phase.d_optim", "gan|cyclegan"},
    {"phase.d_lr", "gan|cyclegan"},
    {"phase.d_betas", "gan|cyclegan"},
    {"phase.d_schedule", "gan|cyclegan"},
    {"phase.d_grad_clip", "gan|cyclegan"},
    {"phase.d_accumulate", "gan|cyclegan"},
    {"phase.d_repeat", "gan|cyclegan"},
    {"phase.d_clip_value", "gan|cyclegan"},
    {"phase.g_optim", "gan|cyclegan"},
    {"phase.g_lr", "gan|cyclegan"},
    {"phase.g_betas", "gan|cyclegan"},
    {"phase.g_schedule", "gan|cyclegan"},
    {"phase.g_grad_clip", "gan|cyclegan"},
    {"phase.g_accumulate", "gan|cyclegan"},
    {"phase.g_repeat", "gan|cyclegan"},
    {"phase.g_clip_value", "gan|cyclegan"},
    {"vae.z_dim", "vae"},
    {"vae.width", "vae"},
    {"vae.hidden", "vae"},
    {"nas.rounds", "nas"},
    {"nas.children", "nas"},
    {"nas.ranks_per_child", "nas"},
    {"nas.child_steps", "nas"},
    {"nas.val_fraction", "nas"},
    {"nas.space", "nas"},
    {"nas.layers", "nas"},
    {"nas.kernels", "nas"},
    {"nas.filters", "nas"},
    {"nas.strides", "nas"},
    {"nas.separate_hw", "nas"},
    {"nas.skips", "nas"},
    {"nas.stem_filters", "nas"},
    {"nas.hidden", "nas"},
    {"nas.lstm_layers", "nas"},
    {"nas.optim", "nas"},
    {"nas.lr", "nas"},
    {"nas.entropy_weight", "nas"},
    {"nas.baseline_decay", "nas"},
    {"nas.random", "nas"},
    {"nas.keep_best", "nas"},
    {"nas.seed", "nas"},
    {"maskrcnn.depth", "maskrcnn"},
    {"maskrcnn.num_classes", "maskrcnn"},
    {"maskrcnn.trainable_layers", "maskrcnn"},
    {"maskrcnn.norm", "maskrcnn"},
    {"maskrcnn.fpn_channels", "maskrcnn"},
    {"maskrcnn.representation", "maskrcnn"},
    {"maskrcnn.mask_channels", "maskrcnn"},
    {"maskrcnn.min_size", "maskrcnn"},
    {"maskrcnn.max_size", "maskrcnn"},
    {"maskrcnn.flip", "maskrcnn"},
    {"maskrcnn.max_boxes", "maskrcnn"},
    {"maskrcnn.anchor_sizes", "maskrcnn"},
    {"maskrcnn.anchor_ratios", "maskrcnn"},
    {"maskrcnn.rpn_pre_nms_top_n", "maskrcnn"},
    {"maskrcnn.rpn_post_nms_top_n", "maskrcnn"},
    {"maskrcnn.rpn_batch", "maskrcnn"},
    {"maskrcnn.rpn_positive_fraction", "maskrcnn"},
    {"maskrcnn.rpn_fg_iou", "maskrcnn"},
    {"maskrcnn.rpn_bg_iou", "maskrcnn"},
    {"maskrcnn.roi_batch", "maskrcnn"},
    {"maskrcnn.roi_positive_fraction", "maskrcnn"},
    {"maskrcnn.roi_fg_iou", "maskrcnn"},
    {"maskrcnn.roi_bg_iou", "maskrcnn"},
    {"maskrcnn.rois", "maskrcnn"},
    {"maskrcnn.mask_positives", "maskrcnn"},
    {"maskrcnn.eval_images", "maskrcnn"},
};

const char *dlt_job_key_families(const char *key)
{
    for (size_t j = 0; j < sizeof applies / sizeof applies[0]; j++)
        if (!strcmp(applies[j].key, key))
            return applies[j].families;
    return NULL;
}

static const struct {
    const char *name, *doc;
} sections[] = {
    {"model", "What to train."},
    {"data", "The HDF5 shards (see docs/ for the shard format) and the loader."},
    {"optim", "The optimizer."},
    {"schedule", "How the learning rate changes over the run."},
    {"train", "Length and numerics of the run."},
    {"eval", "Evaluation on `data.val`."},
    {"checkpoint", "Checkpoints (HDF5) and where run outputs go."},
    {"gan", "GAN training (model.arch gan-mlp, dcgan, cgan, wgan, wgan-gp; src/train/task_gan.c): losses and model sizes."},
    {"vae", "VAE training (model.arch vae; src/train/task_vae.c, src/models/vae.c): the model's sizes. Pixels are scaled to [0, 1] (Bernoulli targets) whatever data.mean and data.std say."},
    {"maskrcnn", "Mask R-CNN training (model.arch maskrcnn on detection shards; src/train/task_maskrcnn.c, maskrcnn_graph.c): the backbone and heads, the loader's resize, anchors, and the training-time matching and sampling (torchvision's defaults). Images are normalised with ImageNet's mean and std."},
    {"cyclegan", "CycleGAN training (model.arch cyclegan on image-pairs shards; src/train/task_cyclegan.c): loss weights, the image pool, model sizes."},
    {"phase", "Per-phase overrides of a phased task (GANs: phase `d`, the discriminator or critic, then `g`, the generator, each iteration). Keys are `<phase>_<key>`; a phase name the task does not have is an unknown key."},
    {"nas", "Neural architecture search (model.arch nas; src/train/nas_*.c): an LSTM controller (Zoph & Le 2017, or ENAS's space) samples child networks (model.spec), groups of ranks train them, REINFORCE with an EMA baseline and an entropy bonus on their validation top-1. The job's other keys are every child's (model.arch spec)."},
    {"dist", "Data-parallel training across ranks."},
    {"log", "Metrics and traces."},
};

const dlt_job_key *dlt_job_schema(size_t *n)
{
    *n = sizeof schema / sizeof schema[0];
    return schema;
}

const dlt_job_key *dlt_job_schema_find(const char *key)
{
    for (size_t j = 0; j < sizeof schema / sizeof schema[0]; j++)
        if (!strcmp(schema[j].key, key))
            return &schema[j];
    return NULL;
}

static const char *kind_name(dlt_job_kind k)
{
    static const char *const names[] = {"string", "integer", "float", "boolean", "array of floats", "table"};
    return names[k];
}

dlt_status dlt_job_write_reference(FILE *f)
{
    fputs("# Job file reference\n\n"
          "<!-- Generated from src/io/job_schema.c by dlt_job_write_reference(); do not edit.\n"
          "     Regenerate: tests/io/test_job --write-reference > docs/jobs.md -->\n\n"
          "A job is a TOML file with the sections below; every key is optional and takes the\n"
          "default shown. Unknown sections and keys are errors. Any key can be overridden on\n"
          "the command line with `--set section.key=value` (the value is TOML; strings may be\n"
          "written bare), and `dltrain --print-config` prints the resolved job.\n\n"
          "```toml\n[optim]\nname = \"adamw\"\nlr = 3e-4\nbetas = [0.9, 0.95]\n```\n\n"
          "Some keys apply only to some architectures (column \"for\"): `model.arch` belongs to\n"
          "families: `classifier` (mlp, vgg*, resnet*, spec), `spec`, `resnet`, `resnet-cifar` (resnet20/32/44/56/110,\n"
          "any 6n+2), `resnet-imagenet` (resnet18/34/50/101/152), `vgg`, `mlp`, `transformer`\n"
          "(bert-*, gpt*), `bert`, `gpt`, `gan` (gan-mlp, dcgan, cgan, wgan, wgan-gp), `vae`, `cyclegan`, `nas` (the search). The resolved job (`--print-config`, `<run>/job.toml`, the\n"
          "checkpoint's `job`) leaves out keys that do not apply; setting one in a job file or with\n"
          "`--set` is not an error (a job may switch `model.arch` with `--set`), but a run and\n"
          "`--dry-run` warn that it is ignored, naming where it was set.\n",
          f);
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
        size_t len = strlen(sections[s].name);
        fprintf(f, "\n## [%s]\n\n%s\n\n", sections[s].name, sections[s].doc);
        fputs("| key | type | default | allowed | for | description |\n|---|---|---|---|---|---|\n", f);
        for (size_t j = 0; j < sizeof schema / sizeof schema[0]; j++) {
            const dlt_job_key *k = &schema[j];
            if (strncmp(k->key, sections[s].name, len) || k->key[len] != '.')
                continue;
            fprintf(f, "| `%s` | %s | `%s` | ", k->key + len + 1, kind_name(k->kind), k->def);
            if (k->allowed && k->kind == DLT_JOB_STRING) {
                for (const char *c = k->allowed; *c; c++)
                    if (*c == '|')
                        fputs(", ", f);
                    else
                        fputc(*c, f);
            } else if (k->allowed) {
                fputs(k->allowed, f);
            }
            const char *fam = dlt_job_key_families(k->key);
            fputs(" | ", f);
            for (const char *c = fam ? fam : "all"; *c; c++)
                if (*c == '|')
                    fputs(", ", f);
                else
                    fputc(*c, f);
            fprintf(f, " | %s |\n", k->doc);
        }
    }
    return ferror(f) ? dlt_seterr(DLT_ERR_IO, "writing the job reference failed") : DLT_OK;
}
