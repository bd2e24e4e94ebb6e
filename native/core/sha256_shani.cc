// SHA-256 with the x86 SHA extensions. Compiled with per-function target attributes so the rest of
// the addon keeps the baseline ISA; it is only called after cpuid says the CPU has SHA, SSSE3 and
// SSE4.1.
#include "sha256_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

namespace fastlayer {
namespace sha256_detail {
namespace {

#define FASTLAYER_SHANI_TARGET __attribute__((target("sha,ssse3,sse4.1")))

// Four rounds: the low half of `wk` (message + constants) feeds the first two, the high half the
// next two. rnds2 takes the C,D,G,H words and returns the new A,B,E,F words, so the two state
// registers swap roles after each call.
FASTLAYER_SHANI_TARGET inline void FourRounds(__m128i* abef, __m128i* cdgh, __m128i wk) {
  *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
  *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(wk, 0x0E));
}

// The instructions keep the state as {A,B,E,F} and {C,D,G,H} (highest lane first).
struct State {
  __m128i abef;
  __m128i cdgh;
};

FASTLAYER_SHANI_TARGET inline State Load(const uint32_t state[8]) {
  const __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  const __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  const __m128i badc = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  return {_mm_alignr_epi8(badc, efgh, 8), _mm_blend_epi16(efgh, badc, 0xF0)};
}

FASTLAYER_SHANI_TARGET inline void Store(const State& s, uint32_t state[8]) {
  const __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), _mm_alignr_epi8(dchg, feba, 8));
}

// Message words W[4i..4i+3] of a block, big endian.
FASTLAYER_SHANI_TARGET inline __m128i Words(const uint8_t* data, int i) {
  const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), byteswap);
}

// W[4i..4i+3] (i >= 4) from W[4i-16..4i-1], into w[i & 3]: msg1 adds sigma0, the aligned middle
// words add W[t-7..t-4], msg2 adds sigma1 (including the two words it has just produced).
FASTLAYER_SHANI_TARGET inline __m128i NextWords(__m128i w[4], int i) {
  __m128i& oldest = w[i & 3];
  const __m128i mid = _mm_alignr_epi8(w[(i - 1) & 3], w[(i - 2) & 3], 4);
  oldest = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(oldest, w[(i - 3) & 3]), mid), w[(i - 1) & 3]);
  return oldest;
}

FASTLAYER_SHANI_TARGET inline __m128i K(int i) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(kRoundConstants + 4 * i));
}

FASTLAYER_SHANI_TARGET void Blocks(uint32_t state[8], const uint8_t* data, size_t blocks) {
  State s = Load(state);
  for (; blocks > 0; --blocks, data += 64) {
    const State in = s;
    __m128i w[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      w[i] = Words(data, i);
      FourRounds(&s.abef, &s.cdgh, _mm_add_epi32(w[i], K(i)));
    }
#pragma GCC unroll 12
    for (int i = 4; i < 16; ++i) FourRounds(&s.abef, &s.cdgh, _mm_add_epi32(NextWords(w, i), K(i)));
    s.abef = _mm_add_epi32(s.abef, in.abef);
    s.cdgh = _mm_add_epi32(s.cdgh, in.cdgh);
  }
  Store(s, state);
}

// Blocks() for up to three streams over the same bytes (eStargz: the diffID, each chunk and the file
// it is part of) and, with kOther, one stream over bytes of its own (the blob). Each round depends on
// the one before, so one stream leaves the round unit idle most of the time and the others' rounds
// fill it; the streams over the same bytes share one message schedule (it depends on the bytes
// alone), so each of them costs only its rounds, and fewer registers spill.
template <int N, bool kOther>
FASTLAYER_SHANI_TARGET void SharedBlocks(uint32_t* const states[], const uint8_t* data, uint32_t other_state[8],
                                         const uint8_t* other, size_t blocks) {
  State s[N];
#pragma GCC unroll 3
  for (int k = 0; k < N; ++k) s[k] = Load(states[k]);
  State so = kOther ? Load(other_state) : State{};
  for (; blocks > 0; --blocks, data += 64, other += kOther ? 64 : 0) {
    State in[N];
#pragma GCC unroll 3
    for (int k = 0; k < N; ++k) in[k] = s[k];
    const State in_o = so;
    __m128i w[4];
    __m128i wo[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      w[i] = Words(data, i);
      const __m128i wk = _mm_add_epi32(w[i], K(i));
#pragma GCC unroll 3
      for (int k = 0; k < N; ++k) FourRounds(&s[k].abef, &s[k].cdgh, wk);
      if (kOther) {
        wo[i] = Words(other, i);
        FourRounds(&so.abef, &so.cdgh, _mm_add_epi32(wo[i], K(i)));
      }
    }
#pragma GCC unroll 12
    for (int i = 4; i < 16; ++i) {
      const __m128i wk = _mm_add_epi32(NextWords(w, i), K(i));
#pragma GCC unroll 3
      for (int k = 0; k < N; ++k) FourRounds(&s[k].abef, &s[k].cdgh, wk);
      if (kOther) FourRounds(&so.abef, &so.cdgh, _mm_add_epi32(NextWords(wo, i), K(i)));
    }
#pragma GCC unroll 3
    for (int k = 0; k < N; ++k) {
      s[k].abef = _mm_add_epi32(s[k].abef, in[k].abef);
      s[k].cdgh = _mm_add_epi32(s[k].cdgh, in[k].cdgh);
    }
    if (kOther) {
      so.abef = _mm_add_epi32(so.abef, in_o.abef);
      so.cdgh = _mm_add_epi32(so.cdgh, in_o.cdgh);
    }
  }
#pragma GCC unroll 3
  for (int k = 0; k < N; ++k) Store(s[k], states[k]);
  if (kOther) Store(so, other_state);
}

// The instance for n streams over the same bytes, with or without the other stream.
void Shared(uint32_t* const states[], size_t n, const uint8_t* data, uint32_t other_state[8], const uint8_t* other,
            size_t blocks) {
  const bool o = other_state != nullptr;
  switch (n) {
    case 1:
      return o ? SharedBlocks<1, true>(states, data, other_state, other, blocks) : Blocks(states[0], data, blocks);
    case 2:
      return o ? SharedBlocks<2, true>(states, data, other_state, other, blocks)
               : SharedBlocks<2, false>(states, data, nullptr, nullptr, blocks);
    default:
      return o ? SharedBlocks<3, true>(states, data, other_state, other, blocks)
               : SharedBlocks<3, false>(states, data, nullptr, nullptr, blocks);
  }
}

bool CpuHasShaNi() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = (ecx & (1u << 9)) != 0;
  const bool sse41 = (ecx & (1u << 19)) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool sha = (ebx & (1u << 29)) != 0;
  return ssse3 && sse41 && sha;
}

}  // namespace

Sha256BlockFn ShaNiBlocks() { return CpuHasShaNi() ? Blocks : nullptr; }
Sha256SharedFn ShaNiShared() { return CpuHasShaNi() ? Shared : nullptr; }

}  // namespace sha256_detail
}  // namespace fastlayer

#else

namespace fastlayer {
namespace sha256_detail {
Sha256BlockFn ShaNiBlocks() { return nullptr; }
Sha256SharedFn ShaNiShared() { return nullptr; }
}  // namespace sha256_detail
}  // namespace fastlayer

#endif
