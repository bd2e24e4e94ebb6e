// zstd output (mode 2, docs/ZSTD.md): the input is cut into frames of kZstdFrameSize bytes, each
// compressed on its own into one complete zstd frame, so any thread may compress any frame and the
// bytes never depend on the thread count, the chunking or the order frames finish in.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastlayer {

// Input bytes per frame (the last frame holds the rest; an empty input gives one empty frame).
constexpr size_t kZstdFrameSize = 8 * 1024 * 1024;
constexpr int kZstdMinLevel = 1;
constexpr int kZstdMaxLevel = 19;

// One compression context, reused frame after frame. Not thread safe: one per thread.
class ZstdFrameCompressor {
 public:
  // Throws std::invalid_argument unless kZstdMinLevel <= level <= kZstdMaxLevel.
  explicit ZstdFrameCompressor(int level);
  ~ZstdFrameCompressor();
  ZstdFrameCompressor(const ZstdFrameCompressor&) = delete;
  ZstdFrameCompressor& operator=(const ZstdFrameCompressor&) = delete;

  // Appends one complete frame holding data[0..len) to *out. The bytes depend only on (data, len,
  // level) and the libzstd version. Throws std::bad_alloc or std::runtime_error (libzstd's message).
  void Compress(const uint8_t* data, size_t len, std::vector<uint8_t>* out);
  // Heap bytes held by libzstd for this context (grows to its working size on first use).
  size_t MemoryUsage() const;

 private:
  struct State;
  State* state_;
};

// "1.5.4": the libzstd linked into this binary.
const char* ZstdVersion();

}  // namespace fastlayer
