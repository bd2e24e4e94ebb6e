// Block functions shared between the SHA-256 front end and its implementations.
#pragma once
#include "sha256.h"

namespace fastlayer {
namespace sha256_detail {

extern const uint32_t kRoundConstants[64];

void PortableBlocks(uint32_t state[8], const uint8_t* data, size_t blocks);

// Null when the build target or the CPU lacks the SHA extensions.
Sha256BlockFn ShaNiBlocks();

}  // namespace sha256_detail
}  // namespace fastlayer
