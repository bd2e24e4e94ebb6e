#include "address_probe.h"

#include <isa-l.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace reftest {
namespace {

// A fixed hint keeps the absolute addresses, and so the results, the same from run to run.
uint8_t* const kHint = reinterpret_cast<uint8_t*>(uintptr_t{0x632000000000});
uint8_t* arena = nullptr;
uint8_t* placed = nullptr;

bool InArena(void* p) {
  return arena && p >= arena && p < arena + kProbeArenaSpan + sizeof(isal_zstream);
}

void* Allocate(size_t n) {
  if (placed && n == sizeof(isal_zstream)) {
    std::memset(placed, 0, n);  // same contents everywhere: only the address differs
    return placed;
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

void Release(void* p) {
  if (!InArena(p)) std::free(p);
}

}  // namespace

bool PlaceIsalStreamAt(size_t offset) {
  if (!arena) {
    void* p = mmap(kHint, kProbeArenaSpan + sizeof(isal_zstream), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return false;
    arena = static_cast<uint8_t*>(p);
  }
  placed = arena + offset;
  return true;
}

void ClearPlacement() { placed = nullptr; }

}  // namespace reftest

void* operator new(size_t n) { return reftest::Allocate(n); }
void* operator new[](size_t n) { return reftest::Allocate(n); }
void operator delete(void* p) noexcept { reftest::Release(p); }
void operator delete[](void* p) noexcept { reftest::Release(p); }
void operator delete(void* p, size_t) noexcept { reftest::Release(p); }
void operator delete[](void* p, size_t) noexcept { reftest::Release(p); }
