# src/models: graph builders (model zoo)
libdltrain_la_SOURCES += src/models/nn.c src/models/resnet.c src/models/vgg_mlp.c src/models/registry.c
pkginclude_HEADERS += src/models/dlt_models.h
noinst_HEADERS += src/models/resnet.h
