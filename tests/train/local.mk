# tests/train: Check tests of src/train (included by tests/local.mk)
# checkpoint export (safetensors) against hand-written expected bytes
check_PROGRAMS += tests/train/test_export
TESTS += tests/train/test_export
# end-to-end checkpoint tests: dltrain and dlprep on tiny synthetic shards
check_PROGRAMS += tests/train/ckpt_tool
TESTS += tests/train/test_resume.sh tests/train/test_zero_mem.sh tests/train/test_preempt.sh tests/train/test_ckpt_cli.sh
EXTRA_DIST += tests/train/lib.sh tests/train/test_resume.sh tests/train/test_zero_mem.sh tests/train/test_preempt.sh tests/train/test_ckpt_cli.sh
# loss scaling (train.precision = "fp16"): exact against fp32, growth, overflow skips, resume
TESTS += tests/train/test_loss_scale.sh
EXTRA_DIST += tests/train/test_loss_scale.sh
# command-line behaviour: malformed jobs (one line, exit 2), --set, --print-config,
# --dry-run, progress lines, metrics.jsonl, TensorBoard events, traces
TESTS += tests/train/test_cli.sh
EXTRA_DIST += tests/train/test_cli.sh
# dltrain --list-ops: the op table's rows against dlt_op_list.h and known facts
TESTS += tests/train/test_list_ops.sh
EXTRA_DIST += tests/train/test_list_ops.sh
# docs/jobs.md against dltrain --print-job-reference
TESTS += tests/train/test_job_docs.sh
EXTRA_DIST += tests/train/test_job_docs.sh
# language-model tasks: gpt-tiny and bert-tiny learn, 2 ranks, exact resume,
# dltrain generate, wrong architecture/data combinations
TESTS += tests/train/test_lm.sh
EXTRA_DIST += tests/train/test_lm.sh
# test_lm.sh (and tests/models/test_jobs.sh) build the shipped jobs: ship them
EXTRA_DIST += jobs
# inputs that blocked or died inside MPI: FIFOs as job, shard or checkpoint;
# ranks launched with other jobs or data (MPMD mpirun) name the difference
TESTS += tests/train/test_inputs.sh
EXTRA_DIST += tests/train/test_inputs.sh
# a tiny ResNet memorises 256 randomly labelled images on 2 ranks (top-1 = 1)
TESTS += tests/train/test_overfit.sh
EXTRA_DIST += tests/train/test_overfit.sh
# progress lines and metrics.jsonl: ETA from the first line, rates under 1/s,
# the log grid after a resume, lost metrics lines on a full disk
TESTS += tests/train/test_progress.sh
EXTRA_DIST += tests/train/test_progress.sh
# a real one-node Slurm (munge, slurmctld, slurmd on localhost): srun --mpi=pmix,
# the shipped CPU batch script preempted by its warning signal (requeued, resumed,
# bitwise equal), a plain scancel (not requeued), a too short --time (refused)
TESTS += tests/train/test_slurm.sh
EXTRA_DIST += tests/train/test_slurm.sh
# one run per run directory (lock), damaged checkpoints refused or fallen back past,
# finished runs resumed
TESTS += tests/train/test_run_guard.sh
EXTRA_DIST += tests/train/test_run_guard.sh
# what checkpoints and exports say about the model: /model, best_metric's metric,
# true parameter counts, resolved jobs without other architectures' keys
TESTS += tests/train/test_model_meta.sh
EXTRA_DIST += tests/train/test_model_meta.sh
# what a checkpoint gives back: generate --ids, the exported tokenizer (checked by an
# independent GPT-2 BPE, hf_tok_check), dltrain predict
check_PROGRAMS += tests/train/hf_tok_check tests/train/pred_check
tests_train_hf_tok_check_LDADD =
TESTS += tests/train/test_predict.sh
EXTRA_DIST += tests/train/test_predict.sh
# phased training (GANs): 2 ranks x b == 1 rank x 2b, exact resume at and between
# phases (also on the stand-in device), phases touch only their parameters, WGAN
# weight clipping, bad [phase] keys
TESTS += tests/train/test_gan.sh
EXTRA_DIST += tests/train/test_gan.sh
# one gan-mlp, DCGAN and WGAN-GP iteration against PyTorch (tests/fixtures/
# gan_step_*.h5, whose inputs gan_export writes: the initial parameters, real
# batches and in-graph noise)
check_PROGRAMS += tests/train/gan_export
TESTS += tests/train/test_gan_torch.sh
EXTRA_DIST += tests/train/test_gan_torch.sh tests/fixtures/gan_step_bce.h5 tests/fixtures/gan_step_wgan_gp.h5 \
	tests/fixtures/gan_step_dcgan.h5 tests/fixtures/gan_step_dcgan_wgan_gp.h5 \
	tests/fixtures/gan_step_dcgan_sgd.h5 tests/fixtures/gan_step_make_fixtures.py
# dlt_train_config_from_job: per-config optim.no_decay patterns; the architecture's
# dropout recorded in the resolved job (dlt_train_job_record_defaults)
check_PROGRAMS += tests/train/test_job_config
TESTS += tests/train/test_job_config
# dltrain with the stand-in device behind DLT_TEST_STANDIN_DEVICE=1
# (test_resume.sh, test_loss_scale.sh): the trainer's device path without a GPU
check_PROGRAMS += tests/train/standin_dltrain
tests_train_standin_dltrain_SOURCES = tests/train/standin_dltrain.c src/tools/dltrain.c
tests_train_standin_dltrain_CPPFLAGS = $(AM_CPPFLAGS) -Dmain=dltrain_main -include $(srcdir)/tests/gpu/emu_dltrain.h
# FID: statistics, PSD square root and distance against numpy/scipy float64
# references (tests/fixtures/fid_make_fixtures.py), degenerate and hand cases
check_PROGRAMS += tests/train/test_fid
TESTS += tests/train/test_fid
EXTRA_DIST += tests/fixtures/fid.h5 tests/fixtures/fid_make_fixtures.py
# FID's feature extractor on a ResNet-20 checkpoint trained here for 3 steps:
# the classifier's own pooled activations, its logits, dltrain predict's logits
check_PROGRAMS += tests/train/fid_check
TESTS += tests/train/test_fid_features.sh
EXTRA_DIST += tests/train/test_fid_features.sh
# dltrain fid: two shard sets against fid_sets_check's own features, statistics
# and Jacobi square-root trace; a GAN checkpoint against its run's fid; refusals
tests_train_fid_check_SOURCES = tests/train/fid_check.c tests/train/fid_ref.c
tests_train_fid_sets_check_SOURCES = tests/train/fid_sets_check.c tests/train/fid_ref.c
noinst_HEADERS += tests/train/fid_ref.h
check_PROGRAMS += tests/train/fid_sets_check
TESTS += tests/train/test_fid_cli.sh
EXTRA_DIST += tests/train/test_fid_cli.sh
# GAN sample grids during training and dltrain sample (png_check decodes with libpng)
check_PROGRAMS += tests/train/png_check
TESTS += tests/train/test_gan_sample.sh
EXTRA_DIST += tests/train/test_gan_sample.sh
# FID-FMNIST at a GAN run's checkpoints: finite, 1 rank == 2 ranks
check_PROGRAMS += tests/train/gan_fid_check
TESTS += tests/train/test_gan_fid.sh
EXTRA_DIST += tests/train/test_gan_fid.sh
# the VAE task: the first step against PyTorch (tests/fixtures/vae_step.h5, whose
# inputs vae_export writes), 2 ranks x b == 1 rank x 2b, exact resume, the
# test-set ELBO on 1 and 2 ranks
check_PROGRAMS += tests/train/vae_export
# the VAE prior grid against a decoder run of the same z (test_vae.sh (g))
check_PROGRAMS += tests/train/vae_prior_check
TESTS += tests/train/test_vae.sh
EXTRA_DIST += tests/train/test_vae.sh tests/fixtures/vae_step.h5 tests/fixtures/vae_make_fixtures.py
# CycleGAN's image pool against a naive reference of the ImagePool rule
check_PROGRAMS += tests/train/test_image_pool
TESTS += tests/train/test_image_pool
# CycleGAN (task_cyclegan.c): losses against PyTorch, exact resume with a non-empty pool,
# a bad data kind; cyclegan_tool writes its shards and the fixture's inputs
check_PROGRAMS += tests/train/cyclegan_tool
TESTS += tests/train/test_cyclegan.sh
EXTRA_DIST += tests/train/test_cyclegan.sh tests/fixtures/cyclegan_losses.h5 tests/fixtures/cyclegan_make_fixtures.py
# COCO evaluation against pycocotools (tests/fixtures/coco_eval_make_fixtures.py):
# RLE encodings, strings, polygons, merges and IoUs, round trips against naive
# loops; COCOeval's 12 numbers for bbox and segm, summarize()'s lines, results
# JSON written and read back, malformed ground truth and results files; dltrain
# coco-eval prints pycocotools' summarize() lines, refuses bad arguments and files
check_PROGRAMS += tests/train/test_coco_rle tests/train/test_coco_eval
TESTS += tests/train/test_coco_rle tests/train/test_coco_eval tests/train/test_coco_cli.sh
tests_train_test_coco_rle_SOURCES = tests/train/test_coco_rle.c tests/train/coco_fixture.c tests/train/coco_fixture.h
tests_train_test_coco_rle_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
tests_train_test_coco_eval_SOURCES = tests/train/test_coco_eval.c tests/train/coco_fixture.c tests/train/coco_fixture.h
tests_train_test_coco_eval_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
EXTRA_DIST += tests/fixtures/coco_eval_make_fixtures.py tests/fixtures/coco_eval_expected.json \
	tests/fixtures/coco_eval_gt1.json tests/fixtures/coco_eval_gt2.json tests/fixtures/coco_eval_gt3.json \
	tests/fixtures/coco_eval_dt1.json tests/fixtures/coco_eval_dt2.json tests/fixtures/coco_eval_dt3.json \
	tests/fixtures/coco_eval_dt1_segm.json tests/fixtures/coco_eval_dt2_box.json \
	tests/fixtures/coco_eval_summary1_bbox.txt tests/fixtures/coco_eval_summary1_segm.txt \
	tests/train/test_coco_cli.sh
# detection post-processing against torchvision
check_PROGRAMS += tests/train/test_det_post
TESTS += tests/train/test_det_post
EXTRA_DIST += tests/fixtures/det_post.h5 tests/fixtures/det_post_make_fixtures.py
# NAS: the controller (valid children, same seed same children, REINFORCE
# gradient against finite differences; against PyTorch for a fixed decision
# sequence) and the search end to end (same children with 1 and 2 groups,
# exact resume, ranks_per_child not dividing the world refused)
check_PROGRAMS += tests/train/test_nas tests/train/test_nas_torch
TESTS += tests/train/test_nas tests/train/test_nas_torch tests/train/test_nas_search.sh
EXTRA_DIST += tests/train/test_nas_search.sh tests/fixtures/nas_controller.h5 \
	tests/fixtures/nas_controller_make_fixtures.py
# Mask R-CNN evaluation (maskrcnn_eval.c) against torchvision and pycocotools
check_PROGRAMS += tests/train/test_maskrcnn_eval
TESTS += tests/train/test_maskrcnn_eval
tests_train_test_maskrcnn_eval_CPPFLAGS = $(AM_CPPFLAGS) -DDLT_TEST_SRCDIR='"$(abs_top_srcdir)"'
EXTRA_DIST += tests/fixtures/maskrcnn_eval.h5 tests/fixtures/maskrcnn_eval_gt.json \
	tests/fixtures/maskrcnn_eval_make_fixtures.py
# Mask R-CNN's test-time selection (det_infer.c) against torchvision
check_PROGRAMS += tests/train/test_det_infer
TESTS += tests/train/test_det_infer
EXTRA_DIST += tests/fixtures/det_infer.h5 tests/fixtures/det_infer_make_fixtures.py \
	tests/fixtures/rpn_infer.h5 tests/fixtures/rpn_infer_make_fixtures.py
# Pictures of detections (det_picture.c): pixels at the places the drawing rules give
check_PROGRAMS += tests/train/test_det_picture
TESTS += tests/train/test_det_picture
# Mask R-CNN inference end to end (maskrcnn_infer.c) against torchvision's MaskRCNN
check_PROGRAMS += tests/train/test_maskrcnn_infer
TESTS += tests/train/test_maskrcnn_infer
EXTRA_DIST += tests/fixtures/maskrcnn_infer.h5 tests/fixtures/maskrcnn_infer_make_fixtures.py
# dltrain detect's arguments and errors
TESTS += tests/train/test_detect_cli.sh
EXTRA_DIST += tests/train/test_detect_cli.sh
# dltrain detect on a checkpoint of the Mask R-CNN task (the network from its stored job)
TESTS += tests/train/test_maskrcnn_detect.sh
EXTRA_DIST += tests/train/test_maskrcnn_detect.sh
# the Mask R-CNN task's evaluation: COCO metrics as coco-eval gives them, results JSON, grid
TESTS += tests/train/test_maskrcnn_val.sh
EXTRA_DIST += tests/train/test_maskrcnn_val.sh
# Mask R-CNN's training graph: the five losses against torchvision's MaskRCNN
check_PROGRAMS += tests/train/test_maskrcnn_graph
TESTS += tests/train/test_maskrcnn_graph
tests_train_test_maskrcnn_graph_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/train
EXTRA_DIST += tests/fixtures/maskrcnn_loss.h5 tests/fixtures/maskrcnn_loss_make_fixtures.py
# the Mask R-CNN task: 2 ranks x b == 1 rank x 2b, exact resume, progress lines
TESTS += tests/train/test_maskrcnn.sh
EXTRA_DIST += tests/train/test_maskrcnn.sh
