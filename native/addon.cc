// Module entry: exports { Pipeline, info, sha256 } (docs/DESIGN.md, "Native addon API").
#include <isa-l.h>
#include <napi.h>
#include <zlib.h>

#include <string>

#include "addon_pipeline.h"
#include "addon_sha256.h"
#include "format.h"
#include "sha256.h"

#ifndef FASTLAYER_FINGERPRINT
#error "FASTLAYER_FINGERPRINT must be defined by the build (node scripts/find-libs.cjs fingerprint)"
#endif

namespace fastlayer {
namespace addon {
namespace {

Napi::Object MakeInfo(Napi::Env env) {
  Napi::Object info = Napi::Object::New(env);
  info.Set("format", Napi::Number::New(env, kFormatVersion));
  info.Set("blockSize", Napi::Number::New(env, static_cast<double>(kBlockSize)));
  // The ISA-L the addon was compiled against (isa-l.h); static and shared builds come from the
  // same package, so this is also the code that runs.
  info.Set("isal", std::to_string(ISAL_MAJOR_VERSION) + "." + std::to_string(ISAL_MINOR_VERSION) +
                       "." + std::to_string(ISAL_PATCH_VERSION));
  info.Set("zlib", zlibVersion());
  // Read once at load time: FASTLAYER_SHA256=portable is honoured from here on.
  info.Set("sha256", Sha256Implementation());
  info.Set("fingerprint", FASTLAYER_FINGERPRINT);
  info.Set("maxThreads", Napi::Number::New(env, kMaxThreads));
  info.Freeze();
  return info;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Pipeline", PipelineWrap::Define(env));
  exports.Set("info", MakeInfo(env));
  exports.Set("sha256", Napi::Function::New(env, Sha256Function, "sha256"));
  return exports;
}

}  // namespace addon
}  // namespace fastlayer

// The macro needs an unqualified name.
static Napi::Object InitFastlayer(Napi::Env env, Napi::Object exports) {
  return fastlayer::addon::Init(env, exports);
}

NODE_API_MODULE(fastlayer, InitFastlayer)
