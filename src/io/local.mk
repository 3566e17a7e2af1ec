# src/io: files of this module (included by Makefile.am)
