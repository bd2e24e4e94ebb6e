#include "addon_sha256.h"

#include "addon_errors.h"
#include "addon_view.h"
#include "sha256.h"

namespace fastlayer {
namespace addon {

Napi::Value Sha256Function(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ByteView view = GetByteView(env, info[0], "data");
  const Napi::Value force = info[1];
  if (!force.IsUndefined() && !force.IsBoolean()) {
    ThrowError(env, ErrorKind::kTypeError, codes::kInvalidArgType,
               "The \"forcePortable\" argument must be of type boolean");
  }
  // No flag: the process-wide choice (FASTLAYER_SHA256), the one the pipelines use.
  Sha256 sha = force.IsBoolean() ? Sha256(force.As<Napi::Boolean>().Value()) : Sha256();
  sha.Update(view.data, view.length);
  uint8_t digest[32];
  sha.Final(digest);
  return Napi::Buffer<uint8_t>::Copy(env, digest, sizeof(digest));
}

}  // namespace addon
}  // namespace fastlayer
