# src/data: files of this module (included by Makefile.am)
