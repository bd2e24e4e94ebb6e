// SHA-256 with the ARMv8 cryptographic extensions. Only the block function carries the target
// attribute, so the addon itself stays baseline armv8-a (a Raspberry Pi 3/4 or any other core
// built without the optional crypto unit still loads it); it is only handed out after the kernel
// reports HWCAP_SHA2.
#include "sha256_internal.h"

#if FASTLAYER_HAVE_ARMV8_SHA256
#include <arm_neon.h>
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)  // Linux uapi value; older libc headers lack the name.
#endif

namespace fastlayer {
namespace sha256_detail {
namespace {

// GCC spells extensions with a leading '+', clang without. GCC 12's arm_neon.h declares the SHA-256
// intrinsics under "+crypto" (AES + SHA2) and refuses to inline them into "+sha2" code; only the
// SHA-256 instructions are emitted here either way. A clang build whose whole file already has SHA2
// needs no attribute.
#if defined(__clang__) && defined(__ARM_FEATURE_SHA2)
#define FASTLAYER_ARMV8_SHA2_TARGET
#elif defined(__clang__)
#define FASTLAYER_ARMV8_SHA2_TARGET __attribute__((target("sha2")))
#else
#define FASTLAYER_ARMV8_SHA2_TARGET __attribute__((target("+crypto")))
#endif

FASTLAYER_ARMV8_SHA2_TARGET void Blocks(uint32_t state[8], const uint8_t* data, size_t blocks) {
  // Unlike SHA-NI, the instructions take the state in its natural word order: {A,B,C,D} and
  // {E,F,G,H}, lane 0 first, so it loads and stores as is.
  uint32x4_t abcd = vld1q_u32(state);
  uint32x4_t efgh = vld1q_u32(state + 4);

  for (; blocks > 0; --blocks, data += 64) {
    const uint32x4_t abcd_in = abcd;
    const uint32x4_t efgh_in = efgh;
    uint32x4_t w[4];
    for (int i = 0; i < 4; ++i) {
      // The message words are big endian.
      w[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * i)));
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      // w[i & 3] holds W[4i..4i+3]; add the constants before it is overwritten with W[4i+16..].
      const uint32x4_t wk = vaddq_u32(w[i & 3], vld1q_u32(kRoundConstants + 4 * i));
      if (i < 12) {
        // su0 adds sigma0 of the next words, su1 adds W[t-7] and sigma1 of the latest four
        // (including the two it produces itself).
        w[i & 3] = vsha256su1q_u32(vsha256su0q_u32(w[i & 3], w[(i + 1) & 3]), w[(i + 2) & 3],
                                   w[(i + 3) & 3]);
      }
      // Four rounds: sha256h gives the new A..D, sha256h2 the new E..H, and both need the A..D
      // from before the rounds.
      const uint32x4_t abcd_before = abcd;
      abcd = vsha256hq_u32(abcd, efgh, wk);
      efgh = vsha256h2q_u32(efgh, abcd_before, wk);
    }
    abcd = vaddq_u32(abcd, abcd_in);
    efgh = vaddq_u32(efgh, efgh_in);
  }

  vst1q_u32(state, abcd);
  vst1q_u32(state + 4, efgh);
}

bool CpuHasSha2() { return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0; }

}  // namespace

Sha256BlockFn ArmV8Blocks() { return CpuHasSha2() ? Blocks : nullptr; }

}  // namespace sha256_detail
}  // namespace fastlayer

#endif  // FASTLAYER_HAVE_ARMV8_SHA256
