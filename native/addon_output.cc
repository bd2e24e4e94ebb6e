#include "addon_output.h"

#include <mutex>
#include <new>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define FASTLAYER_HAVE_MMAP 1
#endif

namespace fastlayer {
namespace addon {
namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;
// Holds 4 outputs of a 1 MiB call of stored or incompressible data, or about 8 at level 1.
constexpr size_t kSlabSize = 2 * kHugePage;
// Larger outputs get a slab of their own, sized to fit.
constexpr size_t kOwnSlab = kSlabSize / 2;
// Pieces start on cache lines, so neighbouring Buffers never share one.
constexpr size_t kPieceAlign = 64;
// Freed slabs kept for reuse while pipelines exist (a GC cycle frees tens of MiB at once).
constexpr size_t kFreeSlabsKept = 8;
// One scratch vector per call in flight: libuv's default threadpool has 4 threads.
constexpr size_t kScratchKept = 4;
constexpr size_t kScratchMaxCapacity = 8 * 1024 * 1024;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

#ifdef FASTLAYER_HAVE_MMAP
// An anonymous mapping of `size` bytes (a multiple of the page size), aligned to a huge page when
// it spans at least one, so the kernel can back it with huge pages. nullptr on failure.
uint8_t* MapAligned(size_t size) {
  const size_t align = size >= kHugePage ? kHugePage : 0;
  const size_t span = size + align;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto* start = static_cast<uint8_t*>(raw);
  if (align == 0) return start;
  auto* aligned = reinterpret_cast<uint8_t*>(RoundUp(reinterpret_cast<uintptr_t>(start), align));
  if (aligned > start) munmap(start, static_cast<size_t>(aligned - start));
  const size_t tail = static_cast<size_t>(start + span - (aligned + size));
  if (tail > 0) munmap(aligned + size, tail);
#ifdef MADV_HUGEPAGE
  // Advice only: refused (THP disabled, other kernels) it changes nothing but the fault count.
  madvise(aligned, size, MADV_HUGEPAGE);
#endif
  return aligned;
}
#endif

OutputSlab* NewSlab(size_t size) {
  auto* slab = new OutputSlab{nullptr, size, false, {1}};
#ifdef FASTLAYER_HAVE_MMAP
  slab->size = RoundUp(size, 4096);
  slab->base = MapAligned(slab->size);
  slab->mapped = slab->base != nullptr;
#endif
  if (slab->base == nullptr) {
    slab->base = new (std::nothrow) uint8_t[size];
    if (slab->base == nullptr) {
      delete slab;
      throw std::bad_alloc();
    }
  }
  return slab;
}

void FreeSlab(OutputSlab* slab) {
#ifdef FASTLAYER_HAVE_MMAP
  if (slab->mapped) {
    munmap(slab->base, slab->size);
    delete slab;
    return;
  }
#endif
  delete[] slab->base;
  delete slab;
}

// Process-wide, shared by the calls of every pipeline and environment. Never destroyed: Buffers
// may outlive static destructors at exit.
struct Shared {
  std::mutex mutex;
  OutputSlab* current = nullptr;  // holds one reference
  size_t used = 0;
  // Slabs whose Buffers were all collected, kept for reuse: memory given back to the kernel comes
  // back zero-filled at first touch, which costs on some VMs as much as a fresh fault.
  std::vector<OutputSlab*> free;
  std::vector<std::vector<uint8_t>> scratch;
  size_t users = 0;
};

Shared& TheShared() {
  static Shared* shared = new Shared();
  return *shared;
}

// Takes the current slab out when the last user has gone; the caller releases it unlocked.
OutputSlab* DetachIfUnused(Shared& s) {
  if (s.users > 0) return nullptr;
  s.used = 0;
  return std::exchange(s.current, nullptr);
}

}  // namespace

uint8_t* AllocateOutput(size_t size, OutputSlab** slab) {
  if (size > kOwnSlab) {
    *slab = NewSlab(size);
    return (*slab)->base;
  }
  Shared& s = TheShared();
  OutputSlab* retired = nullptr;
  OutputSlab* unused = nullptr;
  uint8_t* data;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.current == nullptr || s.used + size > s.current->size) {
      OutputSlab* next = nullptr;
      if (!s.free.empty()) {
        next = s.free.back();
        s.free.pop_back();
      } else {
        next = NewSlab(kSlabSize);
      }
      retired = std::exchange(s.current, next);
      s.used = 0;
    }
    data = s.current->base + s.used;
    s.used = RoundUp(s.used + size, kPieceAlign);
    s.current->refs.fetch_add(1, std::memory_order_relaxed);
    *slab = s.current;
    // A call that outlived the last pipeline (destroyed in flight) leaves no slab behind.
    unused = DetachIfUnused(s);
  }
  if (retired != nullptr) ReleaseSlab(retired);
  if (unused != nullptr) ReleaseSlab(unused);
  return data;
}

void ReleaseSlab(OutputSlab* slab) {
  if (slab->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (slab->size == kSlabSize) {
    Shared& s = TheShared();
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.users > 0 && s.free.size() < kFreeSlabsKept) {
      slab->refs.store(1, std::memory_order_relaxed);  // the reference of the slab taking pieces
      s.free.push_back(slab);
      return;
    }
  }
  FreeSlab(slab);
}

void AddOutputUser() {
  Shared& s = TheShared();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.users;
}

void RemoveOutputUser() {
  Shared& s = TheShared();
  OutputSlab* unused = nullptr;
  std::vector<OutputSlab*> free;
  std::vector<std::vector<uint8_t>> scratch;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.users == 0 || --s.users > 0) return;
    unused = DetachIfUnused(s);
    free.swap(s.free);
    scratch.swap(s.scratch);
  }
  for (OutputSlab* slab : free) FreeSlab(slab);
  if (unused != nullptr) ReleaseSlab(unused);
}

std::vector<uint8_t> BorrowScratch() {
  Shared& s = TheShared();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.scratch.empty()) return {};
  std::vector<uint8_t> v = std::move(s.scratch.back());
  s.scratch.pop_back();
  return v;
}

void ReturnScratch(std::vector<uint8_t> scratch) {
  if (scratch.capacity() == 0 || scratch.capacity() > kScratchMaxCapacity) return;
  scratch.clear();
  Shared& s = TheShared();
  std::lock_guard<std::mutex> lock(s.mutex);
  // Without users (the last pipeline went while this call was in flight) it is not kept.
  if (s.users > 0 && s.scratch.size() < kScratchKept) s.scratch.push_back(std::move(scratch));
}

}  // namespace addon
}  // namespace fastlayer
