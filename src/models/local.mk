# src/models: files of this module (included by Makefile.am)
