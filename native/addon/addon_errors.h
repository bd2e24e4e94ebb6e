// Errors the addon throws or rejects with: an Error, TypeError or RangeError carrying a stable
// `code`, the contract with src/engine/native-engine.ts and the tests.
#pragma once
#include <napi.h>

#include <string>

namespace fastlayer {
namespace addon {

namespace codes {
constexpr const char* kInvalidArgType = "ERR_INVALID_ARG_TYPE";
constexpr const char* kOutOfRange = "ERR_OUT_OF_RANGE";
constexpr const char* kBusy = "ERR_FASTLAYER_BUSY";
constexpr const char* kFinished = "ERR_FASTLAYER_FINISHED";
constexpr const char* kDestroyed = "ERR_FASTLAYER_DESTROYED";
// An earlier update/finish failed inside the compressor; the stream cannot go on.
constexpr const char* kFailed = "ERR_FASTLAYER_FAILED";
constexpr const char* kNoMemory = "ERR_FASTLAYER_NO_MEMORY";
constexpr const char* kInternal = "ERR_FASTLAYER_INTERNAL";
constexpr const char* kUnsupportedCpu = "ERR_FASTLAYER_UNSUPPORTED_CPU";
}  // namespace codes

enum class ErrorKind { kError, kTypeError, kRangeError };

// Builds the error object with raw Node-API calls and never throws, so it is safe in completion
// callbacks while the environment shuts down. Returns nullptr when the engine refuses.
napi_value MakeError(napi_env env, ErrorKind kind, const char* code, const std::string& message);

// Throws it as a C++ exception that node-addon-api turns into a JavaScript exception.
[[noreturn]] void ThrowError(Napi::Env env, ErrorKind kind, const char* code,
                             const std::string& message);

}  // namespace addon
}  // namespace fastlayer
