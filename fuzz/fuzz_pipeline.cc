// libFuzzer target: the fuzz data chooses level, SHA-256 path, chunk boundaries and (optionally) a
// stretched length crossing block boundaries; see RunFuzzInput in harness.h for the layout.
#include <cstddef>
#include <cstdint>

#include "harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reftest::RunFuzzInput(data, size);
  return 0;
}
