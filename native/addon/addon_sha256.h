// Test helper sha256(buf, forcePortable?) -> Buffer: lets the tests check both SHA-256 paths against
// known vectors in one process.
#pragma once
#include <napi.h>

namespace fastlayer {
namespace addon {

Napi::Value Sha256Function(const Napi::CallbackInfo& info);

}  // namespace addon
}  // namespace fastlayer
