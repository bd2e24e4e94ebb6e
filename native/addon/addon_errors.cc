#include "addon_errors.h"

namespace fastlayer {
namespace addon {

napi_value MakeError(napi_env env, ErrorKind kind, const char* code, const std::string& message) {
  napi_value code_value;
  napi_value message_value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message.data(), message.size(), &message_value) != napi_ok) {
    return nullptr;
  }
  napi_value error = nullptr;
  napi_status status;
  switch (kind) {
    case ErrorKind::kTypeError:
      status = napi_create_type_error(env, code_value, message_value, &error);
      break;
    case ErrorKind::kRangeError:
      status = napi_create_range_error(env, code_value, message_value, &error);
      break;
    default:
      status = napi_create_error(env, code_value, message_value, &error);
      break;
  }
  return status == napi_ok ? error : nullptr;
}

void ThrowError(Napi::Env env, ErrorKind kind, const char* code, const std::string& message) {
  napi_value error = MakeError(env, kind, code, message);
  if (error == nullptr) throw Napi::Error::New(env, message);
  throw Napi::Error(env, error);
}

}  // namespace addon
}  // namespace fastlayer
