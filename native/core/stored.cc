// Level 0. Written by hand rather than by a library so that the native and the TypeScript engines
// (src/engine/stored.ts) give identical bytes; the layout is specified in docs/DESIGN.md.
#include <cstring>

#include "deflate.h"

namespace fastlayer {
namespace {

constexpr size_t kMaxStored = 65535;

class StoredDeflater final : public Deflater {
 public:
  void Deflate(const uint8_t*, size_t, const uint8_t* data, size_t len, bool final,
               std::vector<uint8_t>* out) override {
    // ceil(len / 65535) blocks; an empty final unit still needs one block to carry BFINAL.
    size_t count = (len + kMaxStored - 1) / kMaxStored;
    if (count == 0 && final) count = 1;
    size_t pos = out->size();
    out->resize(pos + len + 5 * count);
    uint8_t* p = out->data() + pos;
    for (size_t i = 0; i < count; ++i) {
      const size_t n = len < kMaxStored ? len : kMaxStored;
      p[0] = (final && i + 1 == count) ? 0x01 : 0x00;
      p[1] = static_cast<uint8_t>(n);
      p[2] = static_cast<uint8_t>(n >> 8);
      p[3] = static_cast<uint8_t>(~n);
      p[4] = static_cast<uint8_t>(~n >> 8);
      if (n > 0) std::memcpy(p + 5, data, n);
      p += 5 + n;
      data += n;
      len -= n;
    }
  }

  size_t MemoryUsage() const override { return sizeof(*this); }
};

}  // namespace

std::unique_ptr<Deflater> NewStoredDeflater() { return std::make_unique<StoredDeflater>(); }

}  // namespace fastlayer
