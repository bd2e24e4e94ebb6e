// Levels 1 and 2 through ISA-L igzip (raw deflate, stateful API, one reset per unit).
#include <isa-l.h>

#include <cstring>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#include <memory>
#include <stdexcept>
#include <string>

#include "deflate.h"
#include "format.h"
#include "scratch_buffer.h"

namespace fastlayer {
namespace {

// The level buffer size decides how many tokens igzip gathers before it ends a deflate block, so it
// is part of the output format: a fixed constant, never tuned at run time.
size_t LevelBufSize(int level) {
  return level == 1 ? ISAL_DEF_LVL1_LARGE : ISAL_DEF_LVL2_LARGE;
}

// Room for one call to finish without running out: incompressible input falls back to stored
// blocks (5 bytes per 64 KiB) and each block header is at most ISAL_DEF_MAX_HDR_SIZE bytes.
size_t OutputBound(size_t len) { return len + len / 8 + 4096; }

class IsalDeflater final : public Deflater {
 public:
  explicit IsalDeflater(int level)
      : level_(level),
        level_buf_size_(LevelBufSize(level)),
        level_buf_(new uint8_t[level_buf_size_]),
        stream_(new isal_zstream) {
    isal_deflate_init(stream_.get());
    Configure();
    scratch_.Reserve(OutputBound(kBlockSize));
  }

  void Deflate(const uint8_t* dict, size_t dict_len, const uint8_t* data, size_t len, bool final,
               std::vector<uint8_t>* out) override {
    if (dict_len == 0 && len > 0) {
      // igzip 2.30's body loop (igzip_icf_body_h1_gr_bt.asm, .write_first_byte), entered with no
      // history, hashes position 2 into a bucket computed from a register that still holds the
      // isal_zstream pointer: crc32c(address >> 16) & hash_mask. That bucket changes the matches
      // found, so the bytes would depend on where the stream was allocated. With any history the
      // path is skipped, so the first byte goes out as a stored block of ours (6 bytes, byte
      // aligned) and becomes igzip's 1-byte dictionary.
      WriteStoredByte(data[0], out);
      dict = data;
      dict_len = 1;
      ++data;
      --len;
    }
    isal_zstream* s = stream_.get();
    isal_deflate_reset(s);
    Configure();
    s->end_of_stream = final ? 1 : 0;
    s->flush = final ? NO_FLUSH : SYNC_FLUSH;
    if (dict_len > 0) {
      Check(isal_deflate_set_dict(s, const_cast<uint8_t*>(dict), static_cast<uint32_t>(dict_len)),
            "isal_deflate_set_dict");
    }
    s->next_in = const_cast<uint8_t*>(data);
    s->avail_in = static_cast<uint32_t>(len);

    // Compress into a scratch buffer that is never zero-filled, then append only what was written.
    size_t used = 0;
    scratch_.Reserve(OutputBound(len));
    for (;;) {
      s->next_out = scratch_.data() + used;
      s->avail_out = static_cast<uint32_t>(scratch_.size() - used);
      const uint32_t in_before = s->avail_in;
      const uint32_t out_before = s->avail_out;
      Check(isal_deflate(s), "isal_deflate");
      used += out_before - s->avail_out;
      if (s->avail_in == 0 && Done(s, final)) break;
      if (s->avail_out == out_before && s->avail_in == in_before) Stalled();
      // Not reached with OutputBound; kept so that a bound that is too small is not fatal.
      if (s->avail_out == 0) scratch_.Grow(used, len / 4 + 4096);
    }
    out->insert(out->end(), scratch_.data(), scratch_.data() + used);
  }

  size_t MemoryUsage() const override {
    return level_buf_size_ + sizeof(isal_zstream) + scratch_.size() + sizeof(*this);
  }

 private:
  void Configure() {
    isal_zstream* s = stream_.get();
    s->level = static_cast<uint32_t>(level_);
    s->level_buf = level_buf_.get();
    s->level_buf_size = static_cast<uint32_t>(level_buf_size_);
    s->gzip_flag = IGZIP_DEFLATE;
    s->hist_bits = 0;  // 0 = the full 32 KiB window.
  }

  // A non-final stored block holding one byte: header 0x00, LEN = 1, NLEN = ~1 (docs/DESIGN.md).
  static void WriteStoredByte(uint8_t byte, std::vector<uint8_t>* out) {
    const uint8_t block[6] = {0x00, 0x01, 0x00, 0xfe, 0xff, byte};
    out->insert(out->end(), block, block + sizeof(block));
  }

  // After a sync flush igzip returns to ZSTATE_NEW_HDR with the empty stored block written; at the
  // end of the stream it reaches ZSTATE_END.
  static bool Done(const isal_zstream* s, bool final) {
    const auto state = s->internal_state.state;
    return final ? state == ZSTATE_END : state == ZSTATE_NEW_HDR;
  }

  [[noreturn]] static void Stalled() {
    throw std::runtime_error("fastlayer: isal_deflate made no progress");
  }

  static void Check(int rc, const char* what) {
    if (rc != COMP_OK) throw std::runtime_error(std::string("fastlayer: ") + what + " failed: " +
                                                std::to_string(rc));
  }

  const int level_;
  const size_t level_buf_size_;
  std::unique_ptr<uint8_t[]> level_buf_;
  // isal_zstream embeds the history and hash tables (a few hundred KiB): keep it off the stack and
  // out of objects that are moved around.
  std::unique_ptr<isal_zstream> stream_;
  ScratchBuffer scratch_;
};

}  // namespace

// Checked under qemu-user: igzip 2.30 gives identical bytes with SSE4.2, AVX2 and AVX-512 code
// paths, but different ones when SSE4.2 or SSSE3 is missing (its base C hash differs).
bool IsalCpuSupported() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // Probed once: every eStargz call asks (CheckMembersLevel), and under a hypervisor cpuid traps
  // (measured about 25 us a call here, 0.8 ms of main-thread CPU per 32 MB layer).
  static const bool supported = [] {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool ssse3 = (ecx & (1u << 9)) != 0;
    const bool sse42 = (ecx & (1u << 20)) != 0;
    return ssse3 && sse42;
  }();
  return supported;
#else
  // Measured under qemu-aarch64 (fuzz/run-arm64.sh): igzip 2.30's aarch64 assembly gives other
  // bytes at levels 1-2 (11 of the 13 vector inputs differ), and any other architecture gets either
  // its own assembly or the base C code, which differs as shown by x86 without SSE4.2.
  return false;
#endif
}

std::unique_ptr<Deflater> NewIsalDeflater(int level) {
  if (level != 1 && level != 2) throw std::invalid_argument("fastlayer: ISA-L is used for levels 1-2");
  if (!IsalCpuSupported()) {
    throw UnsupportedCpu(
        "fastlayer: levels 1-2 need an x86-64 CPU with SSSE3 and SSE4.2 (x86-64-v2) for "
        "reproducible output; use level 0 or 3-9, or the js engine");
  }
  return std::make_unique<IsalDeflater>(level);
}

}  // namespace fastlayer
