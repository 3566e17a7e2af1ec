# src/data: files of this module (included by Makefile.am)
libdltrain_la_SOURCES += src/data/shard_common.c src/data/shard_write.c src/data/shard_read.c \
	src/data/shard_info.c
pkginclude_HEADERS += src/data/dlt_data.h
noinst_HEADERS += src/data/shard_internal.h
libdltrain_la_SOURCES += src/data/transform.c src/data/shardset.c src/data/loader.c
noinst_HEADERS += src/data/loader_internal.h
libdltrain_la_SOURCES += src/data/progress.c src/data/sink.c src/data/convert_idx.c
noinst_HEADERS += src/data/convert_internal.h
libdltrain_la_SOURCES += src/data/convert_cifar.c src/data/convert_synthetic.c
libdltrain_la_SOURCES += src/data/image_io.c src/data/convert_folder.c
# two unpaired image domains (image-pairs shards): converters and loader
libdltrain_la_SOURCES += src/data/pair_sink.c src/data/convert_two_domain.c \
	src/data/convert_fmnist_pair.c src/data/pair_loader.c
noinst_HEADERS += src/data/image_io.h
# text: tokenizers, the dlprep text pipeline, the text loader
pkginclude_HEADERS += src/data/dlt_text.h
noinst_HEADERS += src/data/text_internal.h
libdltrain_la_SOURCES += src/data/text_util.c src/data/text_pretok.c src/data/text_merges.c \
	src/data/tokenizer.c src/data/tokenizer_bpe.c src/data/tokenizer_train.c \
	src/data/tokenizer_hf.c
noinst_HEADERS += src/data/text_corpus.h
libdltrain_la_SOURCES += src/data/text_bert.c src/data/text_corpus.c
libdltrain_la_SOURCES += src/data/text_prep.c
libdltrain_la_SOURCES += src/data/text_loader.c
# detection (Mask R-CNN data): shards' sample transform, loader, converters
noinst_HEADERS += src/data/det_internal.h
libdltrain_la_SOURCES += src/data/det_transform.c src/data/det_loader.c
libdltrain_la_SOURCES += src/data/det_sink.c src/data/convert_detection_synth.c
libdltrain_la_SOURCES += src/data/coco_mask.c src/data/convert_coco.c
