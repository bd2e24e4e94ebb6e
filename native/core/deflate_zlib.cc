// Levels 3-9 through zlib (raw deflate). zlib is linked statically with hidden symbols, so these
// calls always reach the copy built into the addon, never the zlib that node itself exports.
#include <zlib.h>

#include <stdexcept>
#include <string>

#include "deflate.h"
#include "format.h"
#include "scratch_buffer.h"

namespace fastlayer {
namespace {

constexpr int kWindowBits = -15;  // raw deflate, 32 KiB window
constexpr int kMemLevel = 8;

class ZlibDeflater final : public Deflater {
 public:
  explicit ZlibDeflater(int level) {
    stream_ = z_stream{};
    const int rc = deflateInit2(&stream_, level, Z_DEFLATED, kWindowBits, kMemLevel,
                                Z_DEFAULT_STRATEGY);
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    Check(rc, "deflateInit2");
    scratch_.Reserve(deflateBound(&stream_, kBlockSize) + 16);
  }

  ~ZlibDeflater() override { deflateEnd(&stream_); }

  ZlibDeflater(const ZlibDeflater&) = delete;
  ZlibDeflater& operator=(const ZlibDeflater&) = delete;

  void Deflate(const uint8_t* dict, size_t dict_len, const uint8_t* data, size_t len, bool final,
               std::vector<uint8_t>* out) override {
    z_stream* s = &stream_;
    Check(deflateReset(s), "deflateReset");
    if (dict_len > 0) {
      Check(deflateSetDictionary(s, dict, static_cast<uInt>(dict_len)), "deflateSetDictionary");
    }
    s->next_in = const_cast<Bytef*>(data);
    s->avail_in = static_cast<uInt>(len);

    // deflateBound covers the data; the sync flush adds an empty stored block (at most 6 bytes with
    // the pending bits) and the final flush at most a few more.
    size_t used = 0;
    scratch_.Reserve(deflateBound(s, static_cast<uLong>(len)) + 16);
    const int flush = final ? Z_FINISH : Z_SYNC_FLUSH;
    for (;;) {
      s->next_out = scratch_.data() + used;
      s->avail_out = static_cast<uInt>(scratch_.size() - used);
      const uInt in_before = s->avail_in;
      const uInt out_before = s->avail_out;
      const int rc = deflate(s, flush);
      used += out_before - s->avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) Check(rc, "deflate");
      // With Z_SYNC_FLUSH, leftover output space means zlib has written everything.
      if (!final && s->avail_in == 0 && s->avail_out > 0) break;
      if (s->avail_out == out_before && s->avail_in == in_before) {
        throw std::runtime_error("fastlayer: deflate made no progress");
      }
      if (s->avail_out == 0) scratch_.Grow(used, len / 4 + 4096);
    }
    out->insert(out->end(), scratch_.data(), scratch_.data() + used);
  }

  size_t MemoryUsage() const override {
    // deflateInit2 allocates the window (2 * 32 KiB), prev and head (2 * 32 KiB each at memLevel
    // 8), the pending buffer (4 * 16 KiB) and its state struct (~6 KiB).
    return 2 * 32768 + 2 * 2 * 32768 + 4 * 16384 + 6 * 1024 + scratch_.size() + sizeof(*this);
  }

 private:
  static void Check(int rc, const char* what) {
    if (rc != Z_OK) throw std::runtime_error(std::string("fastlayer: ") + what + " failed: " +
                                             std::to_string(rc));
  }

  z_stream stream_;
  ScratchBuffer scratch_;
};

}  // namespace

std::unique_ptr<Deflater> NewZlibDeflater(int level) {
  if (level < 3 || level > 9) throw std::invalid_argument("fastlayer: zlib is used for levels 3-9");
  return std::make_unique<ZlibDeflater>(level);
}

}  // namespace fastlayer
