// The input of one update() call, copied out of the caller's views on the main thread before the
// call is queued. Node-API cannot pin a backing store: a transfer (structuredClone, postMessage,
// ArrayBuffer.prototype.transfer) moves it away and the GC frees it while a worker thread would
// still be reading it. One buffer per pipeline, reused by every call, grown only when a call
// brings more bytes than any before it. A readFile() call has its worker read the file into it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "addon_view.h"

namespace fastlayer {
namespace addon {

class InputBuffer {
 public:
  // Copies the views, in order, to the start of the buffer. Throws std::bad_alloc, leaving it
  // empty (with capacity 0: callers account for capacity() before and after).
  void Fill(const std::vector<ByteView>& views);
  // Makes room for n bytes and empties it, for a worker to write into. Throws like Fill.
  void Reserve(size_t n);

  uint8_t* writable() { return data_.get(); }
  void set_length(size_t n) { length_ = n; }

  const uint8_t* data() const { return data_.get(); }
  size_t length() const { return length_; }
  size_t capacity() const { return capacity_; }

 private:
  // Not a std::vector: growing it would zero-fill bytes that are overwritten at once.
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
  size_t length_ = 0;
};

}  // namespace addon
}  // namespace fastlayer
