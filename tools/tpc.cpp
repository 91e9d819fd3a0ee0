// The `tpc` executable: everything happens in the driver library.
#include "compiler/driver/Cli.h"

int main(int argc, char** argv) { return tp::driver::runMain(argc, argv); }
