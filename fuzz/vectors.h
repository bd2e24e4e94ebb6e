// The published test-vector table (test/vectors/vectors.json), produced from the C++ core.
#pragma once
#include <cstdio>

namespace reftest {
// Generates every input of the table, checks each result like the driver does, and writes the JSON.
// `quick`: one chunking per result and no exact-bytes models (for slow emulated CPUs); the JSON is
// the same.
void WriteVectors(std::FILE* out, bool quick);
}  // namespace reftest
