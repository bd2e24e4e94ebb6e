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

// Blocks() for two streams, their rounds interleaved: each round depends on the one before, so one
// stream leaves the round unit idle most of the time, and the other stream's rounds fill it.
FASTLAYER_SHANI_TARGET void BlockPairs(uint32_t state_a[8], const uint8_t* a, uint32_t state_b[8], const uint8_t* b,
                                       size_t blocks) {
  State sa = Load(state_a);
  State sb = Load(state_b);
  for (; blocks > 0; --blocks, a += 64, b += 64) {
    const State in_a = sa;
    const State in_b = sb;
    __m128i wa[4];
    __m128i wb[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      wa[i] = Words(a, i);
      wb[i] = Words(b, i);
      FourRounds(&sa.abef, &sa.cdgh, _mm_add_epi32(wa[i], K(i)));
      FourRounds(&sb.abef, &sb.cdgh, _mm_add_epi32(wb[i], K(i)));
    }
#pragma GCC unroll 12
    for (int i = 4; i < 16; ++i) {
      FourRounds(&sa.abef, &sa.cdgh, _mm_add_epi32(NextWords(wa, i), K(i)));
      FourRounds(&sb.abef, &sb.cdgh, _mm_add_epi32(NextWords(wb, i), K(i)));
    }
    sa.abef = _mm_add_epi32(sa.abef, in_a.abef);
    sa.cdgh = _mm_add_epi32(sa.cdgh, in_a.cdgh);
    sb.abef = _mm_add_epi32(sb.abef, in_b.abef);
    sb.cdgh = _mm_add_epi32(sb.cdgh, in_b.cdgh);
  }
  Store(sa, state_a);
  Store(sb, state_b);
}

// Three streams (eStargz: each chunk and the diffID over the input, the blob over the output): the
// third fills more of the round unit's latency at the cost of some register spills.
FASTLAYER_SHANI_TARGET void BlockTriples(uint32_t state_a[8], const uint8_t* a, uint32_t state_b[8], const uint8_t* b,
                                         uint32_t state_c[8], const uint8_t* c, size_t blocks) {
  State sa = Load(state_a);
  State sb = Load(state_b);
  State sc = Load(state_c);
  for (; blocks > 0; --blocks, a += 64, b += 64, c += 64) {
    const State in_a = sa;
    const State in_b = sb;
    const State in_c = sc;
    __m128i wa[4];
    __m128i wb[4];
    __m128i wc[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      wa[i] = Words(a, i);
      wb[i] = Words(b, i);
      wc[i] = Words(c, i);
      FourRounds(&sa.abef, &sa.cdgh, _mm_add_epi32(wa[i], K(i)));
      FourRounds(&sb.abef, &sb.cdgh, _mm_add_epi32(wb[i], K(i)));
      FourRounds(&sc.abef, &sc.cdgh, _mm_add_epi32(wc[i], K(i)));
    }
#pragma GCC unroll 12
    for (int i = 4; i < 16; ++i) {
      FourRounds(&sa.abef, &sa.cdgh, _mm_add_epi32(NextWords(wa, i), K(i)));
      FourRounds(&sb.abef, &sb.cdgh, _mm_add_epi32(NextWords(wb, i), K(i)));
      FourRounds(&sc.abef, &sc.cdgh, _mm_add_epi32(NextWords(wc, i), K(i)));
    }
    sa.abef = _mm_add_epi32(sa.abef, in_a.abef);
    sa.cdgh = _mm_add_epi32(sa.cdgh, in_a.cdgh);
    sb.abef = _mm_add_epi32(sb.abef, in_b.abef);
    sb.cdgh = _mm_add_epi32(sb.cdgh, in_b.cdgh);
    sc.abef = _mm_add_epi32(sc.abef, in_c.abef);
    sc.cdgh = _mm_add_epi32(sc.cdgh, in_c.cdgh);
  }
  Store(sa, state_a);
  Store(sb, state_b);
  Store(sc, state_c);
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
Sha256BlockPairFn ShaNiBlockPairs() { return CpuHasShaNi() ? BlockPairs : nullptr; }
Sha256BlockTripleFn ShaNiBlockTriples() { return CpuHasShaNi() ? BlockTriples : nullptr; }

}  // namespace sha256_detail
}  // namespace fastlayer

#else

namespace fastlayer {
namespace sha256_detail {
Sha256BlockFn ShaNiBlocks() { return nullptr; }
Sha256BlockPairFn ShaNiBlockPairs() { return nullptr; }
Sha256BlockTripleFn ShaNiBlockTriples() { return nullptr; }
}  // namespace sha256_detail
}  // namespace fastlayer

#endif
