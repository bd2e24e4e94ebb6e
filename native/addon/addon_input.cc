#include "addon_input.h"

#include <cstring>

namespace fastlayer {
namespace addon {

void InputBuffer::Reserve(size_t n) {
  length_ = 0;
  offset_ = 0;
  if (n <= room()) return;
  // The old contents are not needed, so they go first: the peak is the new size only.
  data_.reset();
  capacity_ = 0;
  data_.reset(static_cast<uint8_t*>(::operator new[](n + kPage, std::align_val_t(kPage))));
  capacity_ = n + kPage;
}

void InputBuffer::Fill(const std::vector<ByteView>& views) {
  size_t total = 0;
  for (const ByteView& view : views) total += view.length;
  Reserve(total);
  size_t at = 0;
  for (const ByteView& view : views) {
    if (view.length == 0) continue;
    std::memcpy(data_.get() + at, view.data, view.length);
    at += view.length;
  }
  length_ = total;
}

}  // namespace addon
}  // namespace fastlayer
