// libFuzzer entry point for tp::fuzz::report (fuzz/Targets.h); built by scripts/fuzz.sh.
#include "fuzz/Targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tp::fuzz::report(data, size);
  return 0;
}
