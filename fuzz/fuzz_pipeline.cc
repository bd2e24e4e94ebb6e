// libFuzzer target: the fuzz data chooses level, SHA-256 path, chunk boundaries and (optionally) a
// stretched length crossing block boundaries; see RunFuzzInput in harness.h for the layout. Byte 1
// bit 6 (unused by that layout) runs the same case in zstd mode at level 1 + byte 0 % 19 instead.
#include <cstddef>
#include <cstdint>

#include "harness.h"
#include "zstd_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  reftest::RunFuzzInputAnyMode(data, size);
  return 0;
}
