#include "addon_output.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define FASTLAYER_HAVE_MMAP 1
#endif

namespace fastlayer {
namespace addon {

// Blocks of one size carved from 4 MiB advised for transparent huge pages: a fresh region costs two
// faults instead of 1024 (about 3 ms per MiB of 4 KiB pages on the VMs measured, against 0.2-1.5 ms
// per MiB of huge pages). Blocks are handed out and reused one by one; the region is unmapped only
// when all of them are free.
constexpr size_t kMaxRegionBlocks = 6;
struct OutputRegion {
  uint8_t* base;
  size_t size;
  bool mapped;  // from mmap (else new[])
  size_t count;
  OutputBlock blocks[kMaxRegionBlocks];
};

namespace {

constexpr size_t kHugePage = 2 * 1024 * 1024;
// Calls carry about 1 MiB of input, and their output varies with the data from a few hundred KiB
// (level 1 on a tar) to the input plus a few hundred bytes (stored or incompressible data). Any
// block takes any output up to its capacity, so two sizes serve most calls. A huge page is resident
// whole: level-1 outputs in 1 MiB blocks alone kept 1.5 times their size alive (+64 to +69 MiB
// peak RSS in the memory benchmark, +49 to +54 with small blocks). The slack is reported to V8, so
// it sees what each Buffer keeps alive.
constexpr size_t kRegionSize = 2 * kHugePage;
constexpr size_t kSmallBlock = kRegionSize / kMaxRegionBlocks / 64 * 64;  // pieces on cache lines
constexpr size_t kLargeBlock = kRegionSize / 4;
// Outputs larger than a large block get a mapping of their own rounded to this.
constexpr size_t kBlockGranule = 64 * 1024;
// Freed blocks kept for reuse while pipelines exist: a garbage collection frees a batch of outputs
// at once, and the next batch reuses warm pages. With the collections paced by kGcPacing (see
// addon_output.h) a batch is about 16-24 MiB, so 32 MiB keeps it whole: a file layer (whose
// JavaScript side allocates almost nothing, so only external memory starts collections) then maps 8-9
// regions instead of 40 for a 300 MB tar. It also bounds what a process with idle pipelines keeps.
constexpr size_t kFreeBytesKept = 32 * 1024 * 1024;
// One scratch vector per call in flight: libuv's default threadpool has 4 threads.
constexpr size_t kScratchKept = 4;
constexpr size_t kScratchMaxCapacity = 8 * 1024 * 1024;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// `size` bytes (a multiple of the page size): an anonymous mapping, aligned to a huge page and
// advised for huge pages when it spans at least one, else from new[] where there is no mmap.
// nullptr on failure; *mapped says which to free with.
uint8_t* Map(size_t size, bool* mapped) {
#ifdef FASTLAYER_HAVE_MMAP
  *mapped = true;
  const size_t align = size >= kHugePage ? kHugePage : 0;
  const size_t span = size + align;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw != MAP_FAILED) {
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
  *mapped = false;
  return new (std::nothrow) uint8_t[size];
}

void Unmap(uint8_t* base, size_t size, bool mapped) {
#ifdef FASTLAYER_HAVE_MMAP
  if (mapped) {
    munmap(base, size);
    return;
  }
#endif
  (void)size;
  (void)mapped;
  delete[] base;
}

OutputBlock* NewOwnBlock(size_t capacity) {
  auto* block = new OutputBlock{nullptr, capacity, nullptr, false, 0};
  block->base = Map(capacity, &block->mapped);
  if (block->base == nullptr) {
    delete block;
    throw std::bad_alloc();
  }
  return block;
}

void FreeOwnBlock(OutputBlock* block) {
  Unmap(block->base, block->capacity, block->mapped);
  delete block;
}

OutputRegion* NewRegion(size_t block_size) {
  auto* region = new OutputRegion{};
  region->size = kRegionSize;
  region->count = std::min(kRegionSize / block_size, kMaxRegionBlocks);
  region->base = Map(kRegionSize, &region->mapped);
  if (region->base == nullptr) {
    delete region;
    throw std::bad_alloc();
  }
  for (size_t i = 0; i < region->count; ++i) {
    region->blocks[i] = OutputBlock{region->base + i * block_size, block_size, region, false, 0};
  }
  return region;
}

// Process-wide, shared by the calls of every pipeline and environment. Never destroyed: Buffers
// may outlive static destructors at exit.
struct Shared {
  std::mutex mutex;
  // Blocks whose Buffers were collected (and the unused blocks of new regions), oldest first:
  // memory given back to the kernel comes back zero-filled at first touch, which costs on some VMs
  // as much as compressing it.
  std::vector<OutputBlock*> free;
  size_t free_bytes = 0;
  std::vector<std::vector<uint8_t>> scratch;
  size_t users = 0;
  // Every mapped region. Buffers point into a region's blocks, not at the region, so one whose
  // Buffers were never finalized (process exit) would otherwise be reachable only through interior
  // pointers: valgrind reports that as possibly lost (fuzz/run-valgrind.sh).
  std::vector<OutputRegion*> regions;
};

Shared& TheShared() {
  static Shared* shared = new Shared();
  return *shared;
}

void AddFree(Shared& s, OutputBlock* block) {
  block->reported = 0;
  s.free.push_back(block);
  s.free_bytes += block->capacity;
}

// The smallest free block that holds `size` bytes, taken off the list.
OutputBlock* TakeFree(Shared& s, size_t size) {
  auto best = s.free.end();
  for (auto it = s.free.begin(); it != s.free.end(); ++it) {
    const size_t c = (*it)->capacity;
    if (c >= size && (best == s.free.end() || c < (*best)->capacity)) best = it;
  }
  if (best == s.free.end()) return nullptr;
  OutputBlock* block = *best;
  s.free.erase(best);
  s.free_bytes -= block->capacity;
  return block;
}

bool RegionIsFree(const Shared& s, const OutputRegion* region) {
  const auto n = std::count_if(s.free.begin(), s.free.end(),
                               [region](const OutputBlock* b) { return b->region == region; });
  return static_cast<size_t>(n) == region->count;
}

// Memory to give back: own blocks and whole regions.
struct Evicted {
  std::vector<OutputBlock*> blocks;
  std::vector<OutputRegion*> regions;

  void Free() {
    for (OutputBlock* block : blocks) FreeOwnBlock(block);
    for (OutputRegion* region : regions) {
      Unmap(region->base, region->size, region->mapped);
      delete region;
    }
  }
};

// Takes free memory off the list, oldest first, until at most `keep` bytes are left (or nothing
// more can go: a region goes only with all its blocks free). The caller frees it unlocked.
void Evict(Shared& s, size_t keep, Evicted* out) {
  for (size_t i = 0; i < s.free.size() && s.free_bytes > keep;) {
    OutputBlock* block = s.free[i];
    if (block->region == nullptr) {
      s.free.erase(s.free.begin() + static_cast<std::ptrdiff_t>(i));
      s.free_bytes -= block->capacity;
      out->blocks.push_back(block);
      continue;
    }
    OutputRegion* region = block->region;
    if (!RegionIsFree(s, region)) {
      ++i;
      continue;
    }
    // Its blocks are removed wherever they are in the list; those before i were kept already.
    const auto first = s.free.begin();
    const auto in_region = [region](const OutputBlock* b) { return b->region == region; };
    const size_t before =
        static_cast<size_t>(std::count_if(first, first + static_cast<std::ptrdiff_t>(i), in_region));
    s.free.erase(std::remove_if(s.free.begin(), s.free.end(), in_region), s.free.end());
    s.free_bytes -= region->count * region->blocks[0].capacity;
    i -= before;
    out->regions.push_back(region);
    s.regions.erase(std::find(s.regions.begin(), s.regions.end(), region));
  }
}

}  // namespace

OutputBlock* AllocateOutput(size_t size) {
  Shared& s = TheShared();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (OutputBlock* block = TakeFree(s, size)) return block;
  }
  if (size > kLargeBlock) return NewOwnBlock(RoundUp(size, kBlockGranule));
  OutputRegion* region = NewRegion(size > kSmallBlock ? kLargeBlock : kSmallBlock);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.regions.push_back(region);
  for (size_t i = 1; i < region->count; ++i) AddFree(s, &region->blocks[i]);
  return &region->blocks[0];
}

void ReleaseOutput(OutputBlock* block) {
  Shared& s = TheShared();
  Evicted evicted;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    AddFree(s, block);
    // Without users (the last pipeline went while this Buffer lived) nothing is kept.
    Evict(s, s.users > 0 ? kFreeBytesKept : 0, &evicted);
  }
  evicted.Free();
}

void AddOutputUser() {
  Shared& s = TheShared();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.users;
}

void RemoveOutputUser() {
  Shared& s = TheShared();
  Evicted evicted;
  std::vector<std::vector<uint8_t>> scratch;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.users == 0 || --s.users > 0) return;
    // Regions with live Buffers stay; the last of their Buffers to go frees them.
    Evict(s, 0, &evicted);
    scratch.swap(s.scratch);
  }
  evicted.Free();
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
