// Reads the bytes of any ArrayBufferView (Buffer, typed array, DataView) without copying.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace fastlayer {
namespace addon {

struct ByteView {
  const uint8_t* data;
  size_t length;
};

// Throws TypeError ERR_INVALID_ARG_TYPE unless `value` is an ArrayBufferView. The byte offset is
// respected; a view on a detached buffer reads as empty.
ByteView GetByteView(Napi::Env env, Napi::Value value, const char* name);

}  // namespace addon
}  // namespace fastlayer
