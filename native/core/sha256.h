// Streaming SHA-256 (FIPS 180-4) with a runtime choice between SHA-NI, the ARMv8 SHA-256
// instructions and portable code.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastlayer {

// Compresses `blocks` consecutive 64-byte blocks into `state`.
using Sha256BlockFn = void (*)(uint32_t state[8], const uint8_t* data, size_t blocks);
// The same for two independent streams at once: `blocks` blocks of a into sa, as many of b into sb.
using Sha256BlockPairFn = void (*)(uint32_t sa[8], const uint8_t* a, uint32_t sb[8], const uint8_t* b, size_t blocks);
// Three streams at once.
using Sha256BlockTripleFn = void (*)(uint32_t sa[8], const uint8_t* a, uint32_t sb[8], const uint8_t* b, uint32_t sc[8],
                                     const uint8_t* c, size_t blocks);

class Sha256 {
 public:
  // Uses the implementation selected for the process (see Sha256Implementation()).
  Sha256();
  // Tests compare both paths in one process without touching the process-wide choice.
  explicit Sha256(bool force_portable);

  void Update(const uint8_t* data, size_t len);
  // Writes the digest; the object must not be used afterwards (except for destruction).
  void Final(uint8_t out[32]);

  // The same as a->Update(pa, len) then b->Update(pb, len), in one pass where it can: SHA-NI's
  // round instruction is bound by its latency, so two independent streams interleaved cost little
  // more than one (eStargz hashes each chunk and the diffID over the same bytes). Needs both at the
  // same offset within a block and on the same implementation; otherwise, and where there is no
  // two-stream form (portable code, ARMv8), the two run one after the other.
  static void UpdatePair(Sha256* a, const uint8_t* pa, Sha256* b, const uint8_t* pb, size_t len);

  // The first bytes of a and b (the same len bytes of input as UpdatePair) and of a third stream c
  // (up to len_c bytes at pc), hashed in the same rounds as far as both have whole blocks: eStargz
  // hashes its output (the blob) beside each chunk and the diffID. Sets *taken to the bytes of a and b
  // taken and returns those of c; the caller goes on from there. Takes nothing (0 and 0) where there
  // is no three-stream form, a and b are at different offsets in a block, or either side has under
  // two whole blocks after completing its buffered one.
  static size_t UpdateTriple(Sha256* a, const uint8_t* pa, Sha256* b, const uint8_t* pb, size_t len, size_t* taken,
                             Sha256* c, const uint8_t* pc, size_t len_c);

 private:
  Sha256BlockFn blocks_;
  Sha256BlockPairFn pairs_;  // null: none for blocks_
  Sha256BlockTripleFn triples_;  // null: none for blocks_
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
