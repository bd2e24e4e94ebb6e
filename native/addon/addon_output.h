// Memory for the output of update() calls. Three costs are weighed here:
// - The core appends to a std::vector; a fresh vector per call means growing it and, above all,
//   first-touch page faults on every output byte. Calls therefore borrow a scratch vector that is
//   kept from one call to the next, like the C baseline keeps its buffer.
// - The Buffer handed to JavaScript lives until the garbage collector frees it (tens of MiB later),
//   so memory allocated for it is always fresh: faulting fresh 4 KiB pages costs about 3 ms per MiB
//   on the VMs measured (as much as compressing it at level 1). Large outputs are therefore copied
//   into blocks that are reused once their Buffer is collected.
// - What a Buffer keeps alive must be what V8 sees. V8 counts a Buffer's length as external memory
//   and collects sooner as it grows; memory it cannot see waits for collections it has no reason
//   to start. So each output gets a block of its own (683 KiB or 1 MiB, or its size when
//   larger), reused on its own as soon as its Buffer is collected. 4 MiB slabs shared by several
//   outputs and reused only once all of them were collected let one output that lived on pin a
//   whole slab: a 2 GB layer behind a slow consumer held up to 72 MiB of slabs while V8 saw 23 MiB
//   of Buffers (peak RSS +107 MiB). The block's slack beyond its Buffer's length is reported by
//   the caller, and the freed blocks kept for reuse are bounded in bytes.
// Both the scratch vectors and the free blocks are shared by all pipelines of the process, so an
// idle or paused pipeline holds neither, and the last pipeline to go gives them back.
// A pipeline on one thread uses no blocks: the main thread, idle beside it, copies each output out
// of the call's scratch vector into an ordinary Buffer (PipelineWrap::copy_outputs_).
// Allocation only: nothing here changes the bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastlayer {
namespace addon {

struct OutputRegion;

// V8 starts a full collection when external memory has grown by 64 MiB since the last one, and a
// layer read from a file allocates almost nothing else: 64 MiB of collected-later outputs then
// pile up between collections, all of it fresh memory (zeroed by the kernel at first touch: 8% of
// the CPU time at level 1). Each Buffer is therefore reported as this many times its block, so
// collections come every 16-24 MiB of output and freed blocks are reused warm. Measured on a 300 MB
// tar at level 1 (interleaved runs, this VM): 82.6% of the C baseline instead of 74.8%, peak RSS 84
// instead of 117 MiB; higher factors cost more in marking than they save (8: slower, 16: slower).
constexpr int64_t kGcPacing = 4;
// The factor for outputs made while the pipeline's consumer is behind (its stream still holds
// earlier output: setConsumerSlow(true)). The layer then waits for its reader, not for the engine,
// so collections twice as often cost no throughput (about 5% more CPU time), and fewer collected-
// later blocks, and fewer of the caller's own dead input Buffers, are in memory at once: the 2048 MB
// slow-consumer benchmark (docs/PERFORMANCE.md) peaked about 15 MiB lower. 16 saved no more memory
// there and cost 16% more CPU time.
constexpr int64_t kGcPacingSlowConsumer = 8;

struct OutputBlock {
  uint8_t* base;
  size_t capacity;
  // The huge-page region this block is a part of, or nullptr for memory of its own.
  OutputRegion* region;
  bool mapped;  // memory of its own from mmap (else new[])
  // Bytes beyond its Buffer's length that the Buffer's environment reported to V8, taken back when
  // the Buffer is collected.
  int64_t reported;
};

// Outputs shorter than this are copied into an ordinary Buffer instead: Node's own allocator
// recycles small sizes well, and a block per small output would cost a mapping each.
constexpr size_t kBlockMinimum = 64 * 1024;

// A block of at least `size` bytes, owned by the caller until ReleaseOutput(). Any thread; throws
// std::bad_alloc.
OutputBlock* AllocateOutput(size_t size);

// Keeps the block for reuse while pipelines exist and the bound allows, else frees it. Any thread
// (Buffer finalizers run on the main thread of their environment, a failing call releases on its
// worker thread).
void ReleaseOutput(OutputBlock* block);

// Pipelines alive in the process. When the last one goes, the free blocks and scratch vectors are
// given back, so an idle process holds none of them.
void AddOutputUser();
void RemoveOutputUser();

// An empty vector to append one call's output to, with the capacity earlier calls left in it.
std::vector<uint8_t> BorrowScratch();
// Gives it back for the next call (or frees it, when enough are kept or it grew too big).
void ReturnScratch(std::vector<uint8_t> scratch);

}  // namespace addon
}  // namespace fastlayer
