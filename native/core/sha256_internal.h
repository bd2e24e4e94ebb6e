// Block functions shared between the SHA-256 front end and its implementations.
#pragma once
#include "sha256.h"

namespace fastlayer {
namespace sha256_detail {

extern const uint32_t kRoundConstants[64];

void PortableBlocks(uint32_t state[8], const uint8_t* data, size_t blocks);

// Null when the build target or the CPU lacks the SHA extensions.
Sha256BlockFn ShaNiBlocks();
// Streams over the same bytes plus one of its own, interleaved, on the same condition as ShaNiBlocks().
Sha256SharedFn ShaNiShared();

// sha256_armv8.cc is only compiled for arm64 (binding.gyp), so it is only referenced there. It needs
// Linux (getauxval) and a compiler that lets one function use the SHA-256 intrinsics: GCC, or clang
// from 16 on (earlier clang hides them unless the whole file is built with +sha2).
#if defined(__aarch64__) && defined(__linux__) &&                             \
    ((defined(__GNUC__) && !defined(__clang__)) ||                              \
     (defined(__clang__) && (__clang_major__ >= 16 || defined(__ARM_FEATURE_SHA2))))
#define FASTLAYER_HAVE_ARMV8_SHA256 1
// Null when the CPU lacks the ARMv8 SHA-256 instructions (HWCAP_SHA2).
Sha256BlockFn ArmV8Blocks();
#else
#define FASTLAYER_HAVE_ARMV8_SHA256 0
#endif

}  // namespace sha256_detail
}  // namespace fastlayer
