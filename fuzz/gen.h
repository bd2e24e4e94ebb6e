// Deterministic input generators for the test vectors. Mirrored byte for byte by
// test/vectors/generator.ts and documented in test/vectors/README.md: change all three together
// (and regenerate the table), or the vector test reports a generator mismatch.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace reftest {

// mulberry32: tiny, well distributed, and trivially portable to JavaScript (Math.imul).
class Mulberry32 {
 public:
  explicit Mulberry32(uint32_t seed) : state_(seed) {}
  uint32_t Next() {
    state_ += 0x6D2B79F5u;
    uint32_t t = state_;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return t ^ (t >> 14);
  }

 private:
  uint32_t state_;
};

inline void GenRandom(uint32_t seed, size_t n, std::vector<uint8_t>* out) {
  Mulberry32 rng(seed);
  const size_t end = out->size() + n;
  while (out->size() < end) {
    uint32_t r = rng.Next();
    for (int i = 0; i < 4 && out->size() < end; ++i) out->push_back(static_cast<uint8_t>(r >> (8 * i)));
  }
}

inline const char* const kWords[32] = {
    "the", "layer", "image", "container", "digest", "stream", "block", "deflate",
    "usr", "lib", "share", "doc", "copyright", "license", "version", "package",
    "a", "of", "and", "to", "in", "is", "for", "with",
    "return", "const", "static", "void", "include", "define", "0x00", "README"};

inline void GenText(uint32_t seed, size_t n, std::vector<uint8_t>* out) {
  Mulberry32 rng(seed);
  const size_t end = out->size() + n;
  auto put = [&](const std::string& s) {
    for (char c : s) {
      if (out->size() >= end) return;
      out->push_back(static_cast<uint8_t>(c));
    }
  };
  while (out->size() < end) {
    uint32_t r = rng.Next();
    put(kWords[r & 31]);
    uint32_t sep = (r >> 5) & 15;
    put(sep == 0 ? "\n" : sep == 1 ? ". " : sep == 2 ? ", " : " ");
    if (((r >> 9) & 15) == 0) put(std::to_string(r >> 13) + " ");
  }
}

// Tar-like mixture: runs of zeros (padding), text, noise, and copies from up to 64 KiB back so that
// matches cross block boundaries and exercise the preset dictionary.
inline void GenMixed(uint32_t seed, size_t n, std::vector<uint8_t>* out) {
  Mulberry32 rng(seed);
  const size_t start = out->size();
  const size_t end = start + n;
  while (out->size() < end) {
    const size_t room = end - out->size();
    const uint32_t kind = rng.Next() & 3;
    if (kind == 0) {
      size_t len = std::min<size_t>(rng.Next() % 4096, room);
      out->insert(out->end(), len, 0);
    } else if (kind == 1) {
      uint32_t sub = rng.Next();
      GenText(sub, std::min<size_t>(rng.Next() % 32768, room), out);
    } else if (kind == 2) {
      uint32_t sub = rng.Next();
      GenRandom(sub, std::min<size_t>(rng.Next() % 8192, room), out);
    } else {
      const size_t have = out->size() - start;
      const size_t dist = 1 + rng.Next() % std::max<size_t>(1, std::min<size_t>(have, 65536));
      size_t len = std::min<size_t>(rng.Next() % 1024, room);
      if (have == 0) continue;
      for (size_t i = 0; i < len; ++i) {
        const uint8_t b = (*out)[out->size() - dist];  // copy first: push_back may reallocate
        out->push_back(b);
      }
    }
  }
}

inline void GenZeros(size_t n, std::vector<uint8_t>* out) { out->insert(out->end(), n, 0); }

}  // namespace reftest
