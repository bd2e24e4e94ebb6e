// The input of one update() call, copied out of the caller's views on the main thread before the
// call is queued. Node-API cannot pin a backing store: a transfer (structuredClone, postMessage,
// ArrayBuffer.prototype.transfer) moves it away and the GC frees it while a worker thread would
// still be reading it. One buffer per pipeline, reused by every call, grown only when a call
// brings more bytes than any before it. A readFile() call has its worker read the file into it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "addon_view.h"

namespace fastlayer {
namespace addon {

class InputBuffer {
 public:
  // The buffer is page-aligned with a page to spare: a read from file position p goes to
  // base + p % kPage, at the same offset in its page as the kernel's page-cache source. On AMD
  // EPYC (measured here) the kernel's copy runs 4-5x slower when the destination is 1 to 31 bytes
  // past the source modulo 4 KiB, which is where malloc put a large buffer (a page + 16): a tenth
  // of a one-thread level 1 layer's time went to that copy.
  static constexpr size_t kPage = 4096;

  // Copies the views, in order, to the start of the buffer. Throws std::bad_alloc, leaving it
  // empty (with capacity 0: callers account for capacity() before and after).
  void Fill(const std::vector<ByteView>& views);
  // Makes room for n bytes and empties it, for a worker to write into. Throws like Fill.
  void Reserve(size_t n);

  // Where a worker writes up to the reserved n bytes read from file position `position` (-1: the
  // descriptor's own position, unknown here); data() then starts there.
  uint8_t* writable(int64_t position) {
    offset_ = position < 0 ? 0 : static_cast<size_t>(position % static_cast<int64_t>(kPage));
    return data_.get() + offset_;
  }
  void set_length(size_t n) { length_ = n; }

  const uint8_t* data() const { return data_.get() + offset_; }
  size_t length() const { return length_; }
  // The bytes allocated (the reserved size and the spare page).
  size_t capacity() const { return capacity_; }
  // The most a writer may put at writable().
  size_t room() const { return capacity_ == 0 ? 0 : capacity_ - kPage; }

 private:
  struct AlignedDelete {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kPage)); }
  };
  // Not a std::vector: growing it would zero-fill bytes that are overwritten at once.
  std::unique_ptr<uint8_t[], AlignedDelete> data_;
  size_t capacity_ = 0;
  size_t offset_ = 0;
  size_t length_ = 0;
};

}  // namespace addon
}  // namespace fastlayer
