// Many small gzip streams in one call (eStargz members, src/estargz/): each input compressed alone
// in the unit format of docs/DESIGN.md, so its bytes are those a Pipeline of the same level gives
// for that input. One compressor per thread serves every member of the call: no per-member setup.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastlayer {

// Member i is data[start_i .. start_i + sizes[i]), the members laid end to end. outs receives one
// complete gzip stream per member, and digests (32 bytes per member) the SHA-256 of each member's
// first hash_lens[i] bytes (an eStargz chunk starts its member). Up to `helpers` pool threads share
// the members; the bytes never depend on it. Throws std::invalid_argument for a level outside 0..9,
// UnsupportedCpu like NewDeflater.
void GzipMembers(int level, const uint8_t* data, const std::vector<size_t>& sizes,
                 const std::vector<size_t>& hash_lens, size_t helpers,
                 std::vector<std::vector<uint8_t>>* outs, std::vector<uint8_t>* digests);

}  // namespace fastlayer
