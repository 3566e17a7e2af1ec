/* dlprep: converts datasets into dltrain's HDF5 shards. */
#include <stdio.h>
#include <string.h>

#include "dltrain.h"


static void usage(FILE *out)
{
    fprintf(out,
            "usage: dlprep [--version] [--help] COMMAND [ARGS]\n"
            "\n"
            "Converts datasets into dltrain's HDF5 shards (docs/formats.md).\n"
            "No converters are built into this version yet.\n"
            "\n"
            "Options:\n"
            "  --version      print the version of dlprep and of every enabled part\n"
            "  --help         print this message\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        dlt_print_build_info(stdout, "dlprep");
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "dlprep: unknown command '%s' (see dlprep --help)\n", argv[1]);
    return 2;
}
