// Streaming SHA-256 (FIPS 180-4) with a runtime choice between SHA-NI, the ARMv8 SHA-256
// instructions and portable code.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastlayer {

// Compresses `blocks` consecutive 64-byte blocks into `state`.
using Sha256BlockFn = void (*)(uint32_t state[8], const uint8_t* data, size_t blocks);
// n (1 to 3) states over the same `blocks` blocks at data, and with other_state, as many blocks at
// `other` into it: their rounds interleaved.
using Sha256SharedFn = void (*)(uint32_t* const states[], size_t n, const uint8_t* data, uint32_t other_state[8],
                                const uint8_t* other, size_t blocks);

class Sha256 {
 public:
  // Uses the implementation selected for the process (see Sha256Implementation()).
  Sha256();
  // Tests compare both paths in one process without touching the process-wide choice.
  explicit Sha256(bool force_portable);

  void Update(const uint8_t* data, size_t len);
  // Writes the digest; the object must not be used afterwards (except for destruction).
  void Final(uint8_t out[32]);

  // The same as same[k]->Update(p, len) for each of the n (1 to 3) streams, and other->Update(po, t)
  // for the t bytes it returns (at most len_o; other may be null), in one pass where it can. SHA-NI's
  // round instruction is bound by its latency, so streams interleaved cost little more than one, and
  // streams over the same bytes share their message schedule: eStargz hashes the diffID, each chunk
  // and its file over the input, and the blob over the output. The same streams must be at one
  // offset within a block and on one implementation, else they are hashed one after the other;
  // other rides along as far as both sides have whole blocks (after completing its buffered one)
  // and nothing of it is taken where there is no interleaved form (portable code, ARMv8) or under
  // two blocks. The caller hashes what is left of other later, in order.
  static size_t UpdateShared(Sha256* const same[], size_t n, const uint8_t* p, size_t len, Sha256* other,
                             const uint8_t* po, size_t len_o);

  // Bytes buffered towards the next block (the stream's offset within a block).
  size_t BlockOffset() const { return buf_len_; }

 private:
  Sha256BlockFn blocks_;
  Sha256SharedFn shared_;  // null: none for blocks_
  uint32_t state_[8];
  uint64_t total_ = 0;
  uint8_t buf_[64];
  size_t buf_len_ = 0;
};

// "sha-ni", "armv8-sha2" or "portable": the implementation new Sha256 objects use.
const char* Sha256Implementation();
// For tests; FASTLAYER_SHA256=portable in the environment has the same effect at first use.
void ForcePortableSha256(bool on);

}  // namespace fastlayer
