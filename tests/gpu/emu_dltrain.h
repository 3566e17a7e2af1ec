/* Included first into tests/gpu/emu_dltrain's sources, which are built with
 * -Dmain=dltrain_main: the prototype of src/tools/dltrain.c's renamed main. */
int main(int argc, char **argv);
