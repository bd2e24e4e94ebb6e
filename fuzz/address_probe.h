// Places ISA-L's stream state (the one heap object of sizeof(isal_zstream)) at chosen addresses, to
// check that output bytes do not depend on where memory happens to be. Only in the plain build: it
// replaces the global operator new, which would blind ASan.
#pragma once
#include <cstddef>
#include <cstdint>

namespace reftest {
// Reserves an arena at a fixed address; the next isal_zstream-sized allocations go to
// arena + offset until ClearPlacement(). Returns false when the arena cannot be mapped.
bool PlaceIsalStreamAt(size_t offset);
void ClearPlacement();
constexpr size_t kProbeArenaSpan = size_t{64} << 20;
}  // namespace reftest
