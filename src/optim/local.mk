# src/optim: files of this module (included by Makefile.am)
