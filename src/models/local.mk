# src/models: graph builders (model zoo)
libdltrain_la_SOURCES += src/models/nn.c src/models/resnet.c src/models/vgg_mlp.c src/models/registry.c src/models/describe.c
pkginclude_HEADERS += src/models/dlt_models.h
noinst_HEADERS += src/models/resnet.h
# transformers (BERT, GPT-2, encoder-decoder)
libdltrain_la_SOURCES += src/models/transformer_common.c src/models/bert.c src/models/gpt.c \
	src/models/transformer_seq2seq.c
pkginclude_HEADERS += src/models/dlt_transformer.h
noinst_HEADERS += src/models/transformer_impl.h
# generative models (GANs, CycleGAN, VAE)
libdltrain_la_SOURCES += src/models/gan.c src/models/dcgan.c src/models/cyclegan.c src/models/vae.c
noinst_HEADERS += src/models/gan_impl.h
pkginclude_HEADERS += src/models/dlt_gen.h
# Mask R-CNN's networks (ResNet-FPN backbone, RPN, box and mask heads)
libdltrain_la_SOURCES += src/models/maskrcnn.c
pkginclude_HEADERS += src/models/dlt_maskrcnn.h
# recurrent layers (LSTM, GRU) over the rnn family's cells
libdltrain_la_SOURCES += src/models/rnn.c
# the multi-scale RoI pooler (roi family ops)
libdltrain_la_SOURCES += src/models/fpn_pool.c
pkginclude_HEADERS += src/models/dlt_fpn_pool.h
