#include "addon_view.h"

#include <string>

#include "addon_errors.h"

namespace fastlayer {
namespace addon {
namespace {

size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 0;
  }
}

[[noreturn]] void NotAView(Napi::Env env, const char* name) {
  ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType,
             std::string("The \"") + name +
                 "\" argument must be a Buffer, TypedArray or DataView");
}

}  // namespace

ByteView GetByteView(Napi::Env env, Napi::Value value, const char* name) {
  bool is_typed = false;
  bool is_dataview = false;
  if (!value.IsEmpty()) {
    napi_is_typedarray(env, value, &is_typed);
    if (!is_typed) napi_is_dataview(env, value, &is_dataview);
  }
  void* data = nullptr;
  size_t length = 0;
  if (is_typed) {
    napi_typedarray_type type;
    size_t count = 0;
    // Pointers and lengths come straight from V8, which already applies the byte offset (and
    // reports length 0 for a detached buffer); SharedArrayBuffer-backed views work the same way.
    if (napi_get_typedarray_info(env, value, &type, &count, &data, nullptr, nullptr) != napi_ok) {
      NotAView(env, name);
    }
    const size_t size = ElementSize(type);
    if (size == 0) NotAView(env, name);
    length = count * size;
  } else if (is_dataview) {
    if (napi_get_dataview_info(env, value, &length, &data, nullptr, nullptr) != napi_ok) {
      NotAView(env, name);
    }
  } else {
    NotAView(env, name);
  }
  if (data == nullptr) length = 0;
  return ByteView{static_cast<const uint8_t*>(data), length};
}

void GetByteViews(Napi::Env env, Napi::Value value, const char* name, std::vector<ByteView>* out) {
  out->clear();
  bool is_array = false;
  if (!value.IsEmpty()) napi_is_array(env, value, &is_array);
  if (!is_array) {
    bool is_view = false;
    if (!value.IsEmpty()) {
      napi_is_typedarray(env, value, &is_view);
      if (!is_view) napi_is_dataview(env, value, &is_view);
    }
    if (!is_view) {
      ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType,
                 std::string("The \"") + name +
                     "\" argument must be a Buffer, TypedArray or DataView, or an Array of them");
    }
    out->push_back(GetByteView(env, value, name));
    return;
  }
  uint32_t count = 0;
  if (napi_get_array_length(env, value, &count) != napi_ok) NotAView(env, name);
  // All elements first, then their pointers: an element getter runs JavaScript, which could detach
  // the buffer of an element read before it.
  std::vector<napi_value> elements(count);
  for (uint32_t i = 0; i < count; ++i) {
    // An element getter may throw: that surfaces as the pending exception of this call.
    if (napi_get_element(env, value, i, &elements[i]) != napi_ok) throw Napi::Error::New(env);
  }
  out->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string element_name = std::string(name) + "[" + std::to_string(i) + "]";
    out->push_back(GetByteView(env, Napi::Value(env, elements[i]), element_name.c_str()));
  }
}

}  // namespace addon
}  // namespace fastlayer
