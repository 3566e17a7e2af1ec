# src/ops: files of this module (included by Makefile.am)
