// Output format version 1: see docs/DESIGN.md. Must agree with src/engine/format.ts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastlayer {
constexpr int kFormatVersion = 1;
constexpr size_t kBlockSize = 256 * 1024;
constexpr size_t kWindowSize = 32 * 1024;
constexpr uint8_t kGzipHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
}  // namespace fastlayer
