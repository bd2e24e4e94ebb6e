// A growable byte buffer that, unlike std::vector, never zero-fills: compressors write into it and
// only the bytes they produced are copied out. It is kept between units, so it is allocated once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace fastlayer {

class ScratchBuffer {
 public:
  uint8_t* data() { return data_.get(); }
  size_t size() const { return size_; }

  // Ensures size() >= n; contents are not preserved.
  void Reserve(size_t n) {
    if (n <= size_) return;
    data_.reset(new uint8_t[n]);
    size_ = n;
  }

  // Adds `extra` bytes of room, keeping the first `keep` bytes.
  void Grow(size_t keep, size_t extra) {
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[size_ + extra]);
    if (keep > 0) std::memcpy(bigger.get(), data_.get(), keep);
    data_ = std::move(bigger);
    size_ += extra;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
};

}  // namespace fastlayer
