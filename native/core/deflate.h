// One interface over the block compressors (ISA-L, zlib, stored). A compressor turns one unit of the
// format (docs/DESIGN.md) into raw deflate: preset dictionary in, sync-flushed or final block out.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace fastlayer {

class Deflater {
 public:
  virtual ~Deflater() = default;
  // Appends the raw deflate encoding of data[0..len) to *out, with dict[0..dict_len) (at most
  // kWindowSize bytes) as history. Non-final units end with a sync flush (byte aligned, BFINAL=0);
  // the final unit sets BFINAL=1. State is reset on every call, so the bytes depend only on the
  // arguments.
  virtual void Deflate(const uint8_t* dict, size_t dict_len, const uint8_t* data, size_t len,
                       bool final, std::vector<uint8_t>* out) = 0;
  // Approximate heap bytes held, reported to the JS garbage collector.
  virtual size_t MemoryUsage() const = 0;
};

// Level 0: stored blocks; 1-2: ISA-L; 3-9: zlib. Throws std::invalid_argument for other levels.
std::unique_ptr<Deflater> NewDeflater(int level);

// Thrown for levels 1-2 when igzip would pick its portable C code: that code finds different
// matches than the SIMD versions, so its bytes would differ from every other machine's.
class UnsupportedCpu : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// True when igzip produces the reference bytes on this CPU (x86-64: SSSE3 and SSE4.2).
bool IsalCpuSupported();

std::unique_ptr<Deflater> NewStoredDeflater();
std::unique_ptr<Deflater> NewIsalDeflater(int level);
std::unique_ptr<Deflater> NewZlibDeflater(int level);

}  // namespace fastlayer
