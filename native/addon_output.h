// Memory for the output of update() calls. Two costs are avoided here:
// - The core appends to a std::vector; a fresh vector per call means growing it and, above all,
//   first-touch page faults on every output byte. Calls therefore borrow a scratch vector that is
//   kept from one call to the next, like the C baseline keeps its buffer.
// - The Buffer handed to JavaScript lives until the garbage collector frees it (tens of MiB later),
//   so its memory is always fresh. Faulting fresh 4 KiB pages costs about 3 ms per MiB on the VMs
//   measured (as much as compressing it at level 1); so large outputs are copied from the scratch
//   vector into 4 MiB slabs advised for transparent huge pages (one fault per 2 MiB where the kernel
//   allows it), several outputs per slab, and a slab is unmapped once the last Buffer on it is
//   collected.
// Both are shared by all pipelines of the process, so an idle or paused pipeline holds neither.
// Allocation only: nothing here changes the bytes.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastlayer {
namespace addon {

struct OutputSlab {
  uint8_t* base;
  size_t size;
  bool mapped;  // from mmap (else new[])
  // One per piece handed out, plus one while the slab takes new pieces.
  std::atomic<uint32_t> refs;
};

// Outputs shorter than this are copied into an ordinary Buffer instead: they would pin a slab.
constexpr size_t kSlabMinimum = 64 * 1024;

// Memory for `size` bytes holding one reference on *slab for the caller. Any thread; throws
// std::bad_alloc.
uint8_t* AllocateOutput(size_t size, OutputSlab** slab);

// Drops one reference; the last one frees the slab. Any thread (Buffer finalizers run on the main
// thread of their environment, a failing call releases on its worker thread).
void ReleaseSlab(OutputSlab* slab);

// Pipelines alive in the process. When the last one goes, the shared memory is given back (the
// current slab stays mapped only while Buffers on it live), so an idle process holds none of it.
void AddOutputUser();
void RemoveOutputUser();

// An empty vector to append one call's output to, with the capacity earlier calls left in it.
std::vector<uint8_t> BorrowScratch();
// Gives it back for the next call (or frees it, when enough are kept or it grew too big).
void ReturnScratch(std::vector<uint8_t> scratch);

}  // namespace addon
}  // namespace fastlayer
