#include "sha256.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "sha256_internal.h"

namespace fastlayer {
namespace sha256_detail {

const uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

namespace {

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

void PortableBlocks(uint32_t state[8], const uint8_t* data, size_t blocks) {
  uint32_t w[64];
  for (; blocks > 0; --blocks, data += 64) {
    for (int i = 0; i < 16; ++i) w[i] = LoadBe32(data + 4 * i);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                          kRoundConstants[i] + w[i];
      const uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

}  // namespace sha256_detail

namespace {

constexpr uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// Set once from the environment; tests may flip it later. Objects read it at construction, so a
// hash in progress never changes implementation halfway.
std::atomic<bool>& ForcedPortable() {
  static std::atomic<bool> forced{[] {
    const char* v = std::getenv("FASTLAYER_SHA256");
    return v != nullptr && std::strcmp(v, "portable") == 0;
  }()};
  return forced;
}

struct Accelerated {
  Sha256BlockFn blocks;  // null: none on this CPU
  Sha256SharedFn shared;  // null: UpdateShared hashes its streams one after the other
  const char* name;
};

// Probed once: the CPU does not change under a running process.
const Accelerated& Best() {
  static const Accelerated best = []() -> Accelerated {
    if (Sha256BlockFn f = sha256_detail::ShaNiBlocks()) return {f, sha256_detail::ShaNiShared(), "sha-ni"};
#if FASTLAYER_HAVE_ARMV8_SHA256
    // The ARMv8 rounds are cheap next to SHA-NI's latency here: no two-stream form is kept for them.
    if (Sha256BlockFn f = sha256_detail::ArmV8Blocks()) return {f, nullptr, "armv8-sha2"};
#endif
    return {nullptr, nullptr, "portable"};
  }();
  return best;
}

Sha256BlockFn Select(bool force_portable) {
  if (!force_portable && Best().blocks != nullptr) return Best().blocks;
  return sha256_detail::PortableBlocks;
}

}  // namespace

const char* Sha256Implementation() {
  return Select(ForcedPortable().load()) == sha256_detail::PortableBlocks ? "portable" : Best().name;
}

void ForcePortableSha256(bool on) { ForcedPortable().store(on); }

Sha256::Sha256() : Sha256(ForcedPortable().load()) {}

Sha256::Sha256(bool force_portable)
    : blocks_(Select(force_portable)), shared_(blocks_ == Best().blocks ? Best().shared : nullptr) {
  std::memcpy(state_, kInitialState, sizeof(state_));
}

size_t Sha256::UpdateShared(Sha256* const same[], size_t n, const uint8_t* p, size_t len, Sha256* other,
                            const uint8_t* po, size_t len_o) {
  const Sha256SharedFn fn = same[0]->shared_;
  bool together = fn != nullptr && n <= 3 && len >= 128;
  for (size_t k = 1; k < n && together; k++) together = same[k]->shared_ == fn && same[k]->buf_len_ == same[0]->buf_len_;
  if (!together) {
    for (size_t k = 0; k < n; k++) same[k]->Update(p, len);
    return 0;
  }
  // Each completes its buffered block alone; then whole blocks at the same input offset.
  const size_t head = same[0]->buf_len_ == 0 ? 0 : 64 - same[0]->buf_len_;
  for (size_t k = 0; k < n; k++) same[k]->Update(p, head);
  uint32_t* states[3];
  for (size_t k = 0; k < n; k++) states[k] = same[k]->state_;
  size_t whole = (len - head) / 64;
  const uint8_t* at = p + head;
  size_t taken_o = 0;
  const size_t head_o = other == nullptr || other->buf_len_ == 0 ? 0 : 64 - other->buf_len_;
  if (other != nullptr && other->shared_ == fn && len_o >= head_o + 128 && whole >= 2) {
    // other's offset within a block is its own: it completes its buffered block alone too.
    other->Update(po, head_o);
    const size_t both = std::min(whole, (len_o - head_o) / 64);
    fn(states, n, at, other->state_, po + head_o, both);
    other->total_ += both * 64;
    taken_o = head_o + both * 64;
    for (size_t k = 0; k < n; k++) same[k]->total_ += both * 64;
    at += both * 64;
    whole -= both;
  }
  if (whole > 0) {
    fn(states, n, at, nullptr, nullptr, whole);
    for (size_t k = 0; k < n; k++) same[k]->total_ += whole * 64;
    at += whole * 64;
  }
  for (size_t k = 0; k < n; k++) same[k]->Update(at, static_cast<size_t>(p + len - at));
  return taken_o;
}

void Sha256::Update(const uint8_t* data, size_t len) {
  if (len == 0) return;
  total_ += len;
  if (buf_len_ > 0) {
    const size_t take = len < 64 - buf_len_ ? len : 64 - buf_len_;
    std::memcpy(buf_ + buf_len_, data, take);
    buf_len_ += take;
    data += take;
    len -= take;
    if (buf_len_ < 64) return;
    blocks_(state_, buf_, 1);
    buf_len_ = 0;
  }
  const size_t whole = len / 64;
  if (whole > 0) {
    blocks_(state_, data, whole);
    data += whole * 64;
    len -= whole * 64;
  }
  if (len > 0) {
    std::memcpy(buf_, data, len);
    buf_len_ = len;
  }
}

void Sha256::Final(uint8_t out[32]) {
  const uint64_t bits = total_ * 8;
  uint8_t pad[128] = {0x80};
  // One or two blocks: the 0x80 marker and the 64-bit length must fit after the buffered bytes.
  const size_t pad_len = (buf_len_ < 56 ? 56 : 120) - buf_len_;
  for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
  Update(pad, pad_len + 8);
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<uint8_t>(state_[i] >> 24);
    out[4 * i + 1] = static_cast<uint8_t>(state_[i] >> 16);
    out[4 * i + 2] = static_cast<uint8_t>(state_[i] >> 8);
    out[4 * i + 3] = static_cast<uint8_t>(state_[i]);
  }
}

}  // namespace fastlayer
