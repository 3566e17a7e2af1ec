# src/train: the generic training loop, its tasks, evaluation, reporting, build information
libdltrain_la_SOURCES += src/train/buildinfo.c src/train/report.c src/train/job_config.c
# dltrain --list-ops: the op table with its backends
libdltrain_la_SOURCES += src/train/oplist.c
pkginclude_HEADERS += src/train/dlt_train.h
noinst_HEADERS += src/train/report.h
# one data-parallel loop (trainer.c) and its checkpoint side (save, resume, ZeRO-1 gather),
# driven by the task interface (task.h)
libdltrain_la_SOURCES += src/train/trainer.c src/train/trainer_step.c src/train/trainer_ckpt.c src/train/trainer_zero.c src/train/task.c \
	src/train/trainer_agree.c src/train/trainer_phase.c
noinst_HEADERS += src/train/trainer.h src/train/task.h
# tasks: image classification, causal language model (GPT), BERT pre-training, GANs (phased)
libdltrain_la_SOURCES += src/train/task_classify.c src/train/task_lm.c src/train/task_bert.c src/train/task_gan.c
# the VAE task (model.arch = "vae")
libdltrain_la_SOURCES += src/train/task_vae.c src/train/vae_grid.c
noinst_HEADERS += src/train/vae_grid.h
# CycleGAN (phased, two domains): the task and its history pool of generated images
libdltrain_la_SOURCES += src/train/task_cyclegan.c src/train/image_pool.c
noinst_HEADERS += src/train/image_pool.h
# dltrain generate: sampling from a causal-LM checkpoint
libdltrain_la_SOURCES += src/train/generate.c
# dltrain export: the tokenizer beside the weights
libdltrain_la_SOURCES += src/train/export_tokenizer.c
# dltrain predict: a checkpoint's model over shards, per-sample rows into an HDF5 file
libdltrain_la_SOURCES += src/train/predict.c
# the run's timeline (log.trace)
libdltrain_la_SOURCES += src/train/report_trace.c
# FID: the Fréchet distance of Gaussian fits (LAPACK dsyev) and a classifier
# checkpoint's penultimate features (docs/metrics.md, FID-FMNIST)
libdltrain_la_SOURCES += src/train/fid.c src/train/fid_features.c
pkginclude_HEADERS += src/train/dlt_fid.h
# GAN sample grids: during training (the GAN task's after_step) and dltrain sample
libdltrain_la_SOURCES += src/train/gan_sample.c
# FID-FMNIST at a GAN run's checkpoints
libdltrain_la_SOURCES += src/train/gan_fid.c
# `dltrain fid`: FID-FMNIST between two image sets (shards or a generator)
libdltrain_la_SOURCES += src/train/fid_sets.c
# dltrain sample on a CycleGAN checkpoint: translation grids A->B->A, B->A->B
libdltrain_la_SOURCES += src/train/cyclegan_sample.c
pkginclude_HEADERS += src/train/dlt_gan_sample.h
noinst_HEADERS += src/train/gan_sample.h
# COCO detection evaluation (box and mask AP/AR as pycocotools' COCOeval), COCO RLE
# masks, instances and results JSON (cJSON); dltrain coco-eval
libdltrain_la_SOURCES += src/train/coco_eval.c \
	src/train/coco_json.c src/train/coco_gt.c src/train/coco_results.c
pkginclude_HEADERS += src/train/dlt_coco.h
noinst_HEADERS += src/train/coco_gt.h
# detection post-processing (masks pasted into images as torchvision does)
libdltrain_la_SOURCES += src/train/det_post.c
pkginclude_HEADERS += src/train/dlt_det_post.h
# [model.spec] tables to child-network specs, and specs back to job files (model.arch = "spec")
libdltrain_la_SOURCES += src/train/spec_toml.c
pkginclude_HEADERS += src/train/dlt_spec_toml.h
# NAS: the controller (LSTM over Zoph & Le's / ENAS's macro space, REINFORCE)
libdltrain_la_SOURCES += src/train/nas_controller.c
pkginclude_HEADERS += src/train/dlt_nas.h
# NAS: the search driver (model.arch = "nas"): groups, children, rewards, state
libdltrain_la_SOURCES += src/train/nas_search.c src/train/nas_job.c src/train/nas_data.c \
	src/train/nas_state.c
noinst_HEADERS += src/train/nas_search.h
# Mask R-CNN evaluation on the host: detections back to the source images, pasted masks,
# RLE, COCOeval box and mask metrics, results JSON
libdltrain_la_SOURCES += src/train/maskrcnn_eval.c
pkginclude_HEADERS += src/train/dlt_maskrcnn_eval.h
# Mask R-CNN's test-time selection on the host: postprocess_detections, maskrcnn_inference
libdltrain_la_SOURCES += src/train/det_infer.c
pkginclude_HEADERS += src/train/dlt_det_infer.h
# Pictures of detections: boxes, labels, scores and masks on an image or a batch's grid
libdltrain_la_SOURCES += src/train/det_picture.c
pkginclude_HEADERS += src/train/dlt_det_picture.h
# Mask R-CNN inference: three plans (RPN, box head, mask head) with the host selection between
libdltrain_la_SOURCES += src/train/maskrcnn_infer.c
pkginclude_HEADERS += src/train/dlt_maskrcnn_infer.h
libdltrain_la_SOURCES += src/train/maskrcnn_detect.c
# Mask R-CNN: the training graph (task_maskrcnn.c builds it)
libdltrain_la_SOURCES += src/train/maskrcnn_graph.c src/train/task_maskrcnn.c
noinst_HEADERS += src/train/maskrcnn_graph.h
# Mask R-CNN: the task's evaluation (COCO metrics of inference on data.val, results, grid)
libdltrain_la_SOURCES += src/train/maskrcnn_val.c
noinst_HEADERS += src/train/maskrcnn_val.h
