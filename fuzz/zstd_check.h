// zstd mode (native/core/zstd_frames.h) under the drivers: results judged with libzstd's decoder and the
// reference SHA-256, and identical bytes required across chunkings and thread counts.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "harness.h"

namespace reftest {

// Like RunPipeline, for Mode::kZstd at `level` (1..19).
Run RunZstd(const uint8_t* in, size_t n, int level, const Chunking& chunks, int threads);

// Digest, diffID and size against the reference SHA-256; the documented frames (count, checksum on,
// no content size, window <= frame size); decoding every frame gives the input.
void VerifyZstd(const uint8_t* in, size_t n, const Run& run, const char* context);

// The first chunking on one thread is verified; every other chunking (on 2, 3, 4, 1... threads) and
// the first on 4 threads must give the same bytes.
void CheckZstdCase(const uint8_t* in, size_t n, int level, const std::vector<Chunking>& chunkings,
                   const char* context);

// A fuzz input (harness.h layout) in either mode: byte 1 bit 6 (unused by that layout) runs the case
// in zstd mode at level 1 + byte 0 % 19, else RunFuzzInput. The fuzzer and `driver replay` use this.
void RunFuzzInputAnyMode(const uint8_t* data, size_t size);

// driver zstd SEED SECONDS: random inputs (some longer than two frames), levels and chunkings.
void ZstdRandomRuns(uint32_t seed, double seconds);

}  // namespace reftest
