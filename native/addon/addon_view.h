// Reads the bytes of any ArrayBufferView (Buffer, typed array, DataView) without copying.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastlayer {
namespace addon {

struct ByteView {
  const uint8_t* data;
  size_t length;
};

// Throws TypeError ERR_INVALID_ARG_TYPE unless `value` is an ArrayBufferView. The byte offset is
// respected; a view on a detached buffer reads as empty.
ByteView GetByteView(Napi::Env env, Napi::Value value, const char* name);

// A single ArrayBufferView, or an Array of them (consumed in order as if concatenated): fills *out,
// which is cleared first. Throws TypeError ERR_INVALID_ARG_TYPE for anything else, naming the
// offending element. The pointers are valid until JavaScript runs again (it may detach them).
void GetByteViews(Napi::Env env, Napi::Value value, const char* name, std::vector<ByteView>* out);

}  // namespace addon
}  // namespace fastlayer
