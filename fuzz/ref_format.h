// An independent model of output format v1 (docs/DESIGN.md), used to judge the core's bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace reftest {

uint32_t RefCrc32(const uint8_t* data, size_t len);

// Level 0: the exact bytes format v1 prescribes (stored blocks), written from the spec.
std::vector<uint8_t> RefStoredMember(const uint8_t* in, size_t n, size_t block_size);

// Levels 3-9: zlib with the parameters format v1 prescribes (raw, windowBits 15, memLevel 8, default
// strategy, previous 32 KiB as preset dictionary, sync flush per full block, finish on the rest).
std::vector<uint8_t> RefZlibMember(const uint8_t* in, size_t n, int level, size_t block_size);

// Empty when `out` is exactly one gzip member of `in` with the format v1 framing: fixed header,
// a byte-aligned block boundary after each full block (an empty stored block there when
// `sync_markers`, i.e. levels 1-9; level 0 needs none), every block decodable from a fresh inflater
// given only the previous 32 KiB, correct trailer, nothing after. Otherwise the first problem found.
std::string CheckMember(const uint8_t* in, size_t n, const std::vector<uint8_t>& out, size_t block_size,
                        bool sync_markers);

}  // namespace reftest
